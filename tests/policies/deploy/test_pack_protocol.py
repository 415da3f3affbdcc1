"""The real deploy pack over the analyzer protocol: started as the Pulumi language host starts it
(``python -u -m pulumi.policy <engine> .`` in ``policies/deploy``), configured from a config file, and
sent ``Analyze`` per resource and ``AnalyzeStack`` over a small synthetic plan (one pack process per module)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

from offline.engine import Plan
from offline.policy import PolicyPackSession, PolicyReport, open_session
from tests.helpers import render
from tests.policies.deploy.support import DEPLOY_DIR


def build() -> None:
    primary = aws.Provider("aws-primary", region="us-east-2")
    opts = pulumi.ResourceOptions(provider=primary)
    aws.rds.Instance("prm", identifier="care-test-prm", engine="postgres", engine_version="16.4",
                     instance_class="db.r6g.large", allocated_storage=20, username="care_admin",
                     manage_master_user_password=True, opts=opts)
    aws.rds.Instance("prm-replica", identifier="care-test-prm-replica-1", replicate_source_db="care-test-prm",
                     instance_class="db.r6g.large", opts=opts)
    src = aws.s3.Bucket("src", bucket="care-test-src", opts=opts)
    dst = aws.s3.Bucket("dst", bucket="care-test-dst", opts=opts)
    src_versioning = aws.s3.BucketVersioning("src-versioning", bucket=src.bucket, versioning_configuration={
        "status": "Enabled"}, opts=opts)
    aws.s3.BucketVersioning("dst-versioning", bucket=dst.bucket, versioning_configuration={"status": "Enabled"},
                            opts=opts)
    aws.s3.BucketReplicationConfig(
        "replication", bucket=src.bucket, role="arn:aws:iam::333333333333:role/replication",
        rules=[{"id": "to-dr", "status": "Enabled", "destination": {"bucket": dst.arn}}],
        opts=pulumi.ResourceOptions(provider=primary, depends_on=[src_versioning]))


@pytest.fixture(scope="module")
def plan() -> Plan:
    return render(build)


@pytest.fixture(scope="module")
def session(plan: Plan, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PolicyPackSession]:
    config = json.loads((DEPLOY_DIR / "config" / "prod.json").read_text())
    config["eks-version-supported"] = {"asOf": "2026-12-02"}
    path: Path = tmp_path_factory.mktemp("deploy") / "test.json"
    path.write_text(json.dumps(config))
    with open_session(plan, "test", pack_dir=DEPLOY_DIR, config_path=path) as pack:
        yield pack


@pytest.fixture(scope="module")
def report(session: PolicyPackSession, plan: Plan) -> PolicyReport:
    return session.analyze(plan)


def test_the_pack_describes_itself_with_every_rule_mandatory_but_the_warning(session: PolicyPackSession) -> None:
    assert session.pack_name == "care-platform-deploy"
    levels = {p.name: p.level for p in session.policies}
    assert len(levels) == 36
    assert {name for name, level in levels.items() if level != "mandatory"} == {"version-end-of-support-soon"}
    assert levels["version-end-of-support-soon"] == "advisory"


def test_the_synthetic_plan_fails_exactly_the_rules_it_breaks(report: PolicyReport) -> None:
    found = sorted({(v.policy, v.resource_name) for v in report.mandatory})
    assert found == [
        ("cfn-lint-cross-check", "prm"),
        ("rds-engine-version-supported", "prm"),
        ("rds-replica-credentials", "prm-replica"),
        ("s3-replication-after-versioning", "replication"),
    ]
    assert report.advisory == []


def test_stack_policies_see_dependencies_and_name_the_config_key(report: PolicyReport) -> None:
    details = {(v.policy, v.resource_name): v.detail for v in report.mandatory}
    assert details[("s3-replication-after-versioning", "replication")] == (
        "does not depend on the destination bucket's BucketVersioning (dst-versioning): Pulumi may create it first and "
        "S3 rejects replication before versioning is enabled. Add depends_on=[dst-versioning] (components/storage.py).")
    assert details[("cfn-lint-cross-check", "prm")] == (
        "cfn-lint W3691 on AWS::RDS::DBInstance EngineVersion: Engine version '16.4' for engine 'postgres' is "
        "deprecated and cannot be used to create new RDS DB instances. Set database.prm.engineVersion in "
        "Pulumi.<stack>.yaml.")

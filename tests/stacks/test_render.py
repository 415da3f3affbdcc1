"""Every stack renders offline through the real program; plans are deterministic and mask secrets."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

import config
from offline.stackfile import ROOT
from tests.helpers import hipaa_report, rendered_stack, stack_raw, untagged

STACKS = ["dev", "staging", "prod"]


@pytest.mark.parametrize("stack", STACKS)
def test_stack_renders_with_unique_urns_and_a_complete_tree(stack: str) -> None:
    plan = rendered_stack(stack)
    urns = Counter(r.urn for r in plan.resources)
    assert [u for u, n in urns.items() if n > 1] == []
    known = {r.urn for r in plan.resources}
    root = f"urn:pulumi:{stack}::care-platform::pulumi:pulumi:Stack::care-platform-{stack}"
    assert [r.name for r in plan.resources if r.parent not in known | {root}] == []
    assert [r.name for r in plan.resources if r.dependencies and not set(r.dependencies) <= known] == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_taggable_resource_carries_the_stacks_standard_tags(stack: str) -> None:
    tags = config.validate(stack, stack_raw(stack)).standard_tags
    assert untagged(rendered_stack(stack), tags) == []


@pytest.mark.parametrize("stack", STACKS)
def test_aws_resources_use_the_explicit_providers_pinned_to_the_account(stack: str) -> None:
    plan = rendered_stack(stack)
    account = config.validate(stack, stack_raw(stack)).environment.account_id
    providers = {r.name: r.inputs for r in plan.of_type("pulumi:providers:aws")}
    assert {name: (p["region"], json.loads(p["allowedAccountIds"])) for name, p in providers.items()} == {
        "aws-primary": ("us-east-2", [account]), "aws-dr": ("us-west-2", [account]),
        "aws-edge": ("us-east-1", [account])}
    defaults = [r.name for r in plan.resources if r.custom and r.type.startswith("aws:") and not r.provider]
    assert defaults == []


def test_network_per_stack() -> None:
    prod, dev = rendered_stack("prod"), rendered_stack("dev")
    assert len(prod.of_type("aws:ec2/subnet:Subnet")) == 9 and len(dev.of_type("aws:ec2/subnet:Subnet")) == 6
    assert len(prod.of_type("aws:ec2/natGateway:NatGateway")) == 3
    assert len(dev.of_type("aws:ec2/natGateway:NatGateway")) == 1
    assert prod.named("care-prod-vpc").inputs["cidrBlock"] == "10.30.0.0/16"


def test_plan_json_masks_secrets() -> None:
    """(Determinism across processes and hash seeds: tests/test_cli_end_to_end.py.)"""
    first = rendered_stack("dev").to_json()
    document = json.loads(first)
    assert document["stack"] == "dev" and document["resourceCount"] == len(document["resources"])
    assert "[offline placeholder for secret" not in first


def _copy_project(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(".venv", "build", ".git", "__pycache__",
                                                                ".pytest_cache", ".ruff_cache", ".mypy_cache",
                                                                "mutants"))
    return target


def _offline(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run([sys.executable, "-m", "offline", "preview", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=240)


def test_cli_reports_bad_config_in_lines_without_a_traceback_and_writes_no_plan(tmp_path: Path) -> None:
    project = _copy_project(tmp_path)
    stack_file = project / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack_file.read_text())
    document["config"]["care-platform:network"]["vpcCidr"] = "10.10.0.0/33"
    app_pool = document["config"]["care-platform:eks"]["nodePools"]["app"]
    app_pool["min"] = app_pool["desired"] + 1
    stack_file.write_text(yaml.safe_dump(document))
    (project / "build" / "dev").mkdir(parents=True)
    (project / "build" / "dev" / "plan.json").write_text("{}")  # a stale plan must not survive a failed run
    result = _offline(project, "dev", "--no-tree")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "  dev: network.vpcCidr: '10.10.0.0/33': must be an IPv4 network in CIDR form" in result.stderr
    assert (f"  dev: eks.nodePools.app.min: {app_pool['min']}: must be at most desired ({app_pool['desired']})"
            in result.stderr)
    assert not (project / "build" / "dev" / "plan.json").exists()


def test_cli_rejects_an_unknown_stack(tmp_path: Path) -> None:
    result = _offline(ROOT, "qa")
    assert result.returncode == 2
    assert "unknown stack(s): qa; stacks here: dev, staging, prod" in result.stderr


# Categories dev may relax to advisory; everything else (encryption, transit, exposure, logging, tags,
# Kubernetes hardening) stays mandatory there too.
DEV_RELAXABLE = {
    "app-min-replicas", "app-pod-disruption-budget", "backup-plan-dr-copy", "backup-plan-retention",
    "backup-vault-lock", "eks-node-group-az-spread", "elasticache-multi-az", "elasticache-snapshot-retention",
    "msk-broker-az-spread", "rds-backup-replication-retention", "rds-backup-retention", "rds-cross-region-backups",
    "rds-deletion-protection", "rds-final-snapshot", "rds-multi-az", "s3-no-force-destroy",
    "stateful-resources-protected", "storage-class-retain", "subnet-az-spread",
}


@pytest.mark.parametrize("stack", STACKS)
def test_the_real_pack_finds_no_mandatory_violation(stack: str, tmp_path: Path) -> None:
    from offline.compliance import write_compliance_report

    plan = rendered_stack(stack)
    report = hipaa_report(stack)  # run_policy_pack(plan, stack), shared with the mutation tests' baseline
    assert [(v.policy, v.resource_name, v.detail) for v in report.mandatory] == []
    assert len(report.policies) >= 30
    advisory = {v.policy for v in report.violations}
    if stack == "dev":
        assert advisory <= DEV_RELAXABLE
        assert {"rds-multi-az", "stateful-resources-protected"} <= advisory  # dev really is relaxed
    else:
        assert advisory == set()
    compliance = write_compliance_report(report, plan, tmp_path / "compliance.md").read_text()
    assert "| Technical safeguards | 164.312(a)(2)(iv) Access control: encryption and decryption |" in compliance
    assert "| FAIL |" not in compliance
    assert ("**Result: PASS**" in compliance) is (stack != "dev")


@pytest.mark.parametrize("stack", STACKS)
def test_data_tier_is_deployable_in_every_stack(stack: str) -> None:
    """Issue #8, data tier: what AWS would reject is absent from every rendered stack."""
    plan = rendered_stack(stack)
    for instance in plan.of_type("aws:rds/instance:Instance"):
        i = instance.inputs
        assert "manageMasterUserPassword" not in i, instance.name  # RDS refuses replicas of such sources
        assert i["autoMinorVersionUpgrade"] is True and i["copyTagsToSnapshot"] is True, instance.name
        if "replicateSourceDb" not in i:
            assert (i["engineVersion"], i["password"]) == ("18", "[secret]"), instance.name
    rds_groups = plan.of_type("aws:rds/parameterGroup:ParameterGroup") + plan.of_type("aws:rds/subnetGroup:SubnetGroup")
    for group in rds_groups:
        assert "name" not in group.inputs and group.inputs["namePrefix"].endswith("-"), group.name
    assert {g.inputs["family"] for g in plan.of_type("aws:rds/parameterGroup:ParameterGroup")} == {"postgres18"}
    (slr,) = plan.of_type("aws:iam/serviceLinkedRole:ServiceLinkedRole")
    assert slr.urn in plan.named(f"care-{stack}-kms-ebs").dependencies
    settings = plan.of_type("aws:backup/regionSettings:RegionSettings")
    assert len(settings) == 2  # primary and DR region, in every stack
    assert [r.inputs["resourceTypeOptInPreference"] for r in settings] == [
        {"EBS": True, "RDS": True, "S3": True}] * len(settings)
    jobs = {r.name: r for r in plan.of_type("kubernetes:batch/v1:Job") if "bootstrap" in r.name}
    assert sorted(jobs) == [f"care-{stack}-nlfhir-bootstrap-job", f"care-{stack}-prm-bootstrap-job"]
    for app, db in (("nlfhir", "nlfhir"), ("prm-api", "prm")):
        workload = next(r for r in plan.resources
                        if r.name in (f"care-{stack}-{app}-deployment", f"care-{stack}-{app}-rollout"))
        assert jobs[f"care-{stack}-{db}-bootstrap-job"].urn in workload.dependencies


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_has_the_edge_in_front_of_the_published_apis(stack: str) -> None:
    plan = rendered_stack(stack)
    prefix = f"care-{stack}-edge"
    dist = plan.named(f"{prefix}-cdn")
    assert "aws-edge" in dist.provider
    assert [o["originId"] for o in dist.inputs["origins"]] == ["static-assets", "nlfhir", "prm-api"]
    assert dist.inputs["origins"][0]["domainName"] == f"care-{stack}-static-assets-{_account(stack)}.s3.us-east-2" \
                                                      ".amazonaws.com"
    acls = {r.inputs["scope"]: r for r in plan.of_type("aws:wafv2/webAcl:WebAcl")}
    assert sorted(acls) == ["CLOUDFRONT", "REGIONAL"]
    assert "aws-edge" in acls["CLOUDFRONT"].provider and "aws-primary" in acls["REGIONAL"].provider
    ingresses = {r.inputs["metadata"]["name"]: r.inputs
                 for r in plan.of_type("kubernetes:networking.k8s.io/v1:Ingress")}
    assert sorted(ingresses) == ["nlfhir", "prm-api"]  # never the worker, never ChromaDB
    for app, ingress in ingresses.items():
        annotations = ingress["metadata"]["annotations"]
        assert annotations["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
        assert annotations["alb.ingress.kubernetes.io/wafv2-acl-arn"].startswith(
            f"arn:aws:wafv2:us-east-2:{_account(stack)}:regional/webacl/{prefix}-alb-waf/")
        assert ingress["spec"]["rules"][0]["host"].startswith(f"{app}.origin.")
    policy = json.loads(plan.named(f"care-{stack}-static-assets-policy").unmasked_inputs()["policy"])
    oac = next(s for s in policy["Statement"] if s["Sid"] == "CloudFrontOacRead")
    assert oac["Condition"] == {"StringEquals": {"AWS:SourceArn": f"arn:aws:cloudfront::{_account(stack)}:"
                                                                  f"distribution/{dist.id}"}}
    logs = json.loads(plan.named(f"care-{stack}-access-logs-policy").unmasked_inputs()["policy"])
    alb = next(s for s in logs["Statement"] if s["Sid"] == "AllowAlbAccessLogs")
    assert alb == {"Sid": "AllowAlbAccessLogs", "Effect": "Allow",
                   "Principal": {"AWS": "arn:aws:iam::033677994240:root"}, "Action": "s3:PutObject",
                   "Resource": f"arn:aws:s3:::care-{stack}-access-logs-{_account(stack)}/alb/*/AWSLogs/"
                               f"{_account(stack)}/*"}


def _account(stack: str) -> str:
    return config.validate(stack, stack_raw(stack)).environment.account_id


def test_prod_edge_exports_and_shield() -> None:
    prod, staging = rendered_stack("prod"), rendered_stack("staging")
    edge = prod.outputs["edge"]
    assert edge["enabled"] is True and edge["dnsRecords"] is None  # prod's records are created in Route 53
    assert edge["urls"] == {"nlfhir": "https://care.example/nlfhir/", "prm-api": "https://care.example/prm-api/",
                            "staticAssets": "https://care.example/"}
    assert edge["cloudfrontAclArn"].startswith("arn:aws:wafv2:us-east-1:333333333333:global/webacl/")
    assert edge["regionalAclArn"].startswith("arn:aws:wafv2:us-east-2:333333333333:regional/webacl/")
    assert len(prod.of_type("aws:shield/protection:Protection")) == 1
    assert staging.of_type("aws:shield/protection:Protection") == []
    records = staging.outputs["edge"]["dnsRecords"]
    assert [(r["name"].split(".", 1)[1], r["type"]) for r in records] == [
        ("staging.care.example.", "CNAME"), ("origin.staging.care.example.", "CNAME"),
        ("origin.staging.care.example", "CNAME"), ("origin.staging.care.example", "CNAME")]
    assert [r["name"] for r in records[2:]] == ["nlfhir.origin.staging.care.example",
                                                "prm-api.origin.staging.care.example"]

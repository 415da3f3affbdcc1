"""The cfn-lint cross-check: Pulumi inputs translated to CloudFormation and linted in-process.

cfn-lint builds its rules once per process (about a second), and each lint takes a second or two, so the
rejected and accepted inputs share one stack run (module-scoped)."""

from __future__ import annotations

import sys

import deploy_cfnlint
import pytest

from tests.policies.deploy.cases import PRIMARY, REPLICA, Res, db
from tests.policies.deploy.support import DEPLOY_DIR, check_stack
from tests.policies.support import U

KAFKA = {"clusterName": "care-prod-kafka", "kafkaVersion": "3.8.x", "numberOfBrokerNodes": 3,
         "brokerNodeGroupInfo": {"clientSubnets": ["subnet-1", "subnet-2", "subnet-3"],
                                 "instanceType": "kafka.m5.large",
                                 "storageInfo": {"ebsStorageInfo": {"volumeSize": 20000}}}}
TEMPLATE = {"metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1},
            "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "volumeSize": 50,
                                                                        "volumeType": "gp3"}}]}


def _stack() -> list[Res]:
    return [db("care-prod-nlfhir-primary", identifier="care-prod-nlfhir", engineVersion="16.4"),
            db(),  # PostgreSQL 17.7: offered for new instances
            db("care-prod-x-primary", identifier="care-prod-x", engineVersion="17"),  # a bare major
            db("care-prod-y-primary", identifier="care-prod-y", engineVersion=U),  # unknown during preview
            Res("aws:rds/instance:Instance", "care-prod-prm-replica-1", REPLICA, region=PRIMARY),
            Res("aws:msk/cluster:Cluster", "care-prod-kafka-cluster", KAFKA, region=PRIMARY),
            Res("aws:ec2/launchTemplate:LaunchTemplate", "care-prod-eks-app-lt", TEMPLATE, region=PRIMARY)]


@pytest.fixture(scope="module")
def findings() -> list[tuple[str, str | None]]:
    return check_stack("cfn-lint-cross-check", _stack())


def test_cfn_lint_rejects_postgres_16_4_for_new_instances(findings: list[tuple[str, str | None]]) -> None:
    assert findings[0] == (
        "cfn-lint W3691 on AWS::RDS::DBInstance EngineVersion: Engine version '16.4' for engine 'postgres' is "
        "deprecated and cannot be used to create new RDS DB instances. Set database.nlfhir.engineVersion in "
        "Pulumi.<stack>.yaml.", "care-prod-nlfhir-primary")


def test_schema_limits_name_the_config_key(findings: list[tuple[str, str | None]]) -> None:
    assert findings[1:] == [(
        "cfn-lint E3034 on AWS::MSK::Cluster BrokerNodeGroupInfo.StorageInfo.EBSStorageInfo.VolumeSize: 20000 is "
        "greater than the maximum of 16384. Set streaming.ebsVolumeGib in Pulumi.<stack>.yaml.",
        "care-prod-kafka-cluster")]  # 17.7, the bare major, the replica and the launch template pass


def test_unknown_inputs_are_left_out_with_a_note_and_replica_only_fields_are_dropped() -> None:
    from deploy_common import Resource, plain

    from tests.policies.deploy.support import _wire  # the wire form the pack sees

    resources = [Resource(type=r.type, props=plain(_wire(r.props)), name=r.name, urn=r.urn,
                          provider_props={"region": r.region} if r.region else {}) for r in _stack()]
    groups = deploy_cfnlint.translate(resources)
    notes = [n for t in groups[PRIMARY].values() for n in t.notes]
    assert notes == [
        "care-prod-x-primary: EngineVersion '17' is a bare major; cfn-lint lists minors only "
        "(judged by rds-engine-version-supported)",
        "care-prod-y-primary: engineVersion is unknown during preview; not checked by cfn-lint",
        "care-prod-prm-replica-1: StorageEncrypted left out: a replica inherits it and the provider does not send it "
        "to CreateDBInstanceReadReplica"]
    kafka = next(t for t in groups[PRIMARY].values() if t.cfn_type == "AWS::MSK::Cluster")
    assert kafka.properties["BrokerNodeGroupInfo"]["StorageInfo"] == {"EBSStorageInfo": {"VolumeSize": 20000}}


def test_cfn_lint_that_cannot_run_is_a_mandatory_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cfnlint.runner", None)  # importing cfnlint.runner now fails
    assert check_stack("cfn-lint-cross-check", [db()]) == [(
        "cfn-lint could not run, so the deploy-stage cross-check failed closed: ModuleNotFoundError: import of "
        "cfnlint.runner halted; None in sys.modules", None)]


def test_the_pack_pins_cfn_lint_like_the_project() -> None:
    assert "cfn-lint>=1.58,<2" in (DEPLOY_DIR / "requirements.txt").read_text().splitlines()
    assert '"cfn-lint>=1.58,<2",' in (DEPLOY_DIR.parents[1] / "pyproject.toml").read_text()

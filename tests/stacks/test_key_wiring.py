"""Key wiring: every store in every stack is encrypted with the key ring's key of its own data domain.

A store wired to the wrong key (the databases to the storage key, say) is still "encrypted with a
customer-managed key", so no policy can tell; this reads the rendered plans. Every KMS key ARN in any
input of any resource is classified below: a new store with a key fails here until it is given a domain.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from typing import Any

import pytest

from components.encryption import PHI_DOMAINS
from offline.engine import Plan
from tests.helpers import rendered_stack, stack_config

STACKS = ["dev", "staging", "prod"]

#: (resource type, input path with list indexes as '#') -> the key ring's domain.
DOMAIN: dict[tuple[str, str], str] = {
    ("aws:rds/instance:Instance", "kmsKeyId"): "database",
    ("aws:rds/instance:Instance", "performanceInsightsKmsKeyId"): "database",
    ("aws:rds/instance:Instance", "masterUserSecretKmsKeyId"): "secrets",
    ("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication", "kmsKeyId"): "database",
    ("aws:elasticache/replicationGroup:ReplicationGroup", "kmsKeyId"): "cache",
    ("aws:msk/cluster:Cluster", "encryptionInfo.encryptionAtRestKmsKeyArn"): "streaming",
    ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
     "rules.#.applyServerSideEncryptionByDefault.kmsMasterKeyId"): "storage",
    ("aws:s3/bucketReplicationConfig:BucketReplicationConfig",
     "rules.#.destination.encryptionConfiguration.replicaKmsKeyId"): "storage",
    ("aws:cloudwatch/logGroup:LogGroup", "kmsKeyId"): "logs",
    ("aws:cloudtrail/trail:Trail", "kmsKeyId"): "audit",
    ("aws:ebs/defaultKmsKey:DefaultKmsKey", "keyArn"): "ebs",
    ("aws:sns/topic:Topic", "kmsMasterKeyId"): "alerts",
    ("aws:backup/vault:Vault", "kmsKeyArn"): "backup",
    ("aws:secretsmanager/secret:Secret", "kmsKeyId"): "secrets",
    ("aws:ec2/launchTemplate:LaunchTemplate", "blockDeviceMappings.#.ebs.kmsKeyId"): "ebs",
    ("kubernetes:storage.k8s.io/v1:StorageClass", "parameters.kmsKeyId"): "ebs",
    ("aws:eks/cluster:Cluster", "encryptionConfig.provider.keyArn"): "eks",
}

#: Inputs that name keys without being a store's encryption (the key ring itself, IAM documents).
NOT_STORES = ("aws:kms/", "aws:iam/")

#: The stores every stack must have wired (so a store that loses its key entirely is noticed too).
EVERY_STACK = {
    ("aws:rds/instance:Instance", "kmsKeyId"), ("aws:elasticache/replicationGroup:ReplicationGroup", "kmsKeyId"),
    ("aws:msk/cluster:Cluster", "encryptionInfo.encryptionAtRestKmsKeyArn"),
    ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
     "rules.#.applyServerSideEncryptionByDefault.kmsMasterKeyId"),
    ("aws:cloudwatch/logGroup:LogGroup", "kmsKeyId"), ("aws:backup/vault:Vault", "kmsKeyArn"),
    ("aws:secretsmanager/secret:Secret", "kmsKeyId"), ("aws:sns/topic:Topic", "kmsMasterKeyId"),
    ("aws:ec2/launchTemplate:LaunchTemplate", "blockDeviceMappings.#.ebs.kmsKeyId"),
    ("kubernetes:storage.k8s.io/v1:StorageClass", "parameters.kmsKeyId"),
    ("aws:eks/cluster:Cluster", "encryptionConfig.provider.keyArn"),
    ("aws:cloudtrail/trail:Trail", "kmsKeyId"), ("aws:ebs/defaultKmsKey:DefaultKmsKey", "keyArn"),
}


def key_references(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, ARN) for every KMS key ARN in an input tree; list indexes become '#'."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from key_references(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from key_references(item, f"{path}.#")
    elif isinstance(value, str) and value.startswith("arn:aws:kms:") and ":key/" in value:
        yield path, value


def region_of(provider: str | None) -> str:
    """Which key ring's region a resource lives in: "dr", "edge" (us-east-1) or "primary"."""
    for ring in ("dr", "edge"):
        if f"::aws-{ring}::" in (provider or ""):
            return ring
    return "primary"


def wiring(plan: Plan) -> list[tuple[str, str, str, str, str]]:
    """(name, type, path, key ARN, key ring region) for every store input that names a KMS key."""
    return [(r.name, r.type, path, arn, region_of(r.provider))
            for r in plan.resources if not r.type.startswith(NOT_STORES) and not r.type.startswith("pulumi:")
            for path, arn in key_references(r.inputs) if "policy" not in path.lower()]


@pytest.mark.parametrize("stack", STACKS)
def test_every_store_uses_its_domains_key_in_its_region(stack: str) -> None:
    plan = rendered_stack(stack)
    rings = {"primary": plan.outputs["kmsKeyArns"], "dr": plan.outputs["drKmsKeyArns"],
             "edge": plan.outputs["edgeKmsKeyArns"]}
    found = wiring(plan)
    unclassified = sorted({(t, p) for _, t, p, _, _ in found} - set(DOMAIN))
    assert unclassified == [], "a store names a KMS key with no domain in DOMAIN"
    wrong = []
    for name, type_, path, arn, region in found:
        domain = DOMAIN[(type_, path)]
        # A store in the DR or edge region uses that ring's key; a primary store replicating to the DR
        # region (the S3 replication's replica key) names the DR key too.
        ring = "dr" if "replica" in path.lower() else region
        if arn != rings[ring].get(domain):
            wrong.append(f"{name} {path}: {arn} is not the {ring} ring's {domain} key")
    assert wrong == []
    assert EVERY_STACK - {(t, p) for _, t, p, _, _ in found} == set()
    if stack != "dev":  # dev copies nothing to the DR region
        assert any(region == "dr" for *_, region in found), "no store in the DR region was checked"
    assert any(region == "edge" for *_, region in found), "no store in the edge region was checked"


def _key_policy(plan: Plan, name: str) -> dict[str, Any]:
    policy = plan.named(name).inputs["policy"]
    return json.loads(policy) if isinstance(policy, str) else policy


@pytest.mark.parametrize("stack", STACKS)
def test_ebs_key_exempts_the_csi_driver_role_it_cannot_wait_for(stack: str) -> None:
    """The EBS CSI driver's role names the EBS key in its policy, so the key cannot name the role's ARN (a cycle):
    its deny exempts a pattern on the role's name, which must match the role Pulumi auto-names
    (``<logical name>-<7 random characters>``), and nothing else of the stack."""
    plan = rendered_stack(stack)
    prefix = f"care-{stack}"
    deny = next(s for s in _key_policy(plan, f"{prefix}-kms-ebs")["Statement"]
                if s["Sid"] == "DenyUseOutsideOwningService")
    account = plan.outputs["kmsKeyArns"]["ebs"].split(":")[4]
    asg, instances, csi = deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert asg == f"arn:aws:iam::{account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    assert instances == f"arn:aws:iam::{account}:role/aws:ec2-infrastructure"  # EC2 attaching the volumes
    role = plan.named(f"{prefix}-eks-ebs-csi-irsa")
    assert "name" not in role.inputs and "namePrefix" not in role.inputs  # auto-named: <logical name>-<suffix>
    assert fnmatch.fnmatchcase(f"arn:aws:iam::{account}:role/{role.name}-a1b2c3d", csi)
    matching = [r.name for r in plan.of_type("aws:iam/role:Role")
                if fnmatch.fnmatchcase(f"arn:aws:iam::{account}:role/{r.name}-a1b2c3d", csi)]
    assert matching == [role.name]
    # No cycle: the key does not wait for the role, and the role's policy names the key.
    assert role.urn not in plan.named(f"{prefix}-kms-ebs").dependencies
    csi_policy = plan.named(f"{prefix}-eks-ebs-csi-irsa-policy").inputs["policy"]
    assert plan.outputs["kmsKeyArns"]["ebs"] in json.dumps(csi_policy)


@pytest.mark.parametrize("stack", STACKS)
def test_only_the_deployer_puts_key_policies_and_every_phi_key_denies_direct_use(stack: str) -> None:
    plan = rendered_stack(stack)
    deployer = stack_config(stack).eks.deployer_role_arn
    denied = []
    for key in plan.of_type("aws:kms/key:Key"):
        statements = {s["Sid"]: s for s in _key_policy(plan, key.name)["Statement"]}
        assert statements["KeyPolicyDeployer"]["Principal"] == {"AWS": [deployer]}, key.name
        if "DenyUseOutsideOwningService" in statements:
            denied.append(key.name.removeprefix(f"care-{stack}-"))
    dr = [f"dr-kms-{d}" for d in stack_config(stack).encryption.dr_domains if d in PHI_DOMAINS]
    assert sorted(denied) == sorted([*(f"kms-{d}" for d in PHI_DOMAINS), *dr])

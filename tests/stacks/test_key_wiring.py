"""Key wiring: every store in every stack is encrypted with the key ring's key of its own data domain.

A store wired to the wrong key (the databases to the storage key, say) is still "encrypted with a
customer-managed key", so no policy can tell; this reads the rendered plans. Every KMS key ARN in any
input of any resource is classified below: a new store with a key fails here until it is given a domain.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from offline.engine import Plan
from tests.helpers import rendered_stack

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
    ("aws:cloudtrail/trail:Trail", "kmsKeyId"): "logs",
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

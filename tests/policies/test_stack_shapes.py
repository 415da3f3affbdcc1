# ruff: noqa: E501  (the expected messages are asserted verbatim)
"""Stack policies over more than one of a kind: two VPCs, two rules, a second replication, inline settings,
unknown keys and aliases; each case pins which resource is reported and why."""

from __future__ import annotations

import pytest

from tests.policies.support import DR, DROP, PRIMARY, Res, U, check, check_stack, edit
from tests.policies.test_stack_policies import (
    ACL_T,
    ALIAS_T,
    CF_T,
    DATA,
    FLOW_T,
    KEY_T,
    LOG_T,
    REPL_T,
    SUBNET_T,
    VERSIONING_T,
    VPC_T,
    bucket_stack,
    edge_stack,
    subnets,
)
from tests.policies.wire import ACCOUNT, BACKUP_PLAN, KMS_KEY, LOG_GROUP, RDS_PRIMARY, SUBNET, TAGS

RDS_T, PLAN_T = "aws:rds/instance:Instance", "aws:backup/plan:Plan"
THREE = ["us-east-2a", "us-east-2b", "us-east-2c"]


# --- subnet-az-spread: groups are per VPC and per tier ---------------------------------------------

def test_subnets_of_two_vpcs_are_counted_apart() -> None:
    vpc1 = Res(VPC_T, "vpc-one", {"cidrBlock": "10.30.0.0/16", "id": "vpc-1", "tags": TAGS})
    vpc2 = Res(VPC_T, "vpc-two", {"cidrBlock": "10.40.0.0/16", "id": "vpc-2", "tags": TAGS})
    split = subnets(THREE[:2], vpc_id="vpc-1") + subnets(THREE[2:], vpc_id="vpc-2")
    for s in split[2:]:
        s.name, s.urn = f"two-{s.name}", s.urn.replace("::private-", "::two-private-")
    found = check_stack("subnet-az-spread", [vpc1, vpc2, *split])
    assert found == [
        ("the private subnets span 2 AZ(s) (us-east-2a, us-east-2b); this stack requires 3. Set network.azCount: 3 in Pulumi.<stack>.yaml.", "private-us-east-2a"),
        ("the private subnets span 1 AZ(s) (us-east-2c); this stack requires 3. Set network.azCount: 3 in Pulumi.<stack>.yaml.", "two-private-us-east-2c")]
    # ... and without the VPC resources, the vpcId values still tell them apart
    assert [name for _, name in check_stack("subnet-az-spread", split)] == ["private-us-east-2a", "two-private-us-east-2c"]


def test_subnets_linked_to_their_vpc_by_property_dependency() -> None:
    vpc = Res(VPC_T, "vpc", {"cidrBlock": "10.30.0.0/16", "tags": TAGS})
    linked = [Res(SUBNET_T, f"s-{z}", edit(SUBNET, vpcId=U, availabilityZone=z), property_depends={"vpcId": (vpc,)})
              for z in THREE]
    assert check_stack("subnet-az-spread", [vpc, *linked]) == []
    assert check_stack("subnet-az-spread", [vpc, *linked[:2]]) == [
        ("the private subnets span 2 AZ(s) (us-east-2a, us-east-2b); this stack requires 3. Set network.azCount: 3 in Pulumi.<stack>.yaml.", "s-us-east-2a")]


def test_subnets_by_zone_id_untiered_and_unknown() -> None:
    by_id = [Res(SUBNET_T, f"z-{i}", {"vpcId": "vpc-1", "availabilityZoneId": f"use2-az{i}", "tags": TAGS}) for i in (1, 2)]
    assert check_stack("subnet-az-spread", by_id) == [
        ("the untiered subnets span 2 AZ(s) (use2-az1, use2-az2); this stack requires 3. Set network.azCount: 3 in Pulumi.<stack>.yaml.", "z-1")]
    assert check_stack("subnet-az-spread", by_id, config={"minAzCount": 2}) == []
    same = [Res(SUBNET_T, f"d-{i}", edit(SUBNET, availabilityZone="us-east-2a")) for i in range(3)]
    assert [m for m, _ in check_stack("subnet-az-spread", same)] == [
        "the private subnets span 1 AZ(s) (us-east-2a); this stack requires 3. Set network.azCount: 3 in Pulumi.<stack>.yaml."]
    no_zone = [*subnets(THREE[:1]), Res(SUBNET_T, "nz", edit(SUBNET, vpcId="vpc-1", availabilityZone=DROP))]
    assert check_stack("subnet-az-spread", no_zone) == []


# --- kms-keys-in-stack: keys by value, aliases, nested references ------------------------------------

def test_keys_named_by_id_or_arn_without_dependencies() -> None:
    key = Res(KEY_T, "k", {**edit(KMS_KEY, enableKeyRotation=False), "keyId": "1111-2222", "arn": f"arn:aws:kms:{PRIMARY}:{ACCOUNT}:key/1111-2222"})
    by_arn = Res(LOG_T, "by-arn", edit(LOG_GROUP, kmsKeyId=f"arn:aws:kms:{PRIMARY}:{ACCOUNT}:key/1111-2222"))
    by_id = Res(LOG_T, "by-id", edit(LOG_GROUP, kmsKeyId="1111-2222"))
    other = Res(LOG_T, "other", edit(LOG_GROUP, kmsKeyId=f"arn:aws:kms:{PRIMARY}:{ACCOUNT}:key/3333"))
    rotate = "kmsKeyId uses KMS key k, which does not rotate. Set enableKeyRotation=True on it."
    assert check_stack("kms-keys-in-stack", [key, by_arn, by_id, other]) == [
        (rotate, "by-arn"), (rotate, "by-id"),
        (f"kmsKeyId is arn:aws:kms:{PRIMARY}:{ACCOUNT}:key/3333, which is not a KMS key of this stack: its rotation and key policy cannot be checked. Use keys.arn(<domain>) from the KeyRing.", "other")]


def test_alias_resolved_through_plain_dependencies_and_nested_lists() -> None:
    key = Res(KEY_T, "k", edit(KMS_KEY, enableKeyRotation=False))
    other = Res(KEY_T, "k2", KMS_KEY)
    alias = Res(ALIAS_T, "a", {"name": "alias/care/storage", "targetKeyId": U}, depends=(key,))
    sse = Res("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "sse",
              {"bucket": "b", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": U}}]},
              depends=(alias,))
    assert check_stack("kms-keys-in-stack", [key, other, alias, sse]) == [
        ("rules[0].applyServerSideEncryptionByDefault.kmsMasterKeyId uses KMS key k, which does not rotate. Set enableKeyRotation=True on it.", "sse")]


def test_empty_unknown_and_unlinked_key_values() -> None:
    empty = Res(LOG_T, "empty", edit(LOG_GROUP, kmsKeyId=""))
    unknown = Res(LOG_T, "unknown", edit(LOG_GROUP, kmsKeyId=U))
    assert check_stack("kms-keys-in-stack", [empty, unknown]) == []
    lone = Res(LOG_T, "lone", edit(LOG_GROUP, kmsKeyId=f"arn:aws:kms:{PRIMARY}:{ACCOUNT}:key/9"))
    assert check_stack("kms-keys-in-stack", [lone]) == []  # no keys and no links at all: nothing to compare with
    key = Res(KEY_T, "k", KMS_KEY)
    assert [name for _, name in check_stack("kms-keys-in-stack", [key, lone])] == ["lone"]


# --- versioning, WAF, flow logs, cross-region backups --------------------------------------------

def test_inline_versioning_and_unknown_status() -> None:
    inline = [r for r in bucket_stack() if r.type != VERSIONING_T]
    inline[0].props = {**inline[0].props, "versioning": {"enabled": True}}
    assert check_stack("s3-versioning", inline) == []
    inline[0].props = {**inline[0].props, "versioning": {"enabled": U}}
    assert check_stack("s3-versioning", inline) == []
    inline[0].props = {**inline[0].props, "versioning": {"enabled": False}}
    assert [m for m, _ in check_stack("s3-versioning", inline)] == [
        "versioning is not configured: an overwrite or delete would lose PHI for good. Add a BucketVersioning with versioningConfiguration.status='Enabled'."]
    assert check_stack("s3-versioning", bucket_stack(versioning=U)) == []
    assert [m for m, _ in check_stack("s3-versioning", bucket_stack(versioning="Suspended"))] == [
        "versioning is 'Suspended': an overwrite or delete would lose PHI for good. Add a BucketVersioning with versioningConfiguration.status='Enabled'."]


def test_waf_by_value_and_two_distributions() -> None:
    acl = Res(ACL_T, "acl", {"name": "edge", "scope": "CLOUDFRONT", "arn": "arn:aws:wafv2:us-east-1:1:global/webacl/edge/x"})
    by_value = Res(CF_T, "cdn", {"enabled": True, "webAclId": "arn:aws:wafv2:us-east-1:1:global/webacl/edge/x"})
    unlinked = Res(CF_T, "cdn2", {"enabled": True, "webAclId": "arn:aws:wafv2:us-east-1:1:global/webacl/other/y"})
    bare = Res(CF_T, "cdn3", {"enabled": True})
    assert check_stack("cloudfront-waf", [acl, by_value, unlinked]) == []
    assert [name for _, name in check_stack("cloudfront-waf", [acl, by_value, bare, unlinked])] == ["cdn3"]
    assert check_stack("cloudfront-waf", edge_stack(scope=U)) == []
    regional = edge_stack(scope="REGIONAL")
    assert [name for _, name in check_stack("cloudfront-waf", [*regional, Res(CF_T, "cdn4", {"enabled": True})])] == [
        "care-prod-cdn", "cdn4"]


def test_flow_logs_two_vpcs_and_several_logs() -> None:
    vpc1 = Res(VPC_T, "v1", {"id": "vpc-1", "tags": TAGS})
    vpc2 = Res(VPC_T, "v2", {"id": "vpc-2", "tags": TAGS})
    reject = Res(FLOW_T, "f1", {"vpcId": "vpc-1", "trafficType": "REJECT"})
    accept = Res(FLOW_T, "f2", {"vpcId": "vpc-1", "trafficType": "ACCEPT"})
    every = Res(FLOW_T, "f3", {"vpcId": "vpc-2", "trafficType": "ALL"})
    assert check_stack("vpc-flow-logs", [vpc1, vpc2, reject, accept, every]) == [
        ("captures only REJECT/ACCEPT: network activity around PHI stores must be auditable. Add an aws.ec2.FlowLog with trafficType='ALL' (network.flowLogs in Pulumi.<stack>.yaml).", "v1")]
    unknown = Res(FLOW_T, "f4", {"vpcId": "vpc-1", "trafficType": U})
    assert check_stack("vpc-flow-logs", [vpc1, reject, unknown]) == []
    assert check_stack("vpc-flow-logs", [vpc1, vpc2, every, Res(FLOW_T, "f5", {"vpcId": "vpc-1", "trafficType": "ALL"})]) == []


def test_two_databases_each_need_their_own_replication() -> None:
    prm = Res(RDS_T, "prm", edit(RDS_PRIMARY, identifier="care-prod-prm"))
    nlfhir = Res(RDS_T, "nlfhir", RDS_PRIMARY)
    rep = Res(REPL_T, "rep", {"kmsKeyId": f"arn:aws:kms:{DR}:{ACCOUNT}:key/c", "retentionPeriod": 30,
                              "sourceDbInstanceArn": f"arn:aws:rds:{PRIMARY}:{ACCOUNT}:db:care-prod-prm"}, region=DR)
    found = check_stack("rds-cross-region-backups", [prm, nlfhir, rep])
    assert [name for _, name in found] == ["nlfhir"]
    second = Res(REPL_T, "rep2", edit(rep.props, sourceDbInstanceArn=f"arn:aws:rds:{PRIMARY}:{ACCOUNT}:db:care-prod-nlfhir",
                                      kmsKeyId=U))
    assert check_stack("rds-cross-region-backups", [prm, nlfhir, rep, second]) == []  # no region known, key unknown
    moved = Res(REPL_T, "rep3", edit(second.props, kmsKeyId=f"arn:aws:kms:{DR}:{ACCOUNT}:key/c"), region="eu-west-1")
    assert check_stack("rds-cross-region-backups", [prm, nlfhir, rep, moved], config={"drRegion": "eu-west-1"}) == [
        ("replicates its automated backups to us-west-2, not the DR region eu-west-1: use the DR provider (regions.dr).", "prm")]


# --- backup plan rules: several rules, unnamed rules, copies --------------------------------------

def _rule(name: str | None, **extra: object) -> dict:
    rule = {**BACKUP_PLAN["rules"][0], **extra}
    if name is None:
        rule.pop("ruleName")
    else:
        rule["ruleName"] = name
    return rule


def test_dr_copy_checks_every_rule_after_a_continuous_one() -> None:
    continuous = _rule("continuous", enableContinuousBackup=True, copyActions=[])
    no_copy = _rule(None, copyActions=[])
    plan = edit(BACKUP_PLAN, rules=[continuous, no_copy])
    assert check("backup-plan-dr-copy", PLAN_T, plan) == [
        "rule ?: no copy action targets a vault in us-west-2 (found: none). Set backup.copyToDr: true and regions.dr: us-west-2 in Pulumi.<stack>.yaml."]
    two_regions = _rule("daily", copyActions=[{"destinationVaultArn": f"arn:aws:backup:eu-west-1:{ACCOUNT}:backup-vault:a"},
                                              {"destinationVaultArn": f"arn:aws:backup:eu-central-1:{ACCOUNT}:backup-vault:b"}])
    assert check("backup-plan-dr-copy", PLAN_T, edit(BACKUP_PLAN, rules=[two_regions, no_copy])) == [
        "rule daily: no copy action targets a vault in us-west-2 (found: eu-central-1, eu-west-1). Set backup.copyToDr: true and regions.dr: us-west-2 in Pulumi.<stack>.yaml.",
        "rule ?: no copy action targets a vault in us-west-2 (found: none). Set backup.copyToDr: true and regions.dr: us-west-2 in Pulumi.<stack>.yaml."]
    unknown_copies = _rule("u", copyActions=U)
    unknown_target = _rule("t", copyActions=[{"destinationVaultArn": U}])
    assert check("backup-plan-dr-copy", PLAN_T, edit(BACKUP_PLAN, rules=[unknown_copies, unknown_target, no_copy])) == [
        "rule ?: no copy action targets a vault in us-west-2 (found: none). Set backup.copyToDr: true and regions.dr: us-west-2 in Pulumi.<stack>.yaml."]
    not_arn = _rule("n", copyActions=[{"destinationVaultArn": "care-prod-backup-dr-vault"}, {"destinationVaultArn": "arn:aws"}])
    assert check("backup-plan-dr-copy", PLAN_T, edit(BACKUP_PLAN, rules=[not_arn])) == [
        "rule n: no copy action targets a vault in us-west-2 (found: None). Set backup.copyToDr: true and regions.dr: us-west-2 in Pulumi.<stack>.yaml."]
    assert check("backup-plan-dr-copy", PLAN_T, edit(BACKUP_PLAN, rules=U)) == []


def test_retention_checks_every_rule_and_copy() -> None:
    no_lifecycle = _rule("forever", lifecycle=DROP)
    no_lifecycle.pop("lifecycle", None)
    short_unnamed = _rule(None, lifecycle={"deleteAfter": 7}, copyActions=U)
    assert check("backup-plan-retention", PLAN_T, edit(BACKUP_PLAN, rules=[no_lifecycle, short_unnamed])) == [
        "rule ?: lifecycle.deleteAfter is 7 day(s); this stack requires at least 30. Set backup.retentionDays: 30 or more in Pulumi.<stack>.yaml."]
    at_threshold = _rule("daily", lifecycle={"deleteAfter": 30}, copyActions=[{"lifecycle": {"deleteAfter": 29}}])
    assert check("backup-plan-retention", PLAN_T, edit(BACKUP_PLAN, rules=[at_threshold])) == [
        "rule daily: copyActions.lifecycle.deleteAfter is 29 day(s); this stack requires at least 30. Set backup.retentionDays: 30 or more in Pulumi.<stack>.yaml."]


# --- backup coverage: ARN patterns, replication by property dependency, inline SSE --------------------

def _db(**changes: object) -> Res:
    return Res(RDS_T, "prm", edit(RDS_PRIMARY, backupRetentionPeriod=0, identifier="care-prod-prm", tags=TAGS, **changes))


def _selection(*patterns: str) -> Res:
    return Res("aws:backup/selection:Selection", "sel", {"name": "s", "planId": "p", "iamRoleArn": "r",
                                                         "resources": list(patterns)})


NOT_COVERED = "is not covered by any AWS Backup selection: its data has no backup. Set database.<name>.backupRetentionDays in Pulumi.<stack>.yaml or tag it Backup=true."


@pytest.mark.parametrize(("pattern", "covered"), [
    ("*", True),
    (f"arn:aws:rds:{PRIMARY}:{ACCOUNT}:db:care-prod-prm", True),
    (f"arn:aws:rds:{PRIMARY}:{ACCOUNT}:db:*", True),
    (f"arn:aws:rds:{PRIMARY}:{ACCOUNT}:*", True),
    (f"arn:aws:rds:{PRIMARY}:{ACCOUNT}:db:care-prod-nlfhir", False),
    (f"arn:aws:rds:{PRIMARY}:{ACCOUNT}:cluster:*", False),
    (f"arn:aws:dynamodb:{PRIMARY}:{ACCOUNT}:*", False),
    ("arn:aws:rds", False),
    ("XX*XX", False),
], ids=["star", "exact", "db-star", "any-resource", "other-db", "clusters-only", "other-service", "short", "garbage"])
def test_backup_selection_arn_patterns(pattern: str, covered: bool) -> None:
    found = check_stack("stateful-store-backup-coverage", [_db(), _selection(pattern)])
    assert found == ([] if covered else [(NOT_COVERED, "prm")])


def test_bucket_selected_by_arn_and_replication_by_property_dependency() -> None:
    data = bucket_stack(tags=TAGS)
    assert check_stack("stateful-store-backup-coverage", [*data, _selection(f"arn:aws:s3:::{DATA}")]) == []
    assert check_stack("stateful-store-backup-coverage", [*data, _selection("arn:aws:s3:::other")]) != []
    dr = bucket_stack("care-prod-dr-data", tags=TAGS)
    by_rules = Res("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "repl",
                   {"bucket": U, "role": "r", "rules": [{"id": "dr", "status": "Enabled", "destination": {"bucket": U}}]},
                   property_depends={"bucket": (data[0],), "rules": (dr[0],)})
    assert check_stack("stateful-store-backup-coverage", [*data, *dr, by_rules]) == []
    other = bucket_stack("care-prod-other", tags=TAGS)
    assert [name for _, name in check_stack("stateful-store-backup-coverage", [*data, *dr, *other, by_rules])] == [
        "care-prod-other-bucket"]
    by_value = Res("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "repl2",
                   {"bucket": "care-prod-third", "role": "r",
                    "rules": [{"id": "dr", "destination": {"bucket": "arn:aws:s3:::care-prod-other"}}]})
    assert check_stack("stateful-store-backup-coverage", [*other, by_value]) == []
    elsewhere = Res("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "repl3",
                    {"bucket": "care-prod-third", "role": "r",
                     "rules": [{"id": "dr", "destination": {"bucket": "arn:aws:s3:::care-prod-other-copy"}}]},
                    depends=(other[0],))
    assert [name for _, name in check_stack("stateful-store-backup-coverage", [*other, elsewhere])] == [
        "care-prod-other-bucket"]


def test_inline_bucket_encryption_counts() -> None:
    data = [r for r in bucket_stack() if "sse" not in r.name]
    rule = {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": f"arn:aws:kms:{PRIMARY}:{ACCOUNT}:key/s"}}
    data[0].props = {**data[0].props, "serverSideEncryptionConfiguration": {"rule": rule}}
    assert check_stack("s3-bucket-sse-kms", data) == []
    data[0].props = {**data[0].props, "serverSideEncryptionConfiguration": {"rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}}}
    assert [m for m, _ in check_stack("s3-bucket-sse-kms", data)] == [
        "sseAlgorithm is 'AES256': PHI buckets must use SSE-KMS. Set sseAlgorithm='aws:kms' with kmsMasterKeyId=keys.arn('storage')."]
    data[0].props = {**data[0].props, "serverSideEncryptionConfiguration": {"rule": U}}
    assert check_stack("s3-bucket-sse-kms", data) == []


def test_public_access_block_lists_every_flag_left_off() -> None:
    stack = bucket_stack()
    pab = next(r for r in stack if r.name.endswith("-pab"))
    pab.props = {**pab.props, "blockPublicAcls": False, "restrictPublicBuckets": U, "ignorePublicAcls": "false"}
    assert check_stack("s3-public-access-block", stack) == [
        ("the public access block leaves blockPublicAcls, ignorePublicAcls off: set all four to true.", f"{DATA}-bucket")]
    second = bucket_stack("care-prod-second", pab=False)
    assert [name for _, name in check_stack("s3-public-access-block", [*second, *bucket_stack()])] == ["care-prod-second-bucket"]

# ruff: noqa: E501  (the expected messages are asserted verbatim)
"""Stack policies: a compliant mini-stack, then one broken link or setting at a time.

Resources are linked twice over, as the two ways the pack is fed: by value (offline, where ids and
ARNs are known) and by the engine's property dependencies with unknown values (a real preview).
"""

from __future__ import annotations

import json

from tests.policies.support import DR, DROP, PRIMARY, Res, U, check_stack, edit
from tests.policies.wire import (
    ACCOUNT,
    DB_KEY,
    DEPLOYMENT,
    HPA,
    KMS_KEY,
    LOG_GROUP,
    PDB,
    RDS_PRIMARY,
    RDS_REPLICA,
    REDIS,
    STORAGE_CLASS,
    SUBNET,
    TAGS,
    VAULT,
)

BUCKET_T = "aws:s3/bucket:Bucket"
SSE_T = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING_T = "aws:s3/bucketVersioning:BucketVersioning"
PAB_T = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
POLICY_T = "aws:s3/bucketPolicy:BucketPolicy"
LOGGING_T = "aws:s3/bucketLogging:BucketLogging"
REPLICATION_T = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
KEY_T, ALIAS_T, LOG_T = "aws:kms/key:Key", "aws:kms/alias:Alias", "aws:cloudwatch/logGroup:LogGroup"
VPC_T, FLOW_T, SUBNET_T = "aws:ec2/vpc:Vpc", "aws:ec2/flowLog:FlowLog", "aws:ec2/subnet:Subnet"
CF_T, ACL_T = "aws:cloudfront/distribution:Distribution", "aws:wafv2/webAcl:WebAcl"
ACL_LOG_T = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
DEP_T, HPA_T = "kubernetes:apps/v1:Deployment", "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
PDB_T, SC_T = "kubernetes:policy/v1:PodDisruptionBudget", "kubernetes:storage.k8s.io/v1:StorageClass"
RDS_T, REDIS_T = "aws:rds/instance:Instance", "aws:elasticache/replicationGroup:ReplicationGroup"
REPL_T = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
SELECTION_T, VAULT_T = "aws:backup/selection:Selection", "aws:backup/vault:Vault"
LOCK_T = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"

DATA = "care-prod-app-data-333333333333"
LOGS = "care-prod-access-logs-333333333333"
STORAGE_KEY = f"arn:aws:kms:{PRIMARY}:{ACCOUNT}:key/00199710-8df1-476a-8d00-d668bd23012b"


def tls_policy(bucket: str, minimum: object = 1.2) -> str:
    resources = [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": resources,
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "DenyTlsBelow12", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": resources,
         "Condition": {"NumericLessThan": {"s3:TlsVersion": minimum}}}]})


def sse(algorithm: str = "aws:kms", key: str | None = STORAGE_KEY) -> list[dict]:
    default = {"sseAlgorithm": algorithm, **({"kmsMasterKeyId": key} if key else {})}
    return [{"applyServerSideEncryptionByDefault": default, "bucketKeyEnabled": algorithm == "aws:kms"}]


def bucket_stack(name: str = DATA, *, tags: dict | None = None, encryption: list | None = None,
                 versioning: str = "Enabled", pab: bool = True, policy: str | None = None) -> list[Res]:
    """A bucket and its companions, linked by value (the bucket's name), as the offline plan has them."""
    bucket = Res(BUCKET_T, f"{name}-bucket", {"bucket": name, "forceDestroy": False,
                                               "tags": tags or {**TAGS, "Backup": "true"}})
    result = [bucket,
              Res(SSE_T, f"{name}-sse", {"bucket": name, "rules": encryption or sse()}, depends=(bucket,)),
              Res(VERSIONING_T, f"{name}-versioning",
                  {"bucket": name, "versioningConfiguration": {"status": versioning}}, depends=(bucket,)),
              Res(POLICY_T, f"{name}-policy", {"bucket": name, "policy": policy or tls_policy(name)},
                  depends=(bucket,))]
    if pab:
        result.append(Res(PAB_T, f"{name}-pab", {"bucket": name, "blockPublicAcls": True, "blockPublicPolicy": True,
                                                  "ignorePublicAcls": True, "restrictPublicBuckets": True},
                          depends=(bucket,)))
    return result


SELECTION = Res(SELECTION_T, "backup-selection", {
    "name": "care-prod-backup-tagged", "planId": "plan-1", "iamRoleArn": "arn:aws:iam::1:role/backup",
    "selectionTags": [{"type": "STRINGEQUALS", "key": "Backup", "value": "true"}]})


# --- S3 -------------------------------------------------------------------------------------------

def test_s3_bucket_sse_kms() -> None:
    assert check_stack("s3-bucket-sse-kms", bucket_stack()) == []
    assert check_stack("s3-bucket-sse-kms", bucket_stack(encryption=sse("AES256", None))) == [
        ("sseAlgorithm is 'AES256': PHI buckets must use SSE-KMS. Set sseAlgorithm='aws:kms' with kmsMasterKeyId=keys.arn('storage').", f"{DATA}-bucket")]
    assert check_stack("s3-bucket-sse-kms", bucket_stack(encryption=sse("aws:kms", None))) == [
        ("kmsMasterKeyId is not set (the AWS-managed aws/s3 key): bucket encryption must use the KeyRing's 'storage' key. Set kmsMasterKeyId=keys.arn('storage').", f"{DATA}-bucket")]
    no_config = [r for r in bucket_stack() if r.type != SSE_T]
    assert check_stack("s3-bucket-sse-kms", no_config) == [
        ("has no server-side encryption configuration: objects would get SSE-S3 with an AWS-owned key. Add a BucketServerSideEncryptionConfiguration with sseAlgorithm='aws:kms' and kmsMasterKeyId=keys.arn('storage').", f"{DATA}-bucket")]


def test_s3_sse_s3_allowed_only_for_log_delivery_targets() -> None:
    logs = bucket_stack(LOGS, encryption=sse("AES256", None), tags=TAGS)
    data = bucket_stack()
    logging = Res(LOGGING_T, "data-logging", {"bucket": DATA, "targetBucket": LOGS, "targetPrefix": f"{DATA}/"},
                  depends=(logs[0], data[0]))
    assert check_stack("s3-bucket-sse-kms", [*logs, *data, logging]) == []
    assert check_stack("s3-bucket-sse-kms", [*logs, *data]) == [
        ("sseAlgorithm is 'AES256': PHI buckets must use SSE-KMS. Set sseAlgorithm='aws:kms' with kmsMasterKeyId=keys.arn('storage').", f"{LOGS}-bucket")]


def test_s3_sse_with_unknown_names_links_by_property_dependency() -> None:
    bucket = Res(BUCKET_T, "b", {"bucketPrefix": "care-prod-", "tags": TAGS})
    good = Res(SSE_T, "b-sse", {"bucket": U, "rules": sse(key=U)}, property_depends={"bucket": (bucket,)})
    other = Res(BUCKET_T, "other", {"bucketPrefix": "care-prod-x", "tags": TAGS})
    assert check_stack("s3-bucket-sse-kms", [bucket, good, other]) == [
        ("has no server-side encryption configuration: objects would get SSE-S3 with an AWS-owned key. Add a BucketServerSideEncryptionConfiguration with sseAlgorithm='aws:kms' and kmsMasterKeyId=keys.arn('storage').", "other")]
    unknown_rules = Res(SSE_T, "b-sse", {"bucket": U, "rules": U}, property_depends={"bucket": (bucket,)})
    assert check_stack("s3-bucket-sse-kms", [bucket, unknown_rules]) == []


def test_s3_deny_insecure_transport() -> None:
    assert check_stack("s3-deny-insecure-transport", bucket_stack()) == []
    allow_only = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{DATA}/*"}]})
    expected = [("no bucket policy denies insecure transport: PHI could be read over plain HTTP. Attach a BucketPolicy with a Deny of s3:* for Principal '*' when aws:SecureTransport is 'false'.", f"{DATA}-bucket")]
    assert check_stack("s3-deny-insecure-transport", bucket_stack(policy=allow_only)) == expected
    assert check_stack("s3-deny-insecure-transport", [r for r in bucket_stack() if r.type != POLICY_T]) == expected
    assert check_stack("s3-deny-insecure-transport", bucket_stack(policy=U)) == []


def test_s3_deny_tls_below_1_2() -> None:
    assert check_stack("s3-deny-tls-below-1-2", bucket_stack()) == []
    assert check_stack("s3-deny-tls-below-1-2", bucket_stack(policy=tls_policy(DATA, "1.3"))) == []
    expected = [("no bucket policy denies TLS below 1.2: PHI could cross the network under TLS 1.0/1.1. Add a Deny of s3:* for Principal '*' with NumericLessThan s3:TlsVersion 1.2 (components/storage.py).", f"{DATA}-bucket")]
    # Only the aws:SecureTransport deny: plain HTTP is refused, TLS 1.0 is not.
    only_https = json.loads(tls_policy(DATA))
    only_https["Statement"] = only_https["Statement"][:1]
    assert check_stack("s3-deny-tls-below-1-2", bucket_stack(policy=json.dumps(only_https))) == expected
    assert check_stack("s3-deny-tls-below-1-2", bucket_stack(policy=tls_policy(DATA, 1.1))) == expected
    assert check_stack("s3-deny-tls-below-1-2", bucket_stack(policy=tls_policy(DATA, "x"))) == expected
    narrowed = json.loads(tls_policy(DATA))
    narrowed["Statement"][1]["Condition"]["StringEquals"] = {"aws:PrincipalAccount": ACCOUNT}
    assert check_stack("s3-deny-tls-below-1-2", bucket_stack(policy=json.dumps(narrowed))) == expected
    allowed = json.loads(tls_policy(DATA))
    allowed["Statement"][1]["Effect"] = "Allow"
    assert check_stack("s3-deny-tls-below-1-2", bucket_stack(policy=json.dumps(allowed))) == expected
    assert check_stack("s3-deny-tls-below-1-2", [r for r in bucket_stack() if r.type != POLICY_T]) == expected
    assert check_stack("s3-deny-tls-below-1-2", bucket_stack(policy=U)) == []


def test_s3_versioning() -> None:
    assert check_stack("s3-versioning", bucket_stack()) == []
    assert check_stack("s3-versioning", bucket_stack(versioning="Suspended")) == [
        ("versioning is 'Suspended': an overwrite or delete would lose PHI for good. Add a BucketVersioning with versioningConfiguration.status='Enabled'.", f"{DATA}-bucket")]
    assert check_stack("s3-versioning", [r for r in bucket_stack() if r.type != VERSIONING_T]) == [
        ("versioning is not configured: an overwrite or delete would lose PHI for good. Add a BucketVersioning with versioningConfiguration.status='Enabled'.", f"{DATA}-bucket")]
    assert check_stack("s3-versioning", bucket_stack(versioning=U)) == []


def test_s3_public_access_block() -> None:
    assert check_stack("s3-public-access-block", bucket_stack()) == []
    assert check_stack("s3-public-access-block", bucket_stack(pab=False)) == [
        ("has no BucketPublicAccessBlock: a later ACL or policy could make PHI public. Add one with blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets all true.", f"{DATA}-bucket")]
    stack = bucket_stack()
    stack[-1].props = edit(stack[-1].props, blockPublicPolicy=False, restrictPublicBuckets=U)
    assert check_stack("s3-public-access-block", stack) == [
        ("the public access block leaves blockPublicPolicy off: set all four to true.", f"{DATA}-bucket")]


# --- KMS ------------------------------------------------------------------------------------------

def key_stack(*, rotation: object = True, via_alias: bool = False) -> tuple[Res, list[Res]]:
    key = Res(KEY_T, "care-prod-kms-logs", edit(KMS_KEY, enableKeyRotation=rotation))
    alias = Res(ALIAS_T, "care-prod-kms-logs-alias", {"name": "alias/care/logs", "targetKeyId": U},
                property_depends={"targetKeyId": (key,)})
    target = alias if via_alias else key
    group = Res(LOG_T, "flow-logs", edit(LOG_GROUP, kmsKeyId=U), property_depends={"kmsKeyId": (target,)})
    return group, [key, alias, group]


def test_kms_keys_in_stack() -> None:
    assert check_stack("kms-keys-in-stack", key_stack()[1]) == []
    assert check_stack("kms-keys-in-stack", key_stack(via_alias=True)[1]) == []
    assert check_stack("kms-keys-in-stack", key_stack(rotation=False)[1]) == [
        ("kmsKeyId uses KMS key care-prod-kms-logs, which does not rotate. Set enableKeyRotation=True on it.", "flow-logs")]
    assert check_stack("kms-keys-in-stack", key_stack(rotation=U)[1]) == []


def test_kms_key_outside_the_stack_or_aws_managed() -> None:
    key = Res(KEY_T, "care-prod-kms-database", KMS_KEY)
    foreign = f"arn:aws:kms:{PRIMARY}:999999999999:key/0000"
    db = Res(RDS_T, "care-prod-prm-primary", edit(RDS_PRIMARY, kmsKeyId=foreign, performanceInsightsKmsKeyId=DB_KEY),
             property_depends={"performanceInsightsKmsKeyId": (key,)})
    secret = Res("aws:secretsmanager/secret:Secret", "s", {"name": "s", "kmsKeyId": "alias/aws/secretsmanager"})
    assert check_stack("kms-keys-in-stack", [key, db, secret]) == [
        (f"kmsKeyId is {foreign}, which is not a KMS key of this stack: its rotation and key policy cannot be checked. Use keys.arn(<domain>) from the KeyRing.", "care-prod-prm-primary"),
        ("kmsKeyId is the AWS-managed key alias/aws/secretsmanager: use a customer-managed key of this stack (components/encryption.py KeyRing).", "s")]


def test_kms_nested_key_reference_by_dependency_only() -> None:
    """The offline plan has dependencies but no property dependencies: any key dependency counts."""
    key = Res(KEY_T, "care-prod-kms-streaming", edit(KMS_KEY, enableKeyRotation=False))
    msk = Res("aws:msk/cluster:Cluster", "kafka", {"encryptionInfo": {"encryptionAtRestKmsKeyArn": U}},
              depends=(key,))
    assert check_stack("kms-keys-in-stack", [key, msk]) == [
        ("encryptionInfo.encryptionAtRestKmsKeyArn uses KMS key care-prod-kms-streaming, which does not rotate. Set enableKeyRotation=True on it.", "kafka")]


# --- network, edge, WAF ---------------------------------------------------------------------------

def test_vpc_flow_logs() -> None:
    vpc = Res(VPC_T, "care-prod-vpc", {"cidrBlock": "10.30.0.0/16", "tags": TAGS})
    flow = Res(FLOW_T, "care-prod-flow-log", {"vpcId": U, "trafficType": "ALL", "logDestinationType": "cloud-watch-logs"},
               property_depends={"vpcId": (vpc,)})
    assert check_stack("vpc-flow-logs", [vpc, flow]) == []
    assert check_stack("vpc-flow-logs", [vpc]) == [
        ("has no flow log: network activity around PHI stores must be auditable. Add an aws.ec2.FlowLog with trafficType='ALL' (network.flowLogs in Pulumi.<stack>.yaml).", "care-prod-vpc")]
    flow.props = edit(flow.props, trafficType="REJECT")
    assert check_stack("vpc-flow-logs", [vpc, flow]) == [
        ("captures only REJECT: network activity around PHI stores must be auditable. Add an aws.ec2.FlowLog with trafficType='ALL' (network.flowLogs in Pulumi.<stack>.yaml).", "care-prod-vpc")]


def edge_stack(*, scope: str = "CLOUDFRONT", acl_id: object = U, logged: bool = True) -> list[Res]:
    acl = Res(ACL_T, "care-prod-edge-acl", {"name": "care-prod-edge", "scope": scope, "tags": TAGS,
                                             "defaultAction": {"allow": {}}})
    dist = Res(CF_T, "care-prod-cdn", edit({"enabled": True, "tags": TAGS}, webAclId=acl_id),
               property_depends={"webAclId": (acl,)} if acl_id is U else {})
    resources = [acl, dist]
    if logged:
        resources.append(Res(ACL_LOG_T, "care-prod-edge-acl-logging",
                             {"resourceArn": U, "logDestinationConfigs": [U]}, property_depends={"resourceArn": (acl,)}))
    return resources


def test_cloudfront_waf() -> None:
    assert check_stack("cloudfront-waf", edge_stack()) == []
    assert check_stack("cloudfront-waf", edge_stack(acl_id=DROP)) == [
        ("webAclId is not set: the distribution would serve PHI-bearing apps without rate limiting or managed rules. Set webAclId to the edge WebAcl's ARN (components/edge.py).", "care-prod-cdn")]
    assert check_stack("cloudfront-waf", edge_stack(scope="REGIONAL")) == [
        ("webAclId names care-prod-edge-acl, whose scope is 'REGIONAL': CloudFront needs a CLOUDFRONT-scoped web ACL created in us-east-1 (the edge provider).", "care-prod-cdn")]


def test_waf_logging() -> None:
    assert check_stack("waf-logging", edge_stack()) == []
    assert check_stack("waf-logging", edge_stack(logged=False)) == [
        ("has no WebAclLoggingConfiguration: blocked and allowed requests would leave no trace. Add one that sends to a KMS-encrypted 'aws-waf-logs-' log group.", "care-prod-edge-acl")]


SOURCE_T = "aws:cloudwatch/logDeliverySource:LogDeliverySource"
DELIVERY_T = "aws:cloudwatch/logDelivery:LogDelivery"


def logged_distribution(*, legacy: bool = False, source: bool = True, delivery: bool = True,
                        log_type: str = "ACCESS_LOGS") -> list[Res]:
    dist = Res(CF_T, "care-prod-edge-cdn", edit({"enabled": True, "tags": TAGS},
               loggingConfig={"bucket": "logs.s3.amazonaws.com"} if legacy else DROP))
    resources = [dist]
    if source:
        src = Res(SOURCE_T, "care-prod-edge-cdn-log-source", {"name": "care-prod-edge-cdn", "logType": log_type,
                                                              "resourceArn": U}, property_depends={"resourceArn": (dist,)})
        resources.append(src)
        if delivery:
            resources.append(Res(DELIVERY_T, "care-prod-edge-cdn-log-delivery",
                                 {"deliverySourceName": U, "deliveryDestinationArn": U},
                                 property_depends={"deliverySourceName": (src,)}))
    return resources


def test_cloudfront_logging() -> None:
    missing = [("has no access logs: neither loggingConfig nor a CloudWatch log delivery (a LogDeliverySource of logType ACCESS_LOGS on the distribution and a LogDelivery from it): viewer requests to PHI-bearing apps would leave no trace. Use standard logging v2 (components/edge.py).", "care-prod-edge-cdn")]
    assert check_stack("cloudfront-logging", logged_distribution()) == []
    assert check_stack("cloudfront-logging", logged_distribution(legacy=True, source=False)) == []
    assert check_stack("cloudfront-logging", logged_distribution(delivery=False)) == missing
    assert check_stack("cloudfront-logging", logged_distribution(source=False)) == missing
    assert check_stack("cloudfront-logging", logged_distribution(log_type="CONNECTION_LOGS")) == missing


def subnets(zones: list[str], tier: str = "private", vpc_id: str = "vpc-1") -> list[Res]:
    return [Res(SUBNET_T, f"{tier}-{z}", edit(SUBNET, vpcId=vpc_id, availabilityZone=z, tags__Tier=tier)) for z in zones]


def test_subnet_az_spread() -> None:
    three = ["us-east-2a", "us-east-2b", "us-east-2c"]
    assert check_stack("subnet-az-spread", subnets(three) + subnets(three, "database")) == []
    assert check_stack("subnet-az-spread", subnets(three) + subnets(three[:2], "database")) == [
        ("the database subnets span 2 AZ(s) (us-east-2a, us-east-2b); this stack requires 3. Set network.azCount: 3 in Pulumi.<stack>.yaml.", "database-us-east-2a")]
    assert check_stack("subnet-az-spread", subnets(three[:2]), config={"minAzCount": 2}) == []
    unknown = subnets(three[:1]) + [Res(SUBNET_T, "p-x", edit(SUBNET, vpcId="vpc-1", availabilityZone=U))]
    assert check_stack("subnet-az-spread", unknown) == []


# --- Kubernetes apps ------------------------------------------------------------------------------

def app(*, replicas: object = DROP, hpa_min: object = 2, pdb: dict | None = PDB) -> list[Res]:
    resources = [Res(DEP_T, "care-prod-nlfhir-deployment", edit(DEPLOYMENT, spec__replicas=replicas))]
    if hpa_min is not None:
        resources.append(Res(HPA_T, "care-prod-nlfhir-hpa", edit(HPA, spec__minReplicas=hpa_min)))
    if pdb is not None:
        resources.append(Res(PDB_T, "care-prod-nlfhir-pdb", pdb))
    return resources


def test_app_min_replicas() -> None:
    assert check_stack("app-min-replicas", app()) == []
    assert check_stack("app-min-replicas", app(hpa_min=1)) == [
        ("runs as few as 1 replica(s); this stack requires 2 so a node or AZ loss does not take the app down. Set apps.<app>.minReplicas: 2 or more in Pulumi.<stack>.yaml.", "care-prod-nlfhir-deployment")]
    assert check_stack("app-min-replicas", app(hpa_min=None, replicas=DROP)) == [
        ("runs as few as 1 replica(s); this stack requires 2 so a node or AZ loss does not take the app down. Set apps.<app>.minReplicas: 2 or more in Pulumi.<stack>.yaml.", "care-prod-nlfhir-deployment")]
    assert check_stack("app-min-replicas", app(hpa_min=None, replicas=3)) == []
    assert check_stack("app-min-replicas", app(hpa_min=1), config={"minReplicas": 1}) == []
    assert check_stack("app-min-replicas", app(hpa_min=U)) == []


def test_app_pod_disruption_budget() -> None:
    assert check_stack("app-pod-disruption-budget", app()) == []
    assert check_stack("app-pod-disruption-budget", app(pdb=None)) == [
        ("has no PodDisruptionBudget selecting its pods: a node drain could evict every replica at once. Add a PodDisruptionBudget (minAvailable 1 or maxUnavailable 1) with the pod labels.", "care-prod-nlfhir-deployment")]
    assert check_stack("app-pod-disruption-budget", app(pdb=None), config={"required": False}) == []
    other_namespace = edit(PDB, metadata__namespace="prm")
    assert check_stack("app-pod-disruption-budget", app(pdb=other_namespace))[0][0].startswith(
        "has no PodDisruptionBudget selecting its pods")
    blocking = edit(PDB, spec__maxUnavailable=DROP, spec__minAvailable=2)
    assert check_stack("app-pod-disruption-budget", app(pdb=blocking)) == [
        ("PodDisruptionBudget care-prod-nlfhir-pdb allows no disruption: node drains and upgrades would block. Use minAvailable below the replica count or maxUnavailable 1.", "care-prod-nlfhir-deployment")]
    assert check_stack("app-pod-disruption-budget", app(pdb=edit(PDB, spec__selector__matchLabels=U))) == []


# --- backup and recovery --------------------------------------------------------------------------

def test_backup_coverage_by_tag_selection() -> None:
    db = Res(RDS_T, "care-prod-prm-primary", edit(RDS_PRIMARY, tags={**TAGS, "Backup": "true"}))
    redis = Res(REDIS_T, "care-prod-redis", REDIS)
    sc = Res(SC_T, "gp3-encrypted", STORAGE_CLASS)
    replica = Res(RDS_T, "care-prod-prm-replica-1", RDS_REPLICA)
    stack = [db, redis, sc, replica, *bucket_stack(), SELECTION]
    assert check_stack("stateful-store-backup-coverage", stack) == []


def test_backup_coverage_gaps() -> None:
    untagged_bucket = bucket_stack(tags=TAGS)
    no_snapshots = Res(REDIS_T, "care-prod-redis", edit(REDIS, snapshotRetentionLimit=0))
    sc = Res(SC_T, "gp3", edit(STORAGE_CLASS, parameters__tagSpecification_1=DROP))
    volume = Res("aws:ebs/volume:Volume", "scratch", {"availabilityZone": "us-east-2a", "size": 10, "tags": TAGS})
    assert check_stack("stateful-store-backup-coverage", [*untagged_bucket, no_snapshots, sc, volume, SELECTION]) == [
        ("is not covered by any AWS Backup selection: its data has no backup. Tag it Backup=true (components.common.BACKUP_TAG_KEY) or replicate it (storage.replicateToDr).", f"{DATA}-bucket"),
        ("has no snapshots (snapshotRetentionLimit 0) and AWS Backup cannot back up ElastiCache. Set cache.snapshotRetentionDays: 1 or more in Pulumi.<stack>.yaml.", "care-prod-redis"),
        ("is not covered by any AWS Backup selection: its data has no backup. Add parameters.tagSpecification_1: 'Backup=true' so the volumes it provisions are selected.", "gp3"),
        ("is not covered by any AWS Backup selection: its data has no backup. Tag it Backup=true (components.common.BACKUP_TAG_KEY).", "scratch")]


def test_backup_coverage_by_arn_pattern_and_condition() -> None:
    db = Res(RDS_T, "care-prod-prm-primary", edit(RDS_PRIMARY, backupRetentionPeriod=0, tags={**TAGS, "Backup": "true"}))
    pitr = Res(SELECTION_T, "pitr", {"name": "rds-tagged", "planId": "p", "iamRoleArn": "r",
                                     "resources": [f"arn:aws:rds:{PRIMARY}:{ACCOUNT}:db:*"],
                                     "conditions": [{"stringEquals": [{"key": "aws:ResourceTag/Backup", "value": "true"}]}]})
    assert check_stack("stateful-store-backup-coverage", [db, pitr]) == []
    db.props = edit(db.props, tags=TAGS)
    assert check_stack("stateful-store-backup-coverage", [db, pitr]) == [
        ("is not covered by any AWS Backup selection: its data has no backup. Set database.<name>.backupRetentionDays in Pulumi.<stack>.yaml or tag it Backup=true.", "care-prod-prm-primary")]
    unknown = Res(SELECTION_T, "u", {"name": "u", "planId": "p", "iamRoleArn": "r", "selectionTags": U})
    assert check_stack("stateful-store-backup-coverage", [db, unknown]) == []


def test_backup_coverage_skips_log_targets_public_buckets_and_replicated_buckets() -> None:
    logs = bucket_stack(LOGS, tags=TAGS)
    data = bucket_stack(tags=TAGS)
    logging = Res(LOGGING_T, "lg", {"bucket": DATA, "targetBucket": LOGS}, depends=(logs[0], data[0]))
    dr_name = "care-prod-dr-app-data-333333333333"
    dr = bucket_stack(dr_name, tags=TAGS)
    replication = Res(REPLICATION_T, "repl", {"bucket": DATA, "role": "r", "rules": [
        {"id": "dr", "status": "Enabled", "destination": {"bucket": f"arn:aws:s3:::{dr_name}"}}]},
        depends=(data[0], dr[0]))
    assets = bucket_stack("care-prod-static-assets-333333333333", tags={**TAGS, "DataClassification": "public"})
    assert check_stack("stateful-store-backup-coverage", [*logs, *data, logging, *dr, replication, *assets]) == []


def test_rds_cross_region_backups() -> None:
    db = Res(RDS_T, "care-prod-nlfhir-primary", RDS_PRIMARY)
    replica = Res(RDS_T, "care-prod-prm-replica-1", RDS_REPLICA)
    rep = Res(REPL_T, "care-prod-nlfhir-backup-replication", {
        "kmsKeyId": f"arn:aws:kms:{DR}:{ACCOUNT}:key/cafaa5d4", "retentionPeriod": 30,
        "sourceDbInstanceArn": f"arn:aws:rds:{PRIMARY}:{ACCOUNT}:db:care-prod-nlfhir"}, region=DR)
    assert check_stack("rds-cross-region-backups", [db, replica, rep]) == []
    assert check_stack("rds-cross-region-backups", [db, replica]) == [
        ("has no InstanceAutomatedBackupsReplication: a regional outage would lose point-in-time recovery. Replicate its backups to us-west-2 with the DR ring's 'database' key (storage.replicateToDr / backup.copyToDr in Pulumi.<stack>.yaml).", "care-prod-nlfhir-primary")]
    wrong = Res(REPL_T, "r2", edit(rep.props, kmsKeyId=DROP), region="eu-west-1")
    assert check_stack("rds-cross-region-backups", [db, wrong]) == [
        ("replicates its automated backups to eu-west-1, not the DR region us-west-2: use the DR provider (regions.dr).", "care-prod-nlfhir-primary"),
        ("the backup replication sets no kmsKeyId: encrypted backups need the DR ring's 'database' key in the DR region.", "care-prod-nlfhir-primary")]
    unknown_arn = Res(REPL_T, "r3", edit(rep.props, sourceDbInstanceArn=U), region=DR,
                      property_depends={"sourceDbInstanceArn": (db,)})
    assert check_stack("rds-cross-region-backups", [db, unknown_arn]) == []


def test_backup_vault_lock() -> None:
    vault = Res(VAULT_T, "care-prod-backup-vault", edit(VAULT, name="care-prod-backup-vault"))
    lock = Res(LOCK_T, "care-prod-backup-vault-lock", {"backupVaultName": "care-prod-backup-vault",
                                                       "minRetentionDays": 30, "changeableForDays": 3})
    assert check_stack("backup-vault-lock", [vault, lock]) == []
    assert check_stack("backup-vault-lock", [vault]) == [
        ("has no VaultLockConfiguration: an attacker or a mistake could delete recovery points before their retention ends. Set backup.vaultLock: true in Pulumi.<stack>.yaml.", "care-prod-backup-vault")]
    assert check_stack("backup-vault-lock", [vault], config={"required": False}) == []


# --- cost-budget-alerts (issue #14): a monthly COST budget alerting at 75/90/100 % actual, 100 % forecast ---

BUDGET_T = "aws:budgets/budget:Budget"
TOPIC = "arn:aws:sns:us-east-2:333333333333:care-prod-alerts"


def _notification(kind: str, threshold: int) -> dict:
    return {"comparisonOperator": "GREATER_THAN", "notificationType": kind, "threshold": threshold,
            "thresholdType": "PERCENTAGE", "subscriberSnsTopicArns": [TOPIC],
            "subscriberEmailAddresses": ["finops@care.example"]}


BUDGET = {"name": "care-prod-cost-monthly-cost", "budgetType": "COST", "timeUnit": "MONTHLY", "limitAmount": "10000.00",
          "limitUnit": "USD", "notifications": [_notification("ACTUAL", 75), _notification("ACTUAL", 90),
                                                _notification("ACTUAL", 100), _notification("FORECASTED", 100)]}
FIX = "the budget must alert at 75 %, 90 % and 100 % of actual spend and 100 % of forecast. Set budget.actualThresholds: [75, 90, 100] and budget.forecastThresholds: [100] in Pulumi.<stack>.yaml."


def test_a_complete_budget_passes() -> None:
    assert check_stack("cost-budget-alerts", [Res(BUDGET_T, "care-prod-cost-monthly", BUDGET)]) == []


def test_no_budget() -> None:
    assert check_stack("cost-budget-alerts", []) == [
        ("the stack has no monthly COST budget (aws.budgets.Budget): spend could run away unnoticed. Set care-platform:budget in Pulumi.<stack>.yaml (the cost tier creates it).", None)]
    usage = Res(BUDGET_T, "usage", edit(BUDGET, budgetType="USAGE"))
    assert len(check_stack("cost-budget-alerts", [usage])) == 1
    assert check_stack("cost-budget-alerts", [], config={"required": False}) == []


def test_a_missing_threshold_is_named() -> None:
    budget = Res(BUDGET_T, "care-prod-cost-monthly", edit(BUDGET, notifications__1=DROP, notifications__2=DROP))
    # (the second DROP removes the element that moved to index 2: ACTUAL 100 stays, FORECASTED 100 goes)
    assert check_stack("cost-budget-alerts", [budget]) == [
        (f"notifies no subscriber at ACTUAL 90 %, FORECASTED 100 %: {FIX}", "care-prod-cost-monthly")]


def test_a_notification_without_subscribers_does_not_count() -> None:
    budget = Res(BUDGET_T, "care-prod-cost-monthly", edit(BUDGET, notifications__0__subscriberSnsTopicArns=[],
                                                          notifications__0__subscriberEmailAddresses=DROP))
    assert check_stack("cost-budget-alerts", [budget]) == [
        (f"notifies no subscriber at ACTUAL 75 %: {FIX}", "care-prod-cost-monthly")]


def test_an_absolute_threshold_does_not_count() -> None:
    budget = Res(BUDGET_T, "care-prod-cost-monthly", edit(BUDGET, notifications__3__thresholdType="ABSOLUTE_VALUE"))
    assert check_stack("cost-budget-alerts", [budget]) == [
        (f"notifies no subscriber at FORECASTED 100 %: {FIX}", "care-prod-cost-monthly")]
# --- Account baseline and HIPAA conformance-pack policies (policies/baseline.py, conformance_rules.py) ----------

TRAIL_T, RECORDER_T = "aws:cloudtrail/trail:Trail", "aws:cfg/recorder:Recorder"
STATUS_T, CHANNEL_T = "aws:cfg/recorderStatus:RecorderStatus", "aws:cfg/deliveryChannel:DeliveryChannel"
DETECTOR_T, FEATURE_T = "aws:guardduty/detector:Detector", "aws:guardduty/detectorFeature:DetectorFeature"
HUB_T, STANDARD_T = "aws:securityhub/account:Account", "aws:securityhub/standardsSubscription:StandardsSubscription"
AUDIT_KEY = f"arn:aws:kms:{PRIMARY}:{ACCOUNT}:key/audit"
GOOD_TRAIL = {
    "name": "care-prod-audit-trail", "isMultiRegionTrail": True, "enableLogFileValidation": True,
    "enableLogging": True, "kmsKeyId": AUDIT_KEY,
    "cloudWatchLogsGroupArn": f"arn:aws:logs:{PRIMARY}:{ACCOUNT}:log-group:trail:*",
    "advancedEventSelectors": [
        {"name": "m", "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]},
        {"name": "d", "fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]},
                                         {"field": "resources.type", "equals": ["AWS::S3::Object"]}]}],
}


def test_cloudtrail_required() -> None:
    assert check_stack("cloudtrail-required", [Res(TRAIL_T, "trail", GOOD_TRAIL)]) == []
    assert check_stack("cloudtrail-required", []) == [(
        "no CloudTrail trail: API activity in this account would not be recorded. Turn on audit.cloudtrail "
        "(components/audit.py).", None)]
    assert check_stack("cloudtrail-required", [], config={"required": False}) == []
    weak = edit(GOOD_TRAIL, isMultiRegionTrail=False, kmsKeyId=DROP, advancedEventSelectors=DROP)
    assert check_stack("cloudtrail-required", [Res(TRAIL_T, "trail", weak)]) == [(
        "the trail lacks isMultiRegionTrail=True, kmsKeyId (a customer-managed key), S3 data events (an event "
        "selector for AWS::S3::Object): the account's audit trail must be multi-region, validated, encrypted with a "
        "customer-managed key, sent to CloudWatch Logs and record S3 data events on the PHI buckets "
        "(components/audit.py).", "trail")]
    assert check_stack("cloudtrail-required", [Res(TRAIL_T, "trail", edit(weak, kmsKeyId=U))]) == []


def _config(recorder: dict | None = None, enabled: object = True) -> list[Res]:
    rec = Res(RECORDER_T, "rec", recorder or {"name": "care-prod-audit-recorder", "recordingGroup": {
        "allSupported": True, "includeGlobalResourceTypes": True}})
    return [rec, Res(CHANNEL_T, "channel", {"s3BucketName": "b"}, depends=(rec,)),
            Res(STATUS_T, "status", {"name": "care-prod-audit-recorder", "isEnabled": enabled})]


def test_config_recorder_on() -> None:
    assert check_stack("config-recorder-on", _config()) == []
    assert check_stack("config-recorder-on", []) == [(
        "no AWS Config recorder: resource configuration history and the HIPAA conformance pack need one. Turn on "
        "audit.configRecorder (components/audit.py).", None)]
    partial = _config({"name": "care-prod-audit-recorder", "recordingGroup": {"allSupported": False}}, enabled=False)
    assert check_stack("config-recorder-on", partial) == [
        ("recordingGroup must record all supported resources with global resource types (allSupported=True, "
         "includeGlobalResourceTypes=True).", "rec"),
        ("the recorder is not started: add a RecorderStatus with isEnabled=True for it.", "rec")]
    assert check_stack("config-recorder-on", _config()[:1] + _config()[2:]) == [
        ("no AWS Config delivery channel: the recorder cannot start without one. Deliver to the audit-log bucket.",
         "rec")]


def _guardduty(names: tuple[str, ...]) -> list[Res]:
    detector = Res(DETECTOR_T, "gd", {"enable": True})
    return [detector, *(Res(FEATURE_T, n.lower(), {"detectorId": U, "name": n, "status": "ENABLED"},
                            property_depends={"detectorId": (detector,)}) for n in names)]


def test_guardduty_features() -> None:
    full = ("S3_DATA_EVENTS", "EKS_AUDIT_LOGS", "RUNTIME_MONITORING", "RDS_LOGIN_EVENTS", "EBS_MALWARE_PROTECTION")
    assert check_stack("guardduty-features", _guardduty(full)) == []
    resources = _guardduty(("S3_DATA_EVENTS", "EKS_AUDIT_LOGS"))
    resources[1].props["detectorId"] = "d-1"  # a known id: linked by the property dependency all the same
    assert check_stack("guardduty-features", resources) == [(
        "GuardDuty features not enabled: RDS_LOGIN_EVENTS, EBS_MALWARE_PROTECTION, RUNTIME_MONITORING (EKS runtime "
        "monitoring). Add a DetectorFeature with status='ENABLED' for each.", "gd")]
    assert check_stack("guardduty-features", [Res(DETECTOR_T, "gd", {"enable": False})]) == [
        ("the detector is disabled: set enable=True.", "gd")]
    assert check_stack("guardduty-features", []) == [(
        "no GuardDuty detector: threats to the account, the EKS clusters and the databases would go unnoticed. "
        "Turn on audit.guardduty (components/audit.py).", None)]


def test_securityhub_enabled() -> None:
    fsbp = f"arn:aws:securityhub:{PRIMARY}::standards/aws-foundational-security-best-practices/v/1.0.0"
    hub = Res(HUB_T, "hub", {"enableDefaultStandards": False})
    assert check_stack("securityhub-enabled", [hub, Res(STANDARD_T, "fsbp", {"standardsArn": fsbp})]) == []
    assert check_stack("securityhub-enabled", [hub]) == [
        ("no subscription to AWS Foundational Security Best Practices: add a StandardsSubscription.", "hub")]
    assert check_stack("securityhub-enabled", []) == [(
        "Security Hub is not enabled: no account-wide view of findings and control checks. Turn on "
        "audit.securityHub (components/audit.py).", None)]


def test_account_safeguards() -> None:
    ebs_t = "aws:ebs/encryptionByDefault:EncryptionByDefault"
    assert check_stack("ebs-encryption-by-default", [Res(ebs_t, "ebs", {"enabled": True})]) == []
    assert check_stack("ebs-encryption-by-default", [Res(ebs_t, "ebs", {"enabled": False})]) == [
        ("EBS encryption by default is off: set enabled=True.", "ebs")]
    assert check_stack("ebs-encryption-by-default", [])[0][0].startswith("EBS encryption by default is not managed")
    pab_t = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
    on = {"accountId": ACCOUNT, "blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True,
          "restrictPublicBuckets": True}
    assert check_stack("s3-account-public-access-block", [Res(pab_t, "pab", on)]) == []
    assert check_stack("s3-account-public-access-block", [Res(pab_t, "pab", edit(on, ignorePublicAcls=False))]) == [
        ("the account public access block leaves ignorePublicAcls off: set all four to true.", "pab")]
    assert check_stack("s3-account-public-access-block", [])[0][0].startswith("no account-level S3 public access")
    pw_t = "aws:iam/accountPasswordPolicy:AccountPasswordPolicy"
    strong = {"minimumPasswordLength": 14, "passwordReusePrevention": 24, "maxPasswordAge": 90,
              "requireLowercaseCharacters": True, "requireUppercaseCharacters": True, "requireNumbers": True,
              "requireSymbols": True}
    assert check_stack("iam-password-policy", [Res(pw_t, "pw", strong)]) == []
    weak = edit(strong, minimumPasswordLength=8, requireSymbols=False, maxPasswordAge=DROP)
    assert check_stack("iam-password-policy", [Res(pw_t, "pw", weak)]) == [(
        "the password policy is weaker than the HIPAA pack's: minimumPasswordLength must be at least 14; "
        "requireSymbols must be true; maxPasswordAge must be 1..90.", "pw")]
    assert check_stack("iam-password-policy", [])[0][0].startswith("no IAM account password policy")


def _bucket_with(*companions: str) -> list[Res]:
    bucket = Res("aws:s3/bucket:Bucket", "data", {"bucket": DATA})
    made = {
        "logging": Res("aws:s3/bucketLogging:BucketLogging", "log", {"bucket": DATA, "targetBucket": LOGS}),
        "ownership": Res("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "own",
                         {"bucket": DATA, "rule": {"objectOwnership": "BucketOwnerEnforced"}}),
        "lifecycle": Res("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "lc", {
            "bucket": DATA, "rules": [{"id": "r", "status": "Enabled",
                                       "noncurrentVersionExpiration": {"noncurrentDays": 365}}]}),
        "notification": Res("aws:s3/bucketNotification:BucketNotification", "nt",
                            {"bucket": DATA, "eventbridge": True}),
    }
    return [bucket, *(made[c] for c in companions)]


def test_s3_housekeeping() -> None:
    assert check_stack("s3-housekeeping", _bucket_with("logging", "ownership", "lifecycle", "notification")) == []
    assert check_stack("s3-housekeeping", _bucket_with()) == [
        ("no server access logging: requests to the bucket would leave no trace outside CloudTrail data events. "
         "Pass access_log_bucket to SecureBucket.", "data"),
        ("ACLs are not disabled: add BucketOwnershipControls with objectOwnership='BucketOwnerEnforced'.", "data"),
        ("no enabled lifecycle rule expires noncurrent versions: old versions would pile up forever. Add "
         "noncurrentVersionExpiration to the bucket's lifecycle rule.", "data"),
        ("no event notifications: object changes would not reach EventBridge. Add a BucketNotification with "
         "eventbridge=True.", "data"),
    ]


def test_backup_recovery_points_protected() -> None:
    vault = Res(VAULT_T, "vault", VAULT)
    deny = json.dumps({"Statement": [{"Effect": "Deny", "Principal": "*", "Resource": "*",
                                      "Action": ["backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"]}]})
    policy = Res("aws:backup/vaultPolicy:VaultPolicy", "vp", {"backupVaultName": VAULT["name"], "policy": deny})
    assert check_stack("backup-recovery-points-protected", [vault, policy]) == []
    half = Res("aws:backup/vaultPolicy:VaultPolicy", "vp", {"backupVaultName": VAULT["name"], "policy": json.dumps(
        {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "backup:DeleteRecoveryPoint", "Resource": "*"}]})})
    expected = [("no vault access policy denies backup:DeleteRecoveryPoint and backup:UpdateRecoveryPointLifecycle to "
                 "everyone: a recovery point could be deleted by hand. Add a VaultPolicy (components/backup.py).",
                 "vault")]
    assert check_stack("backup-recovery-points-protected", [vault, half]) == expected
    assert check_stack("backup-recovery-points-protected", [vault]) == expected


def test_igw_routes_public_only() -> None:
    vpc = Res("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.30.0.0/16"})
    igw = Res("aws:ec2/internetGateway:InternetGateway", "igw", {"vpcId": U}, property_depends={"vpcId": (vpc,)})
    public = Res("aws:ec2/routeTable:RouteTable", "public-rt", {"vpcId": U, "tags": {"Tier": "public"},
                                                                 "routes": [{"cidrBlock": "0.0.0.0/0",
                                                                             "gatewayId": "igw-1"}]})
    private = Res("aws:ec2/routeTable:RouteTable", "private-rt", {"vpcId": U, "tags": {"Tier": "private"},
                                                                   "routes": [{"cidrBlock": "0.0.0.0/0",
                                                                               "gatewayId": "igw-1"}]})
    assert check_stack("igw-routes-public-only", [vpc, igw, public]) == []
    assert check_stack("igw-routes-public-only", [vpc, igw, public, private]) == [(
        "routes 0.0.0.0/0 to the internet gateway from a route table of tier 'private': only the public tier "
        "(load balancers, NAT gateways) may reach the internet directly.", "private-rt")]
    stray = Res("aws:ec2/internetGateway:InternetGateway", "stray", {"vpcId": "vpc-other"})
    assert check_stack("igw-routes-public-only", [vpc, stray]) == [
        ("the internet gateway is attached to a VPC this stack does not create.", "stray")]


def test_vpc_default_sg_closed() -> None:
    vpc = Res("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.30.0.0/16"})
    closed = Res("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "default", {"vpcId": U, "ingress": [],
                                                                                  "egress": []},
                 property_depends={"vpcId": (vpc,)})
    assert check_stack("vpc-default-sg-closed", [vpc, closed]) == []
    assert check_stack("vpc-default-sg-closed", [vpc]) == [(
        "the VPC's default security group is not managed: it admits all traffic between its members. Add a "
        "DefaultSecurityGroup with no ingress and no egress rules.", "vpc")]
    open_ = Res("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "default", {
        "vpcId": U, "ingress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}], "egress": []},
        property_depends={"vpcId": (vpc,)})
    assert check_stack("vpc-default-sg-closed", [vpc, open_]) == [
        ("the default security group has ingress rules: remove them.", "default")]


def test_eks_nodes_ssm_managed() -> None:
    role = Res("aws:iam/role:Role", "node-role", {"name": "care-prod-eks-node-role"})
    group = Res("aws:eks/nodeGroup:NodeGroup", "app", {"nodeRoleArn": U}, property_depends={"nodeRoleArn": (role,)})
    ssm = Res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "ssm", {
        "role": U, "policyArn": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"},
        property_depends={"role": (role,)})
    worker = Res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "worker", {
        "role": U, "policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"}, property_depends={"role": (role,)})
    assert check_stack("eks-nodes-ssm-managed", [role, group, worker, ssm]) == []
    assert check_stack("eks-nodes-ssm-managed", [role, group, worker]) == [(
        "the node role lacks AmazonSSMManagedInstanceCore: the nodes would not be managed by Systems Manager "
        "(inventory, Session Manager instead of SSH). Attach it (components/eks/iam.py).", "app")]


# --- store-ingress-bound-clients (policies/network_access.py) ------------------------------------------------
NA_SG_T = "aws:ec2/securityGroup:SecurityGroup"
NA_RULE_T = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
NA_RDS_T = "aws:rds/instance:Instance"


def na_group(name: str, **tags: str) -> Res:
    return Res(NA_SG_T, name, {"vpcId": U, "description": name, "tags": {**TAGS, "Name": name, **tags}})


def na_stack(*, db_sources: tuple[Res, ...] | None = None, store_tag: str | None = "prm_db") -> list[Res]:
    api = na_group("care-prod-pods-prm-api-sg", **{"care.platform/stores": "prm_db redis"})
    worker = na_group("care-prod-pods-prm-worker-sg", **{"care.platform/stores": "redis kafka"})
    nodes = na_group("care-prod-network-workload-sg")
    sources = (api,) if db_sources is None else db_sources
    tags = {**TAGS, "Name": "care-prod-prm-sg", **({"care.platform/store": store_tag} if store_tag else {})}
    store = Res(NA_SG_T, "care-prod-prm-sg", {"vpcId": U, "tags": tags, "ingress": [
        {"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "securityGroups": [U] * len(sources)}]},
        property_depends={"ingress": sources})
    db = Res(NA_RDS_T, "care-prod-prm-db", {"engine": "postgres", "vpcSecurityGroupIds": [U]},
             property_depends={"vpcSecurityGroupIds": (store,)})
    return [api, worker, nodes, store, db]


def test_a_store_admitting_only_its_bound_clients_passes() -> None:
    assert check_stack("store-ingress-bound-clients", na_stack()) == []


def test_a_store_admitting_an_unbound_workload_or_the_nodes_fails() -> None:
    resources = na_stack()
    api, worker, nodes = resources[:3]
    assert check_stack("store-ingress-bound-clients", na_stack(db_sources=(api, worker, nodes))) == [
        ("store security group care-prod-prm-sg (prm_db) admits care-prod-pods-prm-worker-sg, which is not bound to it (care.platform/stores: kafka redis). Bind the workload to the store (tiers/identity.py APP_STORES) or remove the rule.", "care-prod-prm-sg"),
        ("store security group care-prod-prm-sg (prm_db) admits care-prod-network-workload-sg, which is not bound to it (care.platform/stores: none). Bind the workload to the store (tiers/identity.py APP_STORES) or remove the rule.", "care-prod-prm-sg"),
    ]


def test_a_store_admitting_an_address_range_fails() -> None:
    resources = na_stack()
    store = resources[3]
    store.props = edit(store.props, ingress=[*store.props["ingress"], {"protocol": "tcp", "fromPort": 5432,
                                                                       "toPort": 5432, "cidrBlocks": ["10.30.0.0/16"]}])
    assert check_stack("store-ingress-bound-clients", resources) == [
        ("store security group care-prod-prm-sg admits 10.30.0.0/16: a store admits only the security groups of the workloads bound to it, never address ranges.", "care-prod-prm-sg")]


def test_a_separate_ingress_rule_from_an_unbound_group_fails() -> None:
    resources = na_stack()
    worker, store = resources[1], resources[3]
    rule = Res(NA_RULE_T, "care-prod-prm-from-worker", {"securityGroupId": U, "referencedSecurityGroupId": U,
                                                       "ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432},
               property_depends={"securityGroupId": (store,), "referencedSecurityGroupId": (worker,)})
    assert check_stack("store-ingress-bound-clients", [*resources, rule]) == [
        ("store security group care-prod-prm-sg (prm_db) admits care-prod-pods-prm-worker-sg, which is not bound to it (care.platform/stores: kafka redis). Bind the workload to the store (tiers/identity.py APP_STORES) or remove the rule.", "care-prod-prm-sg")]


def test_a_store_on_an_untagged_group_fails() -> None:
    assert check_stack("store-ingress-bound-clients", na_stack(store_tag=None)) == [
        ("care-prod-prm-db uses security group care-prod-prm-sg, which names no store (care.platform/store is not set): the pack cannot tell who may reach it. Build store security groups in the data tier (tiers/data.py), which tags them.", "care-prod-prm-db")]


# --- namespace-default-deny-egress (policies/network_access.py) ----------------------------------------------
NS_T = "kubernetes:core/v1:Namespace"
NP_T = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def ns_stack(**deny_changes: object) -> list[Res]:
    namespace = Res(NS_T, "care-prod-eks-ns-prm", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prm"}})
    deny = Res(NP_T, "care-prod-eks-ns-prm-default-deny-egress", edit(
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "default-deny-egress", "namespace": "prm"},
         "spec": {"podSelector": {}, "policyTypes": ["Egress"]}}, **deny_changes))
    return [namespace, deny]


def test_namespace_default_deny_egress() -> None:
    assert check_stack("namespace-default-deny-egress", ns_stack()) == []
    message = ("namespace prm has no default-deny egress NetworkPolicy (empty podSelector, policyTypes [Egress], no egress rules): a compromised pod could reach anything, the instance metadata service and the internet included. Create it with the namespace (components/egress.py namespace_egress) and allow each workload's destinations explicitly.", "care-prod-eks-ns-prm")
    assert check_stack("namespace-default-deny-egress", ns_stack()[:1]) == [message]
    assert check_stack("namespace-default-deny-egress", ns_stack(spec__policyTypes=["Ingress"])) == [message]
    assert check_stack("namespace-default-deny-egress", ns_stack(spec__podSelector={"matchLabels": {"a": "b"}})) == [message]
    assert check_stack("namespace-default-deny-egress", ns_stack(spec__egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}])) == [message]
    assert check_stack("namespace-default-deny-egress", ns_stack(metadata__namespace="nlfhir")) == [message]


# --- vpc-dns-firewall (policies/network_access.py) ------------------------------------------------------------
DNS_T = "aws:route53/resolver"


def dns_stack(*, block_domains: list[str] | None = None, action: str = "BLOCK") -> list[Res]:
    vpc = Res(VPC_T, "care-prod-vpc", {"cidrBlock": "10.30.0.0/16", "tags": TAGS})
    group = Res(f"{DNS_T}FirewallRuleGroup:ResolverFirewallRuleGroup", "fw-rules", {"name": "fw-rules"})
    everything = Res(f"{DNS_T}FirewallDomainList:ResolverFirewallDomainList", "fw-everything",
                     {"domains": block_domains or ["*"]})
    rule = Res(f"{DNS_T}FirewallRule:ResolverFirewallRule", "fw-block-rest",
               {"action": action, "blockResponse": "NODATA", "priority": 200, "firewallDomainListId": U,
                "firewallRuleGroupId": U},
               property_depends={"firewallDomainListId": (everything,), "firewallRuleGroupId": (group,)})
    association = Res(f"{DNS_T}FirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation", "fw-vpc",
                      {"vpcId": U, "firewallRuleGroupId": U, "priority": 500},
                      property_depends={"vpcId": (vpc,), "firewallRuleGroupId": (group,)})
    return [vpc, group, everything, rule, association]


def test_vpc_dns_firewall() -> None:
    assert check_stack("vpc-dns-firewall", dns_stack()) == []
    message = ("has no Route 53 Resolver DNS Firewall rule group that blocks every domain not on the allow-list (a BLOCK rule on the '*' domain list): a pod could resolve and reach any host on the internet. Set network.dnsFirewall.enabled: true (components/dns_firewall.py).", "care-prod-vpc")
    assert check_stack("vpc-dns-firewall", dns_stack()[:4]) == [message]  # not associated with the VPC
    assert check_stack("vpc-dns-firewall", dns_stack(action="ALERT")) == [message]
    assert check_stack("vpc-dns-firewall", dns_stack(block_domains=["evil.example.com"])) == [message]
    assert check_stack("vpc-dns-firewall", dns_stack()[:1], config={"required": False}) == []


# --- database-subnet-nacl (policies/network_access.py) ---------------------------------------------------------
SUBNET_T = "aws:ec2/subnet:Subnet"
NACL_T = "aws:ec2/networkAcl:NetworkAcl"
NACL_RULE_T = "aws:ec2/networkAclRule:NetworkAclRule"


def acl_stack(*, ingress: list[dict] | None = None, egress: list[dict] | None = None,
              associated: bool = True) -> list[Res]:
    private = Res(SUBNET_T, "care-prod-private-us-east-2a", {"cidrBlock": "10.30.0.0/19", "tags": {**TAGS, "Tier": "private"}})
    db_a = Res(SUBNET_T, "care-prod-database-us-east-2a", {"cidrBlock": "10.30.112.0/24", "tags": {**TAGS, "Tier": "database"}})
    db_b = Res(SUBNET_T, "care-prod-database-us-east-2b", {"cidrBlock": "10.30.113.0/24", "tags": {**TAGS, "Tier": "database"}})
    default_in = [{"ruleNo": 100, "action": "allow", "protocol": "-1", "cidrBlock": "10.30.113.0/24", "fromPort": 0, "toPort": 0},
                  {"ruleNo": 200, "action": "allow", "protocol": "tcp", "cidrBlock": "10.30.0.0/19", "fromPort": 5432, "toPort": 5432}]
    default_out = [{"ruleNo": 100, "action": "allow", "protocol": "-1", "cidrBlock": "10.30.112.0/24", "fromPort": 0, "toPort": 0},
                   {"ruleNo": 200, "action": "allow", "protocol": "tcp", "cidrBlock": "10.30.0.0/19", "fromPort": 1024, "toPort": 65535}]
    acl = Res(NACL_T, "care-prod-database-acl", {"vpcId": U, "subnetIds": [U, U], "ingress": default_in if ingress is None else ingress,
                                                "egress": default_out if egress is None else egress},
              property_depends={"subnetIds": (db_a, db_b) if associated else ()})
    return [private, db_a, db_b, acl]


def test_database_subnets_behind_the_restrictive_acl_pass() -> None:
    assert check_stack("database-subnet-nacl", acl_stack()) == []
    # A deny rule from anywhere is not an opening.
    assert check_stack("database-subnet-nacl", acl_stack(ingress=[
        {"ruleNo": 50, "action": "deny", "protocol": "-1", "cidrBlock": "0.0.0.0/0", "fromPort": 0, "toPort": 0}])) == []


def test_a_database_subnet_without_its_acl_fails() -> None:
    assert check_stack("database-subnet-nacl", acl_stack(associated=False)) == [
        ("database subnet 10.30.112.0/24 has no network ACL of its own, so the VPC's default ACL (all traffic in and out) applies. Associate the database ACL (components/network_acl.py), which admits only the private tier on the stores' ports.", "care-prod-database-us-east-2a"),
        ("database subnet 10.30.113.0/24 has no network ACL of its own, so the VPC's default ACL (all traffic in and out) applies. Associate the database ACL (components/network_acl.py), which admits only the private tier on the stores' ports.", "care-prod-database-us-east-2b"),
    ]


def test_an_acl_open_to_the_vpc_or_every_port_of_the_private_tier_fails() -> None:
    tail = "The database tier admits the private tier on the stores' ports and the other database subnets only (components/network_acl.py)."
    open_in = [{"ruleNo": 100, "action": "allow", "protocol": "-1", "cidrBlock": "10.30.0.0/16", "fromPort": 0, "toPort": 0},
               {"ruleNo": 110, "action": "allow", "protocol": "tcp", "cidrBlock": "10.30.0.0/19", "fromPort": 0, "toPort": 65535}]
    result = check_stack("database-subnet-nacl", acl_stack(ingress=open_in))
    assert result == [(f"database subnet {cidr}: network ACL care-prod-database-acl ingress rule {m}. {tail}", name)
                      for cidr, name in (("10.30.112.0/24", "care-prod-database-us-east-2a"),
                                         ("10.30.113.0/24", "care-prod-database-us-east-2b"))
                      for m in ("100 allows 10.30.0.0/16, which is neither a private (workload) nor a database subnet",
                                "110 allows every protocol and port with the private subnet 10.30.0.0/19 (only the stores' ports are needed)")]


def test_a_separate_acl_rule_to_the_internet_fails() -> None:
    resources = acl_stack()
    acl = resources[-1]
    rule = Res(NACL_RULE_T, "care-prod-database-acl-out", {"networkAclId": U, "ruleNumber": 300, "egress": True,
                                                           "protocol": "tcp", "ruleAction": "allow",
                                                           "cidrBlock": "0.0.0.0/0", "fromPort": 443, "toPort": 443},
               property_depends={"networkAclId": (acl,)})
    assert check_stack("database-subnet-nacl", [*resources, rule])[0] == (
        "database subnet 10.30.112.0/24: network ACL care-prod-database-acl egress rule allows 0.0.0.0/0, which is neither a private (workload) nor a database subnet. The database tier admits the private tier on the stores' ports and the other database subnets only (components/network_acl.py).",
        "care-prod-database-us-east-2a")


# --- mesh-namespace-default-deny (policies/network_access.py) ----------------------------------------------------
AP_T = "kubernetes:security.istio.io/v1:AuthorizationPolicy"


def mesh_stack(deny_spec: object = None, *, meshed: bool = True, app_rules: list | None = None) -> list[Res]:
    labels = {"istio-injection": "enabled"} if meshed else {}
    namespace = Res(NS_T, "care-prod-eks-ns-prm", {"apiVersion": "v1", "kind": "Namespace",
                                                   "metadata": {"name": "prm", "labels": labels}})
    deny = Res(AP_T, "care-prod-eks-ns-prm-allow-nothing", {
        "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
        "metadata": {"name": "allow-nothing", "namespace": "prm"}, "spec": {} if deny_spec is None else deny_spec})
    app = Res(AP_T, "care-prod-prm-api-authz", {
        "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
        "metadata": {"name": "prm-api", "namespace": "prm"},
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "prm-api"}}, "action": "ALLOW",
                 "rules": [{"from": [{"source": {"ipBlocks": ["10.30.96.0/24"]}}], "to": [{"operation": {"ports": ["8080"]}}]}]
                 if app_rules is None else app_rules}})
    return [namespace, deny, app]


def test_mesh_namespace_default_deny() -> None:
    assert check_stack("mesh-namespace-default-deny", mesh_stack()) == []
    assert check_stack("mesh-namespace-default-deny", mesh_stack(meshed=False)[:1]) == []  # not in the mesh
    message = ("app namespace prm is in the mesh but has no default-deny AuthorizationPolicy (an ALLOW policy with an empty spec): any workload in the mesh may call its apps. Create it with the apps (components/app_service/authorization.py allow_nothing) and name each app's callers in allowFrom.", "care-prod-eks-ns-prm")
    assert check_stack("mesh-namespace-default-deny", mesh_stack()[:1]) == [message]
    assert check_stack("mesh-namespace-default-deny", mesh_stack({"action": "DENY"})) == [message]
    assert check_stack("mesh-namespace-default-deny", mesh_stack({"selector": {"matchLabels": {"a": "b"}}})) == [message]


def test_an_allow_rule_without_a_source_fails() -> None:
    open_rule = [{"to": [{"operation": {"ports": ["8080"]}}]}]
    assert check_stack("mesh-namespace-default-deny", mesh_stack(app_rules=open_rule)) == [
        ("AuthorizationPolicy prm/prm-api rule 0 names no source (from): it admits any caller and defeats the namespace's default deny. Name the callers' principals (allowFrom) or the load balancer's ipBlocks.", "care-prod-prm-api-authz")]
    # An ALLOW-all rule in the namespace-wide policy is caught twice: no deny-all, and an open rule.
    assert len(check_stack("mesh-namespace-default-deny", mesh_stack({"rules": [{}]}))) == 2
# --- load-balancer-exposure (policies/network_access.py) ---------------------------------------------------
VAP_T = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
VAP_BINDING_T = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
LB_EXPOSURE = "care-load-balancer-exposure"


def lb_stack(*, published: str = "'prm/prm-api'", binding_actions: tuple[str, ...] = ("Deny",),
             failure: str = "Fail", annotations: dict[str, object] | None = None) -> list[Res]:
    cluster = Res("aws:eks/cluster:Cluster", "care-prod-eks-cluster", {"name": "care-prod-eks"})
    vap = Res(VAP_T, "care-prod-eks-care-load-balancer-exposure", {
        "metadata": {"name": LB_EXPOSURE}, "spec": {"failurePolicy": failure, "validations": [
            {"expression": f"request.namespace + '/' + object.metadata.name in [{published}] || x"}]}})
    binding = Res(VAP_BINDING_T, "care-prod-eks-care-load-balancer-exposure-binding", {
        "metadata": {"name": LB_EXPOSURE},
        "spec": {"policyName": LB_EXPOSURE, "validationActions": list(binding_actions)}})
    published_annotations = {"alb.ingress.kubernetes.io/scheme": "internet-facing",
                             "alb.ingress.kubernetes.io/conditions.prm-api": json.dumps([{
                                 "field": "http-header", "httpHeaderConfig": {
                                     "httpHeaderName": "X-Origin-Verify", "values": ["s3cret"]}}])}
    ingress = Res("kubernetes:networking.k8s.io/v1:Ingress", "care-prod-prm-api-ingress", {
        "metadata": {"name": "prm-api", "namespace": "prm",
                     "annotations": published_annotations if annotations is None else annotations},
        "spec": {"ingressClassName": "alb"}})
    service = Res("kubernetes:core/v1:Service", "care-prod-prm-api-service", {
        "metadata": {"name": "prm-api", "namespace": "prm"}, "spec": {"type": "ClusterIP"}})
    return [cluster, vap, binding, ingress, service]


def test_load_balancer_exposure_passes_the_published_api_behind_the_edge() -> None:
    assert check_stack("load-balancer-exposure", lb_stack()) == []
    # An internal Ingress needs neither the edge nor the exception.
    assert check_stack("load-balancer-exposure", lb_stack(annotations={
        "alb.ingress.kubernetes.io/scheme": "internal"})) == []
    # The origin secret is unknown at preview: still the edge's condition.
    assert check_stack("load-balancer-exposure", lb_stack(annotations={
        "alb.ingress.kubernetes.io/scheme": "internet-facing", "alb.ingress.kubernetes.io/conditions.prm-api": U})) == []


def test_load_balancer_exposure_refuses_an_internet_facing_ingress_outside_the_published_apis() -> None:
    assert check_stack("load-balancer-exposure", lb_stack(annotations={
        "alb.ingress.kubernetes.io/scheme": "internet-facing"})) == [(
        "Ingress prm/prm-api is internet-facing but not a published API: its ALB would take requests that did not "
        "come through CloudFront and WAF (no X-Origin-Verify condition). Publish the app (published: true) or make "
        "the Ingress internal.", "care-prod-prm-api-ingress")]
    assert check_stack("load-balancer-exposure", lb_stack(published="'nlfhir/nlfhir'")) == [(
        "Ingress prm/prm-api is internet-facing, but the admission policy care-load-balancer-exposure does not name "
        "it among the published Ingresses: the API server would refuse it (tiers/compute.py published_ingresses).",
        "care-prod-prm-api-ingress")]


def test_load_balancer_exposure_refuses_a_load_balancer_service_unless_internal() -> None:
    resources = lb_stack()
    service = resources[4]
    service.props = edit(service.props, spec__type="LoadBalancer")
    message = ("Service prm/prm-api is of type LoadBalancer without service.beta.kubernetes.io/"
               "aws-load-balancer-scheme: internal: only the published APIs are reachable from the internet, "
               "through CloudFront and WAF (published: true).", "care-prod-prm-api-service")
    assert check_stack("load-balancer-exposure", resources) == [message]
    service.props = edit(service.props, metadata__annotations={
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"})
    assert check_stack("load-balancer-exposure", resources) == [message]
    service.props = edit(service.props, metadata__annotations={
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"})
    assert check_stack("load-balancer-exposure", resources) == []


def test_load_balancer_exposure_requires_the_admission_policy_bound_to_deny() -> None:
    message = ("the cluster has no ValidatingAdmissionPolicy care-load-balancer-exposure bound with "
               "validationActions [Deny] and failurePolicy Fail: anyone able to create a Service or an Ingress "
               "could put an internet-facing load balancer in front of it (components/eks/admission.py).",
               "care-prod-eks-cluster")
    resources = lb_stack()
    assert check_stack("load-balancer-exposure", [r for r in resources if r.type != VAP_T]) == [message]
    assert check_stack("load-balancer-exposure", [r for r in resources if r.type != VAP_BINDING_T]) == [message]
    assert check_stack("load-balancer-exposure", lb_stack(binding_actions=("Audit", "Warn"))) == [message]
    assert check_stack("load-balancer-exposure", lb_stack(failure="Ignore")) == [message]
    # No cluster in the stack: nothing to enforce it in.
    assert check_stack("load-balancer-exposure", resources[3:]) == []


KAFKA_TAG = "care.platform/kafka-prefix"  # components/app_service/bindings.py KAFKA_PREFIX_TAG
IAM_POLICY_T = "aws:iam/policy:Policy"


def test_no_two_client_policies_claim_overlapping_prefixes() -> None:
    def client(name: str, prefix: str | None) -> Res:
        tags = {"Name": name, **({KAFKA_TAG: prefix} if prefix else {})}
        return Res(IAM_POLICY_T, name, {"policy": json.dumps({"Version": "2012-10-17", "Statement": []}),
                                         "tags": tags})

    distinct = [client("worker", "prm-worker."), client("api", "prm-api."), client("plain", None),
                client("nlfhir", "nlfhir.")]
    assert check_stack("msk-client-prefixes-distinct", distinct) == []
    same = [client("worker", "prm-worker."), client("worker-2", "prm-worker.")]
    assert check_stack("msk-client-prefixes-distinct", same) == [
        (f"worker-2 claims Kafka prefix 'prm-worker.' ({KAFKA_TAG}), which overlaps worker's 'prm-worker.': "
         "each app owns a distinct prefix (apps.<app>.kafka.ownedPrefix).", "worker-2")]
    # 'prm.' is a prefix of 'prm.audit.': prm's 'prm.*' reaches every topic of the other.
    nested = [client("prm", "prm."), client("audit", "prm.audit."), client("api", "prm-api.")]
    assert check_stack("msk-client-prefixes-distinct", nested) == [
        (f"audit claims Kafka prefix 'prm.audit.' ({KAFKA_TAG}), which overlaps prm's 'prm.': each app owns "
         "a distinct prefix (apps.<app>.kafka.ownedPrefix).", "audit")]

"""Mutation test: break one guarded setting of the rendered prod plan and the real pack must catch it.

prod is rendered once; every mutation edits a COPY of one registration (its wire inputs, or its
``protect`` flag, or drops a resource for the stack policies) and the copy is analyzed by ONE pack
process started the way ``pulumi preview --policy-pack policies`` starts it, configured from
``policies/config/prod.json``. A mutation passes only if the expected policy reports a MANDATORY
violation on the mutated resource (or, for a stack policy, anywhere) with the expected text.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2

from offline.engine import Plan, Registration, plain
from offline.policy import PolicyPackSession, PolicyReport, open_session
from offline.stackfile import ROOT
from tests.helpers import hipaa_report, rendered_stack

#: The pack under test (overridable to try a pack kept elsewhere).
PACK_DIR = Path(os.environ.get("OFFLINE_POLICY_PACK_DIR", ROOT / "policies"))


Raw = dict[str, Any]

# Resource types the mutations target.
KMS_KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SUBNET = "aws:ec2/subnet:Subnet"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
RDS = "aws:rds/instance:Instance"
RDS_PARAMS = "aws:rds/parameterGroup:ParameterGroup"
CACHE = "aws:elasticache/replicationGroup:ReplicationGroup"
MSK = "aws:msk/cluster:Cluster"
SECRET = "aws:secretsmanager/secret:Secret"
EKS = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
BACKUP_PLAN = "aws:backup/plan:Plan"
BACKUP_VAULT = "aws:backup/vault:Vault"
BUCKET_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
RDS_BACKUP_REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
VAULT_LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
BACKUP_SELECTION = "aws:backup/selection:Selection"
VPC = "aws:ec2/vpc:Vpc"
IAM_ROLE = "aws:iam/role:Role"
TRAIL = "aws:cloudtrail/trail:Trail"
RECORDER_STATUS = "aws:cfg/recorderStatus:RecorderStatus"
DETECTOR_FEATURE = "aws:guardduty/detectorFeature:DetectorFeature"
SECURITY_HUB = "aws:securityhub/account:Account"
EBS_DEFAULT = "aws:ebs/encryptionByDefault:EncryptionByDefault"
ACCOUNT_PAB = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
PASSWORD_POLICY = "aws:iam/accountPasswordPolicy:AccountPasswordPolicy"
IAM_POLICY = "aws:iam/policy:Policy"
BUCKET_NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
VAULT_POLICY = "aws:backup/vaultPolicy:VaultPolicy"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
AUTHORIZATION_POLICY = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"
APPCONFIG_STRATEGY = "aws:appconfig/deploymentStrategy:DeploymentStrategy"
CONTAINER = "spec.template.spec.containers.0"
BUDGET = "aws:budgets/budget:Budget"
CLOUDFRONT = "aws:cloudfront/distribution:Distribution"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
WAF_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
LOG_DELIVERY = "aws:cloudwatch/logDelivery:LogDelivery"
ALB = "alb.ingress.kubernetes.io/"


# --------------------------------------------------------------------------------------------------
# Editing wire inputs.


def _walk(raw: Raw, path: str) -> tuple[Any, str | int]:
    """The container holding the last step of dotted ``path`` (list indexes as numbers)."""
    node: Any = raw
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, (int(last) if isinstance(node, list) else last)


def set_(path: str, value: Any) -> Callable[[Raw], None]:
    def change(raw: Raw) -> None:
        node, key = _walk(raw, path)
        node[key] = value
    return change


def delete(path: str) -> Callable[[Raw], None]:
    def change(raw: Raw) -> None:
        node, key = _walk(raw, path)
        del node[key]
    return change


def keep_first(path: str) -> Callable[[Raw], None]:
    """Keep only the first element of a list (e.g. subnets down to one AZ)."""
    def change(raw: Raw) -> None:
        node, key = _walk(raw, path)
        node[key] = node[key][:1]
    return change


def both(*changes: Callable[[Raw], None]) -> Callable[[Raw], None]:
    def change(raw: Raw) -> None:
        for c in changes:
            c(raw)
    return change


def open_ingress(port: int) -> Callable[[Raw], None]:
    def change(raw: Raw) -> None:
        raw.setdefault("ingress", []).append({"protocol": "tcp", "fromPort": port, "toPort": port,
                                              "cidrBlocks": ["0.0.0.0/0"], "description": "mutation"})
    return change


def annotation(key: str, value: Any = None) -> Callable[[Raw], None]:
    """Set (or, with None, remove) one ALB annotation (annotation keys hold dots, so not a dotted path)."""
    def change(raw: Raw) -> None:
        annotations = raw["metadata"]["annotations"]
        if value is None:
            del annotations[f"{ALB}{key}"]
        else:
            annotations[f"{ALB}{key}"] = value
    return change


def wildcard_key_policy(raw: Raw) -> None:
    document = json.loads(raw["policy"])
    document["Statement"].append({"Sid": "MutationOpenToAll", "Effect": "Allow", "Principal": {"AWS": "*"},
                                  "Action": "kms:Decrypt", "Resource": "*"})
    raw["policy"] = json.dumps(document)


def edit_statement(sid: str, change: Callable[[dict[str, Any]], Any] | None) -> Callable[[Raw], None]:
    """Edit (or, with no change, drop) the policy statement ``sid`` of a key or bucket policy."""
    def mutate(raw: Raw) -> None:
        document = json.loads(raw["policy"])
        statement = next(s for s in document["Statement"] if s.get("Sid") == sid)
        if change is None:
            document["Statement"].remove(statement)
        else:
            change(statement)
        raw["policy"] = json.dumps(document)
    return mutate


def github_trust_any_branch(raw: Raw) -> None:
    """The CI deploy role trusting every ref of the org's repositories instead of the prod environment."""
    document = json.loads(raw["assumeRolePolicy"])
    condition = document["Statement"][0]["Condition"]
    condition["StringLike"] = {"token.actions.githubusercontent.com:sub": "repo:care-example/*"}
    del condition["StringEquals"]["token.actions.githubusercontent.com:sub"]
    raw["assumeRolePolicy"] = json.dumps(document)


def admin_statement(raw: Raw) -> None:
    document = json.loads(raw["policy"])
    document["Statement"].append({"Sid": "MutationAdmin", "Effect": "Allow", "Action": "*", "Resource": "*"})
    raw["policy"] = json.dumps(document)


def kafka_client(reg: Registration) -> bool:
    """The MSK client policy (tagged with its app's owned prefix)."""
    return "care.platform/kafka-prefix" in (reg.inputs.get("tags") or {})


def kafka_every_topic(raw: Raw) -> None:
    """The MSK client policy's read statement widened to every topic of the cluster (topic/<cluster>/<uuid>/*)."""
    document = json.loads(raw["policy"])
    read = next(s for s in document["Statement"] if s["Sid"] == "ReadTopics")
    read["Resource"] = [r.rsplit("/", 1)[0] + "/*" for r in read["Resource"]]
    raw["policy"] = json.dumps(document)


def kafka_creates_topics(raw: Raw) -> None:
    document = json.loads(raw["policy"])
    next(s for s in document["Statement"] if s["Sid"] == "WriteTopics")["Action"].append("kafka-cluster:CreateTopic")
    raw["policy"] = json.dumps(document)


def kafka_statement(sid: str, change: Callable[[dict[str, Any]], Any]) -> Callable[[Raw], None]:
    """Edit one statement of the MSK client policy."""
    def mutate(raw: Raw) -> None:
        document = json.loads(raw["policy"])
        change(next(s for s in document["Statement"] if s["Sid"] == sid))
        raw["policy"] = json.dumps(document)
    return mutate


def every_action_but_s3(statement: dict[str, Any]) -> None:
    del statement["Action"]
    statement["NotAction"] = ["s3:*"]


def kafka_prefix_tag(prefix: str) -> Callable[[Raw], None]:
    """Set the policy's care.platform/kafka-prefix tag (a key with dots and a '/': not a dotted path)."""
    def change(raw: Raw) -> None:
        raw["tags"] = {**(raw.get("tags") or {}), "care.platform/kafka-prefix": prefix}
    return change


def private_route_to_igw(raw: Raw) -> None:
    raw["routes"] = [{"cidrBlock": "0.0.0.0/0", "gatewayId": "igw-0123456789abcdef0"}]


def tier(name: str) -> Callable[[Registration], bool]:
    return lambda reg: (reg.inputs.get("tags") or {}).get("Tier") == name


def force_ssl_off(raw: Raw) -> None:
    for parameter in raw["parameters"]:
        if parameter["name"] == "rds.force_ssl":
            parameter["value"] = "0"


# --------------------------------------------------------------------------------------------------
# Picking the resource to break.


def primary_db(reg: Registration) -> bool:
    return not reg.inputs.get("replicateSourceDb")


def daily_plan_with_copy(reg: Registration) -> bool:
    """The snapshot plan (continuous rules reach the DR region by RDS backup replication, not copies)."""
    rule = (reg.inputs.get("rules") or [{}])[0]
    return bool(rule.get("copyActions")) and not rule.get("enableContinuousBackup")


def has(path: str) -> Callable[[Registration], bool]:
    def pick(reg: Registration) -> bool:
        node: Any = reg.inputs
        for part in path.split("."):
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    return False
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                return False
        return True
    return pick


def force_ssl_group(reg: Registration) -> bool:
    return any(p.get("name") == "rds.force_ssl" for p in reg.inputs.get("parameters", []))


def anything(reg: Registration) -> bool:
    return True


def tagged(key: str, value: str) -> Callable[[Registration], bool]:
    def pick(reg: Registration) -> bool:
        return (reg.inputs.get("tags") or {}).get(key) == value
    return pick


def named_suffix(type_: str, suffix: str) -> Callable[[Registration], bool]:
    def pick(reg: Registration) -> bool:
        return reg.type == type_ and reg.name.endswith(suffix)
    return pick


def admit_group(raw: Raw) -> None:
    raw["ingress"].append({"protocol": "tcp", "fromPort": 5432, "toPort": 5432,
                           "securityGroups": ["sg-0mutation0workload"], "description": "mutation"})


@dataclass(frozen=True)
class Mutation:
    id: str
    policy: str
    type: str
    expect: str  # text the violation message must contain
    change: Callable[[Raw], None] | None = None
    protect: bool | None = None
    remove: bool = False  # drop every resource of `type` (for stack policies)
    every: bool = False  # apply `change` to every resource of `type` that `pick` selects, not just the first
    unlink: str = ""  # drop the target's dependencies on resources of this type prefix (a literal replaced an output)
    pick: Callable[[Registration], bool] = anything
    # (input, picker): the target's input now also uses the first resource the picker selects (an output wired in)
    link: tuple[str, Callable[[Registration], bool]] | None = None
    retype: str = ""  # register the target as this type instead (a kind the program does not create yet)


MUTATIONS: list[Mutation] = [
    # The edge (#11): CloudFront, WAF and the published ALBs.
    Mutation("cdn-no-web-acl", "cloudfront-waf", CLOUDFRONT, "webAclId is not set", delete("webAclId"),
             unlink="aws:wafv2/"),
    Mutation("cdn-viewer-http", "cloudfront-viewer-https", CLOUDFRONT, "viewerProtocolPolicy is 'allow-all'",
             set_("defaultCacheBehavior.viewerProtocolPolicy", "allow-all")),
    Mutation("cdn-tls-2019", "cloudfront-tls12", CLOUDFRONT, "minimumProtocolVersion is 'TLSv1.2_2019'",
             set_("viewerCertificate.minimumProtocolVersion", "TLSv1.2_2019")),
    Mutation("cdn-s3-no-oac", "cloudfront-s3-oac", CLOUDFRONT, "an S3 origin without originAccessControlId",
             delete("origins.0.originAccessControlId")),
    Mutation("cdn-origin-match-viewer", "cloudfront-origin-https", CLOUDFRONT,
             "originProtocolPolicy is 'match-viewer'", set_("origins.1.customOriginConfig.originProtocolPolicy",
                                                           "match-viewer")),
    Mutation("cdn-no-access-logs", "cloudfront-logging", LOG_DELIVERY, "has no access logs", remove=True),
    Mutation("alb-ingress-no-waf", "alb-ingress-waf", INGRESS, f"without the annotation {ALB}wafv2-acl-arn",
             annotation("wafv2-acl-arn"), unlink="aws:wafv2/"),
    Mutation("alb-ingress-tls10", "alb-ingress-tls", INGRESS, "ssl-policy is 'ELBSecurityPolicy-2016-08'",
             annotation("ssl-policy", "ELBSecurityPolicy-2016-08")),
    Mutation("waf-logs-keep-authorization", "waf-log-redaction", WAF_LOGGING,
             "does not redact the authorization header",
             set_("redactedFields", [{"singleHeader": {"name": "cookie"}}])),
    # Encryption at rest, customer-managed keys.
    Mutation("kms-rotation-off", "kms-key-rotation", KMS_KEY, "enableKeyRotation is not true",
             set_("enableKeyRotation", False)),
    Mutation("kms-key-disabled", "kms-key-rotation", KMS_KEY, "isEnabled is false", set_("isEnabled", False)),
    Mutation("log-group-no-kms", "log-group-kms", LOG_GROUP, "kmsKeyId is not set", delete("kmsKeyId")),
    Mutation("rds-unencrypted", "rds-storage-encrypted", RDS, "storageEncrypted is not true",
             set_("storageEncrypted", False), pick=primary_db),
    Mutation("rds-aws-managed-key", "rds-storage-encrypted", RDS, "AWS-managed key alias/aws/rds",
             set_("kmsKeyId", "alias/aws/rds"), pick=primary_db),
    Mutation("rds-pi-aws-key", "rds-performance-insights-kms", RDS, "performanceInsightsKmsKeyId is not set",
             both(set_("performanceInsightsEnabled", True), delete("performanceInsightsKmsKeyId")),
             pick=has("performanceInsightsKmsKeyId")),
    Mutation("cache-unencrypted", "elasticache-encryption-at-rest", CACHE, "atRestEncryptionEnabled is not true",
             set_("atRestEncryptionEnabled", False)),
    Mutation("cache-aws-key", "elasticache-encryption-at-rest", CACHE, "kmsKeyId is not set", delete("kmsKeyId")),
    Mutation("msk-aws-key", "msk-encryption-at-rest", MSK, "encryptionAtRestKmsKeyArn",
             delete("encryptionInfo.encryptionAtRestKmsKeyArn")),
    Mutation("secret-aws-key", "secrets-manager-kms", SECRET, "kmsKeyId is not set", delete("kmsKeyId"),
             pick=has("kmsKeyId")),
    Mutation("eks-secrets-plain", "eks-secrets-encryption", EKS, "encryptionConfig", delete("encryptionConfig")),
    Mutation("node-volume-unencrypted", "ebs-volume-encrypted", LAUNCH_TEMPLATE, "encrypted is not true",
             set_("blockDeviceMappings.0.ebs.encrypted", "false"), pick=has("blockDeviceMappings.0.ebs")),
    # (No SNS topic is rendered yet, so there is no sns-no-kms mutation: observability adds it with its topic.
    # A mutation whose target the plan lacks fails; it is never skipped.)
    Mutation("vault-no-kms", "backup-vault-kms", BACKUP_VAULT, "kmsKeyArn is not set", delete("kmsKeyArn")),
    # Encryption in transit.
    Mutation("cache-plaintext", "elasticache-transit-encryption", CACHE, "transitEncryptionEnabled",
             set_("transitEncryptionEnabled", False)),
    Mutation("msk-plaintext-clients", "msk-tls-client-broker", MSK, "clientBroker",
             set_("encryptionInfo.encryptionInTransit.clientBroker", "TLS_PLAINTEXT")),
    Mutation("msk-plaintext-brokers", "msk-tls-in-cluster", MSK, "inCluster",
             set_("encryptionInfo.encryptionInTransit.inCluster", False)),
    Mutation("rds-ssl-optional", "rds-force-ssl", RDS_PARAMS, "rds.force_ssl", force_ssl_off, pick=force_ssl_group),
    # Availability.
    Mutation("rds-single-az", "rds-multi-az", RDS, "multiAz", set_("multiAz", False), pick=primary_db),
    Mutation("cache-single-az", "elasticache-multi-az", CACHE, "multiAzEnabled", set_("multiAzEnabled", False)),
    Mutation("msk-one-az", "msk-broker-az-spread", MSK, "clientSubnets",
             keep_first("brokerNodeGroupInfo.clientSubnets")),
    Mutation("nodes-one-az", "eks-node-group-az-spread", NODE_GROUP, "subnetIds", keep_first("subnetIds")),
    # Backup and recovery.
    Mutation("rds-short-retention", "rds-backup-retention", RDS, "backupRetentionPeriod",
             set_("backupRetentionPeriod", 7), pick=primary_db),
    Mutation("dr-backups-short-retention", "rds-backup-replication-retention", RDS_BACKUP_REPLICATION,
             "retentionPeriod is 7 day(s)", set_("retentionPeriod", 7)),
    Mutation("rds-deletable", "rds-deletion-protection", RDS, "deletionProtection",
             set_("deletionProtection", False), pick=primary_db),
    Mutation("rds-no-final-snapshot", "rds-final-snapshot", RDS, "skipFinalSnapshot",
             set_("skipFinalSnapshot", True), pick=primary_db),
    Mutation("cache-no-snapshots", "elasticache-snapshot-retention", CACHE, "snapshotRetentionLimit",
             set_("snapshotRetentionLimit", 0)),
    Mutation("rds-unprotected", "stateful-resources-protected", RDS, "protect is not set", protect=False,
             pick=primary_db),
    Mutation("cache-unprotected", "stateful-resources-protected", CACHE, "protect is not set", protect=False),
    Mutation("msk-unprotected", "stateful-resources-protected", MSK, "protect is not set", protect=False),
    Mutation("kms-key-unprotected", "stateful-resources-protected", KMS_KEY, "protect is not set", protect=False),
    Mutation("bucket-force-destroy", "s3-no-force-destroy", BUCKET, "forceDestroy", set_("forceDestroy", True)),
    Mutation("backup-short-retention", "backup-plan-retention", BACKUP_PLAN, "deleteAfter",
             set_("rules.0.lifecycle.deleteAfter", 7), pick=has("rules.0.lifecycle.deleteAfter")),
    Mutation("backup-no-dr-copy", "backup-plan-dr-copy", BACKUP_PLAN, "no copy action targets",
             delete("rules.0.copyActions"), pick=daily_plan_with_copy),
    # Exposure.
    Mutation("rds-public", "rds-not-public", RDS, "publiclyAccessible", set_("publiclyAccessible", True),
             pick=primary_db),
    Mutation("msk-public", "msk-not-public", MSK, "publicAccess",
             set_("brokerNodeGroupInfo.connectivityInfo", {"publicAccess": {"type": "SERVICE_PROVIDED_EIPS"}})),
    Mutation("sg-postgres-open", "sg-no-public-ingress", SECURITY_GROUP, "0.0.0.0/0", open_ingress(5432)),
    Mutation("store-admits-the-nodes", "store-ingress-bound-clients", SECURITY_GROUP,
             "admits care-prod-workload-sg, which is not bound to it", admit_group,
             pick=tagged("care.platform/store", "prm_db"),
             link=("ingress", named_suffix(SECURITY_GROUP, "-workload-sg"))),
    Mutation("store-admits-another-app", "store-ingress-bound-clients", SECURITY_GROUP,
             "admits care-prod-pods-nlfhir-sg, which is not bound to it", admit_group,
             pick=tagged("care.platform/store", "prm_db"),
             link=("ingress", named_suffix(SECURITY_GROUP, "-pods-nlfhir-sg"))),
    Mutation("egress-not-denied", "namespace-default-deny-egress", NETWORK_POLICY,
             "has no default-deny egress NetworkPolicy", set_("spec.policyTypes", ["Ingress"]),
             pick=lambda reg: reg.inputs.get("metadata", {}).get("name") == "default-deny-egress"),
    Mutation("egress-deny-opened", "namespace-default-deny-egress", NETWORK_POLICY,
             "has no default-deny egress NetworkPolicy",
             set_("spec.egress", [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]),
             pick=lambda reg: reg.inputs.get("metadata", {}).get("name") == "default-deny-egress"),
    Mutation("mesh-deny-all-removed", "mesh-namespace-default-deny", AUTHORIZATION_POLICY,
             "app namespace prm is in the mesh but has no default-deny AuthorizationPolicy",
             set_("spec", {"rules": [{}]}), pick=lambda reg: reg.name.endswith("-ns-prm-allow-nothing")),
    Mutation("mesh-app-open-to-all", "mesh-namespace-default-deny", AUTHORIZATION_POLICY,
             "rule 0 names no source (from): it admits any caller",
             set_("spec.rules", [{"to": [{"operation": {"ports": ["8080"]}}]}]),
             pick=lambda reg: reg.name.endswith("-prm-api-authz")),
    Mutation("no-dns-firewall", "vpc-dns-firewall",
             "aws:route53/resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation",
             "has no Route 53 Resolver DNS Firewall rule group", remove=True),
    Mutation("database-acl-removed", "database-subnet-nacl", "aws:ec2/networkAcl:NetworkAcl",
             "has no network ACL of its own, so the VPC's default ACL", remove=True),
    Mutation("database-acl-open-to-vpc", "database-subnet-nacl", "aws:ec2/networkAcl:NetworkAcl",
             "allows 10.30.0.0/16, which is neither a private (workload) nor a database subnet",
             set_("ingress.0.cidrBlock", "10.30.0.0/16")),
    # An internet-facing ALB outside the published APIs, a LoadBalancer Service, no admission policy.
    Mutation("ingress-internet-facing-unpublished", "load-balancer-exposure", INGRESS,
             "is internet-facing but not a published API", annotation("conditions.nlfhir"),
             pick=lambda reg: reg.inputs["metadata"]["name"] == "nlfhir"),
    Mutation("service-load-balancer", "load-balancer-exposure", "kubernetes:core/v1:Service",
             "is of type LoadBalancer without", set_("spec.type", "LoadBalancer")),
    Mutation("no-exposure-admission-policy", "load-balancer-exposure",
             "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
             "has no ValidatingAdmissionPolicy care-load-balancer-exposure", remove=True,
             pick=lambda reg: reg.inputs["metadata"]["name"] == "care-load-balancer-exposure"),
    Mutation("endpoint-default-policy", "vpc-endpoint-policy", "aws:ec2/vpcEndpoint:VpcEndpoint",
             "no endpoint policy, so AWS's default applies", delete("policy")),
    Mutation("msk-every-topic", "msk-client-scoped", IAM_POLICY, "a wildcard topic outside the app's own prefix",
             kafka_every_topic, pick=kafka_client),
    Mutation("msk-creates-topics", "msk-client-scoped", IAM_POLICY, "allows kafka-cluster:CreateTopic",
             kafka_creates_topics, pick=kafka_client),
    Mutation("msk-any-case-wildcard", "msk-client-scoped", IAM_POLICY, "allows KAFKA-CLUSTER:*",
             kafka_statement("WriteTopics", lambda s: s.update(Action=["KAFKA-CLUSTER:*"])), pick=kafka_client),
    Mutation("msk-not-action", "msk-client-scoped", IAM_POLICY, "allows with NotAction",
             kafka_statement("ReadTopics", every_action_but_s3), pick=kafka_client),
    Mutation("msk-every-arn", "msk-client-scoped", IAM_POLICY, "on arn:aws:*:*:*:* (any cluster, topic or group)",
             kafka_statement("Connect", lambda s: s.update(Resource="arn:aws:*:*:*:*")), pick=kafka_client),
    Mutation("msk-prefix-tag-not-owned", "msk-client-scoped", IAM_POLICY, "='p' is not an owned prefix",
             kafka_prefix_tag("p"), pick=kafka_client),
    Mutation("msk-prefix-claimed-twice", "msk-client-prefixes-distinct", IAM_POLICY,
             "claims Kafka prefix 'prm-worker.'", kafka_prefix_tag("prm-worker."),
             pick=lambda reg: not kafka_client(reg) and "irsa" in reg.name),
    Mutation("redis-shared-auth-token", "elasticache-rbac", CACHE, "has no RBAC user group",
             both(delete("userGroupIds"), set_("authToken", "mutation-shared-token-0123456789"))),
    Mutation("subnet-public-ips", "subnet-no-public-ip", SUBNET, "mapPublicIpOnLaunch",
             set_("mapPublicIpOnLaunch", True)),
    Mutation("ci-deploy-trust-wildcard", "github-oidc-trust-restricted", IAM_ROLE, "'repo:care-example/*'",
             github_trust_any_branch, pick=lambda reg: reg.name.endswith("-ci-deploy")),
    Mutation("kms-wildcard", "no-wildcard-principals", KMS_KEY, "MutationOpenToAll", wildcard_key_policy,
             pick=has("policy")),
    Mutation("phi-key-without-via-service-deny", "kms-phi-key-via-service-deny", KMS_KEY,
             "PHI key (DataDomain database) has no statement denying",
             edit_statement("DenyUseOutsideOwningService", None),
             pick=tagged("DataDomain", "database")),
    Mutation("phi-key-deny-exempts-every-role", "kms-phi-key-via-service-deny", KMS_KEY,
             "aws:PrincipalArn exempts more than named roles",
             edit_statement("DenyUseOutsideOwningService", lambda s: s["Condition"].update(
                 {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::333333333333:role/*"}})),
             pick=tagged("DataDomain", "secrets")),
    Mutation("eks-public-api", "eks-private-endpoint", EKS, "endpointPublicAccess",
             both(set_("vpcConfig.endpointPublicAccess", True), delete("vpcConfig.endpointPrivateAccess"))),
    Mutation("imds-v1", "imdsv2-required", LAUNCH_TEMPLATE, "httpTokens", set_("metadataOptions.httpTokens",
             "optional"), pick=has("metadataOptions")),
    Mutation("imds-two-hops", "imds-hop-limit", LAUNCH_TEMPLATE, "httpPutResponseHopLimit is 2",
             set_("metadataOptions.httpPutResponseHopLimit", 2), pick=has("metadataOptions")),
    # Logging and audit.
    Mutation("log-short-retention", "log-group-retention", LOG_GROUP, "retentionInDays", set_("retentionInDays", 7)),
    Mutation("rds-no-log-exports", "rds-log-exports", RDS, "enabledCloudwatchLogsExports",
             set_("enabledCloudwatchLogsExports", []), pick=primary_db),
    Mutation("msk-no-broker-logs", "msk-broker-logs", MSK, "brokerLogs", delete("loggingInfo")),
    Mutation("eks-api-log-only", "eks-control-plane-logs", EKS, "enabledClusterLogTypes",
             set_("enabledClusterLogTypes", ["api"])),
    # Kubernetes workloads.
    Mutation("pod-no-limits", "k8s-resource-limits", DEPLOYMENT, "limits", delete(f"{CONTAINER}.resources.limits")),
    Mutation("pod-no-liveness", "k8s-probes", DEPLOYMENT, "livenessProbe", delete(f"{CONTAINER}.livenessProbe")),
    Mutation("pod-root", "k8s-run-as-non-root", DEPLOYMENT, "runAsNonRoot", both(
        set_(f"{CONTAINER}.securityContext.runAsNonRoot", False),
        set_("spec.template.spec.securityContext.runAsNonRoot", False))),
    Mutation("container-root-under-non-root-pod", "k8s-run-as-non-root", DEPLOYMENT, "runAsNonRoot is not true",
             set_(f"{CONTAINER}.securityContext.runAsNonRoot", False)),
    Mutation("container-overrides-pod-non-root", "k8s-pod-run-as-non-root", DEPLOYMENT,
             "overrides the pod's setting", set_(f"{CONTAINER}.securityContext.runAsNonRoot", False)),
    Mutation("pod-non-root-unset", "k8s-pod-run-as-non-root", DEPLOYMENT, "pod securityContext.runAsNonRoot is not set",
             delete("spec.template.spec.securityContext.runAsNonRoot")),
    Mutation("netpol-any-namespace", "k8s-network-policy-sources", NETWORK_POLICY, "empty namespaceSelector",
             set_("spec.ingress.0.from.0.namespaceSelector", {}), pick=has("spec.ingress.0.from.0.namespaceSelector")),
    Mutation("pod-escalation", "k8s-no-privilege-escalation", DEPLOYMENT, "allowPrivilegeEscalation",
             set_(f"{CONTAINER}.securityContext.allowPrivilegeEscalation", True)),
    Mutation("pod-writable-root", "k8s-read-only-root-fs", DEPLOYMENT, "readOnlyRootFilesystem",
             set_(f"{CONTAINER}.securityContext.readOnlyRootFilesystem", False)),
    Mutation("pod-privileged", "k8s-no-privileged", DEPLOYMENT, "privileged",
             set_(f"{CONTAINER}.securityContext.privileged", True)),
    Mutation("image-latest", "k8s-image-pinned", DEPLOYMENT, "latest",
             set_(f"{CONTAINER}.image", "333333333333.dkr.ecr.us-east-2.amazonaws.com/nl-fhir:latest")),
    Mutation("pv-unencrypted", "storage-class-encrypted", STORAGE_CLASS, "parameters.encrypted",
             set_("parameters.encrypted", "false")),
    Mutation("pv-deleted-with-claim", "storage-class-retain", STORAGE_CLASS, "reclaimPolicy",
             set_("reclaimPolicy", "Delete")),
    # Tags.
    Mutation("vpc-no-owner", "standard-tags", VPC, "Owner", delete("tags.Owner")),
    # Stack policies: a companion resource removed, or a setting broken across resources.
    Mutation("no-flow-log", "vpc-flow-logs", FLOW_LOG, "flow log", remove=True),
    Mutation("no-bucket-versioning", "s3-versioning", BUCKET_VERSIONING, "versioning", remove=True),
    Mutation("no-public-access-block", "s3-public-access-block", BUCKET_PAB, "public access block", remove=True),
    Mutation("no-bucket-sse", "s3-bucket-sse-kms", BUCKET_SSE, "no server-side encryption configuration",
             remove=True),
    Mutation("no-tls-only-bucket-policy", "s3-deny-insecure-transport", BUCKET_POLICY, "SecureTransport",
             remove=True),
    Mutation("bucket-admits-tls-1-0", "s3-deny-tls-below-1-2", BUCKET_POLICY, "no bucket policy denies TLS below 1.2",
             edit_statement("DenyTlsBelow12", None)),
    Mutation("no-rds-backup-replication", "rds-cross-region-backups", RDS_BACKUP_REPLICATION,
             "InstanceAutomatedBackupsReplication", remove=True),
    Mutation("no-vault-lock", "backup-vault-lock", VAULT_LOCK, "VaultLockConfiguration", remove=True),
    Mutation("no-backup-selection", "stateful-store-backup-coverage", BACKUP_SELECTION, "backup", remove=True),
    Mutation("no-pdb", "app-pod-disruption-budget", PDB, "PodDisruptionBudget", remove=True),
    Mutation("one-replica", "app-min-replicas", HPA, "replica", set_("spec.minReplicas", 1)),
    # Releases: a blue-green Rollout without its SLO analysis, a canary without analysis steps, and an
    # all-at-once AppConfig strategy.
    Mutation("blue-green-without-analysis", "rollout-analysis", ROLLOUT, "no pre- or post-promotion analysis",
             both(delete("spec.strategy.blueGreen.prePromotionAnalysis"),
                  delete("spec.strategy.blueGreen.postPromotionAnalysis")), pick=has("spec.strategy.blueGreen")),
    Mutation("canary-without-analysis", "rollout-analysis", ROLLOUT, "no analysis step",
             set_("spec.strategy.canary.steps", [{"setWeight": 50}]), pick=has("spec.strategy.canary")),
    Mutation("flags-all-at-once", "appconfig-gradual-deployment", APPCONFIG_STRATEGY, "every target at once",
             both(set_("growthFactor", 100), set_("deploymentDurationInMinutes", 0))),
    Mutation("foreign-log-key", "kms-keys-in-stack", LOG_GROUP, "arn:aws:kms:us-east-2:111122223333:key/",
             set_("kmsKeyId", "arn:aws:kms:us-east-2:111122223333:key/0b9a2f55-0000-4000-8000-000000000000"),
             unlink="aws:kms/", pick=has("kmsKeyId")),
    # The account baseline and AWS's HIPAA conformance-pack rules (policies/baseline.py, conformance_rules.py).
    Mutation("trail-one-region", "cloudtrail-required", TRAIL, "isMultiRegionTrail=True",
             set_("isMultiRegionTrail", False)),
    Mutation("config-not-recording", "config-recorder-on", RECORDER_STATUS, "not started", remove=True),
    Mutation("guardduty-s3-off", "guardduty-features", DETECTOR_FEATURE, "S3_DATA_EVENTS",
             set_("status", "DISABLED"), pick=lambda reg: reg.inputs.get("name") == "S3_DATA_EVENTS"),
    Mutation("no-security-hub", "securityhub-enabled", SECURITY_HUB, "Security Hub is not enabled", remove=True),
    Mutation("ebs-default-unencrypted", "ebs-encryption-by-default", EBS_DEFAULT, "is off", set_("enabled", False)),
    Mutation("account-pab-policy-off", "s3-account-public-access-block", ACCOUNT_PAB, "blockPublicPolicy",
             set_("blockPublicPolicy", False)),
    Mutation("short-passwords", "iam-password-policy", PASSWORD_POLICY, "minimumPasswordLength",
             set_("minimumPasswordLength", 8)),
    Mutation("inline-role-policy", "iam-no-inline-policy", IAM_POLICY, "an inline IAM policy",
             retype="aws:iam/rolePolicy:RolePolicy"),
    Mutation("admin-statement", "iam-policy-statements", IAM_POLICY, "administrator access", admin_statement),
    Mutation("rds-no-minor-upgrades", "rds-auto-minor-upgrade", RDS, "autoMinorVersionUpgrade",
             set_("autoMinorVersionUpgrade", False), pick=primary_db),
    Mutation("rds-no-enhanced-monitoring", "rds-enhanced-monitoring", RDS, "monitoringInterval",
             set_("monitoringInterval", 0), pick=primary_db),
    Mutation("no-bucket-notifications", "s3-housekeeping", BUCKET_NOTIFICATION, "no event notifications",
             remove=True),
    Mutation("weekly-backups", "backup-plan-min-frequency", BACKUP_PLAN, "at least daily",
             set_("rules.0.schedule", "cron(0 8 ? * SUN *)"), pick=daily_plan_with_copy),
    Mutation("no-vault-policy", "backup-recovery-points-protected", VAULT_POLICY, "DeleteRecoveryPoint",
             remove=True),
    Mutation("kms-short-deletion-window", "kms-deletion-window", KMS_KEY, "deletionWindowInDays is 7",
             set_("deletionWindowInDays", 7)),
    # No alarm is rendered yet (observability adds them): a registration retyped to an alarm without actions.
    Mutation("alarm-without-actions", "cloudwatch-alarm-actions", LOG_GROUP, "alarmActions is empty",
             retype="aws:cloudwatch/metricAlarm:MetricAlarm"),
    Mutation("private-route-to-igw", "igw-routes-public-only", ROUTE_TABLE, "tier 'private'", private_route_to_igw,
             pick=tier("private")),
    Mutation("default-sg-open", "vpc-default-sg-closed", DEFAULT_SG, "ingress",
             set_("ingress", [{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}])),
    Mutation("nodes-without-ssm", "eks-nodes-ssm-managed", ROLE_POLICY_ATTACHMENT, "AmazonSSMManagedInstanceCore",
             remove=True),
    Mutation("subnets-one-az", "subnet-az-spread", SUBNET, "us-east-2a", set_("availabilityZone", "us-east-2a"),
             every=True),
    Mutation("acm-email-validation", "acm-dns-validation", "aws:acm/certificate:Certificate",
             "validationMethod is 'EMAIL'", set_("validationMethod", "EMAIL")),
    # Cost controls (issue #14).
    Mutation("no-budget", "cost-budget-alerts", BUDGET, "no monthly COST budget", remove=True),
    Mutation("budget-no-forecast-alert", "cost-budget-alerts", BUDGET, "notifies no subscriber at FORECASTED 100 %",
             set_("notifications.3.thresholdType", "ABSOLUTE_VALUE")),
    # Alerting: every alert reaches a runbook and a severity route.
    Mutation("alert-without-runbook", "prometheus-rule-alert-runbook",
             "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
             "has runbook_url None: every alert needs a runbook_url",
             delete("spec.groups.1.rules.0.annotations.runbook_url"),
             pick=has("spec.groups.1.rules.0.annotations.runbook_url")),
]


# --------------------------------------------------------------------------------------------------


def mutate(plan: Plan, mutation: Mutation) -> tuple[Plan, Registration | None]:
    """A copy of ``plan`` with ``mutation`` applied to a copy of its target; the original is untouched."""
    if mutation.remove:
        return dataclasses.replace(plan, resources=[r for r in plan.resources if r.type != mutation.type]), None
    targets = [r for r in plan.resources if r.type == mutation.type and mutation.pick(r)]
    if not mutation.every:
        targets = targets[:1]
    assert targets
    replaced: dict[int, Registration] = {}
    for target in targets:
        raw = json_format.MessageToDict(target.wire_inputs)  # a fresh dict: the original Struct is not shared
        if mutation.change is not None:
            mutation.change(raw)
        struct = struct_pb2.Struct()
        struct.update(raw)
        dependencies = [d for d in target.dependencies if not _unlinked(mutation, d)]
        linked = _linked(plan, mutation)
        replaced[id(target)] = dataclasses.replace(
            target, wire_inputs=struct, inputs=plain(copy.deepcopy(raw)), dependencies=[*dependencies, *linked],
            type=mutation.retype or target.type,
            protect=target.protect if mutation.protect is None else mutation.protect)
        if hasattr(target, "property_dependencies"):  # recorded by newer offline engines
            replaced[id(target)].property_dependencies = {
                k: [d for d in v if not _unlinked(mutation, d)]
                for k, v in target.property_dependencies.items()}
            if mutation.link is not None:
                prop = mutation.link[0]
                replaced[id(target)].property_dependencies[prop] = [
                    *replaced[id(target)].property_dependencies.get(prop, []), *linked]
    resources = [replaced.get(id(r), r) for r in plan.resources]
    return dataclasses.replace(plan, resources=resources), replaced[id(targets[0])]


def _linked(plan: Plan, mutation: Mutation) -> list[str]:
    """The URN the mutation wires into its target (none without ``link``; a picker matching nothing fails)."""
    if mutation.link is None:
        return []
    found = [r.urn for r in plan.resources if mutation.link[1](r)]
    assert found, f"mutation {mutation.id}: its link matches no resource of the plan"
    return found[:1]


def _unlinked(mutation: Mutation, urn: str) -> bool:
    """Whether ``urn``'s type (the last of its type chain) starts with the mutation's ``unlink`` prefix."""
    return bool(mutation.unlink) and urn.split("::")[-2].rsplit("$", 1)[-1].startswith(mutation.unlink)


def target_of(plan: Plan, mutation: Mutation) -> Registration | None:
    return next((r for r in plan.resources if r.type == mutation.type and mutation.pick(r)), None)


def test_the_policy_pack_is_present() -> None:
    """Without the pack every mutation below fails (the session cannot start); this says why in one line."""
    assert (PACK_DIR / "PulumiPolicy.yaml").is_file(), f"no policy pack in {PACK_DIR}: PulumiPolicy.yaml is missing"


@pytest.fixture(scope="module")
def prod() -> Plan:
    return rendered_stack("prod")  # the session's render, shared; mutations edit copies (see the digest check)


@pytest.fixture(scope="module")
def session(prod: Plan) -> Iterator[PolicyPackSession]:
    with open_session(prod, "prod", pack_dir=PACK_DIR) as pack:
        yield pack


@pytest.fixture(scope="module")
def baseline(prod: Plan) -> PolicyReport:
    """The pack over the unmutated prod plan: the same prod-configured pack as ``session``, in the session-wide
    run that tests/stacks/test_render.py asserts too (one full analysis of prod instead of two)."""
    return hipaa_report("prod", PACK_DIR)


def _show(report: PolicyReport) -> str:
    return "\n".join(f"  {v.level} {v.policy} {v.resource_name or '(stack)'}: {v.detail}" for v in report.violations)


def test_prod_as_rendered_has_no_mandatory_violation(baseline: PolicyReport, prod: Plan) -> None:
    assert baseline.policy("kms-key-rotation").level == "mandatory"
    assert len(baseline.analyzed) == len(prod.resources) + 1  # + the root stack
    assert baseline.mandatory == [], "prod violates the pack:\n" + _show(baseline)


def test_prod_config_makes_every_policy_mandatory(baseline: PolicyReport) -> None:
    assert {p.level for p in baseline.policies} == {"mandatory"}


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.id for m in MUTATIONS])
def test_mutation_is_caught(mutation: Mutation, prod: Plan, session: PolicyPackSession,
                            baseline: PolicyReport) -> None:
    kinds = {p.name: p.kind for p in session.policies}
    assert mutation.policy in kinds, f"the pack has no policy {mutation.policy}"
    assert target_of(prod, mutation) is not None, (
        f"mutation {mutation.id}: prod renders no {mutation.type} that it can break (its target matches nothing)")
    plan, broken = mutate(prod, mutation)
    # Only the policy under test runs: the others' verdicts on the mutated plan are not this test's question,
    # and running every stack policy over the whole prod plan for each mutation cost minutes.
    if kinds[mutation.policy] == "stack" or broken is None:
        report = session.analyze(plan, only=[], policies=[mutation.policy])
    else:
        report = session.analyze(plan, only=[broken.urn], stack_policies=False, policies=[mutation.policy])
    # Only what the mutation caused counts: not what the unmutated prod plan already reports.
    before = {(v.policy, v.urn, v.message) for v in baseline.violations}
    caught = [v for v in report.mandatory if v.policy == mutation.policy and (v.policy, v.urn, v.message) not in before
              and (broken is None or kinds[mutation.policy] == "stack" or v.urn == broken.urn)]
    assert caught, f"{mutation.id}: {mutation.policy} did not report it; the pack said:\n{_show(report)}"
    assert any(mutation.expect in v.message for v in caught), [v.detail for v in caught]


def test_at_least_30_distinct_mutations_apply_to_prod(prod: Plan) -> None:
    digest = prod.digest()
    applicable = [m for m in MUTATIONS if target_of(prod, m) is not None]
    for mutation in applicable:
        mutate(prod, mutation)
    assert prod.digest() == digest  # mutations work on copies
    assert [m.id for m in MUTATIONS if m not in applicable] == []
    assert len(applicable) >= 30
    assert len({m.policy for m in applicable}) >= 25

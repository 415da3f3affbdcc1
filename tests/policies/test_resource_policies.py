# ruff: noqa: E501  (the expected messages are asserted verbatim)
"""Every resource policy: a compliant case, at least one violating case with its exact message(s), and
unknown values (as during a preview) that must not be reported.

Inputs are realistic wire inputs (tests/policies/wire.py, from the rendered prod plan) edited per case;
they pass through the same deserialization and unknown-checking proxy as in the analyzer.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from components.app_service import KafkaAccessConfig, msk_client_document
from components.encryption import key_policy
from components.monitoring.values import kube_prometheus_stack_values
from tests.helpers import stack_config
from tests.policies.support import DROP, REGISTRY, check, edit
from tests.policies.test_policy_branches import NETPOL, REPLICATION
from tests.policies.test_release_policies import BG_MESSAGE, BLUE_GREEN, LINEAR, ROLLOUT_T, STRATEGY_T
from tests.policies.wire import (
    ACCOUNT,
    BACKUP_PLAN,
    CLOUDFRONT,
    CONTAINER,
    CRONJOB,
    DB_KEY,
    DEPLOYMENT,
    EBS_KEY,
    EKS,
    KEY_POLICY,
    KMS_KEY,
    LAUNCH_TEMPLATE,
    LISTENER_HTTPS,
    LISTENER_REDIRECT,
    LOG_GROUP,
    MSK,
    NODE_GROUP,
    PARAMS,
    PITR_PLAN,
    PRIMARY,
    RDS_PRIMARY,
    RDS_REPLICA,
    REDIS,
    SECRET,
    SG_ALB,
    SG_WORKLOAD,
    SNS,
    STORAGE_CLASS,
    SUBNET,
    SUBNETS3,
    TAGS,
    TRAIL,
    VAULT,
    U,
)

RDS, RDS_CLUSTER, PG = "aws:rds/instance:Instance", "aws:rds/cluster:Cluster", "aws:rds/parameterGroup:ParameterGroup"
REDIS_T, MSK_T = "aws:elasticache/replicationGroup:ReplicationGroup", "aws:msk/cluster:Cluster"
EKS_T, NG_T, LT_T = "aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup", "aws:ec2/launchTemplate:LaunchTemplate"
VOLUME_T, SC_T = "aws:ebs/volume:Volume", "kubernetes:storage.k8s.io/v1:StorageClass"
LOG_T, SNS_T, VAULT_T = "aws:cloudwatch/logGroup:LogGroup", "aws:sns/topic:Topic", "aws:backup/vault:Vault"
SECRET_T, KEY_T = "aws:secretsmanager/secret:Secret", "aws:kms/key:Key"
HELM_T = "kubernetes:helm.sh/v3:Release"
#: The kube-prometheus-stack release as the program renders it for prod (components/monitoring/values.py).
KPS_RELEASE = {"chart": "kube-prometheus-stack", "version": "88.5.3", "values": json.loads(json.dumps(
    kube_prometheus_stack_values(stack_config("prod").observability, storage_class="gp3-encrypted",
                                 grafana_role_arn=f"arn:aws:iam::{ACCOUNT}:role/grafana", region="us-east-2")))}
RULE_T = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
PROMETHEUS_RULE = {"spec": {"groups": [{"name": "slo-prm-api-alerts", "rules": [
    {"alert": "ErrorBudgetBurnCritical", "expr": "vector(1)",
     "labels": {"severity": "P1", "scope": "service", "service": "prm-api"},
     "annotations": {"summary": "s", "runbook_url":
                     "https://github.com/care-platform/care-platform/blob/main/docs/runbooks/alerts/"
                     "ErrorBudgetBurnCritical.md"}}]}]}}
KEY_POLICY_T, BUCKET_POLICY_T = "aws:kms/keyPolicy:KeyPolicy", "aws:s3/bucketPolicy:BucketPolicy"
CF_T, LB_T, ALB_T = "aws:cloudfront/distribution:Distribution", "aws:lb/listener:Listener", "aws:alb/listener:Listener"
SG_T, SGR_T = "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/securityGroupRule:SecurityGroupRule"
SGI_T, SUBNET_T = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:ec2/subnet:Subnet"
TRAIL_T, PLAN_T, EC2_T = "aws:cloudtrail/trail:Trail", "aws:backup/plan:Plan", "aws:ec2/instance:Instance"
BUCKET_T, BUCKET_V2_T = "aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"
DEP_T, STS_T, CRON_T = "kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:CronJob"
POD_T = "kubernetes:core/v1:Pod"
NETPOL_T = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
REPL_T = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"

C0 = "spec__template__spec__containers__0"


def wildcard_policy(sid="Open", condition=None):
    statement = {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({**KEY_POLICY, "Statement": [*KEY_POLICY["Statement"], statement]})


# (id, policy, resource type, inputs, keyword arguments for check())
ROLE_T = "aws:iam/role:Role"
GITHUB_PROVIDER = "arn:aws:iam::333333333333:oidc-provider/token.actions.githubusercontent.com"


def github_role(condition: dict) -> dict:
    return {"assumeRolePolicy": json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "GitHubActions", "Effect": "Allow", "Principal": {"Federated": GITHUB_PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition}]})}


GITHUB_ROLE = github_role({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                                            "token.actions.githubusercontent.com:sub": "repo:acme/care:environment:prod"}})
INGRESS_T = "kubernetes:networking.k8s.io/v1:Ingress"
WAF_LOG_T = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
ALB = "metadata__annotations__alb.ingress.kubernetes.io/"
SSL_POLICY, WAF_ANNOTATION, SCHEME = f"{ALB}ssl-policy", f"{ALB}wafv2-acl-arn", f"{ALB}scheme"
ALB_INGRESS = {"metadata": {"name": "nlfhir", "namespace": "nlfhir", "annotations": {
    "alb.ingress.kubernetes.io/scheme": "internet-facing",
    "alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "alb.ingress.kubernetes.io/wafv2-acl-arn": "arn:aws:wafv2:us-east-2:333333333333:regional/webacl/alb/abc"}},
    "spec": {"ingressClassName": "alb"}}
WAF_LOGGING = {"resourceArn": "arn:aws:wafv2:us-east-1:333333333333:global/webacl/cdn/abc",
               "logDestinationConfigs": ["arn:aws:logs:us-east-1:333333333333:log-group:aws-waf-logs-cdn"],
               "redactedFields": [{"singleHeader": {"name": "authorization"}}, {"singleHeader": {"name": "cookie"}}]}

#: The prm-worker's MSK client policy as rendered (components/app_service/bindings.py msk_client_document).
MSK_CLIENT = {"policy": msk_client_document(
    "arn:aws:kafka:us-east-2:333333333333:cluster/care-prod-kafka-cluster/uuid-1",
    KafkaAccessConfig(owned_prefix="prm-worker.", read_topics=("prm-worker.*",), write_topics=("prm-worker.*",),
                      consumer_groups=("prm-worker",))),
    "tags": {"care.platform/kafka-prefix": "prm-worker."}}

CASES = [
    # --- releases (availability): SLO analysis on Rollouts, gradual AppConfig deployments
    ("rollout-analysis-ok", "rollout-analysis", ROLLOUT_T, BLUE_GREEN, {}),
    ("rollout-no-analysis", "rollout-analysis", ROLLOUT_T,
     edit(BLUE_GREEN, spec__strategy__blueGreen__prePromotionAnalysis=DROP,
          spec__strategy__blueGreen__postPromotionAnalysis=DROP), {}),
    ("appconfig-gradual-ok", "appconfig-gradual-deployment", STRATEGY_T, LINEAR, {}),
    ("appconfig-no-bake", "appconfig-gradual-deployment", STRATEGY_T, edit(LINEAR, finalBakeTimeInMinutes=0), {}),
    # --- encryption at rest
    ("rds-encrypted-ok", "rds-storage-encrypted", RDS, RDS_PRIMARY, {}),
    ("rds-replica-inherits-key", "rds-storage-encrypted", RDS, RDS_REPLICA, {}),
    ("rds-unencrypted", "rds-storage-encrypted", RDS, edit(RDS_PRIMARY, storageEncrypted=False, kmsKeyId=DROP), {}),
    ("rds-aws-managed-key", "rds-storage-encrypted", RDS, edit(RDS_PRIMARY, kmsKeyId="alias/aws/rds"), {}),
    ("rds-cross-region-replica-no-key", "rds-storage-encrypted", RDS,
     edit(RDS_REPLICA, replicateSourceDb=f"arn:aws:rds:{PRIMARY}:{ACCOUNT}:db:care-prod-prm"), {}),
    ("rds-cluster-unencrypted", "rds-storage-encrypted", RDS_CLUSTER,
     {"engine": "aurora-postgresql", "storageEncrypted": False, "kmsKeyId": DB_KEY}, {}),
    ("rds-key-unknown", "rds-storage-encrypted", RDS, edit(RDS_PRIMARY, kmsKeyId=U, storageEncrypted=U), {}),
    ("pi-ok", "rds-performance-insights-kms", RDS, RDS_PRIMARY, {}),
    ("pi-disabled", "rds-performance-insights-kms", RDS,
     edit(RDS_PRIMARY, performanceInsightsEnabled=False, performanceInsightsKmsKeyId=DROP), {}),
    ("pi-aws-key", "rds-performance-insights-kms", RDS, edit(RDS_PRIMARY, performanceInsightsKmsKeyId=DROP), {}),
    ("pi-unknown", "rds-performance-insights-kms", RDS, edit(RDS_PRIMARY, performanceInsightsKmsKeyId=U), {}),
    ("redis-at-rest-ok", "elasticache-encryption-at-rest", REDIS_T, REDIS, {}),
    ("redis-at-rest-off", "elasticache-encryption-at-rest", REDIS_T, edit(REDIS, atRestEncryptionEnabled=False), {}),
    ("redis-no-cmk", "elasticache-encryption-at-rest", REDIS_T, edit(REDIS, kmsKeyId=DROP), {}),
    ("redis-key-unknown", "elasticache-encryption-at-rest", REDIS_T, edit(REDIS, kmsKeyId=U), {}),
    ("msk-at-rest-ok", "msk-encryption-at-rest", MSK_T, MSK, {}),
    ("msk-aws-key", "msk-encryption-at-rest", MSK_T, edit(MSK, encryptionInfo__encryptionAtRestKmsKeyArn=DROP), {}),
    ("msk-key-unknown", "msk-encryption-at-rest", MSK_T, edit(MSK, encryptionInfo__encryptionAtRestKmsKeyArn=U), {}),
    ("lt-ebs-ok", "ebs-volume-encrypted", LT_T, LAUNCH_TEMPLATE, {}),
    ("lt-ebs-unencrypted", "ebs-volume-encrypted", LT_T,
     edit(LAUNCH_TEMPLATE, blockDeviceMappings__0__ebs__encrypted="false"), {}),
    ("lt-ebs-aws-key", "ebs-volume-encrypted", LT_T,
     edit(LAUNCH_TEMPLATE, blockDeviceMappings__0__ebs__kmsKeyId="alias/aws/ebs"), {}),
    ("lt-no-mappings", "ebs-volume-encrypted", LT_T, edit(LAUNCH_TEMPLATE, blockDeviceMappings=DROP), {}),
    ("lt-ebs-unknown", "ebs-volume-encrypted", LT_T,
     edit(LAUNCH_TEMPLATE, blockDeviceMappings__0__ebs__kmsKeyId=U), {}),
    ("volume-ok", "ebs-volume-encrypted", VOLUME_T,
     {"availabilityZone": "us-east-2a", "size": 10, "encrypted": True, "kmsKeyId": EBS_KEY}, {}),
    ("volume-plain", "ebs-volume-encrypted", VOLUME_T, {"availabilityZone": "us-east-2a", "size": 10}, {}),
    ("sc-ok", "storage-class-encrypted", SC_T, STORAGE_CLASS, {}),
    ("sc-unencrypted", "storage-class-encrypted", SC_T,
     edit(STORAGE_CLASS, parameters__encrypted=DROP, parameters__kmsKeyId=DROP), {}),
    ("sc-efs-ignored", "storage-class-encrypted", SC_T,
     {"provisioner": "efs.csi.aws.com", "parameters": {"provisioningMode": "efs-ap"}}, {}),
    ("sc-key-unknown", "storage-class-encrypted", SC_T, edit(STORAGE_CLASS, parameters__kmsKeyId=U), {}),
    ("eks-secrets-ok", "eks-secrets-encryption", EKS_T, EKS, {}),
    ("eks-secrets-plain", "eks-secrets-encryption", EKS_T, edit(EKS, encryptionConfig=DROP), {}),
    ("eks-secrets-no-key", "eks-secrets-encryption", EKS_T, edit(EKS, encryptionConfig__provider=DROP), {}),
    ("eks-secrets-unknown-key", "eks-secrets-encryption", EKS_T, edit(EKS, encryptionConfig__provider__keyArn=U), {}),
    ("log-group-ok", "log-group-kms", LOG_T, LOG_GROUP, {}),
    ("log-group-plain", "log-group-kms", LOG_T, edit(LOG_GROUP, kmsKeyId=DROP), {}),
    ("log-group-unknown", "log-group-kms", LOG_T, edit(LOG_GROUP, kmsKeyId=U), {}),
    ("sns-ok", "sns-topic-kms", SNS_T, SNS, {}),
    ("prometheus-rule-ok", "prometheus-rule-alert-runbook", RULE_T, PROMETHEUS_RULE, {}),
    ("prometheus-rule-no-severity-no-runbook", "prometheus-rule-alert-runbook", RULE_T,
     {"spec": {"groups": [{"name": "g", "rules": [
         {"record": "service:request_errors:ratio_rate5m", "expr": "vector(0)"},
         {"alert": "ErrorBudgetBurnCritical", "expr": "vector(1)", "labels": {"severity": "critical"},
          "annotations": {"runbook_url": "https://runbooks.example/ErrorBudgetBurnHigh.md"}},
         {"alert": "KubeNodeNotReady", "expr": "vector(1)"}]}]}}, {}),
    ("prometheus-rule-unknown", "prometheus-rule-alert-runbook", RULE_T, {"spec": {"groups": U}}, {}),
    ("sns-aws-key", "sns-topic-kms", SNS_T, edit(SNS, kmsMasterKeyId="alias/aws/sns"), {}),
    ("sns-unknown", "sns-topic-kms", SNS_T, edit(SNS, kmsMasterKeyId=U), {}),
    ("vault-ok", "backup-vault-kms", VAULT_T, VAULT, {}),
    ("vault-no-key", "backup-vault-kms", VAULT_T, edit(VAULT, kmsKeyArn=DROP), {}),
    ("vault-unknown", "backup-vault-kms", VAULT_T, edit(VAULT, kmsKeyArn=U), {}),
    ("secret-ok", "secrets-manager-kms", SECRET_T, SECRET, {}),
    ("secret-aws-key", "secrets-manager-kms", SECRET_T, edit(SECRET, kmsKeyId=DROP), {}),
    ("secret-unknown", "secrets-manager-kms", SECRET_T, edit(SECRET, kmsKeyId=U), {}),
    ("key-rotates", "kms-key-rotation", KEY_T, KMS_KEY, {}),
    # More cases in tests/policies/test_kms_key_policies.py.
    ("key-phi-denies-direct-use", "kms-phi-key-via-service-deny", KEY_T, edit(
        KMS_KEY, policy=json.dumps(key_policy("database", account_id=ACCOUNT, region="us-east-2",
                                              admin_arns=[f"arn:aws:iam::{ACCOUNT}:role/admin"],
                                              policy_admin_arns=[f"arn:aws:iam::{ACCOUNT}:role/admin"]))), {}),
    ("key-phi-iam-delegated", "kms-phi-key-via-service-deny", KEY_T, KMS_KEY, {}),
    ("key-no-rotation", "kms-key-rotation", KEY_T, edit(KMS_KEY, enableKeyRotation=DROP), {}),
    ("key-disabled", "kms-key-rotation", KEY_T, edit(KMS_KEY, isEnabled=False), {}),
    ("key-asymmetric", "kms-key-rotation", KEY_T,
     edit(KMS_KEY, customerMasterKeySpec="RSA_2048", keyUsage="SIGN_VERIFY", enableKeyRotation=False), {}),
    ("key-rotation-unknown", "kms-key-rotation", KEY_T, edit(KMS_KEY, enableKeyRotation=U), {}),
    # --- encryption in transit
    ("redis-tls-ok", "elasticache-transit-encryption", REDIS_T, REDIS, {}),
    ("redis-plaintext", "elasticache-transit-encryption", REDIS_T, edit(REDIS, transitEncryptionEnabled=DROP), {}),
    ("redis-tls-preferred", "elasticache-transit-encryption", REDIS_T,
     edit(REDIS, transitEncryptionMode="preferred"), {}),
    ("redis-tls-unknown", "elasticache-transit-encryption", REDIS_T, edit(REDIS, transitEncryptionEnabled=U), {}),
    # --- store credentials (issue #16; more cases in test_store_credentials.py)
    ("redis-rbac-ok", "elasticache-rbac", REDIS_T, REDIS, {}),
    ("redis-shared-token", "elasticache-rbac", REDIS_T, edit(REDIS, userGroupIds=DROP, authToken="[secret]"), {}),
    ("msk-client-own-names", "msk-client-scoped", "aws:iam/policy:Policy", MSK_CLIENT, {}),
    ("msk-client-every-topic", "msk-client-scoped", "aws:iam/policy:Policy",
     edit(MSK_CLIENT, policy=MSK_CLIENT["policy"].replace("/prm-worker.*", "/*", 1)), {}),
    ("msk-client-tls", "msk-tls-client-broker", MSK_T, MSK, {}),
    ("msk-client-default", "msk-tls-client-broker", MSK_T, edit(MSK, encryptionInfo__encryptionInTransit=DROP), {}),
    ("msk-client-plaintext", "msk-tls-client-broker", MSK_T,
     edit(MSK, encryptionInfo__encryptionInTransit__clientBroker="TLS_PLAINTEXT"), {}),
    ("msk-in-cluster-tls", "msk-tls-in-cluster", MSK_T, MSK, {}),
    ("msk-in-cluster-plain", "msk-tls-in-cluster", MSK_T,
     edit(MSK, encryptionInfo__encryptionInTransit__inCluster=False), {}),
    ("msk-in-cluster-unknown", "msk-tls-in-cluster", MSK_T, edit(MSK, encryptionInfo__encryptionInTransit__inCluster=U),
     {}),
    ("force-ssl-ok", "rds-force-ssl", PG, PARAMS, {}),
    ("force-ssl-off", "rds-force-ssl", PG, edit(PARAMS, parameters__0__value="0"), {}),
    ("force-ssl-missing", "rds-force-ssl", PG, edit(PARAMS, parameters__0=DROP), {}),
    ("force-ssl-mysql-ignored", "rds-force-ssl", PG, {"family": "mysql8.0", "parameters": []}, {}),
    ("instance-custom-group", "rds-force-ssl", RDS, RDS_PRIMARY, {}),
    ("instance-default-group", "rds-force-ssl", RDS, edit(RDS_PRIMARY, parameterGroupName="default.postgres16"), {}),
    ("replica-no-group", "rds-force-ssl", RDS, edit(RDS_REPLICA, parameterGroupName=DROP), {}),
    ("instance-group-unknown", "rds-force-ssl", RDS, edit(RDS_PRIMARY, parameterGroupName=U), {}),
    ("cf-https-ok", "cloudfront-viewer-https", CF_T, CLOUDFRONT, {}),
    ("cf-allow-all", "cloudfront-viewer-https", CF_T,
     edit(CLOUDFRONT, defaultCacheBehavior__viewerProtocolPolicy="allow-all",
          orderedCacheBehaviors__0__viewerProtocolPolicy="allow-all"), {}),
    ("cf-viewer-unknown", "cloudfront-viewer-https", CF_T,
     edit(CLOUDFRONT, defaultCacheBehavior__viewerProtocolPolicy=U), {}),
    ("cf-tls-ok", "cloudfront-tls12", CF_T, CLOUDFRONT, {}),
    ("cf-default-cert", "cloudfront-tls12", CF_T,
     edit(CLOUDFRONT, viewerCertificate={"cloudfrontDefaultCertificate": True}), {}),
    ("cf-tls1", "cloudfront-tls12", CF_T, edit(CLOUDFRONT, viewerCertificate__minimumProtocolVersion="TLSv1_2016"), {}),
    ("cf-tls-unknown", "cloudfront-tls12", CF_T, edit(CLOUDFRONT, viewerCertificate__minimumProtocolVersion=U), {}),
    ("cf-tls12-2019", "cloudfront-tls12", CF_T,
     edit(CLOUDFRONT, viewerCertificate__minimumProtocolVersion="TLSv1.2_2019"), {}),
    ("alb-ingress-tls-ok", "alb-ingress-tls", INGRESS_T, ALB_INGRESS, {}),
    ("alb-ingress-tls-default", "alb-ingress-tls", INGRESS_T, edit(ALB_INGRESS, **{SSL_POLICY: DROP}), {}),
    ("alb-ingress-tls-fs", "alb-ingress-tls", INGRESS_T,
     edit(ALB_INGRESS, **{SSL_POLICY: "ELBSecurityPolicy-TLS-1-1-2017-01"}), {}),
    ("alb-ingress-tls13-only", "alb-ingress-tls", INGRESS_T,
     edit(ALB_INGRESS, **{SSL_POLICY: "ELBSecurityPolicy-TLS13-1-3-2021-06"}), {}),
    ("alb-ingress-tls-unknown", "alb-ingress-tls", INGRESS_T, edit(ALB_INGRESS, **{SSL_POLICY: U}), {}),
    ("nginx-ingress-ignored", "alb-ingress-tls", INGRESS_T, edit(ALB_INGRESS, spec__ingressClassName="nginx"), {}),
    ("cf-origin-ok", "cloudfront-origin-https", CF_T, CLOUDFRONT, {}),
    ("cf-origin-http", "cloudfront-origin-https", CF_T,
     edit(CLOUDFRONT, origins__0__customOriginConfig__originProtocolPolicy="match-viewer",
          origins__0__customOriginConfig__originSslProtocols=["TLSv1", "TLSv1.1", "TLSv1.2"]), {}),
    ("cf-origin-unknown", "cloudfront-origin-https", CF_T, edit(CLOUDFRONT, origins=U), {}),
    ("listener-https-ok", "lb-listener-https", LB_T, LISTENER_HTTPS, {}),
    ("listener-redirect-ok", "lb-listener-https", ALB_T, LISTENER_REDIRECT, {}),
    ("listener-old-policy", "lb-listener-https", LB_T, edit(LISTENER_HTTPS, sslPolicy="ELBSecurityPolicy-2016-08"), {}),
    ("listener-no-policy", "lb-listener-https", LB_T, edit(LISTENER_HTTPS, sslPolicy=DROP), {}),
    ("listener-http-forward", "lb-listener-https", ALB_T,
     edit(LISTENER_REDIRECT, defaultActions=[{"type": "forward", "targetGroupArn": "arn:tg"}]), {}),
    ("listener-unknown", "lb-listener-https", LB_T, edit(LISTENER_HTTPS, sslPolicy=U), {}),
    # --- availability
    ("rds-multi-az-ok", "rds-multi-az", RDS, RDS_PRIMARY, {}),
    ("rds-single-az", "rds-multi-az", RDS, edit(RDS_PRIMARY, multiAz=False), {}),
    ("rds-replica-single-az-ok", "rds-multi-az", RDS, RDS_REPLICA, {}),
    ("rds-multi-az-unknown", "rds-multi-az", RDS, edit(RDS_PRIMARY, multiAz=U), {}),
    ("redis-multi-az-ok", "elasticache-multi-az", REDIS_T, REDIS, {}),
    ("redis-single-az", "elasticache-multi-az", REDIS_T,
     edit(REDIS, multiAzEnabled=False, automaticFailoverEnabled=False, replicasPerNodeGroup=0), {}),
    ("redis-one-cluster", "elasticache-multi-az", REDIS_T,
     edit(REDIS, replicasPerNodeGroup=DROP, numNodeGroups=DROP, numCacheClusters=1), {}),
    ("redis-multi-az-unknown", "elasticache-multi-az", REDIS_T, edit(REDIS, multiAzEnabled=U), {}),
    ("msk-spread-ok", "msk-broker-az-spread", MSK_T, MSK, {}),
    ("msk-one-az", "msk-broker-az-spread", MSK_T, edit(MSK, brokerNodeGroupInfo__clientSubnets=SUBNETS3[:1]), {}),
    ("msk-uneven", "msk-broker-az-spread", MSK_T, edit(MSK, numberOfBrokerNodes=4), {}),
    ("msk-dev-two-azs", "msk-broker-az-spread", MSK_T,
     edit(MSK, brokerNodeGroupInfo__clientSubnets=SUBNETS3[:2], numberOfBrokerNodes=2), {"config": {"minAzCount": 2}}),
    ("msk-subnets-unknown", "msk-broker-az-spread", MSK_T, edit(MSK, brokerNodeGroupInfo__clientSubnets=U), {}),
    ("nodes-spread-ok", "eks-node-group-az-spread", NG_T, NODE_GROUP, {}),
    ("nodes-two-azs", "eks-node-group-az-spread", NG_T, edit(NODE_GROUP, subnetIds=SUBNETS3[:2]), {}),
    ("nodes-two-azs-dev", "eks-node-group-az-spread", NG_T, edit(NODE_GROUP, subnetIds=SUBNETS3[:2]),
     {"config": {"minAzCount": 2}}),
    ("nodes-scale-to-zero", "eks-node-group-az-spread", NG_T, edit(NODE_GROUP, scalingConfig__minSize=0), {}),
    ("nodes-subnets-unknown", "eks-node-group-az-spread", NG_T, edit(NODE_GROUP, subnetIds=[U, U, U]), {}),
    # --- backup and recovery
    ("rds-retention-ok", "rds-backup-retention", RDS, RDS_PRIMARY, {}),
    ("replication-retention-ok", "rds-backup-replication-retention", REPL_T, REPLICATION, {}),
    ("replication-retention-short", "rds-backup-replication-retention", REPL_T, edit(REPLICATION, retentionPeriod=7), {}),
    ("rds-retention-short", "rds-backup-retention", RDS, edit(RDS_PRIMARY, backupRetentionPeriod=7), {}),
    ("rds-retention-dev", "rds-backup-retention", RDS, edit(RDS_PRIMARY, backupRetentionPeriod=7),
     {"config": {"minRetentionDays": 7}}),
    ("rds-retention-unset", "rds-backup-retention", RDS, edit(RDS_PRIMARY, backupRetentionPeriod=DROP), {}),
    ("rds-retention-replica", "rds-backup-retention", RDS, RDS_REPLICA, {}),
    ("rds-retention-unknown", "rds-backup-retention", RDS, edit(RDS_PRIMARY, backupRetentionPeriod=U), {}),
    ("rds-deletion-protected", "rds-deletion-protection", RDS, RDS_PRIMARY, {}),
    ("rds-deletable", "rds-deletion-protection", RDS, edit(RDS_PRIMARY, deletionProtection=False), {}),
    ("rds-deletion-unknown", "rds-deletion-protection", RDS, edit(RDS_PRIMARY, deletionProtection=U), {}),
    ("rds-final-snapshot-ok", "rds-final-snapshot", RDS, RDS_PRIMARY, {}),
    ("rds-skip-final", "rds-final-snapshot", RDS, edit(RDS_PRIMARY, skipFinalSnapshot=True), {}),
    ("rds-no-final-id", "rds-final-snapshot", RDS, edit(RDS_PRIMARY, finalSnapshotIdentifier=DROP), {}),
    ("rds-final-unknown", "rds-final-snapshot", RDS, edit(RDS_PRIMARY, finalSnapshotIdentifier=U), {}),
    ("redis-snapshots-ok", "elasticache-snapshot-retention", REDIS_T, REDIS, {}),
    ("redis-no-snapshots", "elasticache-snapshot-retention", REDIS_T, edit(REDIS, snapshotRetentionLimit=DROP), {}),
    ("redis-snapshots-dev", "elasticache-snapshot-retention", REDIS_T, edit(REDIS, snapshotRetentionLimit=1),
     {"config": {"minRetentionDays": 1}}),
    ("redis-snapshots-unknown", "elasticache-snapshot-retention", REDIS_T, edit(REDIS, snapshotRetentionLimit=U), {}),
    ("plan-retention-ok", "backup-plan-retention", PLAN_T, BACKUP_PLAN, {}),
    ("plan-retention-short", "backup-plan-retention", PLAN_T,
     edit(BACKUP_PLAN, rules__0__lifecycle__deleteAfter=7, rules__0__copyActions__0__lifecycle__deleteAfter=7), {}),
    ("plan-retention-staging", "backup-plan-retention", PLAN_T,
     edit(BACKUP_PLAN, rules__0__lifecycle__deleteAfter=14, rules__0__copyActions__0__lifecycle__deleteAfter=14),
     {"config": {"minRetentionDays": 14}}),
    ("plan-retention-unknown", "backup-plan-retention", PLAN_T, edit(BACKUP_PLAN, rules=U), {}),
    ("plan-dr-copy-ok", "backup-plan-dr-copy", PLAN_T, BACKUP_PLAN, {}),
    ("plan-continuous-exempt", "backup-plan-dr-copy", PLAN_T, PITR_PLAN, {}),
    ("plan-no-copy", "backup-plan-dr-copy", PLAN_T, edit(BACKUP_PLAN, rules__0__copyActions=DROP), {}),
    ("plan-copy-wrong-region", "backup-plan-dr-copy", PLAN_T, BACKUP_PLAN, {"config": {"drRegion": "eu-west-1"}}),
    ("plan-copy-unknown", "backup-plan-dr-copy", PLAN_T,
     edit(BACKUP_PLAN, rules__0__copyActions__0__destinationVaultArn=U), {}),
    ("rds-protected", "stateful-resources-protected", RDS, RDS_PRIMARY, {"protect": True}),
    ("rds-unprotected", "stateful-resources-protected", RDS, RDS_PRIMARY, {}),
    ("replica-unprotected-ok", "stateful-resources-protected", RDS, RDS_REPLICA, {}),
    ("bucket-unprotected", "stateful-resources-protected", BUCKET_V2_T, {"bucket": "care-prod-app-data"}, {}),
    ("log-group-not-stateful", "stateful-resources-protected", LOG_T, LOG_GROUP, {}),
    ("key-protected", "stateful-resources-protected", KEY_T, KMS_KEY, {"protect": True}),
    ("key-unprotected", "stateful-resources-protected", KEY_T, KMS_KEY, {}),
    ("bucket-kept", "s3-no-force-destroy", BUCKET_T, {"bucket": "care-prod-app-data", "forceDestroy": False}, {}),
    ("bucket-force-destroy", "s3-no-force-destroy", BUCKET_T, {"bucket": "care-prod-app-data", "forceDestroy": True},
     {}),
    ("bucket-force-unknown", "s3-no-force-destroy", BUCKET_T, {"bucket": "b", "forceDestroy": U}, {}),
    ("sc-retain", "storage-class-retain", SC_T, STORAGE_CLASS, {}),
    ("sc-delete", "storage-class-retain", SC_T, edit(STORAGE_CLASS, reclaimPolicy=DROP), {}),
    ("sc-delete-dev", "storage-class-retain", SC_T, edit(STORAGE_CLASS, reclaimPolicy="Delete"),
     {"config": {"required": False}}),
    ("sc-reclaim-unknown", "storage-class-retain", SC_T, edit(STORAGE_CLASS, reclaimPolicy=U), {}),
    # --- exposure
    ("rds-private", "rds-not-public", RDS, RDS_PRIMARY, {}),
    ("rds-public", "rds-not-public", RDS, edit(RDS_PRIMARY, publiclyAccessible=True), {}),
    ("rds-public-unknown", "rds-not-public", RDS, edit(RDS_PRIMARY, publiclyAccessible=U), {}),
    ("msk-private", "msk-not-public", MSK_T, MSK, {}),
    ("msk-public", "msk-not-public", MSK_T,
     edit(MSK, brokerNodeGroupInfo__connectivityInfo={"publicAccess": {"type": "SERVICE_PROVIDED_EIPS"}}), {}),
    ("msk-public-unknown", "msk-not-public", MSK_T,
     edit(MSK, brokerNodeGroupInfo__connectivityInfo={"publicAccess": {"type": U}}), {}),
    ("sg-vpc-only", "sg-no-public-ingress", SG_T, SG_WORKLOAD, {}),
    ("cf-oac-ok", "cloudfront-s3-oac", CF_T, CLOUDFRONT, {}),
    ("cf-s3-no-oac", "cloudfront-s3-oac", CF_T, edit(CLOUDFRONT, origins__1__originAccessControlId=DROP), {}),
    ("cf-s3-oai", "cloudfront-s3-oac", CF_T,
     edit(CLOUDFRONT, origins__1__originAccessControlId=DROP,
          origins__1__s3OriginConfig={"originAccessIdentity": "origin-access-identity/cloudfront/E1OAI"}), {}),
    ("cf-oac-unknown", "cloudfront-s3-oac", CF_T, edit(CLOUDFRONT, origins__1__originAccessControlId=U), {}),
    ("alb-ingress-waf-ok", "alb-ingress-waf", INGRESS_T, ALB_INGRESS, {}),
    ("alb-ingress-no-waf", "alb-ingress-waf", INGRESS_T, edit(ALB_INGRESS, **{WAF_ANNOTATION: DROP}), {}),
    ("alb-internal-no-waf", "alb-ingress-waf", INGRESS_T,
     edit(ALB_INGRESS, **{WAF_ANNOTATION: DROP, SCHEME: "internal"}), {}),
    ("alb-ingress-waf-unknown", "alb-ingress-waf", INGRESS_T, edit(ALB_INGRESS, **{WAF_ANNOTATION: U}), {}),
    ("sg-alb-https", "sg-no-public-ingress", SG_T, SG_ALB, {}),
    ("sg-postgres-open", "sg-no-public-ingress", SG_T,
     edit(SG_WORKLOAD, ingress__0__cidrBlocks=["0.0.0.0/0"]), {}),
    ("sg-alb-http-open", "sg-no-public-ingress", SG_T,
     edit(SG_ALB, ingress=[{"protocol": "tcp", "fromPort": 80, "toPort": 80, "cidrBlocks": ["0.0.0.0/0"]}]), {}),
    ("sg-untagged-https-open", "sg-no-public-ingress", SG_T, edit(SG_ALB, tags=TAGS), {}),
    ("sg-all-open", "sg-no-public-ingress", SG_T,
     edit(SG_WORKLOAD, ingress=[{"protocol": "-1", "fromPort": 0, "toPort": 0, "ipv6CidrBlocks": ["::/0"]}]), {}),
    ("sg-rule-ssh-open", "sg-no-public-ingress", SGR_T,
     {"type": "ingress", "protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"],
      "securityGroupId": "sg-1"}, {}),
    ("sg-rule-egress-ok", "sg-no-public-ingress", SGR_T,
     {"type": "egress", "protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"],
      "securityGroupId": "sg-1"}, {}),
    ("sg-ingress-rule-alb-ok", "sg-no-public-ingress", SGI_T,
     {"securityGroupId": "sg-1", "ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "0.0.0.0/0",
      "tags": {**TAGS, "Purpose": "load-balancer"}}, {}),
    ("sg-ingress-rule-redis-open", "sg-no-public-ingress", SGI_T,
     {"securityGroupId": "sg-1", "ipProtocol": "tcp", "fromPort": 6379, "toPort": 6379, "cidrIpv4": "0.0.0.0/0",
      "tags": TAGS}, {}),
    ("sg-ingress-unknown", "sg-no-public-ingress", SG_T, edit(SG_WORKLOAD, ingress=U), {}),
    ("vpce-account-only", "vpc-endpoint-policy", "aws:ec2/vpcEndpoint:VpcEndpoint",
     {"vpcId": "vpc-1", "serviceName": "com.amazonaws.us-east-2.kms", "policy": json.dumps({"Statement": [
         {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*",
          "Condition": {"StringEquals": {"aws:PrincipalAccount": "333333333333"}}}]})}, {}),
    ("vpce-no-policy", "vpc-endpoint-policy", "aws:ec2/vpcEndpoint:VpcEndpoint",
     {"vpcId": "vpc-1", "serviceName": "com.amazonaws.us-east-2.kms"}, {}),
    ("eks-private-ok", "eks-private-endpoint", EKS_T, EKS, {}),
    ("eks-public-required-private", "eks-private-endpoint", EKS_T, edit(EKS, vpcConfig__endpointPublicAccess=True), {}),
    ("eks-public-default", "eks-private-endpoint", EKS_T,
     edit(EKS, vpcConfig__endpointPublicAccess=DROP, vpcConfig__endpointPrivateAccess=DROP),
     {"config": {"requirePrivateEndpoint": False}}),
    ("eks-public-restricted-dev", "eks-private-endpoint", EKS_T,
     edit(EKS, vpcConfig__endpointPublicAccess=True, vpcConfig__publicAccessCidrs=["203.0.113.0/24"]),
     {"config": {"requirePrivateEndpoint": False}}),
    ("eks-public-world-dev", "eks-private-endpoint", EKS_T,
     edit(EKS, vpcConfig__endpointPublicAccess=True, vpcConfig__publicAccessCidrs=["0.0.0.0/0"]),
     {"config": {"requirePrivateEndpoint": False}}),
    ("eks-endpoint-unknown", "eks-private-endpoint", EKS_T, edit(EKS, vpcConfig__endpointPublicAccess=U), {}),
    ("imds-v2", "imdsv2-required", LT_T, LAUNCH_TEMPLATE, {}),
    ("imds-v1", "imdsv2-required", LT_T, edit(LAUNCH_TEMPLATE, metadataOptions__httpTokens="optional"), {}),
    ("imds-unset", "imdsv2-required", EC2_T, {"ami": "ami-1", "instanceType": "t3.micro"}, {}),
    ("imds-disabled", "imdsv2-required", EC2_T, {"ami": "ami-1", "metadataOptions": {"httpEndpoint": "disabled"}}, {}),
    ("imds-unknown", "imdsv2-required", LT_T, edit(LAUNCH_TEMPLATE, metadataOptions__httpTokens=U), {}),
    ("imds-one-hop", "imds-hop-limit", LT_T, LAUNCH_TEMPLATE, {}),
    ("imds-two-hops", "imds-hop-limit", LT_T, edit(LAUNCH_TEMPLATE, metadataOptions__httpPutResponseHopLimit=2), {}),
    ("key-policy-scoped", "no-wildcard-principals", KEY_T, KMS_KEY, {}),
    ("key-policy-open", "no-wildcard-principals", KEY_T, edit(KMS_KEY, policy=wildcard_policy()), {}),
    ("key-policy-org-scoped", "no-wildcard-principals", KEY_POLICY_T,
     {"keyId": "k", "policy": wildcard_policy(condition={"StringEquals": {"aws:PrincipalOrgID": "o-123"}})}, {}),
    ("bucket-policy-public-read", "no-wildcard-principals", BUCKET_POLICY_T,
     {"bucket": "b", "policy": json.dumps({"Version": "2012-10-17", "Statement": {
         "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}})}, {}),
    ("key-policy-unknown", "no-wildcard-principals", KEY_T, edit(KMS_KEY, policy=U), {}),
    ("github-trust-environment", "github-oidc-trust-restricted", ROLE_T, GITHUB_ROLE, {}),
    ("github-trust-any-repo", "github-oidc-trust-restricted", ROLE_T, github_role(
        {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
         "StringLike": {"token.actions.githubusercontent.com:sub": "repo:*"}}), {}),
    ("subnet-private", "subnet-no-public-ip", SUBNET_T, SUBNET, {}),
    ("subnet-public-ips", "subnet-no-public-ip", SUBNET_T, edit(SUBNET, mapPublicIpOnLaunch=True), {}),
    ("subnet-public-ips-unknown", "subnet-no-public-ip", SUBNET_T, edit(SUBNET, mapPublicIpOnLaunch=U), {}),
    # --- logging
    ("eks-logs-ok", "eks-control-plane-logs", EKS_T, EKS, {}),
    ("eks-api-log-only", "eks-control-plane-logs", EKS_T, edit(EKS, enabledClusterLogTypes=["api"]), {}),
    ("eks-logs-unknown", "eks-control-plane-logs", EKS_T, edit(EKS, enabledClusterLogTypes=U), {}),
    ("rds-logs-ok", "rds-log-exports", RDS, RDS_PRIMARY, {}),
    ("rds-no-logs", "rds-log-exports", RDS, edit(RDS_PRIMARY, enabledCloudwatchLogsExports=["upgrade"]), {}),
    ("replica-no-logs", "rds-log-exports", RDS, edit(RDS_REPLICA, enabledCloudwatchLogsExports=DROP), {}),
    ("rds-logs-unknown", "rds-log-exports", RDS, edit(RDS_PRIMARY, enabledCloudwatchLogsExports=U), {}),
    ("msk-logs-ok", "msk-broker-logs", MSK_T, MSK, {}),
    ("msk-no-logs", "msk-broker-logs", MSK_T, edit(MSK, loggingInfo=DROP), {}),
    ("msk-logs-disabled", "msk-broker-logs", MSK_T,
     edit(MSK, loggingInfo__brokerLogs__cloudwatchLogs__enabled=False), {}),
    ("msk-logs-unknown", "msk-broker-logs", MSK_T, edit(MSK, loggingInfo__brokerLogs__cloudwatchLogs__enabled=U), {}),
    ("waf-redacts", "waf-log-redaction", WAF_LOG_T, WAF_LOGGING, {}),
    ("waf-redacts-cookie-only", "waf-log-redaction", WAF_LOG_T, edit(WAF_LOGGING, redactedFields__0=DROP), {}),
    ("waf-redacts-nothing", "waf-log-redaction", WAF_LOG_T, edit(WAF_LOGGING, redactedFields=DROP), {}),
    ("waf-redaction-unknown", "waf-log-redaction", WAF_LOG_T, edit(WAF_LOGGING, redactedFields=U), {}),
    ("trail-ok", "cloudtrail-log-validation", TRAIL_T, TRAIL, {}),
    ("trail-weak", "cloudtrail-log-validation", TRAIL_T,
     edit(TRAIL, enableLogFileValidation=DROP, isMultiRegionTrail=False, enableLogging=False), {}),
    ("trail-unknown", "cloudtrail-log-validation", TRAIL_T,
     edit(TRAIL, enableLogFileValidation=U, isMultiRegionTrail=U), {}),
    ("log-retention-ok", "log-group-retention", LOG_T, LOG_GROUP, {}),
    ("log-retention-never-expire", "log-group-retention", LOG_T, edit(LOG_GROUP, retentionInDays=DROP), {}),
    ("log-retention-short", "log-group-retention", LOG_T, edit(LOG_GROUP, retentionInDays=30), {}),
    ("log-retention-dev", "log-group-retention", LOG_T, edit(LOG_GROUP, retentionInDays=30),
     {"config": {"minRetentionDays": 30}}),
    ("log-retention-unknown", "log-group-retention", LOG_T, edit(LOG_GROUP, retentionInDays=U), {}),
    # --- Kubernetes workloads
    ("limits-ok", "k8s-resource-limits", DEP_T, DEPLOYMENT, {}),
    ("limits-missing", "k8s-resource-limits", DEP_T,
     edit(DEPLOYMENT, **{f"{C0}__resources": {"requests": {"cpu": "500m"}}}), {}),
    ("limits-cronjob-ok", "k8s-resource-limits", CRON_T, CRONJOB, {}),
    ("limits-unknown", "k8s-resource-limits", DEP_T, edit(DEPLOYMENT, **{f"{C0}__resources__limits__memory": U}), {}),
    ("probes-ok", "k8s-probes", DEP_T, DEPLOYMENT, {}),
    ("probes-missing", "k8s-probes", STS_T, edit(DEPLOYMENT, kind="StatefulSet", **{f"{C0}__livenessProbe": DROP,
                                                                                  f"{C0}__readinessProbe": DROP}), {}),
    ("probes-cronjob-exempt", "k8s-probes", CRON_T, CRONJOB, {}),
    ("probes-unknown-spec", "k8s-probes", DEP_T, edit(DEPLOYMENT, spec__template__spec=U), {}),
    ("non-root-ok", "k8s-run-as-non-root", DEP_T, DEPLOYMENT, {}),
    ("non-root-pod-level-only", "k8s-run-as-non-root", DEP_T,
     edit(DEPLOYMENT, **{f"{C0}__securityContext__runAsNonRoot": DROP}), {}),
    ("root-user", "k8s-run-as-non-root", DEP_T, edit(DEPLOYMENT, **{f"{C0}__securityContext__runAsUser": 0}), {}),
    ("non-root-unset", "k8s-run-as-non-root", POD_T,
     {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug"},
      "spec": {"containers": [{"name": "shell", "image": "busybox:1.36"}]}}, {}),
    ("non-root-unknown", "k8s-run-as-non-root", DEP_T,
     edit(DEPLOYMENT, **{f"{C0}__securityContext__runAsNonRoot": U}), {}),
    ("pod-non-root-ok", "k8s-pod-run-as-non-root", DEP_T, DEPLOYMENT, {}),
    ("pod-non-root-container-false", "k8s-pod-run-as-non-root", DEP_T,
     edit(DEPLOYMENT, **{f"{C0}__securityContext__runAsNonRoot": False}), {}),
    ("netpol-named-sources", "k8s-network-policy-sources", NETPOL_T, NETPOL, {}),
    ("netpol-any-namespace", "k8s-network-policy-sources", NETPOL_T,
     edit(NETPOL, spec__ingress__0__from__0__namespaceSelector={}), {}),
    ("no-escalation-ok", "k8s-no-privilege-escalation", DEP_T, DEPLOYMENT, {}),
    ("escalation-default", "k8s-no-privilege-escalation", DEP_T,
     edit(DEPLOYMENT, **{f"{C0}__securityContext__allowPrivilegeEscalation": DROP}), {}),
    ("escalation-unknown", "k8s-no-privilege-escalation", DEP_T,
     edit(DEPLOYMENT, **{f"{C0}__securityContext": U}), {}),
    ("ro-root-ok", "k8s-read-only-root-fs", DEP_T, DEPLOYMENT, {}),
    ("rw-root", "k8s-read-only-root-fs", DEP_T,
     edit(DEPLOYMENT, **{f"{C0}__securityContext__readOnlyRootFilesystem": False}), {}),
    ("ro-root-unknown", "k8s-read-only-root-fs", DEP_T,
     edit(DEPLOYMENT, **{f"{C0}__securityContext__readOnlyRootFilesystem": U}), {}),
    ("unprivileged-ok", "k8s-no-privileged", DEP_T, DEPLOYMENT, {}),
    ("privileged", "k8s-no-privileged", DEP_T,
     edit(DEPLOYMENT, spec__template__spec__hostNetwork=True,
          **{f"{C0}__securityContext__privileged": True,
             f"{C0}__securityContext__capabilities": {"add": ["SYS_ADMIN", "NET_BIND_SERVICE"]}}), {}),
    ("privileged-unknown", "k8s-no-privileged", DEP_T, edit(DEPLOYMENT, **{f"{C0}__securityContext": U}), {}),
    ("image-pinned", "k8s-image-pinned", DEP_T, DEPLOYMENT, {}),
    ("image-digest", "k8s-image-pinned", DEP_T,
     edit(DEPLOYMENT, **{f"{C0}__image": "registry:5000/nl-fhir@sha256:" + "a" * 64}), {}),
    ("image-latest", "k8s-image-pinned", DEP_T,
     edit(DEPLOYMENT, **{f"{C0}__image": f"{ACCOUNT}.dkr.ecr.{PRIMARY}.amazonaws.com/nl-fhir:latest"}), {}),
    ("image-untagged-registry-port", "k8s-image-pinned", CRON_T,
     edit(CRONJOB, **{"spec__jobTemplate__spec__template__spec__containers__0__image": "registry:5000/vacuum"}), {}),
    ("image-unknown", "k8s-image-pinned", DEP_T, edit(DEPLOYMENT, **{f"{C0}__image": U}), {}),
    # --- observability Helm releases (their pods render in the cluster; the pack checks their values)
    ("helm-resources-ok", "helm-workload-resources", HELM_T, KPS_RELEASE, {}),
    ("helm-resources-missing", "helm-workload-resources", HELM_T,
     edit(KPS_RELEASE, values__grafana__resources__limits=DROP, values__alertmanager__alertmanagerSpec__resources=DROP), {}),
    ("helm-resources-other-chart", "helm-workload-resources", HELM_T, {"chart": "istiod", "values": {}}, {}),
    ("helm-resources-unknown", "helm-workload-resources", HELM_T, edit(KPS_RELEASE, values__grafana__resources=U), {}),
    ("grafana-admin-ok", "grafana-admin-from-secret", HELM_T, KPS_RELEASE, {}),
    ("grafana-admin-plain", "grafana-admin-from-secret", HELM_T,
     edit(KPS_RELEASE, values__grafana__adminPassword="prom-operator", values__grafana__admin=DROP), {}),
    ("grafana-chart-generated", "grafana-admin-from-secret", HELM_T, {"chart": "grafana", "values": {}}, {}),
    ("grafana-disabled", "grafana-admin-from-secret", HELM_T, {"chart": "kube-prometheus-stack",
                                                              "values": {"grafana": {"enabled": False}}}, {}),
    ("grafana-secret-unknown", "grafana-admin-from-secret", HELM_T,
     edit(KPS_RELEASE, values__grafana__admin__existingSecret=U), {}),
    # --- tags
    ("tags-ok", "standard-tags", RDS, RDS_PRIMARY, {}),
    ("tags-missing", "standard-tags", SUBNET_T, edit(SUBNET, tags={"Name": "x", "Project": "care-platform",
                                                                    "Owner": ""}), {}),
    ("tags-absent", "standard-tags", LOG_T, edit(LOG_GROUP, tags=DROP), {}),
    ("tags-unlisted-type-with-tags", "standard-tags", "aws:ssm/parameter:Parameter",
     {"name": "/care/x", "type": "String", "value": "v", "tags": {"Project": "care-platform"}},
     {"config": {"requiredTags": ["Project", "Owner"]}}),
    ("tags-untaggable-type", "standard-tags", "aws:kms/alias:Alias", {"name": "alias/x", "targetKeyId": "k"}, {}),
    ("tags-unknown", "standard-tags", LOG_T, edit(LOG_GROUP, tags=U), {}),
    ("tags-value-unknown", "standard-tags", LOG_T, edit(LOG_GROUP, tags__Owner=U), {}),
    ("tags-k8s-ignored", "standard-tags", DEP_T, DEPLOYMENT, {}),
]


EXPECTED: dict[str, list[str]] = {
    'redis-shared-token': [
        'has no RBAC user group (userGroupIds): with a shared AUTH token (or none) every client may read and write '
        'every key. Give each app its own ElastiCache user in a user group (components/cache.py).',
    ],
    'msk-client-every-topic': [
        "statement ReadTopics grants kafka-cluster:DescribeTopic, kafka-cluster:ReadData on arn:aws:kafka:us-east-2:"
        "333333333333:topic/care-prod-kafka-cluster/uuid-1/* (a wildcard topic outside the app's own prefix: the "
        "app's prefix prm-worker.*): an app may use only the topics and consumer groups it names, or <ownedPrefix>* "
        "of its own (apps.<app>.kafka).",
    ],
    'github-trust-any-repo': [
        "statement GitHubActions trusts token.actions.githubusercontent.com:sub 'repo:*': a wildcard or non-repository subject lets other repositories, branches or environments assume this role; name exact subjects (repo:<org>/<repo>:environment:<stack>)",
    ],
    'rollout-no-analysis': [BG_MESSAGE],
    'appconfig-no-bake': [
        'finalBakeTimeInMinutes is 0: nothing watches the alarms after the flag change reaches 100 %. Set apps.<app>.featureFlags.strategy.finalBakeTimeInMinutes above 0 in Pulumi.<stack>.yaml.',
    ],
    'vpce-no-policy': [
        "com.amazonaws.us-east-2.kms: no endpoint policy, so AWS's default applies (full access: any principal, any action, any resource, in any account). Give it a policy naming this account (components/network.py).",
    ],
    'imds-two-hops': [
        "metadataOptions.httpPutResponseHopLimit is 2: a pod one network hop away could take the node role's credentials from the instance metadata service. Set httpPutResponseHopLimit=1 on the launch template (pods get AWS credentials from IRSA).",
    ],
    'pod-non-root-container-false': [
        "container nlfhir: securityContext.runAsNonRoot is false: the container overrides the pod's setting and may run as root. Remove the override or set it to True.",
    ],
    'netpol-any-namespace': [
        "ingress rule #0 source #0 has an empty namespaceSelector (every namespace): name the callers' namespace explicitly (namespaceSelector.matchLabels kubernetes.io/metadata.name: <namespace>).",
    ],
    'replication-retention-short': [
        "retentionPeriod is 7 day(s); this stack requires at least 30 for the DR region's copies. Set database.<name>.backupRetentionDays: 30 or more in Pulumi.<stack>.yaml (the replication keeps the primary's retention).",
    ],
    'rds-unencrypted': [
        'storageEncrypted is not true: PHI databases (read replicas included) must be encrypted at rest. Set storageEncrypted=True in components/database.py; it is not a stack setting.',
        "kmsKeyId is not set: RDS storage must use the KeyRing's 'database' customer-managed key. Pass kmsKeyId=keys.arn('database') (the DR ring's key for cross-region replicas).",
    ],
    'rds-aws-managed-key': [
        "kmsKeyId is the AWS-managed key alias/aws/rds: RDS storage must use the KeyRing's 'database' customer-managed key. Pass kmsKeyId=keys.arn('database') (the DR ring's key for cross-region replicas).",
    ],
    'rds-cross-region-replica-no-key': [
        "kmsKeyId is not set: RDS storage must use the KeyRing's 'database' customer-managed key. Pass kmsKeyId=keys.arn('database') (the DR ring's key for cross-region replicas).",
    ],
    'rds-cluster-unencrypted': [
        'storageEncrypted is not true: PHI databases (read replicas included) must be encrypted at rest. Set storageEncrypted=True in components/database.py; it is not a stack setting.',
    ],
    'pi-aws-key': [
        "performanceInsightsKmsKeyId is not set: Performance Insights is enabled and stores SQL text, so it must use the 'database' customer-managed key. Set performanceInsightsKmsKeyId=keys.arn('database').",
    ],
    'redis-at-rest-off': [
        'atRestEncryptionEnabled is not true: cached PHI must be encrypted at rest (it cannot be turned on later without replacing the group). Set atRestEncryptionEnabled=True in components/cache.py.',
    ],
    'redis-no-cmk': [
        "kmsKeyId is not set: the cache must use the KeyRing's 'cache' customer-managed key. Pass kmsKeyId=keys.arn('cache').",
    ],
    'msk-aws-key': [
        "encryptionInfo.encryptionAtRestKmsKeyArn is not set: without it MSK uses an AWS-managed key. Set encryptionInfo.encryptionAtRestKmsKeyArn=keys.arn('streaming') in components/streaming.py.",
    ],
    'lt-ebs-unencrypted': [
        "/dev/xvda: encrypted is not true: every EBS volume of a node that runs PHI workloads must be encrypted. Set encrypted='true' with kmsKeyId=keys.arn('ebs').",
    ],
    'lt-ebs-aws-key': [
        "/dev/xvda: kmsKeyId is the AWS-managed key alias/aws/ebs: EBS volumes must use the KeyRing's 'ebs' customer-managed key. Set kmsKeyId=keys.arn('ebs').",
    ],
    'lt-no-mappings': [
        "blockDeviceMappings is empty: the node root volume would take the AMI's unencrypted default. Declare the root device (/dev/xvda) with ebs.encrypted='true' and ebs.kmsKeyId=keys.arn('ebs').",
    ],
    'volume-plain': [
        "volume: encrypted is not true: every EBS volume of a node that runs PHI workloads must be encrypted. Set encrypted='true' with kmsKeyId=keys.arn('ebs').",
        "volume: kmsKeyId is not set: EBS volumes must use the KeyRing's 'ebs' customer-managed key. Set kmsKeyId=keys.arn('ebs').",
    ],
    'sc-unencrypted': [
        'parameters.encrypted is not "true": persistent volumes (ChromaDB\'s PHI-derived vectors) must be encrypted. Set parameters {encrypted: "true", kmsKeyId: keys.arn(\'ebs\')} on the StorageClass.',
        "parameters.kmsKeyId is not set: the EBS CSI driver would use the AWS-managed aws/ebs key. Set parameters.kmsKeyId to keys.arn('ebs').",
    ],
    'eks-secrets-plain': [
        'encryptionConfig.resources does not include "secrets": Kubernetes secrets (database credentials) must be envelope-encrypted. Set encryptionConfig={resources: [\'secrets\'], provider: {keyArn: keys.arn(\'eks\')}} in components/eks/control_plane.py.',
    ],
    'eks-secrets-no-key': [
        "encryptionConfig.provider.keyArn is not set: secrets must be encrypted with the KeyRing's 'eks' key. Set encryptionConfig.provider.keyArn=keys.arn('eks').",
    ],
    'log-group-plain': [
        "kmsKeyId is not set: logs may contain PHI and must be encrypted with the KeyRing's 'logs' key. Set kmsKeyId=keys.arn('logs') on the log group.",
    ],
    'sns-aws-key': [
        "kmsMasterKeyId is the AWS-managed key alias/aws/sns: alarm and notification topics must be encrypted with a customer-managed key (alias/aws/sns cannot be used by CloudWatch alarms). Use components.alert_topic.AlertTopic (the 'alerts' key).",
    ],
    'vault-no-key': [
        "kmsKeyArn is not set: recovery points must be encrypted with the KeyRing's 'backup' key (the DR ring's 'backup' key for the DR vault). Set kmsKeyArn=keys.arn('backup').",
    ],
    'secret-aws-key': [
        "kmsKeyId is not set: secrets must be encrypted with the KeyRing's 'secrets' key, not aws/secretsmanager. Set kmsKeyId=keys.arn('secrets').",
    ],
    'key-phi-iam-delegated': [
        "PHI key (DataDomain unset) has no statement denying kms:Encrypt, kms:Decrypt, kms:ReEncrypt*, kms:GenerateDataKey*, kms:CreateGrant to Principal '*' unless kms:ViaService is its owning service: an IAM policy or a grant could use it directly. Keep the key ring's DenyUseOutsideOwningService statement (components/encryption.py, PHI_DOMAINS).",
    ],
    'key-no-rotation': [
        'enableKeyRotation is not true: keys that protect PHI must rotate. Set enableKeyRotation=True (components/encryption.py) with rotationPeriodInDays from encryption.rotationPeriodDays.',
    ],
    'key-disabled': [
        'isEnabled is false: a disabled key cannot rotate or decrypt. Remove isEnabled=False.',
    ],
    'redis-plaintext': [
        'transitEncryptionEnabled is not true: Redis traffic carries PHI and must use TLS. Set transitEncryptionEnabled=True (with an AUTH token or RBAC) in components/cache.py.',
    ],
    'redis-tls-preferred': [
        "transitEncryptionMode is 'preferred': plaintext clients are still accepted. Set transitEncryptionMode='required'.",
    ],
    'msk-client-plaintext': [
        "encryptionInfo.encryptionInTransit.clientBroker is 'TLS_PLAINTEXT': clients could send PHI in plaintext. Set clientBroker='TLS' in components/streaming.py.",
    ],
    'msk-in-cluster-plain': [
        'encryptionInfo.encryptionInTransit.inCluster is false: broker-to-broker replication would be plaintext. Set inCluster=True (the default) in components/streaming.py.',
    ],
    'force-ssl-off': [
        "rds.force_ssl is '0' in parameter group family postgres16: PostgreSQL must refuse plaintext connections. Add the parameter {name: 'rds.force_ssl', value: '1'}.",
    ],
    'force-ssl-missing': [
        "rds.force_ssl is not set in parameter group family postgres16: PostgreSQL must refuse plaintext connections. Add the parameter {name: 'rds.force_ssl', value: '1'}.",
    ],
    'instance-default-group': [
        "parameterGroupName is 'default.postgres16': the default parameter group cannot set rds.force_ssl=1. Attach the component's custom parameter group (replicas included).",
    ],
    'replica-no-group': [
        "parameterGroupName is not set: the default parameter group cannot set rds.force_ssl=1. Attach the component's custom parameter group (replicas included).",
    ],
    'cf-allow-all': [
        "defaultCacheBehavior.viewerProtocolPolicy is 'allow-all': viewers could reach PHI over HTTP. Set viewerProtocolPolicy='redirect-to-https' in components/edge.py.",
        "orderedCacheBehaviors[/static/*].viewerProtocolPolicy is 'allow-all': viewers could reach PHI over HTTP. Set viewerProtocolPolicy='redirect-to-https' in components/edge.py.",
    ],
    'cf-default-cert': [
        "viewerCertificate.cloudfrontDefaultCertificate is true: the *.cloudfront.net certificate allows TLS 1.0. Use the ACM certificate (us-east-1) with minimumProtocolVersion='TLSv1.2_2021'.",
    ],
    'cf-tls1': [
        "viewerCertificate.minimumProtocolVersion is 'TLSv1_2016': viewers must use TLS 1.2 with the 2021 ciphers or newer. Set minimumProtocolVersion='TLSv1.2_2021'.",
    ],
    'cf-tls12-2019': [
        "viewerCertificate.minimumProtocolVersion is 'TLSv1.2_2019': viewers must use TLS 1.2 with the 2021 ciphers or newer. Set minimumProtocolVersion='TLSv1.2_2021'.",
    ],
    'alb-ingress-tls-default': [
        "annotation alb.ingress.kubernetes.io/ssl-policy is not set (the controller's default ELBSecurityPolicy-2016-08 allows TLS 1.0): the ALB must negotiate TLS 1.2 or newer. Set it to 'ELBSecurityPolicy-TLS13-1-2-2021-06' (components/app_service/exposure.py).",
    ],
    'alb-ingress-tls-fs': [
        "annotation alb.ingress.kubernetes.io/ssl-policy is 'ELBSecurityPolicy-TLS-1-1-2017-01': the ALB must negotiate TLS 1.2 or newer. Set it to 'ELBSecurityPolicy-TLS13-1-2-2021-06' (components/app_service/exposure.py).",
    ],
    'cf-s3-no-oac': [
        "origin assets: an S3 origin without originAccessControlId: the bucket would have to be readable without CloudFront's signature. Set originAccessControlId to the edge's OriginAccessControl (components/edge.py).",
    ],
    'cf-s3-oai': [
        "origin assets: uses the legacy origin access identity 'origin-access-identity/cloudfront/E1OAI': use Origin Access Control (SigV4, SSE-KMS support) instead (components/edge.py).",
    ],
    'alb-ingress-no-waf': [
        "an internet-facing ALB Ingress without the annotation alb.ingress.kubernetes.io/wafv2-acl-arn: the ALB would take requests with no managed rules or rate limit. Publish the app through the edge (published: true), which sets the regional web ACL.",
    ],
    'cf-origin-http': [
        "origin alb: originProtocolPolicy is 'match-viewer': the edge-to-origin hop would carry PHI in plaintext. Set originProtocolPolicy='https-only'.",
        "origin alb: originSslProtocols allows TLSv1, TLSv1.1: only TLS 1.2 may be used. Set originSslProtocols=['TLSv1.2'].",
    ],
    'listener-old-policy': [
        "sslPolicy is 'ELBSecurityPolicy-2016-08': listeners must negotiate TLS 1.2 or newer. Set sslPolicy='ELBSecurityPolicy-TLS13-1-2-2021-06'.",
    ],
    'listener-no-policy': [
        "sslPolicy is not set (ELBSecurityPolicy-2016-08 allows TLS 1.0): listeners must negotiate TLS 1.2 or newer. Set sslPolicy='ELBSecurityPolicy-TLS13-1-2-2021-06'.",
    ],
    'listener-http-forward': [
        "protocol is 'HTTP' and the listener does not only redirect to HTTPS: PHI would cross the network in plaintext. Use protocol='HTTPS' with an ACM certificate, or make every default action a redirect to HTTPS (status HTTP_301).",
    ],
    'rds-single-az': [
        'multiAz is not true: an AZ outage would take the PHI database down. Set database.<name>.multiAz: true in Pulumi.<stack>.yaml.',
    ],
    'redis-single-az': [
        'multiAzEnabled is not true: a primary node failure would not fail over to another AZ. Set cache.multiAz: true (with cache.replicasPerShard >= 1) in Pulumi.<stack>.yaml.',
        'automaticFailoverEnabled is not true: a replica would not be promoted when the primary fails. Set automaticFailoverEnabled=True (it follows cache.multiAz).',
        'the replication group has no replica: failover needs at least one replica per shard. Set cache.replicasPerShard: 1 or more in Pulumi.<stack>.yaml.',
    ],
    'redis-one-cluster': [
        'the replication group has no replica: failover needs at least one replica per shard. Set cache.replicasPerShard: 1 or more in Pulumi.<stack>.yaml.',
    ],
    'msk-one-az': [
        'brokerNodeGroupInfo.clientSubnets spans 1 AZ(s); this stack requires 3. Place brokers in one private subnet per AZ and set network.azCount in Pulumi.<stack>.yaml.',
    ],
    'msk-uneven': [
        'numberOfBrokerNodes is 4, not a multiple of the 3 client subnets: MSK needs the same number of brokers in every AZ. Set streaming.brokerCount to a multiple of network.azCount.',
    ],
    'nodes-two-azs': [
        'subnetIds spans 2 subnet(s); this stack requires nodes in 3 AZs. Give the node group every private subnet (network.azCount in Pulumi.<stack>.yaml).',
    ],
    'nodes-scale-to-zero': [
        'scalingConfig.minSize is 0: a pool that may scale to zero takes its workloads down. Set eks.nodePools.<pool>.min: 1 or more in Pulumi.<stack>.yaml.',
    ],
    'rds-retention-short': [
        'backupRetentionPeriod is 7 day(s); this stack requires at least 30. Set database.<name>.backupRetentionDays: 30 or more in Pulumi.<stack>.yaml.',
    ],
    'rds-retention-unset': [
        'backupRetentionPeriod is not set (AWS default 1 day); this stack requires at least 30. Set database.<name>.backupRetentionDays: 30 or more in Pulumi.<stack>.yaml.',
    ],
    'rds-deletable': [
        'deletionProtection is not true: one API call could delete the PHI database. Set protection.deletionProtection: true in Pulumi.<stack>.yaml.',
    ],
    'rds-skip-final': [
        'skipFinalSnapshot is true: deleting the database would discard its data. Set protection.skipFinalSnapshot: false in Pulumi.<stack>.yaml.',
    ],
    'rds-no-final-id': [
        "finalSnapshotIdentifier is not set: RDS refuses to delete without it, or the snapshot is lost when skipFinalSnapshot is flipped. Set finalSnapshotIdentifier (e.g. '<name>-final').",
    ],
    'redis-no-snapshots': [
        'snapshotRetentionLimit is 0 day(s); this stack requires at least 7. Set cache.snapshotRetentionDays: 7 or more in Pulumi.<stack>.yaml.',
    ],
    'plan-retention-short': [
        'rule daily: lifecycle.deleteAfter is 7 day(s); this stack requires at least 30. Set backup.retentionDays: 30 or more in Pulumi.<stack>.yaml.',
        'rule daily: copyActions.lifecycle.deleteAfter is 7 day(s); this stack requires at least 30. Set backup.retentionDays: 30 or more in Pulumi.<stack>.yaml.',
    ],
    'plan-no-copy': [
        'rule daily: no copy action targets a vault in us-west-2 (found: none). Set backup.copyToDr: true and regions.dr: us-west-2 in Pulumi.<stack>.yaml.',
    ],
    'plan-copy-wrong-region': [
        'rule daily: no copy action targets a vault in eu-west-1 (found: us-west-2). Set backup.copyToDr: true and regions.dr: eu-west-1 in Pulumi.<stack>.yaml.',
    ],
    'rds-unprotected': [
        "protect is not set: `pulumi destroy` or a replacement could delete this store's data. Set protection.protect: true in Pulumi.<stack>.yaml (the component passes it as protect=).",
    ],
    'bucket-unprotected': [
        "protect is not set: `pulumi destroy` or a replacement could delete this store's data. Set protection.protect: true in Pulumi.<stack>.yaml (the component passes it as protect=).",
    ],
    'key-unprotected': [
        "protect is not set: `pulumi destroy` or a replacement could delete this store's data. Set protection.protect: true in Pulumi.<stack>.yaml (the component passes it as protect=).",
    ],
    'bucket-force-destroy': [
        'forceDestroy is true: deleting the bucket would delete every object version in it. Set protection.forceDestroyBuckets: false in Pulumi.<stack>.yaml.',
    ],
    'sc-delete': [
        "reclaimPolicy is not set (Delete): deleting a PersistentVolumeClaim would delete its EBS volume and data. Set reclaimPolicy='Retain' on the StorageClass (protection.protect in Pulumi.<stack>.yaml).",
    ],
    'rds-public': [
        'publiclyAccessible is true: the database would get a public DNS name and address. Set publiclyAccessible=False and keep it in the database subnets (components/database.py).',
    ],
    'msk-public': [
        "brokerNodeGroupInfo.connectivityInfo.publicAccess.type is 'SERVICE_PROVIDED_EIPS': brokers would be reachable from the internet. Set publicAccess.type='DISABLED' (or omit it) in components/streaming.py.",
    ],
    'sg-postgres-open': [
        "ingress from 0.0.0.0/0 on port 5432: only HTTPS (443) to a load balancer's security group (tagged Purpose=load-balancer) may be open to the internet. Restrict the source to a security group or the VPC CIDR (network.vpcCidr).",
    ],
    'sg-alb-http-open': [
        "ingress from 0.0.0.0/0 on port 80: only HTTPS (443) to a load balancer's security group (tagged Purpose=load-balancer) may be open to the internet. Restrict the source to a security group or the VPC CIDR (network.vpcCidr).",
    ],
    'sg-untagged-https-open': [
        "ingress from 0.0.0.0/0, ::/0 on port 443: only HTTPS (443) to a load balancer's security group (tagged Purpose=load-balancer) may be open to the internet. Restrict the source to a security group or the VPC CIDR (network.vpcCidr).",
    ],
    'sg-all-open': [
        "ingress from ::/0 on all ports: only HTTPS (443) to a load balancer's security group (tagged Purpose=load-balancer) may be open to the internet. Restrict the source to a security group or the VPC CIDR (network.vpcCidr).",
    ],
    'sg-rule-ssh-open': [
        "ingress from 0.0.0.0/0 on port 22: only HTTPS (443) to a load balancer's security group (tagged Purpose=load-balancer) may be open to the internet. Restrict the source to a security group or the VPC CIDR (network.vpcCidr).",
    ],
    'sg-ingress-rule-redis-open': [
        "ingress from 0.0.0.0/0 on port 6379: only HTTPS (443) to a load balancer's security group (tagged Purpose=load-balancer) may be open to the internet. Restrict the source to a security group or the VPC CIDR (network.vpcCidr).",
    ],
    'eks-public-required-private': [
        'vpcConfig.endpointPublicAccess is not false: this stack requires a private-only API endpoint. Set eks.endpointPublicAccess: false in Pulumi.<stack>.yaml.',
    ],
    'eks-public-default': [
        'vpcConfig.endpointPrivateAccess is not true: nodes and operators inside the VPC would reach the API over the internet. Set endpointPrivateAccess=True in components/eks/control_plane.py.',
        "vpcConfig.publicAccessCidrs is open to the internet (0.0.0.0/0 is EKS's default): a public endpoint must be limited to known networks. Set eks.publicAccessCidrs in Pulumi.<stack>.yaml.",
    ],
    'eks-public-world-dev': [
        "vpcConfig.publicAccessCidrs is open to the internet (0.0.0.0/0 is EKS's default): a public endpoint must be limited to known networks. Set eks.publicAccessCidrs in Pulumi.<stack>.yaml.",
    ],
    'imds-v1': [
        "metadataOptions.httpTokens is 'optional': IMDSv1 lets any SSRF read the node role's credentials. Set metadataOptions={httpTokens: 'required', httpPutResponseHopLimit: 1} on the launch template.",
    ],
    'imds-unset': [
        "metadataOptions.httpTokens is not set (optional): IMDSv1 lets any SSRF read the node role's credentials. Set metadataOptions={httpTokens: 'required', httpPutResponseHopLimit: 1} on the launch template.",
    ],
    'key-policy-open': [
        "statement Open allows Principal '*' without an aws:PrincipalAccount, aws:SourceAccount, aws:PrincipalOrgID or kms:CallerAccount condition: anyone could use it. Name the account root or role ARNs (encryption.keyAdminArns) or add such a condition.",
    ],
    'bucket-policy-public-read': [
        "statement #0 allows Principal '*' without an aws:PrincipalAccount, aws:SourceAccount, aws:PrincipalOrgID or kms:CallerAccount condition: anyone could use it. Name the account root or role ARNs (encryption.keyAdminArns) or add such a condition.",
    ],
    'subnet-public-ips': [
        'mapPublicIpOnLaunch is true: every instance launched here would get a public address. Set mapPublicIpOnLaunch=False (components/network.py).',
    ],
    'eks-api-log-only': [
        "enabledClusterLogTypes is missing audit, authenticator, controllerManager, scheduler: every API call to the cluster must be auditable. Set enabledClusterLogTypes=['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'] in components/eks/control_plane.py.",
    ],
    'rds-no-logs': [
        'enabledCloudwatchLogsExports does not include "postgresql": connection and statement logs (the database\'s audit trail) would stay on the instance. Set enabledCloudwatchLogsExports=[\'postgresql\', \'upgrade\'] in components/database.py.',
    ],
    'replica-no-logs': [
        'enabledCloudwatchLogsExports does not include "postgresql": connection and statement logs (the database\'s audit trail) would stay on the instance. Set enabledCloudwatchLogsExports=[\'postgresql\', \'upgrade\'] in components/database.py.',
    ],
    'msk-no-logs': [
        'loggingInfo.brokerLogs enables no destination: broker connection and authorization events would be lost. Set loggingInfo.brokerLogs.cloudwatchLogs={enabled: True, logGroup: <KMS-encrypted group>}.',
    ],
    'msk-logs-disabled': [
        'loggingInfo.brokerLogs enables no destination: broker connection and authorization events would be lost. Set loggingInfo.brokerLogs.cloudwatchLogs={enabled: True, logGroup: <KMS-encrypted group>}.',
    ],
    'waf-redacts-cookie-only': [
        "redactedFields does not redact the authorization header(s): WAF request logs of a PHI API would hold credentials. Add redactedFields=[{singleHeader: {name: 'authorization'}}, {singleHeader: {name: 'cookie'}}] (components/edge_waf.py).",
    ],
    'waf-redacts-nothing': [
        "redactedFields does not redact the authorization, cookie header(s): WAF request logs of a PHI API would hold credentials. Add redactedFields=[{singleHeader: {name: 'authorization'}}, {singleHeader: {name: 'cookie'}}] (components/edge_waf.py).",
    ],
    'trail-weak': [
        'enableLogFileValidation is not true: tampering with the audit trail could not be detected. Set enableLogFileValidation=True on the trail.',
        'isMultiRegionTrail is not true: API calls in the DR and edge regions would not be recorded. Set isMultiRegionTrail=True.',
        'enableLogging is false: the trail records nothing. Remove enableLogging=False.',
    ],
    'log-retention-short': [
        'retentionInDays is 30; this stack requires at least 365. Set observability.logRetentionDays (network.flowLogs.retentionDays for flow logs) to 365 or more in Pulumi.<stack>.yaml.',
    ],
    'limits-missing': [
        'container nlfhir: resources requests.memory, limits.cpu, limits.memory not set: a container without them can starve its neighbours (and be evicted first). Set apps.<app>.cpu and apps.<app>.memory in Pulumi.<stack>.yaml (the component sets requests and limits from them).',
    ],
    'probes-missing': [
        "container nlfhir: livenessProbe and readinessProbe not set: a hung replica would keep receiving traffic and never be restarted. Declare both probes (the app's health endpoint) in the component.",
    ],
    'root-user': [
        "container nlfhir: runAsUser is 0: the container would run as root. Set securityContext.runAsUser to the image's non-root UID with runAsNonRoot=True.",
    ],
    'non-root-unset': [
        'container shell: runAsNonRoot is not true (pod or container securityContext): the kubelet would start an image whose user is root. Set securityContext.runAsNonRoot=True.',
    ],
    'escalation-default': [
        'container nlfhir: securityContext.allowPrivilegeEscalation is not false (Kubernetes defaults to true): setuid binaries could gain root. Set allowPrivilegeEscalation=False.',
    ],
    'rw-root': [
        'container nlfhir: securityContext.readOnlyRootFilesystem is not true: an attacker could alter the running image. Set readOnlyRootFilesystem=True and mount an emptyDir for /tmp.',
    ],
    'privileged': [
        "pod spec sets hostNetwork: the pod would share the node's namespaces. Remove them.",
        'container nlfhir: securityContext.privileged is true: the container would have full access to the node. Remove privileged=True.',
        "container nlfhir: securityContext.capabilities.add grants SYS_ADMIN: drop them (capabilities.drop=['ALL']).",
    ],
    'image-latest': [
        "container nlfhir: image '333333333333.dkr.ecr.us-east-2.amazonaws.com/nl-fhir:latest' uses the mutable tag 'latest': what runs could change without a deploy. Pin apps.<app>.image to a version (repo:1.2.3) or a digest (repo@sha256:...) in Pulumi.<stack>.yaml.",
    ],
    'image-untagged-registry-port': [
        "container nlfhir: image 'registry:5000/vacuum' has no tag (it means :latest): what runs could change without a deploy. Pin apps.<app>.image to a version (repo:1.2.3) or a digest (repo@sha256:...) in Pulumi.<stack>.yaml.",
    ],
    'helm-resources-missing': [
        'Alertmanager (alertmanager.alertmanagerSpec.resources): requests.cpu, requests.memory, limits.cpu, limits.memory not set: a pod without them can starve its neighbours (and be evicted first). Set them in components/monitoring/values.py.',
        'Grafana (grafana.resources): limits.cpu, limits.memory not set: a pod without them can starve its neighbours (and be evicted first). Set them in components/monitoring/values.py.',
    ],
    'grafana-admin-plain': [
        "adminPassword is set: the Grafana admin password would sit in plain text in the release's values (the Pulumi state, `helm get values`). Remove it and give admin.existingSecret instead.",
        'admin.existingSecret is not set: the chart would generate the admin password (or use its default) and keep it in a Secret nobody rotates. Point it at the Secret External Secrets writes from Secrets Manager (grafana-admin, components/monitoring/stack.py).',
    ],
    'grafana-chart-generated': [
        'admin.existingSecret is not set: the chart would generate the admin password (or use its default) and keep it in a Secret nobody rotates. Point it at the Secret External Secrets writes from Secrets Manager (grafana-admin, components/monitoring/stack.py).',
    ],
    'tags-missing': [
        'tags is missing Environment, Owner, CostCenter, DataClassification, ManagedBy: every taggable resource must be attributable to an owner and a data classification. Pass tags=tags_for(tags, name) (components.common); the values come from environment.owner, environment.costCenter and environment.dataClassification in Pulumi.<stack>.yaml.',
    ],
    'tags-absent': [
        'tags is missing Project, Environment, Owner, CostCenter, DataClassification, ManagedBy: every taggable resource must be attributable to an owner and a data classification. Pass tags=tags_for(tags, name) (components.common); the values come from environment.owner, environment.costCenter and environment.dataClassification in Pulumi.<stack>.yaml.',
    ],
    'prometheus-rule-no-severity-no-runbook': [
        "alert ErrorBudgetBurnCritical has severity 'critical': every alert needs a severity label P1, P2, P3 or P4, which Alertmanager routes on (P1/P2 page, P3/P4 ticket). Generate rules with components.alerting.rules.",
        "alert ErrorBudgetBurnCritical has runbook_url 'https://runbooks.example/ErrorBudgetBurnHigh.md': every alert needs a runbook_url annotation to <alerting.runbookBaseUrl>/ErrorBudgetBurnCritical.md, a page of docs/runbooks/alerts/ that on-call opens from the page.",
        "alert KubeNodeNotReady has severity None: every alert needs a severity label P1, P2, P3 or P4, which Alertmanager routes on (P1/P2 page, P3/P4 ticket). Generate rules with components.alerting.rules.",
        "alert KubeNodeNotReady has runbook_url None: every alert needs a runbook_url annotation to <alerting.runbookBaseUrl>/KubeNodeNotReady.md, a page of docs/runbooks/alerts/ that on-call opens from the page.",
    ],
    'tags-unlisted-type-with-tags': [
        'tags is missing Owner: every taggable resource must be attributable to an owner and a data classification. Pass tags=tags_for(tags, name) (components.common); the values come from environment.owner, environment.costCenter and environment.dataClassification in Pulumi.<stack>.yaml.',
    ],
}


def _messages(case_id: str) -> list[str]:
    return EXPECTED.get(case_id, [])


@pytest.mark.parametrize(("case_id", "policy", "type_", "props", "kwargs"), CASES, ids=[c[0] for c in CASES])
def test_policy_case(case_id: str, policy: str, type_: str, props: dict, kwargs: dict) -> None:
    assert check(policy, type_, props, **kwargs) == _messages(case_id)


def test_every_resource_policy_has_a_compliant_and_a_violating_case() -> None:
    outcomes: dict[str, set[bool]] = defaultdict(set)
    for case_id, policy, *_ in CASES:
        outcomes[policy].add(bool(_messages(case_id)))
    # The conformance-pack policies have their cases in test_conformance_policies.py (checked there).
    resource_policies = {name for name, info in REGISTRY.items()
                         if info.kind == "resource" and not info.module.endswith("conformance_rules")}
    assert {p for p in resource_policies if outcomes[p] != {True, False}} == set()
    assert set(outcomes) <= resource_policies


def test_every_expected_message_belongs_to_a_case() -> None:
    assert set(EXPECTED) <= {c[0] for c in CASES}


def test_a_policy_ignores_other_resource_types() -> None:
    assert check("rds-storage-encrypted", "aws:s3/bucket:Bucket", {"bucket": "b"}) == []
    assert check("k8s-probes", "kubernetes:batch/v1:Job", {"spec": {"template": {"spec": {
        "containers": [{k: v for k, v in CONTAINER.items() if not k.endswith("Probe")}]}}}}) == []


# --- vpc-endpoint-policy (policies/network_access.py) -----------------------------------------------------------
def test_vpc_endpoint_policy() -> None:
    from components.network import interface_endpoint_policy, s3_endpoint_policy

    vpce_t = "aws:ec2/vpcEndpoint:VpcEndpoint"
    s3 = {"vpcId": "vpc-1", "serviceName": "com.amazonaws.us-east-2.s3", "vpcEndpointType": "Gateway",
          "policy": s3_endpoint_policy("care-prod", "us-east-2", "333333333333")}
    sts = {"vpcId": "vpc-1", "serviceName": "com.amazonaws.us-east-2.sts", "vpcEndpointType": "Interface",
           "policy": interface_endpoint_policy("sts", "333333333333")}
    assert check("vpc-endpoint-policy", vpce_t, s3) == []
    assert check("vpc-endpoint-policy", vpce_t, sts) == []
    assert check("vpc-endpoint-policy", vpce_t, {**sts, "policy": U}) == []  # decided when known
    assert check("vpc-endpoint-policy", vpce_t, {k: v for k, v in sts.items() if k != "policy"}) == [
        "com.amazonaws.us-east-2.sts: no endpoint policy, so AWS's default applies (full access: any principal, "
        "any action, any resource, in any account). Give it a policy naming this account (components/network.py)."]
    default = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]})
    assert check("vpc-endpoint-policy", vpce_t, {**s3, "policy": default}) == [
        "com.amazonaws.us-east-2.s3: the endpoint policy allows any principal every action on every resource "
        "without a condition (AWS's full-access default). Limit it to this account (aws:PrincipalAccount, "
        "aws:ResourceAccount) and, for S3, to this stack's buckets (components/network.py)."]


def test_endpoint_policy_documents() -> None:
    from components.network import interface_endpoint_policy, s3_endpoint_policy

    assert json.loads(s3_endpoint_policy("care-prod", "us-east-2", "333333333333"))["Statement"] == [
        {"Sid": "ThisStacksBuckets", "Effect": "Allow", "Principal": "*", "Action": "s3:*",
         "Resource": ["arn:aws:s3:::care-prod-*-333333333333", "arn:aws:s3:::care-prod-*-333333333333/*"],
         "Condition": {"StringEquals": {"aws:PrincipalAccount": "333333333333",
                                        "aws:ResourceAccount": "333333333333"}}},
        {"Sid": "EcrImageLayers", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::prod-us-east-2-starport-layer-bucket/*"}]
    conditions = {s: json.loads(interface_endpoint_policy(s, "333333333333"))["Statement"][0]["Condition"]
                  for s in ("ecr.dkr", "kms", "secretsmanager", "logs", "sts")}
    assert conditions == {
        "ecr.dkr": {"StringEquals": {"aws:PrincipalAccount": "333333333333"}},
        **{s: {"StringEquals": {"aws:PrincipalAccount": "333333333333", "aws:ResourceAccount": "333333333333"}}
           for s in ("kms", "secretsmanager", "logs")},
        "sts": {"StringEquals": {"aws:PrincipalAccount": "333333333333"}},
    }
    assert json.loads(interface_endpoint_policy("sts", "333333333333"))["Statement"][1] == {
        "Sid": "IrsaWebIdentity", "Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRoleWithWebIdentity",
        "Resource": "arn:aws:iam::333333333333:role/*"}

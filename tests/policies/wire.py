"""Realistic wire inputs (camelCase, as the engine sends them), taken from the rendered prod plan."""

from __future__ import annotations

import json

from tests.policies.support import ACCOUNT, DR, PRIMARY, U, key_arn  # noqa: F401

TAGS = {"Project": "care-platform", "Environment": "prod", "Owner": "platform-team@care.example",
        "CostCenter": "CC-1024-PLATFORM", "DataClassification": "phi", "ManagedBy": "pulumi"}
DB_KEY = key_arn()
RDS_PRIMARY = {
    "allocatedStorage": 20, "backupRetentionPeriod": 30, "deletionProtection": True,
    "enabledCloudwatchLogsExports": ["postgresql", "upgrade"], "engine": "postgres", "engineVersion": "16.4",
    "finalSnapshotIdentifier": "care-prod-nlfhir-final", "identifier": "care-prod-nlfhir",
    "instanceClass": "db.t4g.medium", "kmsKeyId": DB_KEY, "multiAz": True,
    "parameterGroupName": "care-prod-nlfhir-params",
    "performanceInsightsEnabled": True, "performanceInsightsKmsKeyId": DB_KEY, "publiclyAccessible": False,
    "skipFinalSnapshot": False, "storageEncrypted": True, "storageType": "gp3", "username": "care_admin",
    "password": {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "s3cret"},
    "tags": TAGS,
}
RDS_REPLICA = {"parameterGroupName": "care-prod-prm-replica-params", "storageEncrypted": True, "multiAz": False,
               "replicateSourceDb": "care-prod-prm", "identifier": "care-prod-prm-replica-1",
               "enabledCloudwatchLogsExports": ["postgresql", "upgrade"], "tags": TAGS}
PARAMS = {"description": "TLS only", "family": "postgres16", "name": "care-prod-nlfhir-params", "parameters": [
    {"applyMethod": "immediate", "name": "rds.force_ssl", "value": "1"},
    {"applyMethod": "immediate", "name": "log_connections", "value": "1"}], "tags": TAGS}
REDIS = {"atRestEncryptionEnabled": True, "authTokenUpdateStrategy": "DELETE", "automaticFailoverEnabled": True,
         "clusterMode": "enabled", "engine": "redis", "engineVersion": "7.1",
         "kmsKeyId": key_arn("4b090bfc-ab85-47a2-82f0-e67ccfb0af90"), "multiAzEnabled": True,
         "nodeType": "cache.r6g.large", "numNodeGroups": 3, "replicasPerNodeGroup": 1,
         "replicationGroupId": "care-prod-redis", "snapshotRetentionLimit": 7, "transitEncryptionEnabled": True,
         "userGroupIds": ["care-prod-redis-users"], "tags": TAGS}
SUBNETS3 = ["subnet-12b9409e006e38a2b", "subnet-913af2b26c32991be", "subnet-a8bdb2833946f45a6"]
MSK = {"brokerNodeGroupInfo": {"clientSubnets": SUBNETS3, "instanceType": "kafka.m5.large",
                               "securityGroups": ["sg-69db8ad59e0ca3889"],
                               "storageInfo": {"ebsStorageInfo": {"volumeSize": 500}}},
       "clusterName": "care-prod-kafka", "kafkaVersion": "3.6.0", "numberOfBrokerNodes": 3,
       "encryptionInfo": {"encryptionAtRestKmsKeyArn": key_arn("a5e5e161-b906-41b6-84c0-ee2f72988226"),
                          "encryptionInTransit": {"clientBroker": "TLS", "inCluster": True}},
       "loggingInfo": {"brokerLogs": {"cloudwatchLogs": {"enabled": True,
                                                         "logGroup": "/aws/msk/care-prod-kafka/broker"}}},
       "tags": TAGS}
EKS = {"enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
       "encryptionConfig": {"provider": {"keyArn": key_arn("3a5a45eb-77aa-4f28-87e0-2ffcbdd43e29")},
                            "resources": ["secrets"]},
       "name": "care-prod-eks", "roleArn": f"arn:aws:iam::{ACCOUNT}:role/care-prod-eks-cluster-role", "version": "1.31",
       "vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": False, "subnetIds": SUBNETS3},
       "tags": TAGS}
NODE_GROUP = {"clusterName": "care-prod-eks", "instanceTypes": ["m5.xlarge"],
              "launchTemplate": {"id": "lt-3216db3675fef0d4d", "version": "1"},
              "scalingConfig": {"desiredSize": 6, "maxSize": 12, "minSize": 3}, "subnetIds": SUBNETS3, "tags": TAGS}
EBS_KEY = key_arn("8dba2e11-1296-4f78-8330-0aa38f8bf6ca")
LAUNCH_TEMPLATE = {
    "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"deleteOnTermination": "true", "encrypted": "true",
                                                                 "kmsKeyId": EBS_KEY, "volumeSize": 50,
                                                                 "volumeType": "gp3"}}],
    "metadataOptions": {"httpEndpoint": "enabled", "httpPutResponseHopLimit": 1, "httpTokens": "required"},
    "tags": TAGS}
STORAGE_CLASS = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "gp3-encrypted"},
                 "parameters": {"encrypted": "true", "kmsKeyId": EBS_KEY, "tagSpecification_1": "Backup=true",
                                "type": "gp3"},
                 "provisioner": "ebs.csi.aws.com", "reclaimPolicy": "Retain",
                 "volumeBindingMode": "WaitForFirstConsumer"}
LOGS_KEY = key_arn("28bcf2b9-e269-4ab6-8ed0-1cdaabf45304")
LOG_GROUP = {"kmsKeyId": LOGS_KEY, "name": "/aws/vpc/care-prod/flow-logs", "retentionInDays": 365, "tags": TAGS}
SNS = {"name": "care-prod-alarms", "kmsMasterKeyId": LOGS_KEY, "tags": TAGS}
VAULT = {"forceDestroy": False, "kmsKeyArn": key_arn("2efeee9c-c56f-4fd6-8790-91cec29422bf", DR),
         "name": "care-prod-backup-dr-vault", "tags": TAGS}
SECRET = {"description": "ChromaDB client token", "kmsKeyId": key_arn("7b2cec0e-6c7a-4d59-8660-ca508d89fca3"),
          "name": "care-prod-chromadb/auth-token", "recoveryWindowInDays": 7, "tags": TAGS}
KEY_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "EnableIamPolicies", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
     "Action": "kms:*", "Resource": "*"},
    {"Sid": "UseThroughOwningService", "Effect": "Allow", "Principal": {"AWS": "*"},
     "Action": ["kms:Decrypt"], "Resource": "*",
     "Condition": {"StringEquals": {"kms:ViaService": f"rds.{PRIMARY}.amazonaws.com", "kms:CallerAccount": ACCOUNT}}}]}
KMS_KEY = {"customerMasterKeySpec": "SYMMETRIC_DEFAULT", "enableKeyRotation": True, "rotationPeriodInDays": 365,
           "deletionWindowInDays": 30, "description": "care-platform/prod database data (us-east-2)",
           "policy": json.dumps(KEY_POLICY), "tags": TAGS}
CLOUDFRONT = {
    "enabled": True, "webAclId": f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/care-prod-edge/abc",
    "defaultCacheBehavior": {"targetOriginId": "alb", "viewerProtocolPolicy": "redirect-to-https",
                             "allowedMethods": ["GET", "HEAD"], "cachedMethods": ["GET", "HEAD"]},
    "orderedCacheBehaviors": [{"pathPattern": "/static/*", "targetOriginId": "assets",
                               "viewerProtocolPolicy": "https-only"}],
    "origins": [{"originId": "alb", "domainName": "api.care.example",
                 "customOriginConfig": {"httpPort": 80, "httpsPort": 443, "originProtocolPolicy": "https-only",
                                        "originSslProtocols": ["TLSv1.2"]}},
                {"originId": "assets", "domainName": "assets.s3.us-east-2.amazonaws.com",
                 "originAccessControlId": "E2OAC"}],
    "viewerCertificate": {"acmCertificateArn": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/1",
                          "minimumProtocolVersion": "TLSv1.2_2021", "sslSupportMethod": "sni-only"},
    "loggingConfig": {"bucket": "care-prod-cdn-logs.s3.amazonaws.com", "prefix": "cloudfront/"},
    "restrictions": {"geoRestriction": {"restrictionType": "none"}}, "tags": TAGS}
LISTENER_HTTPS = {"loadBalancerArn": "arn:aws:elasticloadbalancing:...", "port": 443, "protocol": "HTTPS",
                  "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06", "certificateArn": "arn:aws:acm:...",
                  "defaultActions": [{"type": "forward", "targetGroupArn": "arn:tg"}], "tags": TAGS}
LISTENER_REDIRECT = {"port": 80, "protocol": "HTTP", "tags": TAGS, "defaultActions": [
    {"type": "redirect", "redirect": {"port": "443", "protocol": "HTTPS", "statusCode": "HTTP_301"}}]}
SG_WORKLOAD = {"vpcId": "vpc-40f0c4ed683dc27e6", "description": "EKS worker nodes",
               "egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}],
               "ingress": [{"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrBlocks": ["10.30.0.0/16"]}],
               "tags": TAGS}
SG_ALB = {"vpcId": "vpc-1", "description": "Public ALB", "tags": {**TAGS, "Purpose": "load-balancer"},
          "ingress": [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"],
                       "ipv6CidrBlocks": ["::/0"]}]}
TRAIL = {"name": "care-prod-trail", "s3BucketName": "care-prod-audit-logs", "enableLogFileValidation": True,
         "isMultiRegionTrail": True, "includeGlobalServiceEvents": True, "kmsKeyId": LOGS_KEY, "tags": TAGS}
BACKUP_PLAN = {"name": "care-prod-backup-daily", "tags": TAGS, "rules": [{
    "ruleName": "daily", "schedule": "cron(0 5 ? * * *)", "targetVaultName": "care-prod-backup-vault",
    "lifecycle": {"deleteAfter": 30},
    "copyActions": [{"lifecycle": {"deleteAfter": 30},
                     "destinationVaultArn": f"arn:aws:backup:{DR}:{ACCOUNT}:backup-vault:care-prod-backup-dr-vault"}]}]}
PITR_PLAN = {"name": "care-prod-backup-pitr", "tags": TAGS, "rules": [{
    "ruleName": "continuous", "schedule": "cron(0 5 ? * * *)", "targetVaultName": "care-prod-backup-vault",
    "enableContinuousBackup": True, "lifecycle": {"deleteAfter": 30}}]}
CONTAINER = {
    "name": "nlfhir", "image": f"{ACCOUNT}.dkr.ecr.{PRIMARY}.amazonaws.com/nl-fhir:1.0.0",
    "livenessProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 20},
    "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 10},
    "resources": {"limits": {"cpu": "2", "memory": "2Gi"}, "requests": {"cpu": "2", "memory": "2Gi"}},
    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "privileged": False,
                        "readOnlyRootFilesystem": True, "runAsNonRoot": True},
    "volumeMounts": [{"mountPath": "/tmp", "name": "tmp"}]}
POD_SPEC = {"automountServiceAccountToken": False, "containers": [CONTAINER],
            "securityContext": {"fsGroup": 10001, "runAsGroup": 10001, "runAsNonRoot": True, "runAsUser": 10001},
            "volumes": [{"name": "tmp", "emptyDir": {}}]}
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "nlfhir", "namespace": "nlfhir", "labels": {"app.kubernetes.io/name": "nlfhir"}},
              "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "nlfhir"}},
                       "template": {"metadata": {"labels": {"app.kubernetes.io/name": "nlfhir",
                                                            "app.kubernetes.io/version": "1.0.0"}},
                                    "spec": POD_SPEC}}}
CRONJOB = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "vacuum", "namespace": "nlfhir"},
           "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
               **POD_SPEC, "restartPolicy": "OnFailure",
               "containers": [{k: v for k, v in CONTAINER.items() if not k.endswith("Probe")}]}}}}}}
HPA = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
       "metadata": {"name": "nlfhir", "namespace": "nlfhir"},
       "spec": {"minReplicas": 2, "maxReplicas": 10,
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "nlfhir"}}}
PDB = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "nlfhir", "namespace": "nlfhir"},
       "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "nlfhir"}}}}
SUBNET = {"vpcId": "vpc-40f0c4ed683dc27e6", "availabilityZone": "us-east-2a", "cidrBlock": "10.30.0.0/19",
          "mapPublicIpOnLaunch": False, "tags": {**TAGS, "Tier": "private"}}

"""Wire inputs for the deploy-stage rule tests (camelCase, as the engine sends them; from the rendered prod plan)."""

from __future__ import annotations

from tests.policies.deploy.support import Res
from tests.policies.support import ACCOUNT, DR, PRIMARY, key_arn

RDS = "aws:rds/instance:Instance"
EKS = "aws:eks/cluster:Cluster"
PRIMARY_DB = {"identifier": "care-prod-prm", "engine": "postgres", "engineVersion": "17.7",
              "instanceClass": "db.r6g.xlarge", "allocatedStorage": 200, "storageType": "gp3",
              "storageEncrypted": True, "kmsKeyId": key_arn(),
              "backupWindow": "03:00-03:30", "maintenanceWindow": "sun:05:00-sun:06:00", "username": "care_admin",
              "multiAz": True, "tags": {"Backup": "true"}}
REPLICA = {"identifier": "care-prod-prm-replica-1", "replicateSourceDb": "care-prod-prm",
           "instanceClass": "db.r6g.xlarge", "storageEncrypted": True}
CLUSTER = {"name": "care-prod-eks", "version": "1.35",
           "roleArn": f"arn:aws:iam::{ACCOUNT}:role/care-prod-eks-cluster-role",
           "accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
           "vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": False,
                         "subnetIds": ["subnet-373d7c1325a3e98ba", "subnet-d9e7eeee8e12924f0"]}}
SLR_ARN = (f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling")
EBS_KEY_POLICY = ('{"Version": "2012-10-17", "Statement": [{"Sid": "AutoScalingUse", "Effect": "Allow", '
                  f'"Principal": {{"AWS": "{SLR_ARN}"}}, "Action": ["kms:Decrypt"], "Resource": "*"}}]}}')


def db(name: str = "care-prod-prm-primary", region: str = PRIMARY, **changes: object) -> Res:
    return Res(RDS, name, {**PRIMARY_DB, **changes}, region=region)


def cluster(**changes: object) -> Res:
    return Res(EKS, "care-prod-eks-cluster", {**CLUSTER, **changes}, region=PRIMARY)


__all__ = ["ACCOUNT", "CLUSTER", "DR", "EBS_KEY_POLICY", "PRIMARY", "REPLICA", "Res", "cluster", "db", "key_arn"]

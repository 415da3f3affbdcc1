"""AWS API rules of the deploy stage: each rejected input with its exact message, and an accepted input.

Sources are cited in the policy modules (policies/deploy/deploy_*.py) and in the README rule table."""

from __future__ import annotations

from tests.policies.deploy.cases import (
    ACCOUNT,
    CLUSTER,
    DR,
    EBS_KEY_POLICY,
    PRIMARY,
    REPLICA,
    Res,
    cluster,
    db,
    key_arn,
)
from tests.policies.deploy.support import check_stack
from tests.policies.support import U

RDS = "aws:rds/instance:Instance"
BUCKET, VERSIONING = "aws:s3/bucket:Bucket", "aws:s3/bucketVersioning:BucketVersioning"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
KEY, SLR = "aws:kms/key:Key", "aws:iam/serviceLinkedRole:ServiceLinkedRole"
SELECTION, REGION_SETTINGS = "aws:backup/selection:Selection", "aws:backup/regionSettings:RegionSettings"
SC, STS = "kubernetes:storage.k8s.io/v1:StorageClass", "kubernetes:apps/v1:StatefulSet"
SG, SG_RULE = "aws:ec2/securityGroup:SecurityGroup", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ENTRY, ASSOCIATION = "aws:eks/accessEntry:AccessEntry", "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def replica(**changes: object) -> Res:
    return Res(RDS, "care-prod-prm-replica-1", {**REPLICA, **changes}, region=PRIMARY)


def test_replicas_of_an_instance_with_a_managed_master_password_are_rejected() -> None:
    assert check_stack("rds-replica-credentials", [db(manageMasterUserPassword=True), replica()]) == [(
        "is a read replica of care-prod-prm, whose master password RDS manages in Secrets Manager "
        "(manageMasterUserPassword): RDS refuses to create read replicas of such an instance (every engine but SQL "
        "Server). Set database.prm.replicas: 0 or give database.prm a credential design without "
        "manageMasterUserPassword (components/database.py).", "care-prod-prm-replica-1")]


def test_same_region_replicas_must_not_set_a_kms_key_but_cross_region_ones_may() -> None:
    assert check_stack("rds-replica-credentials", [db(), replica(kmsKeyId=key_arn())]) == [(
        "sets kmsKeyId on a same-region read replica: RDS rejects it (the replica inherits the source's key). "
        "Drop kmsKeyId from database.prm's replicas (components/database.py).", "care-prod-prm-replica-1")]
    cross = Res(RDS, "dr", {**REPLICA, "replicateSourceDb": f"arn:aws:rds:{PRIMARY}:{ACCOUNT}:db:care-prod-prm",
                            "kmsKeyId": key_arn(region=DR)}, region=DR)
    assert check_stack("rds-replica-credentials", [db(), replica(), cross]) == []


def _buckets() -> tuple[Res, Res, Res, Res, dict]:
    src = Res(BUCKET, "src", {"bucket": "care-prod-app-data-333333333333"})
    dst = Res(BUCKET, "dst", {"bucket": "care-prod-dr-app-data-333333333333"}, region=DR)
    vs = Res(VERSIONING, "src-versioning", {"bucket": "care-prod-app-data-333333333333"})
    vd = Res(VERSIONING, "dst-versioning", {"bucket": "care-prod-dr-app-data-333333333333"}, region=DR)
    props = {"bucket": "care-prod-app-data-333333333333", "rules": [
        {"destination": {"bucket": "arn:aws:s3:::care-prod-dr-app-data-333333333333"}, "status": "Enabled"}]}
    return src, dst, vs, vd, props


def test_s3_replication_must_depend_on_both_versionings() -> None:
    src, dst, vs, vd, props = _buckets()
    assert check_stack("s3-replication-after-versioning",
                       [src, dst, vs, vd, Res(REPLICATION, "repl", props, depends=(src, dst, vs))]) == [(
        "does not depend on the destination bucket's BucketVersioning (dst-versioning): Pulumi may create it first and "
        "S3 rejects replication before versioning is enabled. Add depends_on=[dst-versioning] "
        "(components/storage.py).", "repl")]
    assert check_stack("s3-replication-after-versioning",
                       [src, dst, vs, vd, Res(REPLICATION, "repl", props, depends=(src, dst, vs, vd))]) == []


def test_a_key_policy_naming_a_service_linked_role_needs_the_role_first() -> None:
    role = Res(SLR, "asg-slr", {"awsServiceName": "autoscaling.amazonaws.com"})
    assert check_stack("kms-key-service-linked-role-first", [Res(KEY, "care-prod-kms-ebs", {"policy": EBS_KEY_POLICY})]
                       ) == [(
        "its key policy names AWSServiceRoleForAutoScaling (autoscaling.amazonaws.com), but the stack has no "
        "aws.iam.ServiceLinkedRole for autoscaling.amazonaws.com: in a fresh account the role does not exist yet and "
        "KMS rejects the policy (MalformedPolicyDocumentException). Create or adopt the role in the stack "
        "(components/encryption.py) and make the key depend on it.", "care-prod-kms-ebs")]
    assert check_stack("kms-key-service-linked-role-first",
                       [role, Res(KEY, "care-prod-kms-ebs", {"policy": EBS_KEY_POLICY})]) == [(
        "its key policy names AWSServiceRoleForAutoScaling but the key does not depend on asg-slr: Pulumi may create "
        "the key first. Add depends_on on the ServiceLinkedRole.", "care-prod-kms-ebs")]
    assert check_stack("kms-key-service-linked-role-first",
                       [role, Res(KEY, "care-prod-kms-ebs", {"policy": EBS_KEY_POLICY}, depends=(role,))]) == []


def test_tag_selections_need_every_selected_type_opted_in_in_their_region_and_the_copy_region() -> None:
    plan = Res("aws:backup/plan:Plan", "care-prod-backup-plan", {"name": "care-prod-backup-daily", "rules": [
        {"ruleName": "daily", "copyActions": [
            {"destinationVaultArn": f"arn:aws:backup:{DR}:{ACCOUNT}:backup-vault:care-prod-backup-dr-vault"}]}]},
        region=PRIMARY)
    selection = Res(SELECTION, "care-prod-backup-selection", {
        "planId": "care-prod-backup-daily",
        "selectionTags": [{"key": "Backup", "type": "STRINGEQUALS", "value": "true"}]}, region=PRIMARY,
        depends=(plan,))
    tagged = [db(), Res(BUCKET, "bucket", {"bucket": "b", "tags": {"Backup": "true"}}, region=PRIMARY),
              Res(SC, "sc", {"parameters": {"tagSpecification_1": "Backup=true"}})]
    opt_in = {"resourceTypeOptInPreference": {"RDS": True, "S3": True, "EBS": True}}
    dr_only = Res(REGION_SETTINGS, "dr", opt_in, region=DR)
    assert check_stack("backup-region-opt-in", [plan, selection, *tagged, dr_only]) == [(
        "selects EBS, RDS, S3 resources, which no aws.backup.RegionSettings of us-east-2 opts in: AWS Backup silently "
        "skips resource types a region has not opted in. Add a RegionSettings with resourceTypeOptInPreference "
        "{EBS: true, RDS: true, S3: true} in both regions (components/backup.py).", "care-prod-backup-selection")]
    primary_only = Res(REGION_SETTINGS, "primary", opt_in, region=PRIMARY)
    assert check_stack("backup-region-opt-in", [plan, selection, *tagged, primary_only]) == [(
        "selects EBS, RDS, S3 resources, which no aws.backup.RegionSettings of us-west-2 (the copy destination of its "
        "plan) opts in: AWS Backup silently skips resource types a region has not opted in. Add a RegionSettings with "
        "resourceTypeOptInPreference {EBS: true, RDS: true, S3: true} in both regions (components/backup.py).",
        "care-prod-backup-selection")]
    assert check_stack("backup-region-opt-in", [plan, selection, *tagged, primary_only, dr_only]) == []


def test_parameter_groups_and_msk_configurations_must_be_replaceable() -> None:
    pg, msk = "aws:rds/parameterGroup:ParameterGroup", "aws:msk/configuration:Configuration"
    cache_pg = "aws:elasticache/parameterGroup:ParameterGroup"
    resources = [db(parameterGroupName="care-prod-prm-params"),
                 Res(pg, "care-prod-prm-params", {"name": "care-prod-prm-params", "family": "postgres17"}),
                 Res(pg, "prefixed", {"namePrefix": "care-prod-nlfhir-params-", "family": "postgres17"}),
                 Res(msk, "care-prod-kafka-config", {"name": "care-prod-kafka-config", "kafkaVersions": ["3.8.x"]}),
                 Res(msk, "versioned", {"name": "care-prod-kafka-3-8-x", "kafkaVersions": ["3.8.x"]}),
                 Res(cache_pg, "care-prod-redis-params", {"name": "care-prod-redis-params", "family": "valkey8"}),
                 Res(cache_pg, "by-family", {"name": "care-prod-redis-valkey8", "family": "valkey8"})]
    assert check_stack("replaceable-physical-names", resources) == [
        ("RDS parameter group has the fixed name 'care-prod-prm-params': a change of family forces a replacement, "
         "which creates the new one before deleting the old, and AWS rejects the duplicate name while "
         "care-prod-prm-primary reference it. Use namePrefix, or a name that carries the family (components/).",
         "care-prod-prm-params"),
        ("MSK configuration has the fixed name 'care-prod-kafka-config': a change of kafkaVersions forces a "
         "replacement, which creates the new one before deleting the old, and AWS rejects the duplicate name. Use a "
         "name that carries the kafkaVersions (components/).", "care-prod-kafka-config"),
        ("ElastiCache parameter group has the fixed name 'care-prod-redis-params': a change of family forces a "
         "replacement, which creates the new one before deleting the old, and AWS rejects the duplicate name. Use a "
         "name that carries the family (components/).", "care-prod-redis-params")]


def test_delete_before_replace_sent_by_the_engine_makes_a_fixed_name_replaceable() -> None:
    from pulumi_policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions, StackValidationArgs

    from tests.policies.deploy.support import REGISTRY, _wire

    opts = PolicyResourceOptions(False, [], True, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    resource = PolicyResource("aws:msk/configuration:Configuration", _wire({"name": "care-prod-kafka-config",
                                                                            "kafkaVersions": ["3.8.x"]}),
                              "urn:msk", "care-prod-kafka-config", opts, None, None, [], {})
    found: list[str] = []
    REGISTRY["replaceable-physical-names"].policy.validate(
        StackValidationArgs([resource], {}), lambda message, _urn=None: found.append(message))
    assert found == []


def test_a_private_endpoint_must_admit_443_from_a_deployer_cidr() -> None:
    assert check_stack("eks-private-endpoint-reachable", [cluster()]) == [(
        "has a private-only API endpoint (endpointPublicAccess false) but no security group in "
        "vpcConfig.securityGroupIds admits tcp/443 from a CIDR: EKS's cluster security group admits only itself, so "
        "the runner or VPN that runs `pulumi up` cannot reach the API and every Kubernetes resource fails. Declare the "
        "deployer CIDRs (eks.deployerCidrs in Pulumi.<stack>.yaml) and admit them on 443 "
        "(components/eks/control_plane.py).",
        "care-prod-eks-cluster")]
    vpc = {**CLUSTER["vpcConfig"], "securityGroupIds": ["sg-0api"]}
    group = Res(SG, "care-prod-eks-api-sg", {"id": "sg-0api", "ingress": []})
    rule = Res(SG_RULE, "deployers", {"securityGroupId": "sg-0api", "ipProtocol": "tcp", "fromPort": 443,
                                      "toPort": 443, "cidrIpv4": "10.99.0.0/16"},
               property_depends={"securityGroupId": (group,)})
    assert check_stack("eks-private-endpoint-reachable", [cluster(vpcConfig=vpc), group, rule]) == []
    eks = cluster()  # or a rule on the security group EKS creates (an output of the cluster)
    on_cluster_group = Res(SG_RULE, "deployers", {"securityGroupId": U, "ipProtocol": "tcp", "fromPort": 443,
                                                  "toPort": 443, "cidrIpv4": "10.99.0.0/16"},
                           property_depends={"securityGroupId": (eks,)})
    assert check_stack("eks-private-endpoint-reachable", [eks, on_cluster_group]) == []
    world = Res(SG, "care-prod-eks-api-sg", {"id": "sg-0api", "ingress": [
        {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}]})
    assert check_stack("eks-private-endpoint-reachable", [cluster(vpcConfig=vpc), world]) == [(
        "admits tcp/443 to the private endpoint from 0.0.0.0/0: admit only the deployer CIDRs (eks.deployerCidrs in "
        "Pulumi.<stack>.yaml).", "care-prod-eks-cluster")]
    assert check_stack("eks-private-endpoint-reachable",
                       [cluster(vpcConfig={**vpc, "endpointPublicAccess": True})]) == []


def test_cluster_admins_are_granted_one_way_only() -> None:
    entry = Res(ENTRY, "care-prod-eks-admin-0", {"clusterName": "care-prod-eks", "type": "STANDARD",
                                                 "principalArn": f"arn:aws:iam::{ACCOUNT}:role/platform-admin"})
    admin = Res(ASSOCIATION, "care-prod-eks-admin-0-policy", {
        "clusterName": "care-prod-eks", "principalArn": f"arn:aws:iam::{ACCOUNT}:role/platform-admin",
        "policyArn": ADMIN_POLICY, "accessScope": {"type": "cluster"}})
    bootstrap = {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True}
    assert check_stack("eks-admin-access-one-way", [cluster(accessConfig=bootstrap), entry, admin]) == [(
        "bootstraps the creator as cluster admin (bootstrapClusterCreatorAdminPermissions true or unset) and also "
        "creates access entries (arn:aws:iam::333333333333:role/platform-admin): when the creator is one of them, EKS "
        "already made its entry and CreateAccessEntry returns 409 ResourceInUseException. Manage admins one way only: "
        "set bootstrapClusterCreatorAdminPermissions false and keep eks.adminRoleArns "
        "(components/eks/control_plane.py).",
        "care-prod-eks-cluster")]
    assert check_stack("eks-admin-access-one-way", [cluster(), entry, admin]) == []
    assert check_stack("eks-admin-access-one-way", [cluster(accessConfig=bootstrap)]) == []
    assert check_stack("eks-admin-access-one-way", [cluster()]) == [(
        "turns off bootstrapClusterCreatorAdminPermissions but no access entry is associated with "
        "AmazonEKSClusterAdminPolicy: nobody, including the deployer, could administer the cluster and every "
        "Kubernetes resource would be refused. Set eks.adminRoleArns in Pulumi.<stack>.yaml.", "care-prod-eks-cluster")]


def test_a_claimed_storage_class_must_allow_volume_expansion() -> None:
    sts = Res(STS, "care-prod-chromadb-statefulset", {"spec": {"volumeClaimTemplates": [
        {"metadata": {"name": "data"}, "spec": {"storageClassName": "gp3-encrypted"}}]}})
    fixed = Res(SC, "care-prod-eks-sc-gp3-encrypted", {"metadata": {"name": "gp3-encrypted"}})
    assert check_stack("storage-class-allows-expansion", [fixed, sts]) == [(
        "is claimed by care-prod-chromadb-statefulset but does not set allowVolumeExpansion: true, so a volume can "
        "never grow (the API server rejects a larger PVC request, and volumeClaimTemplates are immutable). Set "
        "allowVolumeExpansion: true on the StorageClass (components/eks/storage.py).",
        "care-prod-eks-sc-gp3-encrypted")]
    growable = Res(SC, "care-prod-eks-sc-gp3-encrypted", {"metadata": {"name": "gp3-encrypted"},
                                                          "allowVolumeExpansion": True})
    assert check_stack("storage-class-allows-expansion", [growable, sts]) == []


def _plan(cron: str) -> Res:
    return Res("aws:backup/plan:Plan", "care-prod-backup-plan",
               {"rules": [{"ruleName": "daily", "schedule": cron, "startWindow": 60}]})


def test_backup_start_windows_stay_clear_of_maintenance_and_the_hour_before() -> None:
    nlfhir = db("care-prod-nlfhir-primary", identifier="care-prod-nlfhir", maintenanceWindow="sun:06:00-sun:07:00")
    assert check_stack("backup-window-clear-of-maintenance", [db(), nlfhir, _plan("cron(0 5 ? * * *)")]) == [
        ("rule 'daily' may start sun 05:00-sun 06:00 UTC, in or within an hour before care-prod-prm's maintenance "
         "window sun:05:00-sun:06:00: AWS Backup skips or fails jobs then. Move backup.schedule or "
         "database.prm.maintenanceWindow in Pulumi.<stack>.yaml.", "care-prod-backup-plan"),
        ("rule 'daily' may start sun 05:00-sun 06:00 UTC, in or within an hour before care-prod-nlfhir's maintenance "
         "window sun:06:00-sun:07:00: AWS Backup skips or fails jobs then. Move backup.schedule or "
         "database.nlfhir.maintenanceWindow in Pulumi.<stack>.yaml.", "care-prod-backup-plan")]
    assert check_stack("backup-window-clear-of-maintenance", [db(), _plan("cron(30 3 ? * * *)")]) == [(
        "rule 'daily' may start sun 03:30-sun 04:30 UTC, in or within an hour before care-prod-prm's maintenance "
        "window sun:05:00-sun:06:00: AWS Backup skips or fails jobs then. Move backup.schedule or "
        "database.prm.maintenanceWindow in Pulumi.<stack>.yaml.", "care-prod-backup-plan")]
    assert check_stack("backup-window-clear-of-maintenance", [db(), _plan("cron(0 1 ? * * *)")]) == []


# --- AWS Budgets and Cost Anomaly Detection (issue #14) -------------------------------------------------------------

BUDGET_T = "aws:budgets/budget:Budget"
ANOMALY_T = "aws:costexplorer/anomalySubscription:AnomalySubscription"
TOPIC = f"arn:aws:sns:{PRIMARY}:{ACCOUNT}:care-prod-alerts"
THRESHOLD = {"dimension": {"key": "ANOMALY_TOTAL_IMPACT_ABSOLUTE", "matchOptions": ["GREATER_THAN_OR_EQUAL"],
                           "values": ["200"]}}
BUDGET_FIX = "see care-platform:budget in Pulumi.<stack>.yaml (components/budgets.py)."


def _note(kind: str = "ACTUAL", threshold: int = 75, topics: int = 1, emails: int = 2) -> dict:
    return {"notificationType": kind, "threshold": threshold, "thresholdType": "PERCENTAGE",
            "comparisonOperator": "GREATER_THAN", "subscriberSnsTopicArns": [TOPIC] * topics,
            "subscriberEmailAddresses": [f"a{i}@care.example" for i in range(emails)]}


def test_budget_notification_limits() -> None:
    ok = [_note("ACTUAL", t) for t in (75, 90, 100)] + [_note("FORECASTED", 100)]
    assert check_stack("budget-notification-limits", [Res(BUDGET_T, "b", {"notifications": ok})]) == []
    six = ok + [_note("FORECASTED", 110), _note("FORECASTED", 120)]
    assert check_stack("budget-notification-limits", [Res(BUDGET_T, "b", {"notifications": six})]) == [
        (f"has 6 notifications: AWS Budgets accepts at most 5 per budget; {BUDGET_FIX}", "b")]
    crowded = [_note(topics=2, emails=11), _note(topics=0, emails=0)]
    assert check_stack("budget-notification-limits", [Res(BUDGET_T, "b", {"notifications": crowded})]) == [
        (f"notification 0 (ACTUAL 75) has 2 SNS topics: a notification takes at most 1; {BUDGET_FIX}", "b"),
        (f"notification 0 (ACTUAL 75) has 11 e-mail subscribers: a notification takes at most 10; {BUDGET_FIX}", "b"),
        (f"notification 1 (ACTUAL 75) has no subscriber: AWS Budgets requires at least one; {BUDGET_FIX}", "b")]


def test_anomaly_subscription_delivery() -> None:
    sns = {"frequency": "IMMEDIATE", "subscribers": [{"type": "SNS", "address": TOPIC}],
           "thresholdExpression": THRESHOLD}
    email = {"frequency": "DAILY", "subscribers": [{"type": "EMAIL", "address": "a@care.example"}],
             "thresholdExpression": THRESHOLD}
    assert check_stack("anomaly-subscription-delivery", [Res(ANOMALY_T, "s", sns), Res(ANOMALY_T, "e", email)]) == []
    assert check_stack("anomaly-subscription-delivery", [Res(ANOMALY_T, "s", {**sns, "frequency": "DAILY"})]) == [
        ("sends to SNS at frequency DAILY: Cost Anomaly Detection notifies SNS topics only IMMEDIATE; use a separate "
         "IMMEDIATE subscription for the topic (components/budgets.py).", "s")]
    assert check_stack("anomaly-subscription-delivery", [Res(ANOMALY_T, "e", {**email, "frequency": "IMMEDIATE"})]) == [
        ("sends e-mail at frequency IMMEDIATE: Cost Anomaly Detection e-mails only DAILY or WEEKLY summaries; use a "
         "separate DAILY subscription for the e-mails (components/budgets.py).", "e")]
    assert check_stack("anomaly-subscription-delivery", [Res(ANOMALY_T, "s", {**sns, "threshold": 100})]) == [
        ("sets the deprecated threshold: use thresholdExpression (ANOMALY_TOTAL_IMPACT_ABSOLUTE) instead; the API "
         "refuses both together.", "s")]
    no_threshold = {k: v for k, v in sns.items() if k != "thresholdExpression"}
    assert check_stack("anomaly-subscription-delivery", [Res(ANOMALY_T, "s", no_threshold)]) == [
        ("has no thresholdExpression: the API requires a threshold for every subscription.", "s")]

"""Account baseline: CloudTrail, AWS Config + HIPAA pack, GuardDuty, Security Hub and the account safeguards."""

from __future__ import annotations

import hashlib
import json

import pulumi
import pytest

from components.audit import (
    HIPAA_PACK_TEMPLATE,
    AccountBaseline,
    AuditConfig,
    audit_bucket_statements,
    guardduty_event_pattern,
)
from tests.helpers import PROD_TAGS, render, untagged

ACCOUNT = "333333333333"
NAME = "care-prod-audit"
BUCKET = "care-prod-audit-logs-333333333333"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
PHI = ["arn:aws:s3:::care-prod-app-data-333333333333", "arn:aws:s3:::care-prod-dr-app-data-333333333333"]
TRAIL_KEY = "arn:aws:kms:us-east-2:333333333333:key/audit"
LOGS_KEY = "arn:aws:kms:us-east-2:333333333333:key/logs"
EBS_KEY = "arn:aws:kms:us-east-2:333333333333:key/ebs"
STORAGE_KEY = "arn:aws:kms:us-east-2:333333333333:key/storage"
TOPIC = "arn:aws:sns:us-east-2:333333333333:care-prod-alerts"
TRAIL_ARN = f"arn:aws:cloudtrail:us-east-2:{ACCOUNT}:trail/{NAME}-trail"


def _render(config: AuditConfig, topic: str | None = TOPIC):
    def program() -> None:
        import pulumi_aws as aws

        policy = aws.s3.BucketPolicy("audit-bucket-policy", bucket=BUCKET, policy="{}")
        AccountBaseline(NAME, config, account_id=ACCOUNT, region="us-east-2", audit_bucket_name=BUCKET,
                        audit_bucket_arn=BUCKET_ARN, audit_bucket_policy=policy, audit_bucket_kms_key_arn=STORAGE_KEY,
                        phi_bucket_arns=PHI, trail_kms_key_arn=TRAIL_KEY, logs_kms_key_arn=LOGS_KEY,
                        ebs_kms_key_arn=EBS_KEY, vpc_id="vpc-0123", alert_topic_arn=topic, tags=PROD_TAGS)
        pulumi.export("ok", True)

    return render(program)


@pytest.fixture(scope="module")
def plan():
    return _render(AuditConfig())


def test_children_and_tags(plan) -> None:  # type: ignore[no-untyped-def]
    component = plan.of_type("care:audit:AccountBaseline")[0]
    assert sorted(r.type for r in plan.resources if r.parent == component.urn) == sorted([
        "aws:cloudwatch/logGroup:LogGroup", "aws:iam/role:Role", "aws:iam/policy:Policy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:cloudtrail/trail:Trail",
        "aws:iam/role:Role", "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/policy:Policy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:cfg/recorder:Recorder",
        "aws:cfg/deliveryChannel:DeliveryChannel", "aws:cfg/recorderStatus:RecorderStatus",
        "aws:cfg/conformancePack:ConformancePack", "aws:guardduty/detector:Detector",
        *["aws:guardduty/detectorFeature:DetectorFeature"] * 5, *["aws:cloudwatch/eventRule:EventRule"] * 2,
        *["aws:cloudwatch/eventTarget:EventTarget"] * 2, "aws:securityhub/account:Account",
        *["aws:securityhub/standardsSubscription:StandardsSubscription"] * 2,
        "aws:accessanalyzer/analyzer:Analyzer", "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock",
        "aws:ebs/encryptionByDefault:EncryptionByDefault", "aws:ebs/defaultKmsKey:DefaultKmsKey",
        "aws:iam/accountPasswordPolicy:AccountPasswordPolicy",
    ])
    assert untagged(plan, PROD_TAGS) == []


def test_trail_multi_region_validated_encrypted_with_phi_data_events(plan) -> None:  # type: ignore[no-untyped-def]
    trail = plan.named(f"{NAME}-trail")
    inputs = trail.inputs
    assert {k: inputs[k] for k in ("name", "s3BucketName", "s3KeyPrefix", "kmsKeyId", "isMultiRegionTrail",
                                   "includeGlobalServiceEvents", "enableLogFileValidation", "enableLogging")} == {
        "name": f"{NAME}-trail", "s3BucketName": BUCKET, "s3KeyPrefix": "cloudtrail", "kmsKeyId": TRAIL_KEY,
        "isMultiRegionTrail": True, "includeGlobalServiceEvents": True, "enableLogFileValidation": True,
        "enableLogging": True}
    assert inputs["advancedEventSelectors"] == [
        {"name": "Management events, read and write",
         "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]},
        {"name": "S3 data events on the PHI buckets",
         "fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]},
                            {"field": "resources.type", "equals": ["AWS::S3::Object"]},
                            {"field": "resources.ARN", "startsWiths": [f"{PHI[0]}/", f"{PHI[1]}/"]}]},
    ]
    log_group = plan.named(f"{NAME}-trail-logs")
    assert (log_group.inputs["name"], log_group.inputs["retentionInDays"], log_group.inputs["kmsKeyId"]) == (
        f"aws-cloudtrail-logs-{NAME}-trail", 365, LOGS_KEY)
    assert inputs["cloudWatchLogsGroupArn"].endswith(f"{log_group.inputs['name']}:*")
    # Created after the bucket policy CloudTrail checks, and after its log role's permissions.
    assert plan.named("audit-bucket-policy").urn in trail.dependencies
    assert plan.named(f"{NAME}-trail-logs-policy-attachment").urn in trail.dependencies
    role_policy = json.loads(plan.named(f"{NAME}-trail-logs-policy").inputs["policy"])
    assert role_policy["Statement"] == [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                         "Resource": f"{inputs['cloudWatchLogsGroupArn'][:-2]}:log-stream:*"}]


def test_bucket_statements_scope_cloudtrail_to_the_trail_and_config_to_the_account() -> None:
    statements = audit_bucket_statements(BUCKET_ARN, name=NAME, config=AuditConfig(), account_id=ACCOUNT,
                                         region="us-east-2")
    assert statements == [
        {"Sid": "AWSCloudTrailAclCheck", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:GetBucketAcl", "Resource": BUCKET_ARN,
         "Condition": {"StringEquals": {"aws:SourceArn": TRAIL_ARN}}},
        {"Sid": "AWSCloudTrailWrite", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:PutObject", "Resource": f"{BUCKET_ARN}/cloudtrail/AWSLogs/{ACCOUNT}/*",
         "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": TRAIL_ARN}}},
        {"Sid": "AWSConfigBucketPermissionsCheck", "Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"},
         "Action": "s3:GetBucketAcl", "Resource": BUCKET_ARN,
         "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}},
        {"Sid": "AWSConfigBucketExistenceCheck", "Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"},
         "Action": "s3:ListBucket", "Resource": BUCKET_ARN,
         "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}},
        {"Sid": "AWSConfigBucketDelivery", "Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"},
         "Action": "s3:PutObject", "Resource": f"{BUCKET_ARN}/config/AWSLogs/{ACCOUNT}/Config/*",
         "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control",
                                        "aws:SourceAccount": ACCOUNT}}},
    ]
    off = AuditConfig(cloudtrail=False, config_recorder=False)
    assert audit_bucket_statements(BUCKET_ARN, name=NAME, config=off, account_id=ACCOUNT, region="us-east-2") == []


def test_config_records_everything_and_delivers_in_order(plan) -> None:  # type: ignore[no-untyped-def]
    recorder = plan.named(f"{NAME}-config-recorder")
    assert recorder.inputs["recordingGroup"] == {"allSupported": True, "includeGlobalResourceTypes": True}
    assert recorder.inputs["roleArn"].endswith(f":role/{NAME}-config-role") or recorder.inputs["roleArn"]
    channel = plan.named(f"{NAME}-config-delivery-channel")
    assert (channel.inputs["s3BucketName"], channel.inputs["s3KeyPrefix"]) == (BUCKET, "config")
    assert recorder.urn in channel.dependencies and plan.named("audit-bucket-policy").urn in channel.dependencies
    status = plan.named(f"{NAME}-config-recorder-status")
    assert (status.inputs["isEnabled"], status.inputs["name"]) == (True, f"{NAME}-recorder")
    assert channel.urn in status.dependencies
    managed = plan.named(f"{NAME}-config-role-managed")
    assert managed.inputs["policyArn"] == "arn:aws:iam::aws:policy/service-role/AWS_ConfigRole"
    delivery = json.loads(plan.named(f"{NAME}-config-delivery-policy").inputs["policy"])
    assert delivery["Statement"][1]["Resource"] == f"{BUCKET_ARN}/config/AWSLogs/{ACCOUNT}/Config/*"
    assert delivery["Statement"][2] == {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                                        "Resource": STORAGE_KEY}
    trust = json.loads(plan.named(f"{NAME}-config-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "config.amazonaws.com"}


def test_hipaa_conformance_pack_ships_awss_template(plan) -> None:  # type: ignore[no-untyped-def]
    pack = plan.named(f"{NAME}-hipaa-pack")
    assert pack.inputs["name"] == "Operational-Best-Practices-for-HIPAA-Security"
    assert pack.inputs["templateBody"] == HIPAA_PACK_TEMPLATE.read_text()
    assert hashlib.sha256(HIPAA_PACK_TEMPLATE.read_bytes()).hexdigest() == (
        "6daaddbbd3da53b31f313cc00587fd2e4de2b59c4fad2e8feb68c0c03d52125b")
    assert pack.inputs["inputParameters"] == [
        {"parameterName": "InternetGatewayAuthorizedVpcOnlyParamAuthorizedVpcIds", "parameterValue": "vpc-0123"},
        {"parameterName": "ElbPredefinedSecurityPolicySslCheckParamPredefinedPolicyName",
         "parameterValue": "ELBSecurityPolicy-TLS13-1-2-2021-06"},
    ]
    assert plan.named(f"{NAME}-config-recorder-status").urn in pack.dependencies


def test_guardduty_features_and_high_findings_to_alerts(plan) -> None:  # type: ignore[no-untyped-def]
    features = {r.inputs["name"]: (r.inputs["status"], r.inputs.get("additionalConfigurations"))
                for r in plan.of_type("aws:guardduty/detectorFeature:DetectorFeature")}
    assert features == {
        "S3_DATA_EVENTS": ("ENABLED", None), "EKS_AUDIT_LOGS": ("ENABLED", None),
        "RUNTIME_MONITORING": ("ENABLED", [{"name": "EKS_ADDON_MANAGEMENT", "status": "ENABLED"}]),
        "RDS_LOGIN_EVENTS": ("ENABLED", None), "EBS_MALWARE_PROTECTION": ("ENABLED", None),
    }
    detector = plan.named(f"{NAME}-guardduty").inputs
    assert (detector["enable"], detector["findingPublishingFrequency"]) == (True, "FIFTEEN_MINUTES")
    rule = plan.named(f"{NAME}-guardduty-findings")
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"],
        "detail": {"severity": [{"numeric": [">=", 7.0]}]}}
    target = plan.named(f"{NAME}-guardduty-findings-alert").inputs
    assert (target["arn"], target["rule"], target["targetId"]) == (TOPIC, f"{NAME}-guardduty-findings", "alerts")
    assert guardduty_event_pattern(4.0)["detail"] == {"severity": [{"numeric": [">=", 4.0]}]}


def test_every_key_policy_change_is_alerted(plan) -> None:  # type: ignore[no-untyped-def]
    # Only the deployer may PutKeyPolicy: each change is a deploy or someone giving itself use of a PHI key.
    rule = plan.named(f"{NAME}-key-policy-changes").inputs
    assert (rule["name"], rule["description"]) == (f"{NAME}-key-policy-changes",
                                                   "Any PutKeyPolicy on this region's KMS keys")
    assert json.loads(rule["eventPattern"]) == {
        "source": ["aws.kms"], "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"eventSource": ["kms.amazonaws.com"], "eventName": ["PutKeyPolicy"]}}
    target = plan.named(f"{NAME}-key-policy-changes-alert").inputs
    assert (target["arn"], target["rule"], target["targetId"]) == (TOPIC, f"{NAME}-key-policy-changes", "alerts")


def test_security_hub_standards_and_account_safeguards(plan) -> None:  # type: ignore[no-untyped-def]
    hub = plan.named(f"{NAME}-securityhub").inputs
    assert (hub["enableDefaultStandards"], hub["controlFindingGenerator"]) == (False, "SECURITY_CONTROL")
    assert sorted(r.inputs["standardsArn"] for r in plan.of_type(
        "aws:securityhub/standardsSubscription:StandardsSubscription")) == [
        "arn:aws:securityhub:us-east-2::standards/aws-foundational-security-best-practices/v/1.0.0",
        "arn:aws:securityhub:us-east-2::standards/cis-aws-foundations-benchmark/v/3.0.0",
    ]
    assert plan.named(f"{NAME}-access-analyzer").inputs["type"] == "ACCOUNT"
    block = plan.named(f"{NAME}-s3-public-access-block").inputs
    assert block == {"accountId": ACCOUNT, "blockPublicAcls": True, "blockPublicPolicy": True,
                     "ignorePublicAcls": True, "restrictPublicBuckets": True}
    assert plan.named(f"{NAME}-ebs-encryption-by-default").inputs["enabled"] is True
    assert plan.named(f"{NAME}-ebs-default-key").inputs["keyArn"] == EBS_KEY
    assert plan.named(f"{NAME}-password-policy").inputs == {
        "minimumPasswordLength": 14, "requireLowercaseCharacters": True, "requireUppercaseCharacters": True,
        "requireNumbers": True, "requireSymbols": True, "allowUsersToChangePassword": True,
        "maxPasswordAge": 90, "passwordReusePrevention": 24}


def test_every_part_switches_off() -> None:
    off = AuditConfig(cloudtrail=False, config_recorder=False, guardduty=False, security_hub=False,
                      access_analyzer=False, account_public_access_block=False, ebs_encryption_by_default=False,
                      password_policy=False)
    plan = _render(off)
    component = plan.of_type("care:audit:AccountBaseline")[0]
    assert [r.type for r in plan.resources if r.parent == component.urn] == []


def test_no_alert_rule_without_a_topic() -> None:
    plan = _render(AuditConfig(cloudtrail=False, config_recorder=False), topic=None)
    assert plan.of_type("aws:cloudwatch/eventRule:EventRule") == []
    assert len(plan.of_type("aws:guardduty/detectorFeature:DetectorFeature")) == 5

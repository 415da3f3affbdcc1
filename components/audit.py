"""The account's audit and threat-detection baseline: CloudTrail, AWS Config (with AWS's HIPAA conformance
pack), GuardDuty, Security Hub, IAM Access Analyzer and the account-wide safeguards (S3 public access
block, EBS encryption by default, IAM password policy).

One AWS account per environment is assumed (``environment.accountId`` pins the providers), so the
account-level settings here belong to this stack alone. Every part is switchable in
``care-platform:audit`` and on by default; the policy pack requires them in prod.

AWS constraints this file follows (the deploy stage checks them too, policies/deploy/deploy_audit.py):

* CloudTrail checks the bucket policy when the trail is created: the policy must let
  ``cloudtrail.amazonaws.com`` GetBucketAcl and PutObject under ``<prefix>/AWSLogs/<account>/``, scoped
  with aws:SourceArn (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html),
  so the trail depends on the bucket policy. The statements are built by :func:`audit_bucket_statements`
  and written by the audit-log bucket's own policy (components/storage.py): a bucket has one policy.
* The trail's key policy must let CloudTrail encrypt (components/encryption.py, domain "audit").
* One configuration recorder per account and region
  (https://docs.aws.amazon.com/config/latest/APIReference/API_PutConfigurationRecorder.html); the
  delivery channel needs the recorder, recording starts after the channel exists, and a conformance pack
  needs a recording recorder.
* GuardDuty's EKS_RUNTIME_MONITORING and RUNTIME_MONITORING cannot both be set; RUNTIME_MONITORING
  already covers EKS (https://docs.aws.amazon.com/guardduty/latest/APIReference/API_DetectorFeatureConfiguration.html),
  so this uses RUNTIME_MONITORING with EKS_ADDON_MANAGEMENT.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
from pydantic import Field

from components.common import ConfigModel, LogRetentionDays, child_opts, service_role_trust, tags_for

#: AWS's "Operational Best Practices for HIPAA Security" conformance pack, shipped as published.
HIPAA_PACK_TEMPLATE = Path(__file__).resolve().parent.parent / "policies" / "conformance" / \
    "Operational-Best-Practices-for-HIPAA-Security.yaml"

#: CloudTrail and Config write under these prefixes of the audit-log bucket.
TRAIL_PREFIX = "cloudtrail"
CONFIG_PREFIX = "config"

#: GuardDuty protection plans (DetectorFeature names) and their additional configurations.
GUARDDUTY_FEATURES: dict[str, tuple[str, ...]] = {
    "S3_DATA_EVENTS": (),
    "EKS_AUDIT_LOGS": (),
    "RUNTIME_MONITORING": ("EKS_ADDON_MANAGEMENT",),
    "RDS_LOGIN_EVENTS": (),
    "EBS_MALWARE_PROTECTION": (),
}

#: The managed policy AWS Config's recorder role needs (read access to resource configurations).
CONFIG_ROLE_POLICY = "arn:aws:iam::aws:policy/service-role/AWS_ConfigRole"


class AuditConfig(ConfigModel):
    cloudtrail: bool = True
    config_recorder: bool = True
    #: Deploy AWS's HIPAA conformance pack (needs the recorder).
    hipaa_conformance_pack: bool = True
    guardduty: bool = True
    security_hub: bool = True
    access_analyzer: bool = True
    account_public_access_block: bool = True
    ebs_encryption_by_default: bool = True
    password_policy: bool = True
    #: Retention of the trail's CloudWatch log group (the S3 copy is kept by Object Lock).
    trail_log_retention_days: LogRetentionDays = 365
    #: GuardDuty findings at or above this severity go to the alert topic (7.0 = High).
    alert_min_severity: float = Field(default=7.0, ge=1.0, le=8.9)
    #: Security Hub CIS AWS Foundations Benchmark version.
    cis_version: Literal["1.4.0", "3.0.0"] = "3.0.0"
    #: IAM password policy (the conformance pack's defaults).
    minimum_password_length: int = Field(default=14, ge=14, le=128)
    password_reuse_prevention: int = Field(default=24, ge=1, le=24)
    max_password_age_days: int = Field(default=90, ge=1, le=1095)


def trail_name(name: str) -> str:
    """The trail's name for the baseline component called ``name``."""
    return f"{name}-trail"


def trail_arn(*, name: str, region: str, account_id: str) -> str:
    return f"arn:aws:cloudtrail:{region}:{account_id}:trail/{trail_name(name)}"


def audit_bucket_statements(bucket_arn: str, *, name: str, config: AuditConfig, account_id: str,
                            region: str) -> list[dict[str, Any]]:
    """The audit-log bucket's statements for CloudTrail and AWS Config, as AWS documents them.

    CloudTrail: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html
    Config: https://docs.aws.amazon.com/config/latest/developerguide/s3-bucket-policy.html
    """
    statements: list[dict[str, Any]] = []
    if config.cloudtrail:
        source = {"aws:SourceArn": trail_arn(name=name, region=region, account_id=account_id)}
        statements += [
            {"Sid": "AWSCloudTrailAclCheck", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": "s3:GetBucketAcl", "Resource": bucket_arn, "Condition": {"StringEquals": source}},
            {"Sid": "AWSCloudTrailWrite", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": "s3:PutObject", "Resource": f"{bucket_arn}/{TRAIL_PREFIX}/AWSLogs/{account_id}/*",
             "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **source}}},
        ]
    if config.config_recorder:
        account = {"aws:SourceAccount": account_id}
        statements += [
            {"Sid": "AWSConfigBucketPermissionsCheck", "Effect": "Allow",
             "Principal": {"Service": "config.amazonaws.com"}, "Action": "s3:GetBucketAcl", "Resource": bucket_arn,
             "Condition": {"StringEquals": account}},
            {"Sid": "AWSConfigBucketExistenceCheck", "Effect": "Allow",
             "Principal": {"Service": "config.amazonaws.com"}, "Action": "s3:ListBucket", "Resource": bucket_arn,
             "Condition": {"StringEquals": account}},
            {"Sid": "AWSConfigBucketDelivery", "Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"},
             "Action": "s3:PutObject", "Resource": f"{bucket_arn}/{CONFIG_PREFIX}/AWSLogs/{account_id}/Config/*",
             "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **account}}},
        ]
    return statements


def _managed_policy(parent: pulumi.Resource, name: str, role: aws.iam.Role, description: str,
                    document: pulumi.Input[str], tags: Mapping[str, str]) -> aws.iam.RolePolicyAttachment:
    """A customer-managed policy attached to ``role`` (no inline policies: iam-no-inline-policy)."""
    policy = aws.iam.Policy(f"{name}-policy", aws.iam.PolicyArgs(description=description, policy=document,
                                                                 tags=tags_for(tags, f"{name}-policy")),
                            child_opts(parent))
    return aws.iam.RolePolicyAttachment(f"{name}-policy-attachment",
                                        aws.iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=policy.arn),
                                        child_opts(parent))


class AccountBaseline(pulumi.ComponentResource):
    """CloudTrail, AWS Config + HIPAA pack, GuardDuty, Security Hub, Access Analyzer and account safeguards."""

    trail_arn: pulumi.Output[str] | None
    detector_id: pulumi.Output[str] | None

    def __init__(
        self,
        name: str,
        config: AuditConfig,
        *,
        account_id: str,
        region: str,
        audit_bucket_name: pulumi.Input[str],
        audit_bucket_arn: pulumi.Input[str],
        audit_bucket_policy: pulumi.Resource,
        audit_bucket_kms_key_arn: pulumi.Input[str],
        phi_bucket_arns: Sequence[pulumi.Input[str]],
        trail_kms_key_arn: pulumi.Input[str],
        logs_kms_key_arn: pulumi.Input[str],
        ebs_kms_key_arn: pulumi.Input[str],
        vpc_id: pulumi.Input[str],
        alert_topic_arn: pulumi.Input[str] | None,
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("care:audit:AccountBaseline", name, None, opts)
        self._name, self._tags, self._account = name, tags, account_id
        self.trail_arn = self.detector_id = None
        if config.cloudtrail:
            self.trail_arn = self._trail(config, audit_bucket_name, audit_bucket_policy, phi_bucket_arns,
                                         trail_kms_key_arn, logs_kms_key_arn).arn
            if alert_topic_arn is not None:
                self._alert_rule("key-policy-changes", "Any PutKeyPolicy on this region's KMS keys",
                                 key_policy_change_pattern(), alert_topic_arn)
        recording: pulumi.Resource | None = None
        if config.config_recorder:
            recording = self._config_recorder(audit_bucket_name, audit_bucket_arn, audit_bucket_policy,
                                              audit_bucket_kms_key_arn)
            if config.hipaa_conformance_pack:
                self._conformance_pack(vpc_id, recording)
        if config.guardduty:
            self.detector_id = self._guardduty(config, alert_topic_arn)
        if config.security_hub:
            self._security_hub(config, region, recording)
        self._account_safeguards(config, ebs_kms_key_arn)
        self.register_outputs({"trailArn": self.trail_arn, "detectorId": self.detector_id})

    # --- CloudTrail ------------------------------------------------------------------------------
    def _trail(self, config: AuditConfig, bucket_name: pulumi.Input[str], bucket_policy: pulumi.Resource,
               phi_bucket_arns: Sequence[pulumi.Input[str]], kms_key_arn: pulumi.Input[str],
               logs_kms_key_arn: pulumi.Input[str]) -> aws.cloudtrail.Trail:
        name, tags = self._name, self._tags
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-trail-logs",
            aws.cloudwatch.LogGroupArgs(name=f"aws-cloudtrail-logs-{trail_name(name)}",
                                        retention_in_days=config.trail_log_retention_days,
                                        kms_key_id=logs_kms_key_arn, tags=tags_for(tags, f"{name}-trail-logs")),
            child_opts(self),
        )
        role = aws.iam.Role(
            f"{name}-trail-logs-role",
            aws.iam.RoleArgs(description="CloudTrail delivery to its CloudWatch log group",
                             assume_role_policy=service_role_trust("cloudtrail.amazonaws.com",
                                                                   source_account=self._account),
                             tags=tags_for(tags, f"{name}-trail-logs-role")),
            child_opts(self),
        )
        # https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-required-policy-for-cloudwatch-logs.html
        attachment = _managed_policy(self, f"{name}-trail-logs", role, "CloudTrail writes its log group",
                                     log_group.arn.apply(lambda arn: json.dumps({
                                         "Version": "2012-10-17",
                                         "Statement": [{"Effect": "Allow",
                                                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                                        "Resource": f"{arn}:log-stream:*"}]})), tags)
        data_events = pulumi.Output.all(*phi_bucket_arns).apply(lambda arns: [f"{arn}/" for arn in arns])
        return aws.cloudtrail.Trail(
            f"{name}-trail",
            aws.cloudtrail.TrailArgs(
                name=trail_name(name),
                s3_bucket_name=bucket_name,
                s3_key_prefix=TRAIL_PREFIX,
                kms_key_id=kms_key_arn,
                is_multi_region_trail=True,
                include_global_service_events=True,
                enable_log_file_validation=True,
                enable_logging=True,
                cloud_watch_logs_group_arn=log_group.arn.apply(lambda arn: f"{arn}:*"),
                cloud_watch_logs_role_arn=role.arn,
                advanced_event_selectors=[
                    aws.cloudtrail.TrailAdvancedEventSelectorArgs(
                        name="Management events, read and write",
                        field_selectors=[aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(
                            field="eventCategory", equals=["Management"])],
                    ),
                    aws.cloudtrail.TrailAdvancedEventSelectorArgs(
                        name="S3 data events on the PHI buckets",
                        field_selectors=[
                            aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(
                                field="eventCategory", equals=["Data"]),
                            aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(
                                field="resources.type", equals=["AWS::S3::Object"]),
                            aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(
                                field="resources.ARN", starts_withs=data_events),
                        ],
                    ),
                ],
                tags=tags_for(tags, trail_name(name)),
            ),
            # CloudTrail checks the bucket policy and its role at creation time.
            child_opts(self, depends_on=[bucket_policy, attachment]),
        )

    # --- AWS Config ------------------------------------------------------------------------------
    def _config_recorder(self, bucket_name: pulumi.Input[str], bucket_arn: pulumi.Input[str],
                         bucket_policy: pulumi.Resource, bucket_kms_key_arn: pulumi.Input[str]) -> pulumi.Resource:
        name, tags, account = self._name, self._tags, self._account
        role = aws.iam.Role(
            f"{name}-config-role",
            aws.iam.RoleArgs(description="AWS Config recorder and delivery channel",
                             assume_role_policy=service_role_trust("config.amazonaws.com", source_account=account),
                             tags=tags_for(tags, f"{name}-config-role")),
            child_opts(self),
        )
        aws_managed = aws.iam.RolePolicyAttachment(
            f"{name}-config-role-managed",
            aws.iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=CONFIG_ROLE_POLICY), child_opts(self))
        # https://docs.aws.amazon.com/config/latest/developerguide/iamrole-permissions.html
        delivery = _managed_policy(self, f"{name}-config-delivery", role, "AWS Config delivers to the audit-log bucket",
                                   pulumi.Output.all(bucket_arn, bucket_kms_key_arn).apply(lambda a: json.dumps({
                                       "Version": "2012-10-17",
                                       "Statement": [
                                           {"Effect": "Allow", "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
                                            "Resource": a[0]},
                                           {"Effect": "Allow", "Action": "s3:PutObject",
                                            "Resource": f"{a[0]}/{CONFIG_PREFIX}/AWSLogs/{account}/Config/*",
                                            "Condition": {"StringEquals": {
                                                "s3:x-amz-acl": "bucket-owner-full-control"}}},
                                           {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                                            "Resource": a[1]},
                                       ]})), tags)
        recorder = aws.cfg.Recorder(
            f"{name}-config-recorder",
            aws.cfg.RecorderArgs(
                name=f"{name}-recorder", role_arn=role.arn,
                recording_group=aws.cfg.RecorderRecordingGroupArgs(all_supported=True,
                                                                   include_global_resource_types=True),
            ),
            child_opts(self, depends_on=[aws_managed]),
        )
        channel = aws.cfg.DeliveryChannel(
            f"{name}-config-delivery-channel",
            aws.cfg.DeliveryChannelArgs(
                name=f"{name}-delivery", s3_bucket_name=bucket_name, s3_key_prefix=CONFIG_PREFIX,
                snapshot_delivery_properties=aws.cfg.DeliveryChannelSnapshotDeliveryPropertiesArgs(
                    delivery_frequency="TwentyFour_Hours"),
            ),
            # PutDeliveryChannel needs a recorder and checks the bucket's permissions.
            child_opts(self, depends_on=[recorder, bucket_policy, delivery]),
        )
        return aws.cfg.RecorderStatus(
            f"{name}-config-recorder-status",
            aws.cfg.RecorderStatusArgs(name=recorder.name, is_enabled=True),
            # StartConfigurationRecorder fails without a delivery channel.
            child_opts(self, depends_on=[channel]),
        )

    def _conformance_pack(self, vpc_id: pulumi.Input[str], recording: pulumi.Resource) -> aws.cfg.ConformancePack:
        return aws.cfg.ConformancePack(
            f"{self._name}-hipaa-pack",
            aws.cfg.ConformancePackArgs(
                name="Operational-Best-Practices-for-HIPAA-Security",
                template_body=HIPAA_PACK_TEMPLATE.read_text(),
                input_parameters=[aws.cfg.ConformancePackInputParameterArgs(parameter_name=key, parameter_value=value)
                                  for key, value in hipaa_pack_parameters(vpc_id).items()],
            ),
            child_opts(self, depends_on=[recording]),
        )

    # --- GuardDuty -------------------------------------------------------------------------------
    def _guardduty(self, config: AuditConfig, alert_topic_arn: pulumi.Input[str] | None) -> pulumi.Output[str]:
        name, tags = self._name, self._tags
        detector = aws.guardduty.Detector(
            f"{name}-guardduty",
            aws.guardduty.DetectorArgs(enable=True, finding_publishing_frequency="FIFTEEN_MINUTES",
                                       tags=tags_for(tags, f"{name}-guardduty")),
            child_opts(self),
        )
        for feature, extras in GUARDDUTY_FEATURES.items():
            aws.guardduty.DetectorFeature(
                f"{name}-guardduty-{feature.lower().replace('_', '-')}",
                aws.guardduty.DetectorFeatureArgs(
                    detector_id=detector.id, name=feature, status="ENABLED",
                    additional_configurations=[aws.guardduty.DetectorFeatureAdditionalConfigurationArgs(
                        name=extra, status="ENABLED") for extra in extras] or None,
                ),
                child_opts(self),
            )
        if alert_topic_arn is not None:
            self._alert_rule("guardduty-findings",
                             f"GuardDuty findings of severity {config.alert_min_severity} or more",
                             guardduty_event_pattern(config.alert_min_severity), alert_topic_arn)
        return detector.id

    def _alert_rule(self, short: str, description: str, pattern: dict[str, Any],
                    alert_topic_arn: pulumi.Input[str]) -> None:
        """An EventBridge rule whose matching events go to the alert topic."""
        name = f"{self._name}-{short}"
        rule = aws.cloudwatch.EventRule(
            name,
            aws.cloudwatch.EventRuleArgs(name=name, description=description, event_pattern=json.dumps(pattern),
                                         tags=tags_for(self._tags, name)),
            child_opts(self),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-alert", aws.cloudwatch.EventTargetArgs(rule=rule.name, arn=alert_topic_arn, target_id="alerts"),
            child_opts(self),
        )

    # --- Security Hub, Access Analyzer, account safeguards ----------------------------------------
    def _security_hub(self, config: AuditConfig, region: str, recording: pulumi.Resource | None) -> None:
        name = self._name
        hub = aws.securityhub.Account(
            f"{name}-securityhub",
            aws.securityhub.AccountArgs(enable_default_standards=False, auto_enable_controls=True,
                                        control_finding_generator="SECURITY_CONTROL"),
            # Security Hub's controls are evaluated by AWS Config rules: record first.
            child_opts(self, depends_on=[recording] if recording is not None else []),
        )
        for key, arn in security_hub_standards(region, config.cis_version).items():
            aws.securityhub.StandardsSubscription(
                f"{name}-securityhub-{key}", aws.securityhub.StandardsSubscriptionArgs(standards_arn=arn),
                child_opts(self, depends_on=[hub]))

    def _account_safeguards(self, config: AuditConfig, ebs_kms_key_arn: pulumi.Input[str]) -> None:
        name, tags = self._name, self._tags
        if config.access_analyzer:
            aws.accessanalyzer.Analyzer(
                f"{name}-access-analyzer",
                aws.accessanalyzer.AnalyzerArgs(analyzer_name=f"{name}-access-analyzer", type="ACCOUNT",
                                                tags=tags_for(tags, f"{name}-access-analyzer")),
                child_opts(self))
        if config.account_public_access_block:
            aws.s3.AccountPublicAccessBlock(
                f"{name}-s3-public-access-block",
                aws.s3.AccountPublicAccessBlockArgs(account_id=self._account, block_public_acls=True,
                                                    block_public_policy=True, ignore_public_acls=True,
                                                    restrict_public_buckets=True),
                child_opts(self))
        if config.ebs_encryption_by_default:
            aws.ebs.EncryptionByDefault(f"{name}-ebs-encryption-by-default",
                                        aws.ebs.EncryptionByDefaultArgs(enabled=True), child_opts(self))
            aws.ebs.DefaultKmsKey(f"{name}-ebs-default-key", aws.ebs.DefaultKmsKeyArgs(key_arn=ebs_kms_key_arn),
                                  child_opts(self))
        if config.password_policy:
            aws.iam.AccountPasswordPolicy(
                f"{name}-password-policy",
                aws.iam.AccountPasswordPolicyArgs(
                    minimum_password_length=config.minimum_password_length, require_lowercase_characters=True,
                    require_uppercase_characters=True, require_numbers=True, require_symbols=True,
                    allow_users_to_change_password=True, max_password_age=config.max_password_age_days,
                    password_reuse_prevention=config.password_reuse_prevention),
                child_opts(self))


def guardduty_event_pattern(min_severity: float) -> dict[str, Any]:
    """GuardDuty findings at or above ``min_severity`` (https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_eventbridge.html)."""
    return {"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"],
            "detail": {"severity": [{"numeric": [">=", min_severity]}]}}


def key_policy_change_pattern() -> dict[str, Any]:
    """Every PutKeyPolicy (CloudTrail management events reach EventBridge in the call's region,
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html): only the deployer
    may change a key policy (components/encryption.py), so each one is either a deploy or the residual risk that
    its holder gave itself use of a PHI key. CreateGrant is left out: the services create grants all day."""
    return {"source": ["aws.kms"], "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {"eventSource": ["kms.amazonaws.com"], "eventName": ["PutKeyPolicy"]}}


def security_hub_standards(region: str, cis_version: str) -> dict[str, str]:
    """The standards subscribed: AWS Foundational Security Best Practices and CIS AWS Foundations Benchmark."""
    return {
        "fsbp": f"arn:aws:securityhub:{region}::standards/aws-foundational-security-best-practices/v/1.0.0",
        "cis": f"arn:aws:securityhub:{region}::standards/cis-aws-foundations-benchmark/v/{cis_version}",
    }


def hipaa_pack_parameters(vpc_id: pulumi.Input[str]) -> dict[str, pulumi.Input[str]]:
    """The conformance pack's parameters our architecture sets (the rest keep the template's defaults).

    The VPC is the only one with an internet gateway; TLS listeners use a TLS 1.2+ policy.
    """
    return {
        "InternetGatewayAuthorizedVpcOnlyParamAuthorizedVpcIds": vpc_id,
        "ElbPredefinedSecurityPolicySslCheckParamPredefinedPolicyName": "ELBSecurityPolicy-TLS13-1-2-2021-06",
    }

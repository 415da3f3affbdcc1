"""The account baseline (components/audit.py): CloudTrail, AWS Config, GuardDuty, Security Hub, and the
account-level safeguards (EBS encryption by default, S3 account public access block, IAM password policy).

Stack policies: each requires its part to be present in the stack (``required``, on by default: one AWS
account per environment, so each stack owns its account's baseline) and correctly configured. They map
to the rules of AWS's HIPAA conformance pack listed in policies/hipaa-conformance.md.
"""

from __future__ import annotations

from typing import Any

from common import (
    TRAIL,
    Report,
    Resource,
    Settings,
    as_int,
    as_list,
    has_unknown,
    is_customer_managed_key,
    is_false,
    is_true,
    is_unknown,
    of_type,
    policies_of,
    required_flag,
    stack_policy,
)

AT_REST = "164.312(a)(2)(iv)"
ACCESS = "164.312(a)(1)"
AUDIT = "164.312(b)"
REVIEW = "164.308(a)(1)(ii)(D)"

RECORDER = "aws:cfg/recorder:Recorder"
RECORDER_STATUS = "aws:cfg/recorderStatus:RecorderStatus"
DELIVERY_CHANNEL = "aws:cfg/deliveryChannel:DeliveryChannel"
DETECTOR = "aws:guardduty/detector:Detector"
DETECTOR_FEATURE = "aws:guardduty/detectorFeature:DetectorFeature"
SECURITY_HUB = "aws:securityhub/account:Account"
STANDARDS = "aws:securityhub/standardsSubscription:StandardsSubscription"
EBS_DEFAULT = "aws:ebs/encryptionByDefault:EncryptionByDefault"
ACCOUNT_PAB = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
PASSWORD_POLICY = "aws:iam/accountPasswordPolicy:AccountPasswordPolicy"

_ACCOUNT_PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _s3_data_events(trail: Resource) -> bool | None:
    """Whether the trail logs S3 object-level events (None when unknown)."""
    selectors = as_list(trail.get("advancedEventSelectors"))
    classic = as_list(trail.get("eventSelectors"))
    if has_unknown(selectors) or has_unknown(classic):
        return None
    for selector in selectors:
        fields = {f.get("field"): as_list(f.get("equals")) for f in as_list(selector.get("fieldSelectors"))}
        if "Data" in fields.get("eventCategory", []) and "AWS::S3::Object" in fields.get("resources.type", []):
            return True
    for selector in classic:
        if any(d.get("type") == "AWS::S3::Object" for d in as_list(selector.get("dataResources"))):
            return True
    return False


def _trail_gaps(trail: Resource) -> list[str] | None:
    """What a trail lacks of the baseline (None when a value is unknown)."""
    checks: dict[str, Any] = {
        "isMultiRegionTrail=True": trail.get("isMultiRegionTrail"),
        "enableLogFileValidation=True": trail.get("enableLogFileValidation"),
        "kmsKeyId (a customer-managed key)": trail.get("kmsKeyId"),
        "cloudWatchLogsGroupArn": trail.get("cloudWatchLogsGroupArn"),
    }
    if any(is_unknown(v) for v in checks.values()) or is_unknown(trail.get("enableLogging")):
        return None
    data_events = _s3_data_events(trail)
    if data_events is None:
        return None
    gaps = [k for k, v in checks.items() if not (is_true(v) if k.endswith("True") else
                                                 (is_customer_managed_key(v) if k.startswith("kms") else bool(v)))]
    if not data_events:
        gaps.append("S3 data events (an event selector for AWS::S3::Object)")
    if is_false(trail.get("enableLogging")):
        gaps.append("enableLogging (it is false)")
    return gaps


def cloudtrail_required(resources: list[Resource], report: Report, cfg: Settings) -> None:
    trails = list(of_type(resources, TRAIL))
    if not trails:
        if cfg["required"]:
            report("no CloudTrail trail: API activity in this account would not be recorded. Turn on "
                   "audit.cloudtrail (components/audit.py).")
        return
    results = [(t, _trail_gaps(t)) for t in trails]
    if any(gaps is None or not gaps for _, gaps in results):
        return  # one complete trail (or one not yet known) is enough
    for trail, gaps in results:
        report(f"the trail lacks {', '.join(gaps or [])}: the account's audit trail must be multi-region, "
               "validated, encrypted with a customer-managed key, sent to CloudWatch Logs and record S3 data "
               "events on the PHI buckets (components/audit.py).", trail.urn)


stack_policy(
    "cloudtrail-required", concern="logging", citation=AUDIT, types=(TRAIL,),
    config=required_flag(True, "an account CloudTrail trail"),
    description="A multi-region CloudTrail trail with log-file validation, a customer-managed key, CloudWatch "
                "Logs delivery and S3 data events exists.",
)(cloudtrail_required)


def config_recorder_on(resources: list[Resource], report: Report, cfg: Settings) -> None:
    recorders = list(of_type(resources, RECORDER))
    if not recorders:
        if cfg["required"]:
            report("no AWS Config recorder: resource configuration history and the HIPAA conformance pack need "
                   "one. Turn on audit.configRecorder (components/audit.py).")
        return
    statuses = list(of_type(resources, RECORDER_STATUS))
    channels = list(of_type(resources, DELIVERY_CHANNEL))
    for recorder in recorders:
        group = recorder.get("recordingGroup") or {}
        if is_unknown(group):
            continue
        if not is_true(group.get("allSupported")) or not is_true(group.get("includeGlobalResourceTypes")):
            report("recordingGroup must record all supported resources with global resource types "
                   "(allSupported=True, includeGlobalResourceTypes=True).", recorder.urn)
        mine = [s for s in statuses if s.refers_to(recorder, "name")]
        if not any(is_true(s.get("isEnabled")) or is_unknown(s.get("isEnabled")) for s in mine):
            report("the recorder is not started: add a RecorderStatus with isEnabled=True for it.", recorder.urn)
    if not channels:
        report("no AWS Config delivery channel: the recorder cannot start without one. Deliver to the audit-log "
               "bucket.", recorders[0].urn)


stack_policy(
    "config-recorder-on", concern="logging", citation=REVIEW, types=(RECORDER, RECORDER_STATUS, DELIVERY_CHANNEL),
    config=required_flag(True, "an AWS Config recorder"),
    description="AWS Config records all supported resources (global types included), is started, and delivers.",
)(config_recorder_on)

#: GuardDuty protection plans the baseline requires; EKS runtime monitoring may come from either feature.
GUARDDUTY_REQUIRED = ("S3_DATA_EVENTS", "EKS_AUDIT_LOGS", "RDS_LOGIN_EVENTS", "EBS_MALWARE_PROTECTION")
EKS_RUNTIME = ("RUNTIME_MONITORING", "EKS_RUNTIME_MONITORING")


def guardduty_features(resources: list[Resource], report: Report, cfg: Settings) -> None:
    detectors = list(of_type(resources, DETECTOR))
    if not detectors:
        if cfg["required"]:
            report("no GuardDuty detector: threats to the account, the EKS clusters and the databases would go "
                   "unnoticed. Turn on audit.guardduty (components/audit.py).")
        return
    features = list(of_type(resources, DETECTOR_FEATURE))
    for detector in detectors:
        if is_false(detector.get("enable")):
            report("the detector is disabled: set enable=True.", detector.urn)
            continue
        mine = [f for f in features if f.refers_to(detector, "detectorId")]
        if any(is_unknown(f.get("name")) or is_unknown(f.get("status")) for f in mine):
            continue
        enabled = {f.get("name") for f in mine if f.get("status") == "ENABLED"}
        missing = [name for name in GUARDDUTY_REQUIRED if name not in enabled]
        if not enabled & set(EKS_RUNTIME):
            missing.append("RUNTIME_MONITORING (EKS runtime monitoring)")
        if missing:
            report(f"GuardDuty features not enabled: {', '.join(missing)}. Add a DetectorFeature with "
                   "status='ENABLED' for each.", detector.urn)


stack_policy(
    "guardduty-features", concern="logging", citation=REVIEW, types=(DETECTOR, DETECTOR_FEATURE),
    config=required_flag(True, "a GuardDuty detector"),
    description="GuardDuty is on with S3, EKS audit-log, EKS runtime, RDS login and malware protection.",
)(guardduty_features)


def securityhub_enabled(resources: list[Resource], report: Report, cfg: Settings) -> None:
    if cfg["required"] and not list(of_type(resources, SECURITY_HUB)):
        report("Security Hub is not enabled: no account-wide view of findings and control checks. Turn on "
               "audit.securityHub (components/audit.py).")
        return
    for hub in of_type(resources, SECURITY_HUB):
        arns = [s.get("standardsArn") for s in of_type(resources, STANDARDS)]
        if any(is_unknown(a) for a in arns):
            continue
        if not any(isinstance(a, str) and "aws-foundational-security-best-practices" in a for a in arns):
            report("no subscription to AWS Foundational Security Best Practices: add a StandardsSubscription.",
                   hub.urn)


stack_policy(
    "securityhub-enabled", concern="logging", citation=REVIEW, types=(SECURITY_HUB, STANDARDS),
    config=required_flag(True, "Security Hub"),
    description="Security Hub is enabled with the AWS Foundational Security Best Practices standard.",
)(securityhub_enabled)


def ebs_encryption_by_default(resources: list[Resource], report: Report, cfg: Settings) -> None:
    settings = list(of_type(resources, EBS_DEFAULT))
    if not settings and cfg["required"]:
        report("EBS encryption by default is not managed: a volume created outside this program could be "
               "unencrypted. Turn on audit.ebsEncryptionByDefault (components/audit.py).")
    for setting in settings:
        if is_false(setting.get("enabled")):
            report("EBS encryption by default is off: set enabled=True.", setting.urn)


stack_policy(
    "ebs-encryption-by-default", concern="encryption", citation=AT_REST, types=(EBS_DEFAULT,),
    config=required_flag(True, "EBS encryption by default"),
    description="The account encrypts every new EBS volume by default.",
)(ebs_encryption_by_default)


def s3_account_public_access_block(resources: list[Resource], report: Report, cfg: Settings) -> None:
    blocks = list(of_type(resources, ACCOUNT_PAB))
    if not blocks and cfg["required"]:
        report("no account-level S3 public access block: a bucket created outside this program could be made "
               "public. Turn on audit.accountPublicAccessBlock (components/audit.py).")
    for block in blocks:
        off = [f for f in _ACCOUNT_PAB_FLAGS if not is_unknown(block.get(f)) and not is_true(block.get(f))]
        if off:
            report(f"the account public access block leaves {', '.join(off)} off: set all four to true.", block.urn)


stack_policy(
    "s3-account-public-access-block", concern="exposure", citation=ACCESS, types=(ACCOUNT_PAB,),
    config=required_flag(True, "the account-level S3 public access block"),
    description="The account-level S3 public access block is on with all four settings.",
)(s3_account_public_access_block)

#: AWS's HIPAA conformance pack's iam-password-policy parameters (the template's defaults).
PASSWORD_MINIMUMS = {"minimumPasswordLength": 14, "passwordReusePrevention": 24}
PASSWORD_FLAGS = ("requireLowercaseCharacters", "requireUppercaseCharacters", "requireNumbers", "requireSymbols")
MAX_PASSWORD_AGE = 90


def iam_password_policy(resources: list[Resource], report: Report, cfg: Settings) -> None:
    policies = list(of_type(resources, PASSWORD_POLICY))
    if not policies and cfg["required"]:
        report("no IAM account password policy: console passwords would follow AWS's weak default. Turn on "
               "audit.passwordPolicy (components/audit.py).")
    for policy in policies:
        problems = [f"{key} must be at least {low}" for key, low in PASSWORD_MINIMUMS.items()
                    if (v := as_int(policy.get(key))) is None or v < low]
        problems += [f"{flag} must be true" for flag in PASSWORD_FLAGS if not is_true(policy.get(flag))]
        age = as_int(policy.get("maxPasswordAge"))
        if age is None or not 0 < age <= MAX_PASSWORD_AGE:
            problems.append(f"maxPasswordAge must be 1..{MAX_PASSWORD_AGE}")
        if not has_unknown(policy.props) and problems:
            report(f"the password policy is weaker than the HIPAA pack's: {'; '.join(problems)}.", policy.urn)


stack_policy(
    "iam-password-policy", concern="exposure", citation=ACCESS, types=(PASSWORD_POLICY,),
    config=required_flag(True, "an IAM password policy"),
    description="The IAM password policy meets the HIPAA pack's parameters (length 14, reuse 24, age 90, all "
                "character classes).",
)(iam_password_policy)

POLICIES = policies_of(__name__)

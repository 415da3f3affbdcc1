"""The account baseline's AWS constraints (components/audit.py): what CreateTrail, PutConfigurationRecorder,
PutConformancePack and GuardDuty's UpdateDetector refuse.

Dependencies are read as the engine gives them to ``AnalyzeStack`` (``dependencies`` and
``propertyDependencies``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from deploy_common import (
    KMS_KEY,
    S3_BUCKETS,
    Report,
    Resource,
    Settings,
    as_list,
    is_unknown,
    of_type,
    parse_json,
    policies_of,
    region_of,
    stack_policy,
)

TRAIL = "aws:cloudtrail/trail:Trail"
S3_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
RECORDER = "aws:cfg/recorder:Recorder"
RECORDER_STATUS = "aws:cfg/recorderStatus:RecorderStatus"
CONFORMANCE_PACK = "aws:cfg/conformancePack:ConformancePack"
DETECTOR_FEATURE = "aws:guardduty/detectorFeature:DetectorFeature"

RECORDER_SOURCE = "https://docs.aws.amazon.com/config/latest/APIReference/API_PutConfigurationRecorder.html"
TRAIL_BUCKET_SOURCE = "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html"
TRAIL_KEY_SOURCE = "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html"
GUARDDUTY_SOURCE = "https://docs.aws.amazon.com/guardduty/latest/APIReference/API_DetectorFeatureConfiguration.html"
PACK_SOURCE = "https://docs.aws.amazon.com/config/latest/APIReference/API_PutConformancePack.html"

#: PutConformancePack's TemplateBody limit (bytes).
TEMPLATE_BODY_MAX = 51200
CLOUDTRAIL = "cloudtrail.amazonaws.com"


def _linked(user: Resource, other: Resource) -> bool:
    return other.urn in user.dependencies or any(other.urn in urns for urns in user.property_dependencies.values())


def _statements(document: Any) -> list[dict[str, Any]]:
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    return [s for s in (statements if isinstance(statements, list) else [statements]) if isinstance(s, dict)]


def _allows(document: Any, service: str, action: str) -> bool:
    for s in _statements(document):
        principal = s.get("Principal")
        services = as_list(principal.get("Service")) if isinstance(principal, dict) else []
        actions = as_list(s.get("Action"))
        if s.get("Effect") == "Allow" and service in services and any(
                a == action or (a.endswith("*") and action.startswith(a[:-1])) for a in actions):
            return True
    return False


@stack_policy(
    "config-one-recorder-per-region", concern="naming", source=RECORDER_SOURCE, types=(RECORDER,),
    description="At most one AWS Config configuration recorder per region (one customer-managed recorder per "
                "account and region; PutConfigurationRecorder fails with "
                "MaxNumberOfConfigurationRecordersExceededException).",
)
def config_one_recorder_per_region(resources: list[Resource], report: Report, _: Settings) -> None:
    recorders = list(of_type(resources, RECORDER))
    counts = Counter(region_of(r) for r in recorders)
    for recorder in recorders:
        if counts[region_of(recorder)] > 1:
            report(f"{counts[region_of(recorder)]} configuration recorders in region {region_of(recorder)}: AWS "
                   "Config allows one per account and region. Keep one (components/audit.py).", recorder.urn)


@stack_policy(
    "cloudtrail-bucket-policy-first", concern="ordering", source=TRAIL_BUCKET_SOURCE, types=(TRAIL, S3_POLICY),
    description="A trail depends on its bucket's policy, which lets cloudtrail.amazonaws.com GetBucketAcl and "
                "PutObject (CreateTrail fails with InsufficientS3BucketPolicyException otherwise).",
)
def cloudtrail_bucket_policy_first(resources: list[Resource], report: Report, _: Settings) -> None:
    policies = list(of_type(resources, S3_POLICY))
    buckets = list(of_type(resources, *S3_BUCKETS))
    for trail in of_type(resources, TRAIL):
        name = trail.get("s3BucketName")
        if is_unknown(name):
            continue
        bucket = [b for b in buckets if trail.refers_to(b, "s3BucketName")]
        mine = [p for p in policies if bucket and p.refers_to(bucket[0], "bucket")]
        if not mine:
            if bucket:
                report(f"the trail's bucket {name} has no bucket policy in this stack: CloudTrail checks it when the "
                       "trail is created.", trail.urn)
            continue
        documents = [parse_json(p.get("policy")) for p in mine]
        if any(is_unknown(p.get("policy")) for p in mine):
            continue
        missing = [a for a in ("s3:GetBucketAcl", "s3:PutObject") if not any(_allows(d, CLOUDTRAIL, a)
                                                                         for d in documents)]
        if missing:
            report(f"the bucket policy of {name} does not allow {CLOUDTRAIL} {', '.join(missing)}: CreateTrail "
                   "fails with InsufficientS3BucketPolicyException.", trail.urn)
        if not any(_linked(trail, p) for p in mine):
            report("the trail does not depend on its bucket's policy: Pulumi may create both at once and CreateTrail "
                   "fails. Add depends_on=[bucket policy].", trail.urn)


@stack_policy(
    "cloudtrail-key-allows-trail", concern="access", source=TRAIL_KEY_SOURCE, types=(TRAIL, KMS_KEY),
    description="The trail's KMS key lets cloudtrail.amazonaws.com GenerateDataKey* and DescribeKey (CloudTrail "
                "refuses the key with InsufficientEncryptionPolicyException otherwise).",
)
def cloudtrail_key_allows_trail(resources: list[Resource], report: Report, _: Settings) -> None:
    keys = list(of_type(resources, KMS_KEY))
    for trail in of_type(resources, TRAIL):
        mine = [k for k in keys if trail.refers_to(k, "kmsKeyId")]
        if not mine or is_unknown(mine[0].get("policy")):
            continue
        document = parse_json(mine[0].get("policy"))
        missing = [a for a in ("kms:GenerateDataKey", "kms:DescribeKey") if not _allows(document, CLOUDTRAIL, a)]
        if missing:
            report(f"the trail's key policy does not allow {CLOUDTRAIL} {', '.join(missing)}: CloudTrail cannot "
                   "encrypt its log files (components/encryption.py, domain 'audit').", trail.urn)


@stack_policy(
    "guardduty-runtime-monitoring-exclusive", concern="naming", source=GUARDDUTY_SOURCE, types=(DETECTOR_FEATURE,),
    description="A detector has EKS_RUNTIME_MONITORING or RUNTIME_MONITORING, never both (UpdateDetector fails).",
)
def guardduty_runtime_exclusive(resources: list[Resource], report: Report, _: Settings) -> None:
    features = list(of_type(resources, DETECTOR_FEATURE))
    by_detector: dict[str, list[Resource]] = {}
    for feature in features:
        deps = feature.property_dependencies.get("detectorId") or []
        detector = deps[0] if deps else str(feature.get("detectorId"))
        by_detector.setdefault(detector, []).append(feature)
    for group in by_detector.values():
        names = {f.get("name") for f in group}
        if {"EKS_RUNTIME_MONITORING", "RUNTIME_MONITORING"} <= names:
            report("EKS_RUNTIME_MONITORING and RUNTIME_MONITORING on one detector: GuardDuty accepts only one "
                   "(RUNTIME_MONITORING with EKS_ADDON_MANAGEMENT covers EKS).", group[0].urn)


@stack_policy(
    "conformance-pack-deployable", concern="ordering", source=PACK_SOURCE, types=(CONFORMANCE_PACK, RECORDER_STATUS),
    description="A conformance pack's template body is at most 51,200 bytes and it depends on a started "
                "configuration recorder (PutConformancePack fails with NoAvailableConfigurationRecorderException).",
)
def conformance_pack_deployable(resources: list[Resource], report: Report, _: Settings) -> None:
    statuses = list(of_type(resources, RECORDER_STATUS))
    for pack in of_type(resources, CONFORMANCE_PACK):
        body = pack.get("templateBody")
        if isinstance(body, str) and len(body.encode()) > TEMPLATE_BODY_MAX:
            report(f"templateBody is {len(body.encode())} bytes: PutConformancePack accepts at most "
                   f"{TEMPLATE_BODY_MAX}. Upload it to S3 and use templateS3Uri.", pack.urn)
        if not any(_linked(pack, s) for s in statuses):
            report("the conformance pack does not depend on a RecorderStatus: it needs a recording configuration "
                   "recorder. Add depends_on=[recorder status].", pack.urn)


POLICIES = policies_of(__name__)

"""The account baseline's deploy rules (policies/deploy/deploy_audit.py): exact messages, compliant cases."""

from __future__ import annotations

import json

from components.encryption import key_policy
from tests.policies.deploy.support import Res, check_stack

ACCOUNT, REGION = "333333333333", "us-east-2"
TRAIL_T, KEY_T = "aws:cloudtrail/trail:Trail", "aws:kms/key:Key"
BUCKET_T, POLICY_T = "aws:s3/bucket:Bucket", "aws:s3/bucketPolicy:BucketPolicy"
FEATURE_T, DETECTOR_T = "aws:guardduty/detectorFeature:DetectorFeature", "aws:guardduty/detector:Detector"
RECORDER_T, STATUS_T = "aws:cfg/recorder:Recorder", "aws:cfg/recorderStatus:RecorderStatus"
PACK_T = "aws:cfg/conformancePack:ConformancePack"
BUCKET = "care-prod-audit-logs-333333333333"


def bucket_policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ACL = {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl",
       "Resource": f"arn:aws:s3:::{BUCKET}"}
WRITE = {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{BUCKET}/cloudtrail/AWSLogs/{ACCOUNT}/*"}


def _trail_stack(policy: str, *, linked: bool = True) -> list[Res]:
    bucket = Res(BUCKET_T, "bucket", {"bucket": BUCKET})
    pol = Res(POLICY_T, "bucket-policy", {"bucket": BUCKET, "policy": policy})
    trail = Res(TRAIL_T, "trail", {"s3BucketName": BUCKET}, depends=(pol,) if linked else ())
    return [bucket, pol, trail]


def test_trail_needs_the_bucket_policy_first() -> None:
    assert check_stack("cloudtrail-bucket-policy-first", _trail_stack(bucket_policy(ACL, WRITE))) == []
    assert check_stack("cloudtrail-bucket-policy-first", _trail_stack(bucket_policy(ACL), linked=False)) == [
        (f"the bucket policy of {BUCKET} does not allow cloudtrail.amazonaws.com s3:PutObject: CreateTrail fails with "
         "InsufficientS3BucketPolicyException.", "trail"),
        ("the trail does not depend on its bucket's policy: Pulumi may create both at once and CreateTrail fails. Add "
         "depends_on=[bucket policy].", "trail")]
    no_policy = _trail_stack(bucket_policy(), linked=False)[::2]
    assert check_stack("cloudtrail-bucket-policy-first", no_policy) == [
        (f"the trail's bucket {BUCKET} has no bucket policy in this stack: CloudTrail checks it when the trail is "
         "created.", "trail")]


def test_trail_key_must_let_cloudtrail_encrypt() -> None:
    admins = {"admin_arns": ["arn:aws:iam::1:role/a"], "policy_admin_arns": ["arn:aws:iam::1:role/a"]}
    audit = json.dumps(key_policy("audit", account_id=ACCOUNT, region=REGION, **admins))
    storage = json.dumps(key_policy("storage", account_id=ACCOUNT, region=REGION, **admins))
    for policy, expected in ((audit, []), (storage, [(
            "the trail's key policy does not allow cloudtrail.amazonaws.com kms:GenerateDataKey, kms:DescribeKey: "
            "CloudTrail cannot encrypt its log files (components/encryption.py, domain 'audit').", "trail")])):
        key = Res(KEY_T, "key", {"policy": policy})
        trail = Res(TRAIL_T, "trail", {"s3BucketName": BUCKET, "kmsKeyId": "arn:aws:kms:x"},
                    property_depends={"kmsKeyId": (key,)})
        assert check_stack("cloudtrail-key-allows-trail", [key, trail]) == expected


def test_one_recorder_per_region() -> None:
    one = Res(RECORDER_T, "rec", {"name": "a"}, region=REGION)
    other_region = Res(RECORDER_T, "rec-dr", {"name": "b"}, region="us-west-2")
    assert check_stack("config-one-recorder-per-region", [one, other_region]) == []
    two = Res(RECORDER_T, "rec-2", {"name": "c"}, region=REGION)
    message = ("2 configuration recorders in region us-east-2: AWS Config allows one per account and region. Keep "
               "one (components/audit.py).")
    assert check_stack("config-one-recorder-per-region", [one, two]) == [(message, "rec"), (message, "rec-2")]


def test_guardduty_runtime_features_are_exclusive() -> None:
    detector = Res(DETECTOR_T, "gd", {"enable": True})

    def feature(name: str) -> Res:
        return Res(FEATURE_T, name.lower(), {"detectorId": "d", "name": name, "status": "ENABLED"},
                   property_depends={"detectorId": (detector,)})

    assert check_stack("guardduty-runtime-monitoring-exclusive", [detector, feature("RUNTIME_MONITORING"),
                                                                   feature("S3_DATA_EVENTS")]) == []
    assert check_stack("guardduty-runtime-monitoring-exclusive", [
        detector, feature("EKS_RUNTIME_MONITORING"), feature("RUNTIME_MONITORING")]) == [(
            "EKS_RUNTIME_MONITORING and RUNTIME_MONITORING on one detector: GuardDuty accepts only one "
            "(RUNTIME_MONITORING with EKS_ADDON_MANAGEMENT covers EKS).", "eks_runtime_monitoring")]


def test_conformance_pack_fits_and_waits_for_the_recorder() -> None:
    status = Res(STATUS_T, "status", {"isEnabled": True})
    pack = Res(PACK_T, "pack", {"templateBody": "Resources: {}"}, depends=(status,))
    assert check_stack("conformance-pack-deployable", [status, pack]) == []
    big = Res(PACK_T, "pack", {"templateBody": "x" * 51201})
    assert check_stack("conformance-pack-deployable", [status, big]) == [
        ("templateBody is 51201 bytes: PutConformancePack accepts at most 51200. Upload it to S3 and use "
         "templateS3Uri.", "pack"),
        ("the conformance pack does not depend on a RecorderStatus: it needs a recording configuration recorder. Add "
         "depends_on=[recorder status].", "pack")]

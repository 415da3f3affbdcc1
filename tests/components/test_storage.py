"""Storage and SecureBucket: the prod buckets (PHI data replicated to DR, Object Lock on audit logs)."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pytest

from components.storage import SecureBucket, Storage, StorageConfig
from tests.helpers import PROD_TAGS, render, stack_config, stack_raw, untagged

KEY = "arn:aws:kms:us-east-2:333333333333:key/storage"
DR_KEY = "arn:aws:kms:us-west-2:333333333333:key/dr-storage"
ACCOUNT = "333333333333"
NAME = "care-prod"
BUCKETS = ("access-logs", "static-assets", "app-data", "audit-logs", "dr-access-logs", "dr-app-data")


def _render(config: StorageConfig, *, dr: bool, protect: bool):
    def program() -> None:
        dr_provider = aws.Provider("aws-dr", region="us-west-2") if dr else None
        Storage(NAME, config, account_id=ACCOUNT, region="us-east-2", kms_key_arn=KEY,
                dr_kms_key_arn=DR_KEY if dr else None, dr_region="us-west-2" if dr else None, dr_provider=dr_provider,
                force_destroy=not protect, protect=protect, tags=PROD_TAGS)

    return render(program)


@pytest.fixture(scope="module")
def prod():
    return _render(stack_config("prod").storage, dr=True, protect=True)


@pytest.fixture(scope="module")
def dev():
    return _render(StorageConfig.model_validate(stack_raw("dev")["storage"]), dr=False, protect=False)


def _of(plan, kind: str, label: str):
    return plan.named(f"{NAME}-{label}-{kind}").inputs


def test_buckets_and_their_names(prod):
    buckets = prod.of_type("aws:s3/bucket:Bucket")
    assert sorted(b.inputs["bucket"] for b in buckets) == sorted(f"{NAME}-{b}-{ACCOUNT}" for b in BUCKETS)
    assert all(b.protect for b in buckets)
    assert all(b.inputs["forceDestroy"] is False for b in buckets)
    storage = prod.of_type("care:storage:Storage")[0]
    components = prod.of_type("care:storage:SecureBucket")
    assert len(components) == 6 and all(c.parent == storage.urn for c in components)
    assert untagged(prod, PROD_TAGS) == []


def test_every_bucket_is_private_versioned_and_owner_enforced(prod):
    for label in BUCKETS:
        assert _of(prod, "public-access", label) == {
            "bucket": f"{NAME}-{label}-{ACCOUNT}", "blockPublicAcls": True, "blockPublicPolicy": True,
            "ignorePublicAcls": True, "restrictPublicBuckets": True}
        assert _of(prod, "ownership", label)["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
        assert _of(prod, "versioning", label)["versioningConfiguration"] == {"status": "Enabled"}


def test_encryption(prod):
    for label, key in (("static-assets", KEY), ("app-data", KEY), ("audit-logs", KEY), ("dr-app-data", DR_KEY)):
        assert _of(prod, "encryption", label)["rules"] == [{
            "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key},
            "bucketKeyEnabled": True}]
    # S3 server access logging delivers only to SSE-S3 buckets.
    for label in ("access-logs", "dr-access-logs"):
        assert _of(prod, "encryption", label)["rules"] == [{
            "applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}, "bucketKeyEnabled": False}]


def test_policies_deny_plain_http_and_tls_below_1_2_and_admit_log_delivery(prod):
    for label in BUCKETS:
        statements = json.loads(_of(prod, "policy", label)["policy"])["Statement"]
        arn = f"arn:aws:s3:::{NAME}-{label}-{ACCOUNT}"
        assert statements[0] == {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
                                 "Action": "s3:*", "Resource": [arn, f"{arn}/*"],
                                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
        assert statements[1] == {"Sid": "DenyTlsBelow12", "Effect": "Deny", "Principal": "*",
                                 "Action": "s3:*", "Resource": [arn, f"{arn}/*"],
                                 "Condition": {"NumericLessThan": {"s3:TlsVersion": 1.2}}}
        if label.endswith("access-logs"):
            # Only this stack's buckets (<name>-<label>-<account>, the observability tier's too) deliver here.
            assert statements[2] == {
                "Sid": "AllowS3ServerAccessLogs", "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject",
                "Resource": f"{arn}/*",
                "Condition": {"ArnLike": {"aws:SourceArn": [f"arn:aws:s3:::{NAME}-*-{ACCOUNT}"]},
                              "StringEquals": {"aws:SourceAccount": ACCOUNT}}}
            assert len(statements) == 3
        else:
            assert len(statements) == 2


def test_an_access_log_bucket_names_its_sources():
    def program() -> None:
        SecureBucket("b", bucket_name="b", purpose="access-logs", account_id=ACCOUNT, kms_key_arn=None,
                     receives_access_logs=True, lifecycle=StorageConfig().lifecycle, tags=PROD_TAGS)

    with pytest.raises(Exception, match="b: an access-log bucket names the buckets that log to it"):
        render(program)


def test_access_logging_to_the_log_bucket_of_the_region(prod):
    logging = {r.inputs["bucket"]: r.inputs for r in prod.of_type("aws:s3/bucketLogging:BucketLogging")}
    assert {b: (v["targetBucket"], v["targetPrefix"]) for b, v in logging.items()} == {
        f"{NAME}-{label}-{ACCOUNT}": (f"{NAME}-{'dr-' if label.startswith('dr-') else ''}access-logs-{ACCOUNT}",
                                      f"{NAME}-{label}-{ACCOUNT}/")
        for label in ("static-assets", "app-data", "audit-logs", "dr-app-data")
    }


def test_lifecycle_rules(prod):
    base = {"id": "retention", "status": "Enabled", "filter": {"prefix": ""},
            "noncurrentVersionExpiration": {"noncurrentDays": 365},
            "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7}}
    tiers = [{"days": 30, "storageClass": "STANDARD_IA"}, {"days": 90, "storageClass": "GLACIER"}]
    assert _of(prod, "lifecycle", "app-data")["rules"] == [{**base, "transitions": tiers}]
    assert _of(prod, "lifecycle", "audit-logs")["rules"] == [{**base, "transitions": tiers}]
    assert _of(prod, "lifecycle", "static-assets")["rules"] == [base]
    assert _of(prod, "lifecycle", "access-logs")["rules"] == [{**base, "transitions": tiers,
                                                               "expiration": {"days": 400}}]


def test_audit_logs_object_lock(prod):
    assert prod.named(f"{NAME}-audit-logs-bucket").inputs["objectLockEnabled"] is True
    assert _of(prod, "object-lock", "audit-logs")["rule"] == {"defaultRetention": {"mode": "COMPLIANCE",
                                                                                   "days": 2190}}
    assert len(prod.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")) == 1
    assert "objectLockEnabled" not in prod.named(f"{NAME}-app-data-bucket").inputs


def test_purpose_and_log_delivery_tags(prod):
    tags = {r.inputs["bucket"].removeprefix(f"{NAME}-").removesuffix(f"-{ACCOUNT}"): r.inputs["tags"]
            for r in prod.of_type("aws:s3/bucket:Bucket")}
    assert {label: t["Purpose"] for label, t in tags.items()} == {
        label: label.removeprefix("dr-") for label in BUCKETS}
    assert sorted(label for label, t in tags.items() if t.get("LogDelivery") == "s3-server-access-logs") == [
        "access-logs", "dr-access-logs"]


def test_backup_tag_on_primary_content_buckets(prod):
    tagged = sorted(r.inputs["bucket"] for r in prod.of_type("aws:s3/bucket:Bucket")
                    if r.inputs["tags"].get("Backup") == "true")
    assert tagged == [f"{NAME}-{label}-{ACCOUNT}" for label in ("app-data", "audit-logs", "static-assets")]


def test_app_data_replicates_to_dr(prod):
    dr = prod.named("aws-dr").urn
    for label in ("dr-app-data", "dr-access-logs"):
        assert prod.named(f"{NAME}-{label}-bucket").provider.startswith(dr)
    assert prod.named(f"{NAME}-app-data-bucket").provider == ""  # the default (primary) provider here
    replication = prod.named(f"{NAME}-app-data-replication")
    rule = replication.inputs["rules"][0]
    assert rule == {
        "id": "to-dr", "status": "Enabled", "filter": {"prefix": ""},
        "deleteMarkerReplication": {"status": "Enabled"},
        "sourceSelectionCriteria": {"sseKmsEncryptedObjects": {"status": "Enabled"}},
        "destination": {"bucket": f"arn:aws:s3:::{NAME}-dr-app-data-{ACCOUNT}", "storageClass": "STANDARD",
                        "encryptionConfiguration": {"replicaKmsKeyId": DR_KEY}},
    }
    # Versioning on both sides and the role's permissions exist before the rule (S3 rejects it otherwise).
    for needed in (f"{NAME}-app-data-versioning", f"{NAME}-dr-app-data-versioning",
                   f"{NAME}-app-data-replication-policy-attachment"):
        assert prod.named(needed).urn in replication.dependencies, needed
    policy = json.loads(prod.named(f"{NAME}-app-data-replication-policy").inputs["policy"])
    resources = {s["Action"][0]: s["Resource"] for s in policy["Statement"]}
    assert resources["s3:ReplicateObject"] == f"arn:aws:s3:::{NAME}-dr-app-data-{ACCOUNT}/*"
    source, replica = f"arn:aws:s3:::{NAME}-app-data-{ACCOUNT}", f"arn:aws:s3:::{NAME}-dr-app-data-{ACCOUNT}"
    # Each key only through S3 in its own region, for its bucket's objects (bucket-key context = bucket ARN).
    assert policy["Statement"][3:] == [
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": KEY, "Condition": {"StringLike": {
            "kms:ViaService": "s3.us-east-2.amazonaws.com",
            "kms:EncryptionContext:aws:s3:arn": [source, f"{source}/*"]}}},
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Resource": DR_KEY,
         "Condition": {"StringLike": {"kms:ViaService": "s3.us-west-2.amazonaws.com",
                                      "kms:EncryptionContext:aws:s3:arn": [replica, f"{replica}/*"]}}}]
    # No confused-deputy condition in the trust: AWS does not document that S3 sends one for replication.
    assert json.loads(prod.named(f"{NAME}-app-data-replication-role").inputs["assumeRolePolicy"]) == {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}
    assert len(prod.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")) == 1


def test_dev_buckets_are_destroyable_but_still_encrypted(dev):
    buckets = {r.inputs["bucket"]: r for r in dev.of_type("aws:s3/bucket:Bucket")}
    assert sorted(buckets) == sorted(f"{NAME}-{b}-{ACCOUNT}" for b in BUCKETS[:4])
    assert all(not b.protect for b in buckets.values())
    assert buckets[f"{NAME}-app-data-{ACCOUNT}"].inputs["forceDestroy"] is True
    assert buckets[f"{NAME}-audit-logs-{ACCOUNT}"].inputs["forceDestroy"] is False  # Object Lock
    assert dev.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig") == []
    assert _of(dev, "encryption", "app-data")["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == (
        "aws:kms")


def test_a_kms_key_is_required_outside_the_log_bucket():
    def program() -> None:
        SecureBucket("b", bucket_name="b", purpose="app-data", account_id=ACCOUNT, kms_key_arn=None,
                     lifecycle=StorageConfig().lifecycle, tags=PROD_TAGS)

    with pytest.raises(Exception, match="only the access-log bucket may use SSE-S3"):
        render(program)


def test_access_logging_waits_for_the_log_buckets_delivery_policy(prod):
    for label, target in (("static-assets", "access-logs"), ("app-data", "access-logs"),
                          ("audit-logs", "access-logs"), ("dr-app-data", "dr-access-logs")):
        logging = prod.named(f"{NAME}-{label}-access-logging")
        assert prod.named(f"{NAME}-{target}-policy").urn in logging.dependencies, label


def test_every_bucket_sends_event_notifications_to_eventbridge(prod) -> None:  # type: ignore[no-untyped-def]
    notifications = {r.name: r.inputs for r in prod.of_type("aws:s3/bucketNotification:BucketNotification")}
    buckets = [r.name.removesuffix("-bucket") for r in prod.of_type("aws:s3/bucket:Bucket")]
    assert sorted(notifications) == sorted(f"{b}-notifications" for b in buckets)
    assert all(n["eventbridge"] is True for n in notifications.values())


DISTRIBUTION = f"arn:aws:cloudfront::{ACCOUNT}:distribution/E2EXAMPLE"


@pytest.mark.parametrize(("region", "principal"), [
    ("us-east-2", {"AWS": "arn:aws:iam::033677994240:root"}),
    ("eu-central-1", {"AWS": "arn:aws:iam::054676820928:root"}),
    # Regions opened since August 2022 have no ELB account: the log-delivery service principal instead.
    ("ap-southeast-5", {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}),
])
def test_alb_log_delivery_and_cloudfront_reads(region: str, principal: dict) -> None:  # type: ignore[type-arg]
    def program() -> None:
        Storage(NAME, stack_config("prod").storage, account_id=ACCOUNT, region="us-east-2", kms_key_arn=KEY,
                alb_logs_region=region,
                cdn_distribution_arn=DISTRIBUTION, tags=PROD_TAGS)

    plan = render(program)
    logs_arn = f"arn:aws:s3:::{NAME}-access-logs-{ACCOUNT}"
    statements = json.loads(_of(plan, "policy", "access-logs")["policy"])["Statement"]
    assert statements[3] == {"Sid": "AllowAlbAccessLogs", "Effect": "Allow", "Principal": principal,
                             "Action": "s3:PutObject", "Resource": f"{logs_arn}/alb/*/AWSLogs/{ACCOUNT}/*"}
    assets_arn = f"arn:aws:s3:::{NAME}-static-assets-{ACCOUNT}"
    assets = json.loads(_of(plan, "policy", "static-assets")["policy"])["Statement"]
    assert [s["Sid"] for s in assets] == ["DenyInsecureTransport", "DenyTlsBelow12", "CloudFrontOacRead"]
    assert assets[2] == {"Sid": "CloudFrontOacRead", "Effect": "Allow",
                         "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
                         "Resource": f"{assets_arn}/*",
                         "Condition": {"StringEquals": {"AWS:SourceArn": DISTRIBUTION}}}
    app_data = json.loads(_of(plan, "policy", "app-data")["policy"])["Statement"]
    assert [s["Sid"] for s in app_data] == ["DenyInsecureTransport", "DenyTlsBelow12"]  # PHI: never CloudFront


def test_phi_objects_only_through_the_vpc_endpoint():
    """app-data (PHI, primary) denies data-plane access not through the VPC's S3 endpoint, except AWS services,
    replication and the exempted roles; no other bucket carries the deny."""
    def program() -> None:
        dr_provider = aws.Provider("aws-dr", region="us-west-2")
        Storage(NAME, stack_config("prod").storage, account_id=ACCOUNT, region="us-east-2", kms_key_arn=KEY,
                dr_kms_key_arn=DR_KEY, dr_region="us-west-2", dr_provider=dr_provider, s3_endpoint_id="vpce-0s3",
                tags=PROD_TAGS,
                exempt_role_patterns=[f"arn:aws:iam::{ACCOUNT}:role/care-prod-backup-role-*"])

    plan = render(program)
    arn = f"arn:aws:s3:::{NAME}-app-data-{ACCOUNT}"
    statements = json.loads(_of(plan, "policy", "app-data")["policy"])["Statement"]
    assert statements[2] == {
        "Sid": "DenyDataAccessOutsideTheVpc", "Effect": "Deny", "Principal": "*",
        "Action": ["s3:GetObject*", "s3:PutObject*", "s3:DeleteObject*", "s3:RestoreObject", "s3:ListBucket*",
                   "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0s3"},
                      "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
                      "ArnNotLike": {"aws:PrincipalArn": [
                          f"arn:aws:iam::{ACCOUNT}:role/care-prod-backup-role-*",
                          f"arn:aws:iam::{ACCOUNT}:role/{NAME}-app-data-replication-role-*"]}}}
    others = [label for label in BUCKETS if label != "app-data"
              and "DenyDataAccessOutsideTheVpc" in _of(plan, "policy", label)["policy"]]
    assert others == []

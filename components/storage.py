"""S3: a hardened bucket component, and the stack's buckets (static assets, PHI data, audit and access logs).

Every bucket is versioned, private (public access blocked, ACLs disabled), TLS-only, logged to the
access-log bucket and kept by lifecycle rules from config. Data buckets are encrypted with the
storage key (SSE-KMS with bucket keys) and replicate to a DR-region bucket with the DR key; the
audit-log bucket is created with Object Lock.

One AWS constraint shapes the access-log bucket: S3 server access logging delivers only to a
bucket whose default encryption is SSE-S3 (SSE-KMS is not supported for the log target), so that
bucket alone uses SSE-S3 (AES-256). It holds request metadata, not PHI objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
from pydantic import Field, model_validator

from components.common import BACKUP_TAG_KEY, ConfigModel, child_opts, managed_role_policy, service_role_trust, tags_for
from components.problems import ProblemCollector


class LifecycleConfig(ConfigModel):
    infrequent_access_after_days: int = Field(default=30, ge=30, le=3650)
    glacier_after_days: int = Field(default=90, ge=31, le=3650)
    noncurrent_expire_after_days: int = Field(default=365, ge=1, le=3650)
    abort_multipart_after_days: int = Field(default=7, ge=1, le=365)

    @model_validator(mode="after")
    def _order(self) -> LifecycleConfig:
        problems = ProblemCollector()
        if self.glacier_after_days <= self.infrequent_access_after_days:
            problems.add("glacierAfterDays", self.glacier_after_days,
                         f"must be later than infrequentAccessAfterDays ({self.infrequent_access_after_days})")
        problems.raise_if_any()
        return self


class ObjectLockConfig(ConfigModel):
    mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    days: int = Field(default=365, ge=1, le=36500)


class StorageConfig(ConfigModel):
    lifecycle: LifecycleConfig = LifecycleConfig()
    replicate_to_dr: bool = True
    audit_object_lock: ObjectLockConfig = ObjectLockConfig()
    #: Server access logs are deleted after this many days (they are request metadata, not records).
    access_logs_expire_after_days: int = Field(default=400, ge=90, le=3650)


@dataclass(frozen=True)
class Replication:
    """Where a bucket replicates to: the destination bucket's ARN and the key replicas are encrypted with."""

    destination_bucket_arn: pulumi.Input[str]
    destination_kms_key_arn: pulumi.Input[str]
    #: The source bucket's and the destination's regions: the replication role uses each key only through S3
    #: in that key's region (kms:ViaService).
    source_region: str
    destination_region: str
    #: The destination's versioning: S3 rejects a replication rule whose destination is not versioned
    #: ("Both source and destination buckets must have versioning enabled":
    #: https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-requirements.html).
    destination_versioning: pulumi.Resource


def _deny_everyone(sid: str, bucket_arn: str, condition: dict[str, Any]) -> dict[str, Any]:
    """A Deny of every S3 action on the bucket and its objects, to everyone, under ``condition``."""
    return {"Sid": sid, "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"], "Condition": condition}


def _deny_insecure_transport(bucket_arn: str) -> dict[str, Any]:
    return _deny_everyone("DenyInsecureTransport", bucket_arn, {"Bool": {"aws:SecureTransport": "false"}})


def _deny_tls_below_1_2(bucket_arn: str) -> dict[str, Any]:
    """TLS 1.2 at least (HIPAA transmission security): s3:TlsVersion is the request's TLS version, compared as a
    number (https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html#example-object-tls-version).
    A request without TLS has no s3:TlsVersion, and NumericLessThan on a missing key is false: the
    aws:SecureTransport deny above refuses those."""
    return _deny_everyone("DenyTlsBelow12", bucket_arn, {"NumericLessThan": {"s3:TlsVersion": 1.2}})


def _allow_access_log_delivery(bucket_arn: str, account_id: str, source_arns: Sequence[str]) -> dict[str, Any]:
    """S3 server access log delivery from this account's source buckets only (aws:SourceArn + aws:SourceAccount,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html#grant-log-delivery-permissions-general):
    no other bucket, in this account or another, can point its logs here."""
    return {
        "Sid": "AllowS3ServerAccessLogs",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{bucket_arn}/*",
        "Condition": {"ArnLike": {"aws:SourceArn": list(source_arns)},
                      "StringEquals": {"aws:SourceAccount": account_id}},
    }


#: Elastic Load Balancing's log-delivery account per region opened before August 2022: ALB access logs are
#: written by this account, which the log bucket's policy must name. Regions opened later use the
#: ``logdelivery.elasticloadbalancing.amazonaws.com`` service principal instead.
#: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html
ELB_LOG_ACCOUNTS: dict[str, str] = {
    "us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980",
    "us-west-2": "797873946194", "ca-central-1": "985666609251", "eu-central-1": "054676820928",
    "eu-west-1": "156460612806", "eu-west-2": "652711504416", "eu-west-3": "009996457667",
    "eu-north-1": "897822967062", "ap-northeast-1": "582318560864", "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450", "ap-southeast-2": "783225319266", "ap-south-1": "718504428378",
    "sa-east-1": "507241528517",
}
#: Where the ALBs write: ``alb/<app>/AWSLogs/<account>/...`` (components/app_service/exposure.py).
ALB_LOG_PREFIX = "alb"


def _allow_elb_log_delivery(bucket_arn: str, account_id: str, region: str) -> dict[str, Any]:
    """ALB access-log delivery into ``alb/*/AWSLogs/<account>/`` of this bucket, for the region's ELB."""
    account = ELB_LOG_ACCOUNTS.get(region)
    principal = ({"AWS": f"arn:aws:iam::{account}:root"} if account
                 else {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"})
    return {"Sid": "AllowAlbAccessLogs", "Effect": "Allow", "Principal": principal, "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/{ALB_LOG_PREFIX}/*/AWSLogs/{account_id}/*"}


def _allow_cloudfront_oac(bucket_arn: str, distribution_arn: str) -> dict[str, Any]:
    """s3:GetObject for one CloudFront distribution only (Origin Access Control signs as cloudfront.amazonaws.com).

    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html
    """
    return {"Sid": "CloudFrontOacRead", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject", "Resource": f"{bucket_arn}/*",
            "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}}}


#: Data-plane actions the VPC-only deny covers (object reads, writes, deletes; the control plane stays with IAM).
DATA_PLANE_ACTIONS = ("s3:GetObject*", "s3:PutObject*", "s3:DeleteObject*", "s3:RestoreObject",
                      "s3:ListBucket*", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload")


def _deny_outside_vpc(bucket_arn: str, endpoint_id: str, exempt_role_patterns: Sequence[str]) -> dict[str, Any]:
    """PHI objects only through this VPC's S3 endpoint: a stolen credential used elsewhere reads nothing. AWS
    services acting as themselves (log delivery) and the roles that must act from AWS's side (replication, AWS
    Backup) are exempt (aws:SourceVpce, aws:PrincipalIsAWSService, aws:PrincipalArn:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies-vpc-endpoint.html)."""
    return {
        "Sid": "DenyDataAccessOutsideTheVpc", "Effect": "Deny", "Principal": "*",
        "Action": list(DATA_PLANE_ACTIONS), "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"StringNotEquals": {"aws:SourceVpce": endpoint_id},
                      "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
                      "ArnNotLike": {"aws:PrincipalArn": list(exempt_role_patterns)}},
    }


def _replication_key_statement(actions: list[str], key_arn: pulumi.Input[str] | None, region: str,
                               bucket_arn: pulumi.Input[str]) -> dict[str, Any]:
    """The replication role's use of one key: only through S3 in the key's region, and only for this bucket's
    objects (the S3 encryption context), as AWS's SSE-KMS replication policy shows
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html). With an S3
    Bucket Key (both buckets have one) the context is the bucket's ARN, not the object's; objects written
    without it carry the object ARN, so both are admitted."""
    return {"Effect": "Allow", "Action": actions, "Resource": key_arn, "Condition": {"StringLike": {
        "kms:ViaService": f"s3.{region}.amazonaws.com",
        "kms:EncryptionContext:aws:s3:arn": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")]}}}


class SecureBucket(pulumi.ComponentResource):
    """One private, versioned, encrypted, TLS-only S3 bucket with lifecycle rules and access logging."""

    bucket_name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        bucket_name: str,
        purpose: str,
        account_id: str,
        kms_key_arn: pulumi.Input[str] | None,
        lifecycle: LifecycleConfig,
        tier_to_cold_storage: bool = True,
        expire_after_days: int | None = None,
        access_log_bucket: pulumi.Input[str] | None = None,
        access_log_ready: pulumi.Resource | None = None,
        receives_access_logs: bool = False,
        log_source_arns: Sequence[str] = (),
        alb_logs_region: str | None = None,
        cdn_distribution_arn: pulumi.Input[str] | None = None,
        object_lock: ObjectLockConfig | None = None,
        replication: Replication | None = None,
        extra_statements: Callable[[str], list[dict[str, Any]]] | None = None,
        vpc_endpoint_only: pulumi.Input[str] | None = None,
        exempt_role_patterns: Sequence[str] = (),
        backup: bool = False,
        force_destroy: bool = False,
        protect: bool = True,
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("care:storage:SecureBucket", name, None, opts)
        child = child_opts(self)
        if kms_key_arn is None and not receives_access_logs:
            raise ValueError(f"{name}: only the access-log bucket may use SSE-S3; give a KMS key")
        if receives_access_logs and not log_source_arns:
            raise ValueError(f"{name}: an access-log bucket names the buckets that log to it (log_source_arns)")
        extra_tags = {"Purpose": purpose}
        if backup:
            extra_tags[BACKUP_TAG_KEY] = "true"
        if receives_access_logs:
            # SSE-S3 here is forced by S3 server access logging (it cannot deliver to SSE-KMS buckets).
            extra_tags["LogDelivery"] = "s3-server-access-logs"

        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            aws.s3.BucketArgs(
                bucket=bucket_name,
                object_lock_enabled=True if object_lock else None,
                # Object Lock keeps locked versions whatever this says; elsewhere it is config.
                force_destroy=force_destroy and object_lock is None,
                tags=tags_for(tags, bucket_name, **extra_tags),
            ),
            child_opts(self, protect=protect),
        )
        self.bucket_name = self.bucket.bucket
        self.arn = self.bucket.arn
        bucket_id = self.bucket.id

        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            aws.s3.BucketPublicAccessBlockArgs(
                bucket=bucket_id, block_public_acls=True, block_public_policy=True, ignore_public_acls=True,
                restrict_public_buckets=True,
            ),
            child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            aws.s3.BucketOwnershipControlsArgs(
                bucket=bucket_id,
                rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            ),
            child,
        )
        self.versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            aws.s3.BucketVersioningInitArgs(
                bucket=bucket_id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            ),
            child,
        )
        by_default = (
            aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn)
            if kms_key_arn is not None else
            aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="AES256")
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            aws.s3.BucketServerSideEncryptionConfigurationInitArgs(
                bucket=bucket_id,
                rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=by_default,
                    bucket_key_enabled=kms_key_arn is not None,
                )],
            ),
            child,
        )

        exempt = [*exempt_role_patterns, *([f"arn:aws:iam::{account_id}:role/{name}-replication-role-*"]
                                           if replication is not None else [])]

        def policy(args: list[Any]) -> str:
            arn, distribution_arn, endpoint = args
            statements = [_deny_insecure_transport(arn), _deny_tls_below_1_2(arn)]
            if receives_access_logs:
                statements.append(_allow_access_log_delivery(arn, account_id, log_source_arns))
            if extra_statements is not None:
                statements += extra_statements(arn)
            if alb_logs_region is not None:
                statements.append(_allow_elb_log_delivery(arn, account_id, alb_logs_region))
            if distribution_arn is not None:
                statements.append(_allow_cloudfront_oac(arn, distribution_arn))
            if endpoint:
                statements.append(_deny_outside_vpc(arn, endpoint, exempt))
            return json.dumps({"Version": "2012-10-17", "Statement": statements})

        self.policy = aws.s3.BucketPolicy(
            f"{name}-policy",
            aws.s3.BucketPolicyArgs(bucket=bucket_id, policy=pulumi.Output.all(
                self.bucket.arn, cdn_distribution_arn, vpc_endpoint_only or "").apply(policy)),
            # S3 rejects a policy while the public-access block is still being written.
            child_opts(self, depends_on=[public_access]),
        )

        # Object-level changes go to EventBridge (AWS Config rule s3-event-notifications-enabled): rules there can
        # alert on deletions or feed scanners without touching the bucket again.
        aws.s3.BucketNotification(
            f"{name}-notifications", aws.s3.BucketNotificationArgs(bucket=bucket_id, eventbridge=True), child)

        if access_log_bucket is not None:
            aws.s3.BucketLogging(
                f"{name}-access-logging",
                aws.s3.BucketLoggingInitArgs(
                    bucket=bucket_id, target_bucket=access_log_bucket, target_prefix=f"{bucket_name}/",
                ),
                # After the target's policy admits logging.s3.amazonaws.com, or early logs are refused
                # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html).
                child_opts(self, depends_on=[access_log_ready] if access_log_ready is not None else []),
            )

        rule = aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="retention",
            status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            transitions=[
                aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                    days=lifecycle.infrequent_access_after_days, storage_class="STANDARD_IA"),
                aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                    days=lifecycle.glacier_after_days, storage_class="GLACIER"),
            ] if tier_to_cold_storage else None,
            expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=expire_after_days)
            if expire_after_days else None,
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=lifecycle.noncurrent_expire_after_days),
            abort_incomplete_multipart_upload=(
                aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=lifecycle.abort_multipart_after_days)),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            aws.s3.BucketLifecycleConfigurationArgs(bucket=bucket_id, rules=[rule]),
            child_opts(self, depends_on=[self.versioning]),
        )

        if object_lock is not None:
            aws.s3.BucketObjectLockConfiguration(
                f"{name}-object-lock",
                aws.s3.BucketObjectLockConfigurationInitArgs(
                    bucket=bucket_id,
                    rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                        default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                            mode=object_lock.mode, days=object_lock.days),
                    ),
                ),
                child_opts(self, depends_on=[self.versioning]),
            )

        if replication is not None:
            self._replicate(name, replication, kms_key_arn, tags)

        self.register_outputs({"bucketName": self.bucket_name, "arn": self.arn})

    def _replicate(self, name: str, replication: Replication, source_key: pulumi.Input[str] | None,
                   tags: Mapping[str, str]) -> None:
        child = child_opts(self)
        # No aws:SourceAccount/aws:SourceArn in the trust: AWS's replication role trust policy is the bare
        # s3.amazonaws.com one and AWS does not document that S3 sends either key when it assumes the role
        # ("Step 2: Creating an IAM role for Amazon S3 to assume",
        # https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html); a
        # condition the request lacked would stop replication silently. Another account cannot make S3 use this
        # role (naming it in a replication configuration needs iam:PassRole in this account), and its policy
        # reaches only this bucket, its replica and their keys, through S3, for these buckets' objects.
        role = aws.iam.Role(
            f"{name}-replication-role",
            aws.iam.RoleArgs(
                description=f"S3 replication of {name} to the DR region",
                assume_role_policy=service_role_trust("s3.amazonaws.com"),
                tags=tags_for(tags, f"{name}-replication-role"),
            ),
            child,
        )
        role_policy = managed_role_policy(
            f"{name}-replication-policy",
            aws.iam.RolePolicyArgs(
                role=role.id,
                policy=pulumi.Output.json_dumps({
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                         "Resource": self.arn},
                        {"Effect": "Allow",
                         "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                                    "s3:GetObjectVersionTagging"],
                         "Resource": pulumi.Output.concat(self.arn, "/*")},
                        {"Effect": "Allow", "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                         "Resource": pulumi.Output.concat(replication.destination_bucket_arn, "/*")},
                        _replication_key_statement(["kms:Decrypt"], source_key, replication.source_region,
                                                   self.arn),
                        _replication_key_statement(["kms:Encrypt", "kms:GenerateDataKey"],
                                                   replication.destination_kms_key_arn,
                                                   replication.destination_region,
                                                   replication.destination_bucket_arn),
                    ],
                }),
            ),
            child,
            tags=tags,
        )
        aws.s3.BucketReplicationConfig(
            f"{name}-replication",
            aws.s3.BucketReplicationConfigArgs(
                bucket=self.bucket.id,
                role=role.arn,
                rules=[aws.s3.BucketReplicationConfigRuleArgs(
                    id="to-dr",
                    status="Enabled",
                    filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
                    delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
                        status="Enabled"),
                    source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                        sse_kms_encrypted_objects=(
                            aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                                status="Enabled"))),
                    destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
                        bucket=replication.destination_bucket_arn,
                        storage_class="STANDARD",
                        encryption_configuration=(
                            aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                                replica_kms_key_id=replication.destination_kms_key_arn)),
                    ),
                )],
            ),
            # Versioning on both sides first (S3 rejects the rule otherwise), and the role's permissions
            # before S3 starts replicating with it.
            child_opts(self, depends_on=[self.versioning, replication.destination_versioning, role_policy]),
        )


class Storage(pulumi.ComponentResource):
    """The stack's buckets: access logs, static assets (for the CDN), application data (PHI), audit logs."""

    bucket_names: dict[str, pulumi.Output[str]]
    bucket_arns: dict[str, pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        config: StorageConfig,
        *,
        account_id: str,
        region: str,
        kms_key_arn: pulumi.Input[str],
        dr_kms_key_arn: pulumi.Input[str] | None = None,
        dr_region: str | None = None,
        dr_provider: pulumi.ProviderResource | None = None,
        audit_log_statements: Callable[[str], list[dict[str, Any]]] | None = None,
        s3_endpoint_id: pulumi.Input[str] | None = None,
        exempt_role_patterns: Sequence[str] = (),
        force_destroy: bool = False,
        protect: bool = True,
        alb_logs_region: str | None = None,
        cdn_distribution_arn: pulumi.Input[str] | None = None,
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``alb_logs_region``: let that region's ALBs write access logs; ``cdn_distribution_arn``: let that
        CloudFront distribution read the static assets (components/edge.py)."""
        super().__init__("care:storage:Storage", name, None, opts)
        lifecycle = config.lifecycle

        def bucket(purpose: str, *, dr: bool = False, **kwargs: Any) -> SecureBucket:
            label = f"dr-{purpose}" if dr else purpose
            return SecureBucket(
                f"{name}-{label}", bucket_name=self.bucket_name_for(name, label, account_id), purpose=purpose,
                account_id=account_id, lifecycle=lifecycle, force_destroy=force_destroy, protect=protect, tags=tags,
                opts=child_opts(self, provider=dr_provider) if dr else child_opts(self), **kwargs,
            )

        # Every bucket of the stack is named <name>-<label>-<account> (bucket_name_for; the observability
        # tier's buckets too), and only those may deliver access logs here.
        sources = [f"arn:aws:s3:::{name}-*-{account_id}"]
        self.access_logs = bucket("access-logs", kms_key_arn=None, receives_access_logs=True,
                                  log_source_arns=sources, alb_logs_region=alb_logs_region,
                                  expire_after_days=config.access_logs_expire_after_days)
        logs_to = self.access_logs.bucket_name
        logged: dict[str, Any] = {"access_log_bucket": logs_to, "access_log_ready": self.access_logs.policy}

        replication: Replication | None = None
        self.dr_app_data: SecureBucket | None = None
        if config.replicate_to_dr and dr_provider is not None and dr_kms_key_arn is not None:
            if dr_region is None:
                raise ValueError(f"{name}: replication to the DR region needs dr_region")
            self.dr_access_logs = bucket("access-logs", dr=True, kms_key_arn=None, receives_access_logs=True,
                                         log_source_arns=sources,
                                         expire_after_days=config.access_logs_expire_after_days)
            self.dr_app_data = bucket("app-data", dr=True, kms_key_arn=dr_kms_key_arn,
                                      access_log_bucket=self.dr_access_logs.bucket_name,
                                      access_log_ready=self.dr_access_logs.policy)
            replication = Replication(destination_bucket_arn=self.dr_app_data.arn,
                                      destination_kms_key_arn=dr_kms_key_arn,
                                      source_region=region, destination_region=dr_region,
                                      destination_versioning=self.dr_app_data.versioning)

        # Served through the CDN: current versions stay in S3 Standard. Backed up too: the CDN's origin
        # must survive a bad deploy or a deletion even though the build can recreate most of it.
        self.static_assets = bucket("static-assets", kms_key_arn=kms_key_arn, **logged,
                                    tier_to_cold_storage=False, backup=True, cdn_distribution_arn=cdn_distribution_arn)
        # PHI: data-plane access only through this VPC's S3 endpoint (the DR copy is reached from the DR side).
        self.app_data = bucket("app-data", kms_key_arn=kms_key_arn, **logged, backup=True,
                               replication=replication, vpc_endpoint_only=s3_endpoint_id,
                               exempt_role_patterns=exempt_role_patterns)
        self.audit_logs = bucket("audit-logs", kms_key_arn=kms_key_arn, **logged, backup=True,
                                 object_lock=config.audit_object_lock, extra_statements=audit_log_statements)

        buckets = {"accessLogs": self.access_logs, "staticAssets": self.static_assets, "appData": self.app_data,
                   "auditLogs": self.audit_logs}
        if self.dr_app_data is not None:
            buckets["drAppData"] = self.dr_app_data
        self.bucket_names = {key: b.bucket_name for key, b in buckets.items()}
        self.bucket_arns = {key: b.arn for key, b in buckets.items()}
        self.register_outputs({"bucketNames": self.bucket_names, "bucketArns": self.bucket_arns})

    @staticmethod
    def bucket_name_for(name: str, label: str, account_id: str) -> str:
        """A bucket's name (``<name>-<label>-<account>``): the edge names the static-assets origin before it exists."""
        return f"{name}-{label}-{account_id}"

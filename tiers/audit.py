"""The account baseline: CloudTrail, AWS Config with AWS's HIPAA conformance pack, GuardDuty, Security Hub,
IAM Access Analyzer and the account-level safeguards, in the primary region (one account per environment)."""

from __future__ import annotations

import pulumi

from components.audit import AccountBaseline
from components.network import Network
from tiers.context import Providers, Stack
from tiers.data import DataTier, audit_name
from tiers.security import Keys


def audit_tier(stack: Stack, providers: Providers, keys: Keys, network: Network, data: DataTier,
               alert_topic_arn: pulumi.Input[str] | None) -> AccountBaseline:
    storage = data.storage
    phi_buckets = [storage.app_data.arn] + ([storage.dr_app_data.arn] if storage.dr_app_data is not None else [])
    return AccountBaseline(
        audit_name(stack), stack.cfg.audit, account_id=stack.account_id, region=stack.region,
        audit_bucket_name=storage.audit_logs.bucket_name, audit_bucket_arn=storage.audit_logs.arn,
        audit_bucket_policy=storage.audit_logs.policy, audit_bucket_kms_key_arn=keys.arn("storage"),
        phi_bucket_arns=phi_buckets, trail_kms_key_arn=keys.arn("audit"), logs_kms_key_arn=keys.arn("logs"),
        ebs_kms_key_arn=keys.arn("ebs"), vpc_id=network.vpc_id, alert_topic_arn=alert_topic_arn,
        tags=stack.tags, opts=providers.in_primary,
    )

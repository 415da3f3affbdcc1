"""Customer-managed KMS keys, one per data domain, with rotation, aliases and least-use key policies."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
from pydantic import Field, field_validator

from components.common import ConfigModel, child_opts, tags_for

Domain = Literal["logs", "database", "cache", "storage", "eks", "ebs", "streaming", "backup", "secrets"]

#: Every data domain that gets its own key in the primary region.
PRIMARY_DOMAINS: tuple[Domain, ...] = (
    "logs", "database", "cache", "storage", "eks", "ebs", "streaming", "backup", "secrets",
)

#: The AWS service that uses each domain's key on the account's behalf (the kms:ViaService prefix).
_VIA_SERVICE: dict[Domain, str] = {
    "database": "rds",
    "cache": "elasticache",
    "storage": "s3",
    "eks": "eks",
    "ebs": "ec2",
    "streaming": "kafka",
    "backup": "backup",
    "secrets": "secretsmanager",
}

_USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
_ADMIN_ACTIONS = [
    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
    "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand",
]


class EncryptionConfig(ConfigModel):
    deletion_window_days: int = Field(default=30, ge=7, le=30)
    rotation_period_days: int = Field(default=365, ge=90, le=2560)
    key_admin_arns: tuple[str, ...] = ()
    dr_domains: tuple[Domain, ...] = ("database", "storage", "backup")

    @field_validator("key_admin_arns")
    @classmethod
    def _iam_arns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for arn in value:
            if not arn.startswith("arn:aws:iam::") or "*" in arn:
                raise ValueError(f"{arn!r} must be an IAM role or user ARN without wildcards")
        return value


def key_policy(domain: Domain, *, account_id: str, region: str, admin_arns: Sequence[str]) -> dict[str, Any]:
    """The key policy for one domain: IAM delegation, named admins, and use only through the owning service."""
    root = f"arn:aws:iam::{account_id}:root"
    statements: list[dict[str, Any]] = [{
        "Sid": "EnableIamPolicies",
        "Effect": "Allow",
        "Principal": {"AWS": root},
        "Action": "kms:*",
        "Resource": "*",
    }]
    if admin_arns:
        statements.append({
            "Sid": "KeyAdministrators",
            "Effect": "Allow",
            "Principal": {"AWS": list(admin_arns)},
            "Action": _ADMIN_ACTIONS,
            "Resource": "*",
        })
    if domain == "logs":
        statements.append({
            "Sid": "CloudWatchLogs",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": _USE_ACTIONS,
            "Resource": "*",
            "Condition": {"ArnLike": {
                "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account_id}:*",
            }},
        })
    else:
        statements.append({
            "Sid": "UseThroughOwningService",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": [*_USE_ACTIONS, "kms:CreateGrant", "kms:ListGrants"],
            "Resource": "*",
            "Condition": {"StringEquals": {
                "kms:ViaService": f"{_VIA_SERVICE[domain]}.{region}.amazonaws.com",
                "kms:CallerAccount": account_id,
            }},
        })
    if domain == "ebs":
        # Managed node groups launch encrypted volumes through the Auto Scaling service-linked role.
        asg_role = (f"arn:aws:iam::{account_id}:role/aws-service-role/autoscaling.amazonaws.com/"
                    "AWSServiceRoleForAutoScaling")
        statements += [
            {"Sid": "AutoScalingUse", "Effect": "Allow", "Principal": {"AWS": asg_role},
             "Action": _USE_ACTIONS, "Resource": "*"},
            {"Sid": "AutoScalingGrants", "Effect": "Allow", "Principal": {"AWS": asg_role},
             "Action": "kms:CreateGrant", "Resource": "*",
             "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
        ]
    return {"Version": "2012-10-17", "Id": f"care-platform-{domain}", "Statement": statements}


class KeyRing(pulumi.ComponentResource):
    """One rotating customer-managed key (with alias) per domain, in the region of the provider it is given.

    Keys are ``protect``ed like the stores they encrypt: deleting a key makes every snapshot, backup
    and object encrypted with it unreadable.
    """

    key_arns: dict[str, pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        config: EncryptionConfig,
        *,
        domains: Sequence[Domain],
        region: str,
        account_id: str,
        alias_prefix: str,
        protect: bool = True,
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("care:security:KeyRing", name, None, opts)
        child = child_opts(self)
        self.keys: dict[str, aws.kms.Key] = {}
        for domain in domains:
            key = aws.kms.Key(
                f"{name}-{domain}",
                aws.kms.KeyArgs(
                    description=f"{alias_prefix} {domain} data ({region})",
                    enable_key_rotation=True,
                    rotation_period_in_days=config.rotation_period_days,
                    deletion_window_in_days=config.deletion_window_days,
                    key_usage="ENCRYPT_DECRYPT",
                    customer_master_key_spec="SYMMETRIC_DEFAULT",
                    policy=json.dumps(key_policy(domain, account_id=account_id, region=region,
                                                 admin_arns=config.key_admin_arns)),
                    tags=tags_for(tags, f"{name}-{domain}", DataDomain=domain),
                ),
                child_opts(self, protect=protect),
            )
            aws.kms.Alias(
                f"{name}-{domain}-alias",
                aws.kms.AliasArgs(name=f"alias/{alias_prefix}/{domain}", target_key_id=key.key_id),
                child,
            )
            self.keys[domain] = key
        self.key_arns = {domain: key.arn for domain, key in self.keys.items()}
        self.register_outputs({"keyArns": self.key_arns})

    def arn(self, domain: Domain) -> pulumi.Output[str]:
        return self.key_arns[domain]

"""Customer-managed KMS keys, one per data domain, with rotation, aliases and least-use key policies.

Key policies separate administration from use. There is no unconditional ``kms:*`` for the account
root: that statement would let any IAM policy in the account use the PHI keys directly and so cancel
the "only through the owning service" statements. Instead:

* the key administrators (``encryption.keyAdminArns``) get the management actions, including
  kms:PutKeyPolicy. KMS refuses to create a key whose policy does not let the principal making the
  request change it again (the key policy lockout safety check: "the key policy must allow the
  principal that is making the CreateKey request to make a subsequent PutKeyPolicy request",
  https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html and
  https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html), so the role that runs
  ``pulumi up`` must be one of the key administrators;
* use goes to the account's principals only through the owning service(s) (kms:ViaService +
  kms:CallerAccount); the services then work through grants they create that way;
* explicit statements only for what must call KMS itself: CloudWatch Logs (with the log-group
  encryption-context condition) and the Auto Scaling service-linked role that launches the nodes'
  encrypted EBS volumes (a service-linked role's own policy cannot be changed, so the key policy must
  name it; https://docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
from pydantic import Field, field_validator

from components.common import ConfigModel, child_opts, tags_for

Domain = Literal["logs", "database", "cache", "storage", "eks", "ebs", "streaming", "backup", "secrets", "alerts"]

#: Every data domain that gets its own key in the primary region.
PRIMARY_DOMAINS: tuple[Domain, ...] = (
    "logs", "database", "cache", "storage", "eks", "ebs", "streaming", "backup", "secrets", "alerts",
)

#: The keys in the edge region (us-east-1): CloudFront's and WAF's logs, and the alert topic that
#: CloudFront's CloudWatch alarms publish to (an alarm's SNS action must be in the alarm's region).
EDGE_DOMAINS: tuple[Domain, ...] = ("logs", "alerts")

#: The AWS services that publish to the alert topics. Each needs kms:GenerateDataKey* and kms:Decrypt on
#: the topic's key, or SNS drops its messages silently:
#: https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
ALERT_PUBLISHERS: tuple[str, ...] = (
    "cloudwatch.amazonaws.com",    # CloudWatch alarms
    "events.amazonaws.com",        # EventBridge rules (AWS Backup job failures, GuardDuty findings)
    "budgets.amazonaws.com",       # AWS Budgets notifications
    "costalerts.amazonaws.com",    # Cost Anomaly Detection subscriptions
)

#: The AWS services that use each domain's key on the account's behalf (the kms:ViaService prefixes).
#: The backup vault key also serves RDS and EC2: AWS Backup copies RDS and EBS snapshots into a vault
#: through those services, encrypting the copies with the vault's key.
_VIA_SERVICE: dict[Domain, tuple[str, ...]] = {
    "database": ("rds",),
    "cache": ("elasticache",),
    "storage": ("s3",),
    "eks": ("eks",),
    "ebs": ("ec2",),
    "streaming": ("kafka",),
    "backup": ("backup", "rds", "ec2"),
    "secrets": ("secretsmanager",),
    "alerts": ("sns",),
}

#: The Auto Scaling service-linked role (one per account) that the EBS key policy names.
AUTOSCALING_SERVICE = "autoscaling.amazonaws.com"
AUTOSCALING_ROLE = "AWSServiceRoleForAutoScaling"


def autoscaling_role_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/aws-service-role/{AUTOSCALING_SERVICE}/{AUTOSCALING_ROLE}"

_USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
_ADMIN_ACTIONS = [
    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
    "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand",
]


class EncryptionConfig(ConfigModel):
    deletion_window_days: int = Field(default=30, ge=7, le=30)
    rotation_period_days: int = Field(default=365, ge=90, le=2560)
    #: Who administers the keys, the role that runs `pulumi up` included (KMS's lockout safety check).
    key_admin_arns: tuple[str, ...]
    dr_domains: tuple[Domain, ...] = ("database", "storage", "backup")
    #: KMS rejects a key policy naming a principal that does not exist, so the Auto Scaling service-linked
    #: role the EBS key names must exist first: "create" it, or "adopt" the one the account already has
    #: (it exists once anything in the account used Auto Scaling; creating it again fails).
    autoscaling_service_linked_role: Literal["create", "adopt"] = "create"

    @field_validator("key_admin_arns")
    @classmethod
    def _iam_arns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must name at least one key administrator, the role that runs `pulumi up` included: "
                             "KMS refuses a key policy that would lock the caller out")
        for arn in value:
            if not arn.startswith("arn:aws:iam::") or "*" in arn:
                raise ValueError(f"{arn!r} must be an IAM role or user ARN without wildcards")
        return value


def key_policy(domain: Domain, *, account_id: str, region: str, admin_arns: Sequence[str]) -> dict[str, Any]:
    """The key policy for one domain: IAM delegation, named admins, and use only through the owning service."""
    if not admin_arns:
        raise ValueError(f"{domain}: a key policy needs at least one key administrator (KMS's lockout check)")
    root = f"arn:aws:iam::{account_id}:root"
    statements: list[dict[str, Any]] = [{
        "Sid": "KeyAdministrators",
        "Effect": "Allow",
        "Principal": {"AWS": list(admin_arns)},
        "Action": _ADMIN_ACTIONS,
        "Resource": "*",
    }]
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
        via = [f"{service}.{region}.amazonaws.com" for service in _VIA_SERVICE[domain]]
        statements.append({
            "Sid": "UseThroughOwningService",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": [*_USE_ACTIONS, "kms:CreateGrant", "kms:ListGrants"],
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": via[0] if len(via) == 1 else via,
                                           "kms:CallerAccount": account_id}},
        })
    if domain == "alerts":
        # No aws:SourceAccount/aws:SourceArn here: EventBridge's KMS requests do not carry them (AWS documents
        # they are unsupported in a key policy for EventBridge delivery), and a condition the request lacks
        # drops every notification silently. The topic policy (components/alert_topic.py) carries them.
        statements.append({
            "Sid": "AlertPublishers",
            "Effect": "Allow",
            "Principal": {"Service": list(ALERT_PUBLISHERS)},
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
        })
    if domain == "ebs":
        # Managed node groups launch encrypted volumes through the Auto Scaling service-linked role.
        asg_role = autoscaling_role_arn(account_id)
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
        self.autoscaling_role: aws.iam.ServiceLinkedRole | None = None
        if "ebs" in domains:
            self.autoscaling_role = self._autoscaling_role(name, config, account_id, tags)
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
                # The EBS key names the Auto Scaling service-linked role, which must exist first.
                child_opts(self, protect=protect,
                           depends_on=[self.autoscaling_role] if domain == "ebs" and self.autoscaling_role else []),
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

    def _autoscaling_role(self, name: str, config: EncryptionConfig, account_id: str,
                          tags: Mapping[str, str]) -> aws.iam.ServiceLinkedRole:
        """The Auto Scaling service-linked role, created or adopted (imported), and kept when the stack goes.

        https://docs.aws.amazon.com/autoscaling/ec2/userguide/autoscaling-service-linked-role.html
        """
        adopt = config.autoscaling_service_linked_role == "adopt"
        return aws.iam.ServiceLinkedRole(
            f"{name}-autoscaling-slr",
            aws.iam.ServiceLinkedRoleArgs(
                aws_service_name=AUTOSCALING_SERVICE,
                # An import must match the existing role exactly, so an adopted one gets no tags.
                tags=None if adopt else tags_for(tags, AUTOSCALING_ROLE),
            ),
            pulumi.ResourceOptions.merge(child_opts(self), autoscaling_role_options(config, account_id)),
        )


def autoscaling_role_options(config: EncryptionConfig, account_id: str) -> pulumi.ResourceOptions:
    """Adopt = import the existing role; either way it is account-wide and never deleted with the stack."""
    adopt = config.autoscaling_service_linked_role == "adopt"
    return pulumi.ResourceOptions(retain_on_delete=True, import_=autoscaling_role_arn(account_id) if adopt else None)

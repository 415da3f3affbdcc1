"""Customer-managed KMS keys, one per data domain, with rotation, aliases and least-use key policies.

Key policies separate administration from use. There is no unconditional ``kms:*`` for the account
root: that statement would let any IAM policy in the account use the PHI keys directly and so cancel
the "only through the owning service" statements. Instead:

* the key administrators (``encryption.keyAdminArns``) get the management actions, named one by one
  (``KEY_ADMIN_ACTIONS``): no ``kms:CreateGrant`` (a grant to themselves would decrypt), no
  ``kms:PutKeyPolicy`` (a policy naming themselves would too);
* only the role that runs ``pulumi up`` (``eks.deployerRoleArn``) may PutKeyPolicy. KMS refuses to create a
  key whose policy does not let the principal making the request change it again (the key policy lockout
  safety check: "the key policy must allow the principal that is making the CreateKey request to make a
  subsequent PutKeyPolicy request", https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html
  and https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html), so the deployer keeps
  it; nobody may bypass that check (``DenyPolicyLockoutBypass``, the kms:BypassPolicyLockoutSafetyCheck
  condition key, https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-bypass-policy-lockout-safety-check;
  AWS Control Tower's control CT.KMS.PV.3 denies the same, https://docs.aws.amazon.com/controltower/latest/controlreference/ct-kms-pv-3.html).
  Residual risk: whoever holds the deployer role can rewrite a key policy (and so grant itself use). Every
  PutKeyPolicy is a management event in the stack's multi-Region CloudTrail trail, an EventBridge rule sends
  each one in the primary region to the alert topic (components/audit.py, ``key-policy-changes``), and
  the deployer role's trust policy, kept outside this program, should admit only the CI deploy role of the
  stack's GitHub Environment (components/ci_access.py, docs/delivery.md);
* use goes to the account's principals only through the owning service(s) (kms:ViaService +
  kms:CallerAccount); the services then work through grants they create that way;
* on the PHI keys (``PHI_DOMAINS``) an explicit Deny (``DenyUseOutsideOwningService``) refuses every use
  that does not come through the owning service, whatever an IAM policy, a grant or a later statement
  allows (an explicit deny overrides every allow, and grants can only allow:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html,
  https://docs.aws.amazon.com/kms/latest/developerguide/determining-access.html), except for AWS service principals
  acting as themselves and the principals that must call KMS directly (``deny_use_outside_owning_service``);
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

Domain = Literal["logs", "database", "cache", "storage", "eks", "ebs", "streaming", "backup", "secrets", "alerts",
                 "audit"]

#: Every data domain that gets its own key in the primary region.
PRIMARY_DOMAINS: tuple[Domain, ...] = (
    "logs", "database", "cache", "storage", "eks", "ebs", "streaming", "backup", "secrets", "alerts", "audit",
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

#: The keys that hold PHI or open it, whose key policy denies use outside the owning service. Out of the set,
#: and why: ``logs`` and ``alerts`` let no account principal use them at all (only the CloudWatch Logs
#: service principal, with the log-group encryption context, and the alarm publishers), so there is no
#: direct path to close and service principals are exempt from such a deny anyway; ``audit`` lets account
#: principals only decrypt CloudTrail files through S3 with the CloudTrail encryption context (already the
#: narrowest use) and CloudTrail records API metadata, not PHI; ``eks`` envelope-encrypts Kubernetes Secrets,
#: which the EKS control plane decrypts through the grant it created with the cluster role, calls AWS does not
#: document as carrying kms:ViaService (https://docs.aws.amazon.com/eks/latest/userguide/enable-kms.html), so a
#: deny there could make the cluster unreadable; the credentials those Secrets copy live in Secrets Manager
#: under the ``secrets`` key, which is in the set.
PHI_DOMAINS: tuple[Domain, ...] = ("database", "cache", "storage", "streaming", "backup", "ebs", "secrets")

#: The use actions the PHI keys deny outside the owning service: encryption and decryption, data keys and
#: grants (a grant is a standing permission to use the key).
DENY_SID = "DenyUseOutsideOwningService"
DENIED_USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant"]

#: The Auto Scaling service-linked role (one per account) that the EBS key policy names.
AUTOSCALING_SERVICE = "autoscaling.amazonaws.com"
AUTOSCALING_ROLE = "AWSServiceRoleForAutoScaling"


def autoscaling_role_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/aws-service-role/{AUTOSCALING_SERVICE}/{AUTOSCALING_ROLE}"


#: The domains whose volumes an EC2 instance attaches (node and CSI volumes; volumes restored from backups).
#: EC2 decrypts an attached volume's data key as the instance's identity-only role, through the grant issued
#: to it, not through a service (no kms:ViaService) and not as a service principal: "If an SCP or KMS key
#: denies the identity-only role access to a KMS key, you may fail to launch EC2 instances with encrypted
#: volumes" (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption-requirements.html#ebs-encryption-instance-permissions;
#: its sessions are arn:aws:sts::<account>:assumed-role/aws:ec2-infrastructure/<instance-id>).
EC2_INSTANCE_DOMAINS: tuple[Domain, ...] = ("ebs", "backup")


def ec2_infrastructure_role_arn(account_id: str) -> str:
    """The role EC2 instances' identity-only sessions use to decrypt their volumes (aws:PrincipalArn)."""
    return f"arn:aws:iam::{account_id}:role/aws:ec2-infrastructure"

_USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
#: What the key administrators may do: AWS's default administrator actions
#: (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-administrators)
#: named one by one, without kms:CreateGrant (in kms:Create*) and kms:PutKeyPolicy (kms:Put*), either of which
#: lets an administrator give itself decryption, and without what symmetric keys never use (imported key
#: material, multi-Region keys). Everything `pulumi up` does to a key and its alias is here, except
#: PutKeyPolicy, which the deployer gets alone (``KeyPolicyDeployer``).
KEY_ADMIN_ACTIONS = [
    "kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListKeyPolicies", "kms:ListKeyRotations",
    "kms:ListResourceTags", "kms:ListGrants", "kms:RevokeGrant", "kms:EnableKey", "kms:DisableKey",
    "kms:EnableKeyRotation", "kms:DisableKeyRotation", "kms:RotateKeyOnDemand", "kms:UpdateKeyDescription",
    "kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias", "kms:TagResource", "kms:UntagResource",
    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
]


def via_services(domain: Domain, region: str) -> list[str]:
    """The kms:ViaService values of one domain's owning services in ``region``."""
    return [f"{service}.{region}.amazonaws.com" for service in _VIA_SERVICE[domain]]


def deny_use_outside_owning_service(via: Sequence[str], exempt_principal_arns: Sequence[str]) -> dict[str, Any]:
    """Deny every use of the key that does not come through one of ``via``, by anyone but AWS service principals
    acting as themselves and the exempt principal ARN patterns.

    The condition keys of one statement are ANDed and a negated operator with several values is a NOR
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html), so the
    deny applies only when the request came through none of the owning services, AND the caller is not an AWS
    service principal, AND its ARN matches no exempt pattern. A negated operator on a key the request lacks is
    true (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
    a direct call carries no kms:ViaService (KMS sets it only when an AWS service makes the request for the
    principal, https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service),
    so it is denied. aws:PrincipalIsAWSService is true only for AWS service principals calling as themselves
    (CloudFront OAC decrypting for the distribution, services working through their grants); BoolIfExists keeps
    the deny for a request without it. aws:PrincipalArn of a role session is the role's ARN (with its path for a
    service-linked role), so an ArnLike pattern on a role name this program controls exempts a role before it
    exists (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn):
    the key need not wait for the role, and the role's policy may name the key, with no cycle.
    """
    condition: dict[str, Any] = {"StringNotEquals": {"kms:ViaService": list(via)},
                                 "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}
    if exempt_principal_arns:
        condition["ArnNotLike"] = {"aws:PrincipalArn": list(exempt_principal_arns)}
    return {"Sid": DENY_SID, "Effect": "Deny", "Principal": "*", "Action": DENIED_USE_ACTIONS,
            "Resource": "*", "Condition": condition}


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


def key_policy(domain: Domain, *, account_id: str, region: str, admin_arns: Sequence[str],
               policy_admin_arns: Sequence[str], direct_callers: Sequence[str] = ()) -> dict[str, Any]:
    """The key policy for one domain: named admins, the deployer's PutKeyPolicy, use only through the owning
    service, and on the PHI keys the deny of any other use (``direct_callers``: principal ARN patterns that
    must call this key directly and are exempt from that deny)."""
    if not admin_arns or not policy_admin_arns:
        raise ValueError(f"{domain}: a key policy needs key administrators and a PutKeyPolicy principal "
                         "(the deployer: KMS's lockout check)")
    root = f"arn:aws:iam::{account_id}:root"
    statements: list[dict[str, Any]] = [
        {"Sid": "KeyAdministrators", "Effect": "Allow", "Principal": {"AWS": list(admin_arns)},
         "Action": KEY_ADMIN_ACTIONS, "Resource": "*"},
        {"Sid": "KeyPolicyDeployer", "Effect": "Allow", "Principal": {"AWS": list(policy_admin_arns)},
         "Action": "kms:PutKeyPolicy", "Resource": "*"},
        {"Sid": "DenyPolicyLockoutBypass", "Effect": "Deny", "Principal": "*", "Action": "kms:PutKeyPolicy",
         "Resource": "*", "Condition": {"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "true"}}},
    ]
    if domain == "audit":
        statements += cloudtrail_key_statements(account_id=account_id, region=region)
    elif domain == "logs":
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
        via = via_services(domain, region)
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
    if domain == "storage":
        # CloudFront reads the SSE-KMS static assets through Origin Access Control and must decrypt them
        # (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html#create-oac-overview-s3).
        # The key exists before any distribution, so it names this account's distributions; the bucket
        # policy (components/storage.py) narrows reads to the stack's one distribution.
        statements.append({
            "Sid": "CloudFrontOacDecrypt",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"AWS:SourceAccount": account_id},
                          "ArnLike": {"AWS:SourceArn": f"arn:aws:cloudfront::{account_id}:distribution/*"}},
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
    if domain in PHI_DOMAINS:  # last, so the allows above read first
        exempt = [*([autoscaling_role_arn(account_id)] if domain == "ebs" else []),
                  *([ec2_infrastructure_role_arn(account_id)] if domain in EC2_INSTANCE_DOMAINS else []),
                  *direct_callers]
        statements.append(deny_use_outside_owning_service(via_services(domain, region), exempt))
    return {"Version": "2012-10-17", "Id": f"care-platform-{domain}", "Statement": statements}


def cloudtrail_key_statements(*, account_id: str, region: str) -> list[dict[str, Any]]:
    """What CloudTrail needs on the trail's key, as AWS documents it ("Configure AWS KMS key policies for
    CloudTrail", https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html):
    encrypt (GenerateDataKey*, and Decrypt because the audit bucket uses an S3 Bucket Key) scoped with
    aws:SourceArn to this account's trails in this region, DescribeKey, and decryption of log and digest
    files by the account's principals, through S3 only (kms:ViaService, kms:CallerAccount and the CloudTrail
    encryption context)."""
    trails = f"arn:aws:cloudtrail:{region}:{account_id}:trail/*"
    context = {"kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{account_id}:trail/*"}
    service = {"Service": "cloudtrail.amazonaws.com"}
    return [
        {"Sid": "CloudTrailEncryptLogs", "Effect": "Allow", "Principal": service,
         "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*",
         "Condition": {"StringLike": context, "ArnLike": {"aws:SourceArn": trails}}},
        {"Sid": "CloudTrailDescribeKey", "Effect": "Allow", "Principal": service, "Action": "kms:DescribeKey",
         "Resource": "*", "Condition": {"ArnLike": {"aws:SourceArn": trails}}},
        {"Sid": "AccountDecryptsLogFiles", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
         "Action": ["kms:Decrypt", "kms:ReEncryptFrom"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com",
                                        "kms:CallerAccount": account_id},
                       "StringLike": context}},
    ]


class KeyRing(pulumi.ComponentResource):
    """One rotating customer-managed key (with alias) per domain, in the region of the provider it is given.

    ``policy_admin_arns``: who may PutKeyPolicy (the deployer); ``direct_callers``: per domain, the principal
    ARN patterns exempt from the PHI keys' deny of use outside the owning service (the EBS CSI driver's role).

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
        policy_admin_arns: Sequence[str],
        direct_callers: Mapping[Domain, Sequence[str]] | None = None,
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
                                                 admin_arns=config.key_admin_arns,
                                                 policy_admin_arns=policy_admin_arns,
                                                 direct_callers=(direct_callers or {}).get(domain, ()))),
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

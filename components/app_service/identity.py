"""The app's identity: its ServiceAccount and, when it needs AWS, an IRSA role with its role policies.

The role may read the app's secrets (and decrypt them through Secrets Manager only) and holds the IAM
policies of its bindings (rds-db:connect, the MSK client policy). Everything the pods' role may do is
attached before anything that assumes the role starts, so callers depend on ``policies``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.app_service.bindings import Wiring
from components.app_service.spec import AppSpec
from components.common import child_opts, managed_role_policy, tags_for
from components.eks import irsa_trust_policy


@dataclass(frozen=True)
class AwsAccess:
    """Where the app's role lives and whom it trusts: the cluster's OIDC provider."""

    region: str
    account_id: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    #: Keys that encrypt the app's secrets (kms:Decrypt through Secrets Manager only).
    secret_kms_key_arns: Sequence[pulumi.Input[str]] = ()


@dataclass(frozen=True)
class Identity:
    service_account: k8s.core.v1.ServiceAccount
    role: aws.iam.Role | None
    #: The role's secrets-read policy (the SecretStore authenticates as the role and needs it first).
    secrets_policies: list[pulumi.Resource]
    #: Every policy of the role.
    policies: list[pulumi.Resource]


def iam_secret_arn(secret: str, region: str, account_id: str) -> str:
    """The IAM resource for a secret given by name (Secrets Manager appends a 6-character suffix)."""
    if secret.startswith("arn:"):
        return secret
    return f"arn:aws:secretsmanager:{region}:{account_id}:secret:{secret}-??????"


def secrets_read_policy(secret_arns: Sequence[str], kms_key_arns: Sequence[str], region: str) -> str:
    statements: list[dict[str, Any]] = [{
        "Sid": "ReadOwnSecrets",
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        "Resource": sorted(set(secret_arns)),
    }]
    if kms_key_arns:
        statements.append({
            "Sid": "DecryptThroughSecretsManager",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": sorted(set(kms_key_arns)),
            "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
        })
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def create_identity(parent: pulumi.Resource, spec: AppSpec, wiring: Wiring, aws_access: AwsAccess,
                    k8s_opts: pulumi.ResourceOptions) -> Identity:
    """The IRSA role (if the app reads secrets or has IAM policies) and the ServiceAccount annotated with it."""
    role: aws.iam.Role | None = None
    secrets_policies: list[pulumi.Resource] = []
    policies: list[pulumi.Resource] = []
    if spec.secrets or wiring.iam_policies:
        role = aws.iam.Role(
            f"{spec.name}-irsa",
            aws.iam.RoleArgs(
                description=f"IRSA: {spec.namespace}/{spec.app}",
                assume_role_policy=irsa_trust_policy(aws_access.oidc_provider_arn, aws_access.oidc_issuer,
                                                     spec.namespace, spec.app),
                tags=tags_for(spec.tags, f"{spec.name}-irsa"),
            ),
            child_opts(parent),
        )
        if spec.secrets:
            secrets_policies.append(_secrets_policy(parent, spec, role, aws_access))
        policies = [*secrets_policies, *(
            managed_role_policy(f"{spec.name}-irsa-{suffix}", aws.iam.RolePolicyArgs(role=role.id, policy=policy),
                                child_opts(parent), tags={**spec.tags, **wiring.iam_policy_tags.get(suffix, {})})
            for suffix, policy in wiring.iam_policies.items())]
    service_account = k8s.core.v1.ServiceAccount(
        f"{spec.name}-sa",
        metadata=spec.metadata(annotations={"eks.amazonaws.com/role-arn": role.arn} if role else None),
        automount_service_account_token=False,
        opts=k8s_opts,
    )
    return Identity(service_account, role, secrets_policies, policies)


def _secrets_policy(parent: pulumi.Resource, spec: AppSpec, role: aws.iam.Role,
                    aws_access: AwsAccess) -> aws.iam.RolePolicyAttachment:
    """Read exactly the app's secrets: configured ones by name (or ARN), wired ones by ARN."""
    configured, region = spec.config.secrets, aws_access.region
    secret_arns = [iam_secret_arn(configured[k].secret, region, aws_access.account_id) if k in configured
                   else spec.secrets[k].arn for k in spec.secret_keys]
    return managed_role_policy(
        f"{spec.name}-irsa-secrets",
        aws.iam.RolePolicyArgs(
            role=role.id,
            policy=pulumi.Output.all(pulumi.Output.all(*secret_arns),
                                     pulumi.Output.all(*aws_access.secret_kms_key_arns)).apply(
                lambda a: secrets_read_policy(a[0], a[1], region)),
        ),
        child_opts(parent),
        tags=spec.tags,
    )

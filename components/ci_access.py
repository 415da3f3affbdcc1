"""CI identity in AWS: the GitHub Actions OIDC provider and, per stack, a preview role and a deploy role.

GitHub Actions gets short-lived AWS credentials from its OIDC token (``aws-actions/configure-aws-credentials``
calls ``sts:AssumeRoleWithWebIdentity``); no access key is stored anywhere. The roles trust the provider only
for this repository (``ciAccess.githubOrg``/``githubRepo``) and only with the audience ``sts.amazonaws.com``:

- **preview** (``care-<env>-ci-preview``): ``pulumi preview`` on pull requests (subject
  ``repo:<org>/<repo>:pull_request``) and the daily drift check on main (``repo:<org>/<repo>:ref:refs/heads/main``).
  AWS's ``ReadOnlyAccess`` minus reads of data (objects, secrets, log events, ...), which the boundary denies,
  plus the self-managed state backend when one is configured (``ciAccess.stateBucketArn``; read, and the
  backend's lock files; and ``kms:Decrypt`` on ``ciAccess.secretsKeyArn``). With Pulumi Cloud as the
  backend the state is outside AWS and the job authenticates with ``PULUMI_ACCESS_TOKEN`` instead.
- **deploy** (``care-<env>-ci-deploy``): only the job that runs in the GitHub Environment named like the
  stack (subject ``repo:<org>/<repo>:environment:<stack>``; prod's environment has required reviewers and
  admits main only). It may do exactly one thing: assume ``eks.deployerRoleArn`` (role chaining), the role
  ``pulumi up`` runs as, which administers the KMS keys and the cluster and exists before the stack does
  (README, "Deploying for real"). That role's trust policy must admit this role (docs/delivery.md).

Both carry a permissions boundary (``care-<env>-ci-boundary``): whatever policy is attached later, they
cannot write IAM, touch Organizations, assume any role but the deployer, or read data.

One OIDC provider per URL per account: IAM refuses a second ``token.actions.githubusercontent.com`` provider
(EntityAlreadyExists), so with ``ciAccess.oidcProvider: adopt`` the stack uses the existing provider's ARN
(``ciAccess.oidcProviderArn``) instead of creating one. No thumbprint is given: IAM validates GitHub's
certificate against its library of trusted root CAs (IAM API reference, UpdateOpenIDConnectProviderThumbprint:
"These OIDC IdPs include Auth0, GitHub, GitLab, Google..."), and ``thumbprintLists`` is optional in pulumi-aws 7.
Sources: GitHub docs "Configuring OpenID Connect in Amazon Web Services" (the ``sub`` formats above);
IAM User Guide "Create a role for OpenID Connect federation" and "Permissions boundaries for IAM entities".
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
from pydantic import Field, model_validator

from components.common import ConfigModel, managed_role_policy, tags_for
from components.problems import ProblemCollector

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
STS_AUDIENCE = "sts.amazonaws.com"
READ_ONLY_POLICY_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"
_PROVIDER_ARN = re.compile(r"^arn:aws:iam::(\d{12}):oidc-provider/" + re.escape(GITHUB_OIDC_HOST) + "$")

#: Reads of data (not of configuration) that ReadOnlyAccess would allow: PHI may sit behind any of them.
DATA_READS = (
    "s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes", "secretsmanager:GetSecretValue",
    "ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "logs:GetLogEvents",
    "logs:FilterLogEvents", "logs:StartQuery", "logs:GetQueryResults", "logs:StartLiveTail",
    "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan", "sqs:ReceiveMessage",
    "kinesis:GetRecords", "kafka-cluster:ReadData", "rds-db:connect", "rds-data:ExecuteStatement",
    "elasticache:Connect", "backup:GetRecoveryPointRestoreMetadata", "athena:GetQueryResults",
)
#: IAM writes: neither CI role changes identities (the deployer role, reached by chaining, does).
IAM_WRITES = (
    "iam:Create*", "iam:Delete*", "iam:Put*", "iam:Attach*", "iam:Detach*", "iam:Update*", "iam:Add*",
    "iam:Remove*", "iam:Set*", "iam:Tag*", "iam:Untag*", "iam:Upload*", "iam:PassRole",
    "organizations:*", "account:*",
)


class CiAccessConfig(ConfigModel):
    """``care-platform:ciAccess``: who may preview and deploy this stack from GitHub Actions."""

    github_org: str = Field(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
    github_repo: str = Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")
    oidc_provider: Literal["create", "adopt"] = "create"
    oidc_provider_arn: str | None = None
    state_bucket_arn: str | None = Field(default=None, pattern=r"^arn:aws:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    secrets_key_arn: str | None = Field(default=None, pattern=r"^arn:aws:kms:[a-z0-9-]+:\d{12}:(key|alias)/.+$")

    @model_validator(mode="after")
    def _provider(self) -> CiAccessConfig:
        problems = ProblemCollector()
        if self.oidc_provider == "adopt" and not self.oidc_provider_arn:
            problems.add("oidcProviderArn", None, "adopt needs the ARN of the account's existing provider, "
                         f"arn:aws:iam::<account>:oidc-provider/{GITHUB_OIDC_HOST}")
        elif self.oidc_provider == "adopt" and not _PROVIDER_ARN.match(self.oidc_provider_arn or ""):
            problems.add("oidcProviderArn", self.oidc_provider_arn,
                         f"must be arn:aws:iam::<12-digit account>:oidc-provider/{GITHUB_OIDC_HOST}")
        elif self.oidc_provider == "create" and self.oidc_provider_arn:
            problems.add("oidcProviderArn", self.oidc_provider_arn,
                         "only with oidcProvider: adopt (create makes a new provider)")
        problems.raise_if_any()
        return self

    def provider_account(self) -> str | None:
        match = _PROVIDER_ARN.match(self.oidc_provider_arn or "")
        return match.group(1) if match else None

    @property
    def repository(self) -> str:
        return f"{self.github_org}/{self.github_repo}"


def _trust(provider_arn: str, subjects: list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "GitHubActions",
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                f"{GITHUB_OIDC_HOST}:sub": subjects[0] if len(subjects) == 1 else subjects,
            }},
        }],
    }


def deploy_trust_policy(provider_arn: str, repository: str, environment: str) -> dict[str, Any]:
    """Only jobs of ``repository`` running in the GitHub Environment ``environment``."""
    return _trust(provider_arn, [f"repo:{repository}:environment:{environment}"])


def preview_trust_policy(provider_arn: str, repository: str) -> dict[str, Any]:
    """Pull requests of ``repository`` (previews) and its main branch (the scheduled drift check)."""
    return _trust(provider_arn, [f"repo:{repository}:pull_request", f"repo:{repository}:ref:refs/heads/main"])


def boundary_policy(deployer_role_arn: str, state_objects: list[str]) -> dict[str, Any]:
    """The most either CI role may ever do, whatever is attached to it."""
    data_reads: dict[str, Any] = {"Sid": "NoDataReads", "Effect": "Deny", "Action": list(DATA_READS)}
    if state_objects:
        data_reads["NotResource"] = state_objects
    else:
        data_reads["Resource"] = "*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Ceiling", "Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Sid": "NoIdentityChanges", "Effect": "Deny", "Action": list(IAM_WRITES), "Resource": "*"},
            {"Sid": "OnlyTheDeployerRole", "Effect": "Deny", "Action": "sts:AssumeRole",
             "NotResource": deployer_role_arn},
            data_reads,
        ],
    }


def deploy_permissions(deployer_role_arn: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "AssumeTheDeployerRole", "Effect": "Allow", "Action": "sts:AssumeRole",
         "Resource": deployer_role_arn},
    ]}


def preview_permissions(cfg: CiAccessConfig) -> dict[str, Any] | None:
    """The self-managed state backend, when there is one (Pulumi Cloud needs nothing in AWS)."""
    statements: list[dict[str, Any]] = []
    if cfg.state_bucket_arn:
        bucket = cfg.state_bucket_arn
        statements += [
            {"Sid": "StateRead", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
             "Resource": bucket},
            {"Sid": "StateObjects", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{bucket}/*"},
            {"Sid": "StateLocks", "Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"],
             "Resource": f"{bucket}/.pulumi/locks/*"},
        ]
    if cfg.secrets_key_arn:
        statements.append({"Sid": "StackSecrets", "Effect": "Allow", "Action": "kms:Decrypt",
                           "Resource": cfg.secrets_key_arn})
    return {"Version": "2012-10-17", "Statement": statements} if statements else None


class CiAccess(pulumi.ComponentResource):
    """The GitHub OIDC provider (created or adopted) and one stack's preview and deploy roles."""

    def __init__(self, name: str, cfg: CiAccessConfig, *, environment: str, deployer_role_arn: str,
                 tags: dict[str, str], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("care:ci:CiAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if cfg.oidc_provider == "create":
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github-oidc", url=GITHUB_OIDC_URL, client_id_lists=[STS_AUDIENCE],
                tags=tags_for(tags, f"{name}-github-oidc"), opts=child)
            self.provider_arn: pulumi.Output[str] = provider.arn
        else:
            self.provider_arn = pulumi.Output.from_input(str(cfg.oidc_provider_arn))

        state_objects = [f"{cfg.state_bucket_arn}/*"] if cfg.state_bucket_arn else []
        boundary = aws.iam.Policy(
            f"{name}-boundary", name=f"{name}-boundary",
            description="Permissions boundary of the GitHub Actions roles (components/ci_access.py)",
            policy=json.dumps(boundary_policy(deployer_role_arn, state_objects)),
            tags=tags_for(tags, f"{name}-boundary"), opts=child)

        self.preview_role = aws.iam.Role(
            f"{name}-preview", name=f"{name}-preview",
            description=f"pulumi preview and drift checks of stack {environment} from GitHub Actions",
            assume_role_policy=self.provider_arn.apply(
                lambda arn: json.dumps(preview_trust_policy(arn, cfg.repository))),
            permissions_boundary=boundary.arn, max_session_duration=3600,
            tags=tags_for(tags, f"{name}-preview"), opts=child)
        aws.iam.RolePolicyAttachment(f"{name}-preview-read-only", role=self.preview_role.name,
                                     policy_arn=READ_ONLY_POLICY_ARN, opts=child)
        state = preview_permissions(cfg)
        if state is not None:
            managed_role_policy(f"{name}-preview-state", aws.iam.RolePolicyArgs(
                role=self.preview_role.name, policy=json.dumps(state)), child, tags=tags)

        self.deploy_role = aws.iam.Role(
            f"{name}-deploy", name=f"{name}-deploy",
            description=f"pulumi up of stack {environment} from its GitHub Environment (chains to the deployer role)",
            assume_role_policy=self.provider_arn.apply(
                lambda arn: json.dumps(deploy_trust_policy(arn, cfg.repository, environment))),
            permissions_boundary=boundary.arn, max_session_duration=3600,
            tags=tags_for(tags, f"{name}-deploy"), opts=child)
        managed_role_policy(f"{name}-deploy-chain", aws.iam.RolePolicyArgs(
            role=self.deploy_role.name, policy=json.dumps(deploy_permissions(deployer_role_arn))), child, tags=tags)
        self.register_outputs({"previewRoleArn": self.preview_role.arn, "deployRoleArn": self.deploy_role.arn})

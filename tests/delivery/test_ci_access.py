"""CI identity in AWS (components/ci_access.py): exact trust policies, boundary, adopt vs create, and the
HIPAA pack's github-oidc-trust-restricted policy."""

from __future__ import annotations

import json

import pulumi
import pytest
from pydantic import ValidationError

from components.ci_access import CiAccess, CiAccessConfig, deploy_trust_policy, preview_trust_policy
from tests.helpers import PROD_TAGS, render, stack_config

ACCOUNT = "333333333333"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/care-platform-deployer"


def _render(cfg: CiAccessConfig):
    def program() -> None:
        access = CiAccess("care-prod-ci", cfg, environment="prod", deployer_role_arn=DEPLOYER, tags=PROD_TAGS)
        pulumi.export("deploy", access.deploy_role.arn)

    return render(program)


@pytest.fixture(scope="module")
def created():
    return _render(CiAccessConfig(github_org="acme", github_repo="care-platform"))


def _doc(plan, name: str, key: str) -> dict:
    value = plan.named(name).inputs[key]
    return json.loads(value) if isinstance(value, str) else value


def test_deploy_trust_is_exactly_this_repositorys_environment() -> None:
    assert deploy_trust_policy(PROVIDER, "acme/care-platform", "prod") == {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "GitHubActions", "Effect": "Allow", "Principal": {"Federated": PROVIDER},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub": "repo:acme/care-platform:environment:prod",
            }},
        }],
    }


def test_preview_trust_is_pull_requests_and_main() -> None:
    condition = preview_trust_policy(PROVIDER, "acme/care-platform")["Statement"][0]["Condition"]
    assert condition == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": ["repo:acme/care-platform:pull_request",
                                                    "repo:acme/care-platform:ref:refs/heads/main"],
    }}


def test_created_provider_roles_and_boundary(created) -> None:
    provider = created.named("care-prod-ci-github-oidc")
    assert (provider.inputs["url"], provider.inputs["clientIdLists"]) == (
        "https://token.actions.githubusercontent.com", ["sts.amazonaws.com"])
    assert "thumbprintLists" not in provider.inputs
    deploy, preview = created.named("care-prod-ci-deploy"), created.named("care-prod-ci-preview")
    assert (deploy.inputs["name"], preview.inputs["name"]) == ("care-prod-ci-deploy", "care-prod-ci-preview")
    trust = json.loads(deploy.unmasked_inputs()["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == \
        "repo:acme/care-platform:environment:prod"
    federated = trust["Statement"][0]["Principal"]["Federated"]
    assert federated.endswith(":oidc-provider/token.actions.githubusercontent.com")
    boundary = created.named("care-prod-ci-boundary")
    assert deploy.inputs["permissionsBoundary"] == preview.inputs["permissionsBoundary"] != ""
    statements = {s["Sid"]: s for s in json.loads(boundary.unmasked_inputs()["policy"])["Statement"]}
    assert statements["OnlyTheDeployerRole"] == {"Sid": "OnlyTheDeployerRole", "Effect": "Deny",
                                                 "Action": "sts:AssumeRole", "NotResource": DEPLOYER}
    assert statements["NoDataReads"]["Resource"] == "*"
    assert "secretsmanager:GetSecretValue" in statements["NoDataReads"]["Action"]
    assert json.loads(created.named("care-prod-ci-deploy-chain").unmasked_inputs()["policy"])["Statement"] == [
        {"Sid": "AssumeTheDeployerRole", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": DEPLOYER}]
    assert created.named("care-prod-ci-preview-read-only").inputs["policyArn"] == \
        "arn:aws:iam::aws:policy/ReadOnlyAccess"
    # Never inline (iam-no-inline-policy): the chain is a customer-managed policy attached to the deploy role.
    assert created.of_type("aws:iam/rolePolicy:RolePolicy") == []
    chain = created.named("care-prod-ci-deploy-chain-attachment").inputs
    assert chain["role"] == created.named("care-prod-ci-deploy").inputs["name"]


def test_adopting_the_accounts_provider_creates_none_and_trusts_it() -> None:
    plan = _render(CiAccessConfig(github_org="acme", github_repo="care-platform", oidc_provider="adopt",
                                  oidc_provider_arn=PROVIDER, state_bucket_arn="arn:aws:s3:::acme-pulumi-state"))
    assert plan.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    trust = json.loads(plan.named("care-prod-ci-preview").unmasked_inputs()["assumeRolePolicy"])
    assert trust == preview_trust_policy(PROVIDER, "acme/care-platform")
    state = json.loads(plan.named("care-prod-ci-preview-state").unmasked_inputs()["policy"])
    assert [s["Resource"] for s in state["Statement"]] == [
        "arn:aws:s3:::acme-pulumi-state", "arn:aws:s3:::acme-pulumi-state/*",
        "arn:aws:s3:::acme-pulumi-state/.pulumi/locks/*"]
    boundary = json.loads(plan.named("care-prod-ci-boundary").unmasked_inputs()["policy"])
    assert boundary["Statement"][-1]["NotResource"] == ["arn:aws:s3:::acme-pulumi-state/*"]


@pytest.mark.parametrize(("values", "message"), [
    ({"oidcProvider": "adopt"}, "adopt needs the ARN of the account's existing provider"),
    ({"oidcProvider": "adopt", "oidcProviderArn": "arn:aws:iam::333333333333:oidc-provider/example.com"},
     "must be arn:aws:iam::<12-digit account>:oidc-provider/token.actions.githubusercontent.com"),
    ({"oidcProviderArn": PROVIDER}, "only with oidcProvider: adopt"),
])
def test_provider_config_errors(values: dict, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CiAccessConfig.model_validate({"githubOrg": "acme", "githubRepo": "care-platform", **values})
    assert message in str(caught.value)


def test_an_adopted_provider_of_another_account_is_a_config_error() -> None:
    other = PROVIDER.replace(ACCOUNT, "999999999999")
    with pytest.raises(ValidationError) as caught:
        stack_config("prod", ciAccess__oidcProvider="adopt", ciAccess__oidcProviderArn=other)
    assert "must be a provider of this stack's account (333333333333)" in str(caught.value)


# The HIPAA pack's github-oidc-trust-restricted policy is tested in tests/policies/test_github_oidc_trust.py
# (where `make mutation` runs it against the pack's mutants).


def test_the_boundary_fits_iams_managed_policy_size_limit(created) -> None:
    """IAM quotas: a managed policy document holds at most 6,144 characters and a role trust policy 2,048 (the
    default quota), whitespace not counted (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html)."""
    document = created.named("care-prod-ci-boundary").unmasked_inputs()["policy"]
    assert len("".join(document.split())) < 6144
    for role in ("care-prod-ci-preview", "care-prod-ci-deploy"):
        assert len("".join(created.named(role).unmasked_inputs()["assumeRolePolicy"].split())) < 2048

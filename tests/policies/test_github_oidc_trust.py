"""github-oidc-trust-restricted: a role GitHub Actions assumes trusts audience sts.amazonaws.com and exact
repository subjects only (a wildcard or missing subject, or a missing audience, is a mandatory violation)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.policies.support import check

ROLE_T = "aws:iam/role:Role"
PROVIDER = "arn:aws:iam::333333333333:oidc-provider/token.actions.githubusercontent.com"
AUD_KEY, SUB_KEY = "token.actions.githubusercontent.com:aud", "token.actions.githubusercontent.com:sub"
EXACT = "repo:acme/care-platform:environment:prod"
IRSA = "arn:aws:iam::333333333333:oidc-provider/oidc.eks.us-east-2.amazonaws.com/id/X"


def _role(condition: Any, *, principal: Any = None, effect: str = "Allow", as_list: bool = True) -> dict:
    statement = {"Sid": "GitHubActions", "Effect": effect, "Principal": principal or {"Federated": PROVIDER},
                 "Action": "sts:AssumeRoleWithWebIdentity"}
    if condition is not None:
        statement["Condition"] = condition
    return {"assumeRolePolicy": json.dumps({"Version": "2012-10-17",
                                            "Statement": [statement] if as_list else statement})}


def _eq(**extra: Any) -> dict:
    return {"StringEquals": {AUD_KEY: "sts.amazonaws.com", SUB_KEY: EXACT, **extra}}


AUD = (f"statement GitHubActions trusts GitHub's OIDC provider without StringEquals {AUD_KEY} = sts.amazonaws.com: "
       "tokens minted for any audience would be accepted (components/ci_access.py)")
NO_SUB = (f"statement GitHubActions trusts GitHub's OIDC provider without a {SUB_KEY} condition: any repository's "
          "workflow could assume this role. Name repo:<org>/<repo>:environment:<stack> (components/ci_access.py)")


def _wild(subject: str) -> str:
    return (f"statement GitHubActions trusts {SUB_KEY} {subject!r}: a wildcard or non-repository subject lets other "
            "repositories, branches or environments assume this role; name exact subjects "
            "(repo:<org>/<repo>:environment:<stack>)")


@pytest.mark.parametrize(("props", "expected"), [
    (_role(_eq()), []),
    (_role(_eq(), as_list=False), []),
    (_role(_eq(**{SUB_KEY: ["repo:acme/care-platform:pull_request", "repo:acme/care-platform:ref:refs/heads/main"]})),
     []),
    (_role({"StringEquals": {AUD_KEY.upper(): "sts.amazonaws.com", SUB_KEY.upper(): EXACT}}), []),
    (_role({"StringEquals": {AUD_KEY: "sts.amazonaws.com"}, "StringLike": {SUB_KEY: EXACT}}), []),
    (_role({"StringEquals": {AUD_KEY: "sts.amazonaws.com"}, "StringLike": {SUB_KEY: "repo:acme/care-platform:*"}}),
     [_wild("repo:acme/care-platform:*")]),
    (_role(_eq(**{SUB_KEY: "repo:acme/care-platform:environment:pro?"})),
     [_wild("repo:acme/care-platform:environment:pro?")]),
    (_role(_eq(**{SUB_KEY: ["repo:acme/care-platform:pull_request", "repo:acme/*"]})), [_wild("repo:acme/*")]),
    (_role(_eq(**{SUB_KEY: "environment:prod"})), [_wild("environment:prod")]),
    (_role({"StringEquals": {SUB_KEY: EXACT}}), [AUD]),
    (_role({"StringEquals": {SUB_KEY: EXACT}, "StringLike": {AUD_KEY: "sts.amazonaws.com"}}), [AUD]),
    (_role(_eq(**{AUD_KEY: "https://github.com/acme"})), [AUD]),
    (_role(_eq(**{AUD_KEY: ["sts.amazonaws.com", "other"]})), [AUD]),
    (_role({"StringEquals": {AUD_KEY: "sts.amazonaws.com"}}), [NO_SUB]),
    (_role(None), [AUD, NO_SUB]),
    (_role({"StringLike": {SUB_KEY: "*"}}), [AUD, _wild("*")]),
    (_role(None, principal={"Federated": [PROVIDER]}), [AUD, NO_SUB]),
    (_role(None, effect="Deny"), []),
    (_role(None, principal={"Federated": IRSA}), []),
    (_role(None, principal={"Service": "eks.amazonaws.com"}), []),
    ({"assumeRolePolicy": "not json"}, []),
], ids=["exact-environment", "single-statement", "pr-and-main", "keys-any-case", "string-like-exact",
        "string-like-star", "question-mark", "one-of-two-wild", "not-a-repo", "no-aud", "aud-only-like",
        "wrong-aud", "extra-aud", "no-sub", "no-condition", "anyone", "federated-list", "deny", "irsa-provider",
        "service", "unparsable"])
def test_github_oidc_trust(props: dict, expected: list[str]) -> None:
    assert check("github-oidc-trust-restricted", ROLE_T, props) == expected

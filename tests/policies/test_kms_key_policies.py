# ruff: noqa: E501  (the expected messages are asserted verbatim)
"""kms-phi-key-via-service-deny (policies/encryption.py): the key ring's real key policies pass, and every way of
losing or hollowing out the deny of use outside the owning service is reported."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.encryption import PHI_DOMAINS, PRIMARY_DOMAINS, key_policy
from tests.policies.support import U, check

KEY_T = "aws:kms/key:Key"
ACCOUNT = "333333333333"
ADMINS = {"admin_arns": [f"arn:aws:iam::{ACCOUNT}:role/platform-admin"],
          "policy_admin_arns": [f"arn:aws:iam::{ACCOUNT}:role/care-platform-deployer"]}
CSI = f"arn:aws:iam::{ACCOUNT}:role/care-prod-eks-ebs-csi-irsa-*"
POLICY = "kms-phi-key-via-service-deny"
MISSING = ("PHI key (DataDomain {domain}) has no statement denying kms:Encrypt, kms:Decrypt, kms:ReEncrypt*, "
           "kms:GenerateDataKey*, kms:CreateGrant to Principal '*' unless kms:ViaService is its owning service{why}: "
           "an IAM policy or a grant could use it directly. Keep the key ring's DenyUseOutsideOwningService statement "
           "(components/encryption.py, PHI_DOMAINS).")


def _key(domain: str | None, policy: Any) -> dict[str, Any]:
    tags = {"Name": "k", **({"DataDomain": domain} if domain else {})}
    return {"policy": policy if isinstance(policy, str) else json.dumps(policy), "tags": tags,
            "enableKeyRotation": True}


def _policy(domain: str) -> dict[str, Any]:
    return key_policy(domain, account_id=ACCOUNT, region="us-east-2", direct_callers=[CSI] if domain == "ebs" else [],
                      **ADMINS)


def _edit_deny(domain: str, change) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    document = _policy(domain)
    change(document["Statement"][-1])
    return document


@pytest.mark.parametrize("domain", PRIMARY_DOMAINS)
def test_the_key_rings_policies_pass(domain: str) -> None:
    assert check(POLICY, KEY_T, _key(domain, _policy(domain))) == []


def test_non_phi_keys_need_no_deny_and_the_sets_agree() -> None:
    import encryption as policy_module  # policies/ is on sys.path via tests.policies.support

    assert sorted((*PHI_DOMAINS, *policy_module.NON_PHI_KEY_DOMAINS)) == sorted(PRIMARY_DOMAINS)
    bare = {"Version": "2012-10-17", "Statement": []}
    for domain in ("logs", "alerts", "audit", "eks"):
        assert check(POLICY, KEY_T, _key(domain, bare)) == []


def test_a_phi_key_without_the_deny_is_reported() -> None:
    document = _policy("database")
    document["Statement"] = document["Statement"][:-1]
    assert check(POLICY, KEY_T, _key("database", document)) == [MISSING.format(domain="database", why="")]
    # A key without a DataDomain tag is treated as PHI (fail closed).
    assert check(POLICY, KEY_T, _key(None, document)) == [MISSING.format(domain="unset", why="")]
    assert check(POLICY, KEY_T, {**_key("database", document), "policy": U}) == []  # decided when known


@pytest.mark.parametrize("change,why", [
    # Without kms:ViaService the deny would block RDS itself: not the statement asked for.
    (lambda s: s["Condition"].pop("StringNotEquals"),
     "it has no kms:ViaService condition naming the owning services (<service>.<region>.amazonaws.com)"),
    (lambda s: s.pop("Condition"), "it has no kms:ViaService condition, so it denies the owning service too"),
    # Exemptions that open the deny to everyone.
    (lambda s: s["Condition"].update({"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"}}),
     "aws:PrincipalArn exempts more than named roles (a wildcard account or role path)"),
    (lambda s: s["Condition"].update({"BoolIfExists": {"aws:PrincipalIsAWSService": "true"}}),
     "BoolIfExists aws:PrincipalIsAWSService is 'true', which exempts every principal"),
    (lambda s: s["Condition"].update({"StringEquals": {"aws:PrincipalAccount": "111122223333"}}),
     "its condition StringEquals aws:PrincipalAccount exempts requests the owning-service rule does not"),
    (lambda s: s["Condition"].update({"StringNotEquals": {"kms:ViaService": ["s3.*"]}}),
     "it has no kms:ViaService condition naming the owning services (<service>.<region>.amazonaws.com)"),
])
def test_a_hollowed_deny_is_reported_with_the_reason(change, why: str) -> None:  # type: ignore[no-untyped-def]
    assert check(POLICY, KEY_T, _key("database", _edit_deny("database", change))) == [
        MISSING.format(domain="database", why=f" (the closest one does not hold: {why})")]


@pytest.mark.parametrize("change", [
    lambda s: s.update({"Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"]}),  # no CreateGrant
    lambda s: s.update({"Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/x"}}),
    lambda s: s.update({"Effect": "Allow"}),
    lambda s: s.update({"Resource": f"arn:aws:kms:us-east-2:{ACCOUNT}:key/other"}),
])
def test_a_deny_that_misses_actions_principals_or_the_key_does_not_count(change) -> None:  # type: ignore[no-untyped-def]
    assert check(POLICY, KEY_T, _key("database", _edit_deny("database", change))) == [
        MISSING.format(domain="database", why="")]


def test_wildcard_actions_and_named_exemptions_are_accepted() -> None:
    def widen(s: dict[str, Any]) -> None:
        s["Action"] = "kms:*"
        s["Principal"] = {"AWS": "*"}
        s["Condition"]["ArnNotLike"] = {"aws:PrincipalArn": [
            f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling", CSI]}
    assert check(POLICY, KEY_T, _key("ebs", _edit_deny("ebs", widen))) == []

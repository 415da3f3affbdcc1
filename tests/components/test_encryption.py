"""The KeyRing component: one rotating key per data domain, aliases and least-use key policies."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest

from components.encryption import PRIMARY_DOMAINS, KeyRing
from tests.helpers import PROD_TAGS, render, stack_config, untagged

ACCOUNT = "333333333333"


@pytest.fixture(scope="module")
def plan():  # type: ignore[no-untyped-def]
    cfg = stack_config("prod")

    def build() -> None:
        KeyRing("care-test-kms", cfg.encryption, domains=PRIMARY_DOMAINS, region="us-east-2", account_id=ACCOUNT,
                alias_prefix="care-platform/prod", tags=PROD_TAGS)
        dr = aws.Provider("dr", region="us-west-2", allowed_account_ids=[ACCOUNT])
        KeyRing("care-test-dr-kms", cfg.encryption, domains=cfg.encryption.dr_domains, region="us-west-2",
                account_id=ACCOUNT, alias_prefix="care-platform/prod", tags=PROD_TAGS,
                opts=pulumi.ResourceOptions(provider=dr))

    return render(build)


def _policy(plan, name: str) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(plan.named(name).inputs["policy"])


def _statement(policy: dict, sid: str) -> dict:
    return next(s for s in policy["Statement"] if s["Sid"] == sid)


def test_one_rotating_key_per_domain(plan) -> None:  # type: ignore[no-untyped-def]
    keys = {r.name: r.inputs for r in plan.of_type("aws:kms/key:Key")}
    expected = [f"care-test-kms-{d}" for d in ("logs", "database", "cache", "storage", "eks", "ebs", "streaming",
                                               "backup", "secrets")]
    expected += [f"care-test-dr-kms-{d}" for d in ("database", "storage", "backup")]
    assert sorted(keys) == sorted(expected)
    for key in keys.values():
        assert key["enableKeyRotation"] is True
        assert key["rotationPeriodInDays"] == 365
        assert key["deletionWindowInDays"] == 30
        assert (key["keyUsage"], key["customerMasterKeySpec"]) == ("ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT")


def test_aliases_name_environment_and_domain(plan) -> None:  # type: ignore[no-untyped-def]
    aliases = {r.name: r.inputs for r in plan.of_type("aws:kms/alias:Alias")}
    assert len(aliases) == 12
    database_key = plan.named("care-test-kms-database")
    assert aliases["care-test-kms-database-alias"] == {"name": "alias/care-platform/prod/database",
                                                       "targetKeyId": database_key.id}


def test_dr_keys_live_in_the_dr_region(plan) -> None:  # type: ignore[no-untyped-def]
    dr_key = plan.named("care-test-dr-kms-backup")
    assert dr_key.provider == ("urn:pulumi:test::care-platform::pulumi:pulumi:Stack$pulumi:providers:aws::dr::"
                               "dr-provider-id")
    assert plan.named("care-test-kms-backup").provider == ""  # the primary ring used the default provider here
    assert _statement(_policy(plan, "care-test-dr-kms-backup"), "UseThroughOwningService")["Condition"] == {
        "StringEquals": {"kms:ViaService": "backup.us-west-2.amazonaws.com", "kms:CallerAccount": ACCOUNT}}


def test_cloudwatch_logs_gets_an_explicit_grant_scoped_to_the_account(plan) -> None:  # type: ignore[no-untyped-def]
    statement = _statement(_policy(plan, "care-test-kms-logs"), "CloudWatchLogs")
    assert statement["Principal"] == {"Service": "logs.us-east-2.amazonaws.com"}
    assert statement["Condition"] == {"ArnLike": {
        "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-2:{ACCOUNT}:*"}}
    assert "kms:Decrypt" in statement["Action"] and "kms:GenerateDataKey*" in statement["Action"]


@pytest.mark.parametrize("domain,service", [
    ("database", "rds"), ("cache", "elasticache"), ("storage", "s3"), ("eks", "eks"), ("ebs", "ec2"),
    ("streaming", "kafka"), ("backup", "backup"), ("secrets", "secretsmanager"),
])
def test_data_keys_are_used_only_through_their_service(plan, domain: str, service: str) -> None:  # type: ignore[no-untyped-def]
    statement = _statement(_policy(plan, f"care-test-kms-{domain}"), "UseThroughOwningService")
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert statement["Condition"]["StringEquals"]["kms:ViaService"] == f"{service}.us-east-2.amazonaws.com"


def test_ebs_key_lets_auto_scaling_launch_encrypted_volumes(plan) -> None:  # type: ignore[no-untyped-def]
    policy = _policy(plan, "care-test-kms-ebs")
    role = (f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling")
    assert _statement(policy, "AutoScalingUse")["Principal"] == {"AWS": role}
    assert _statement(policy, "AutoScalingGrants")["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_key_policies_name_admins_and_never_a_wildcard_principal(plan) -> None:  # type: ignore[no-untyped-def]
    for key in plan.of_type("aws:kms/key:Key"):
        policy = json.loads(key.inputs["policy"])
        admins = _statement(policy, "KeyAdministrators")
        assert admins["Principal"] == {"AWS": [f"arn:aws:iam::{ACCOUNT}:role/platform-admin"]}
        assert "kms:Decrypt" not in admins["Action"]
        for statement in policy["Statement"]:
            assert statement["Principal"] != "*" and statement["Principal"].get("AWS") != "*"


def test_keys_are_tagged(plan) -> None:  # type: ignore[no-untyped-def]
    assert untagged(plan, PROD_TAGS) == []
    assert plan.named("care-test-kms-streaming").inputs["tags"]["DataDomain"] == "streaming"


def test_keys_are_protected_like_the_data_they_encrypt(plan) -> None:  # type: ignore[no-untyped-def]
    assert {r.name: r.protect for r in plan.of_type("aws:kms/key:Key")} == {
        r.name: True for r in plan.of_type("aws:kms/key:Key")}
    assert not any(r.protect for r in plan.of_type("aws:kms/alias:Alias"))


def test_dev_keys_can_be_unprotected() -> None:
    cfg = stack_config("dev")
    plan = render(lambda: KeyRing("k", cfg.encryption, domains=("logs",), region="us-east-2", account_id=ACCOUNT,
                                  alias_prefix="care-platform/dev", protect=cfg.protection.protect, tags=PROD_TAGS))
    assert plan.named("k-logs").protect is False
    assert plan.named("k-logs").inputs["deletionWindowInDays"] == 7

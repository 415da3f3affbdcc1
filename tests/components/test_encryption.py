"""The KeyRing component: one rotating key per data domain, aliases and least-use key policies."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest

from components.encryption import PHI_DOMAINS, PRIMARY_DOMAINS, KeyRing, autoscaling_role_options, key_policy
from tests.helpers import PROD_TAGS, render, stack_config, untagged

ACCOUNT = "333333333333"
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/care-platform-deployer"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/platform-admin"
CSI_ROLE = f"arn:aws:iam::{ACCOUNT}:role/care-test-eks-ebs-csi-irsa-*"
ASG_ROLE = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
EC2_INSTANCES = f"arn:aws:iam::{ACCOUNT}:role/aws:ec2-infrastructure"


@pytest.fixture(scope="module")
def plan():  # type: ignore[no-untyped-def]
    cfg = stack_config("prod")

    def build() -> None:
        KeyRing("care-test-kms", cfg.encryption, domains=PRIMARY_DOMAINS, region="us-east-2", account_id=ACCOUNT,
                alias_prefix="care-platform/prod", policy_admin_arns=[DEPLOYER], direct_callers={"ebs": [CSI_ROLE]},
                tags=PROD_TAGS)
        dr = aws.Provider("dr", region="us-west-2", allowed_account_ids=[ACCOUNT])
        KeyRing("care-test-dr-kms", cfg.encryption, domains=cfg.encryption.dr_domains, region="us-west-2",
                account_id=ACCOUNT, alias_prefix="care-platform/prod", policy_admin_arns=[DEPLOYER], tags=PROD_TAGS,
                opts=pulumi.ResourceOptions(provider=dr))

    return render(build)


def _policy(plan, name: str) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(plan.named(name).inputs["policy"])


def _statement(policy: dict, sid: str) -> dict:
    return next(s for s in policy["Statement"] if s["Sid"] == sid)


def test_one_rotating_key_per_domain(plan) -> None:  # type: ignore[no-untyped-def]
    keys = {r.name: r.inputs for r in plan.of_type("aws:kms/key:Key")}
    expected = [f"care-test-kms-{d}" for d in ("logs", "database", "cache", "storage", "eks", "ebs", "streaming",
                                               "backup", "secrets", "alerts", "audit")]
    expected += [f"care-test-dr-kms-{d}" for d in ("database", "storage", "backup")]
    assert sorted(keys) == sorted(expected)
    for key in keys.values():
        assert key["enableKeyRotation"] is True
        assert key["rotationPeriodInDays"] == 365
        assert key["deletionWindowInDays"] == 30
        assert (key["keyUsage"], key["customerMasterKeySpec"]) == ("ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT")


def test_aliases_name_environment_and_domain(plan) -> None:  # type: ignore[no-untyped-def]
    aliases = {r.name: r.inputs for r in plan.of_type("aws:kms/alias:Alias")}
    assert len(aliases) == 14
    database_key = plan.named("care-test-kms-database")
    assert aliases["care-test-kms-database-alias"] == {"name": "alias/care-platform/prod/database",
                                                       "targetKeyId": database_key.id}


def test_dr_keys_live_in_the_dr_region(plan) -> None:  # type: ignore[no-untyped-def]
    dr_key = plan.named("care-test-dr-kms-backup")
    assert dr_key.provider == ("urn:pulumi:test::care-platform::pulumi:pulumi:Stack$pulumi:providers:aws::dr::"
                               "dr-provider-id")
    assert plan.named("care-test-kms-backup").provider == ""  # the primary ring used the default provider here
    assert _statement(_policy(plan, "care-test-dr-kms-backup"), "UseThroughOwningService")["Condition"] == {
        "StringEquals": {"kms:ViaService": ["backup.us-west-2.amazonaws.com", "rds.us-west-2.amazonaws.com",
                                            "ec2.us-west-2.amazonaws.com"], "kms:CallerAccount": ACCOUNT}}


def test_cloudwatch_logs_gets_an_explicit_grant_scoped_to_the_account(plan) -> None:  # type: ignore[no-untyped-def]
    statement = _statement(_policy(plan, "care-test-kms-logs"), "CloudWatchLogs")
    assert statement["Principal"] == {"Service": "logs.us-east-2.amazonaws.com"}
    assert statement["Condition"] == {"ArnLike": {
        "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-2:{ACCOUNT}:*"}}
    assert "kms:Decrypt" in statement["Action"] and "kms:GenerateDataKey*" in statement["Action"]


def test_alert_key_lets_the_publishing_services_encrypt_without_source_conditions(plan) -> None:  # type: ignore[no-untyped-def]
    statement = _statement(_policy(plan, "care-test-kms-alerts"), "AlertPublishers")
    assert statement == {
        "Sid": "AlertPublishers", "Effect": "Allow",
        "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com", "budgets.amazonaws.com",
                                  "costalerts.amazonaws.com"]},
        "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*",
    }
    # SNS itself uses the key on the account's behalf only through SNS in this region.
    via = _statement(_policy(plan, "care-test-kms-alerts"), "UseThroughOwningService")
    assert via["Condition"]["StringEquals"]["kms:ViaService"] == "sns.us-east-2.amazonaws.com"


@pytest.mark.parametrize("domain,service", [
    ("database", "rds"), ("cache", "elasticache"), ("storage", "s3"), ("eks", "eks"), ("ebs", "ec2"),
    ("streaming", "kafka"), ("secrets", "secretsmanager"), ("alerts", "sns"),
    # AWS Backup copies RDS and EBS snapshots into the vault through those services, with the vault's key.
    ("backup", ["backup", "rds", "ec2"]),
])
def test_data_keys_are_used_only_through_their_service(plan, domain: str, service) -> None:  # type: ignore[no-untyped-def]
    statement = _statement(_policy(plan, f"care-test-kms-{domain}"), "UseThroughOwningService")
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert statement["Action"] == ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                                   "kms:DescribeKey", "kms:CreateGrant", "kms:ListGrants"]
    expected = ([f"{s}.us-east-2.amazonaws.com" for s in service] if isinstance(service, list)
                else f"{service}.us-east-2.amazonaws.com")
    assert statement["Condition"] == {"StringEquals": {"kms:ViaService": expected, "kms:CallerAccount": ACCOUNT}}


def test_no_statement_grants_the_account_root_unconditionally(plan) -> None:  # type: ignore[no-untyped-def]
    # A root kms:* statement would let any IAM policy use the PHI keys directly (issue #8 item 9).
    root = f"arn:aws:iam::{ACCOUNT}:root"
    for key in plan.of_type("aws:kms/key:Key"):
        for statement in json.loads(key.inputs["policy"])["Statement"]:
            assert statement["Action"] != "kms:*", (key.name, statement["Sid"])
            if statement["Principal"] == {"AWS": root}:
                assert set(statement["Condition"]["StringEquals"]) == {"kms:ViaService", "kms:CallerAccount"}
        sids = [s["Sid"] for s in json.loads(key.inputs["policy"])["Statement"]]
        assert sids[0] == "KeyAdministrators", key.name


def test_administrators_administer_without_a_path_to_decrypt(plan) -> None:  # type: ignore[no-untyped-def]
    # Explicit actions: no kms:Create* (it holds kms:CreateGrant) and no kms:Put* (kms:PutKeyPolicy), either of
    # which would let an administrator give itself decryption.
    admins = _statement(_policy(plan, "care-test-kms-database"), "KeyAdministrators")
    assert admins == {"Sid": "KeyAdministrators", "Effect": "Allow", "Principal": {"AWS": [ADMIN, DEPLOYER]},
                      "Action": [
        "kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListKeyPolicies",
        "kms:ListKeyRotations", "kms:ListResourceTags", "kms:ListGrants", "kms:RevokeGrant", "kms:EnableKey",
        "kms:DisableKey",
        "kms:EnableKeyRotation", "kms:DisableKeyRotation", "kms:RotateKeyOnDemand", "kms:UpdateKeyDescription",
        "kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias", "kms:TagResource", "kms:UntagResource",
        "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"], "Resource": "*"}


def test_only_the_deployer_may_put_the_key_policy_and_nobody_may_bypass_the_lockout_check(plan) -> None:  # type: ignore[no-untyped-def]
    for key in plan.of_type("aws:kms/key:Key"):
        policy = json.loads(key.inputs["policy"])
        # KMS's lockout safety check: the principal running `pulumi up` must keep PutKeyPolicy.
        assert _statement(policy, "KeyPolicyDeployer") == {
            "Sid": "KeyPolicyDeployer", "Effect": "Allow", "Principal": {"AWS": [DEPLOYER]},
            "Action": "kms:PutKeyPolicy", "Resource": "*"}, key.name
        assert _statement(policy, "DenyPolicyLockoutBypass") == {
            "Sid": "DenyPolicyLockoutBypass", "Effect": "Deny", "Principal": "*", "Action": "kms:PutKeyPolicy",
            "Resource": "*", "Condition": {"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "true"}}}, key.name
        granting = [s["Sid"] for s in policy["Statement"] if s["Effect"] == "Allow" and s["Principal"] != {
            "AWS": f"arn:aws:iam::{ACCOUNT}:root"} and s["Sid"] != "AutoScalingGrants"
            and any(a in ("kms:CreateGrant", "kms:PutKeyPolicy", "kms:Create*", "kms:Put*", "kms:*")
                    for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))]
        assert granting == ["KeyPolicyDeployer"], key.name


def test_key_policy_needs_a_put_key_policy_principal() -> None:
    with pytest.raises(ValueError, match="database: a key policy needs key administrators and a PutKeyPolicy "
                                         "principal"):
        key_policy("database", account_id=ACCOUNT, region="us-east-2", admin_arns=[ADMIN], policy_admin_arns=[])


def _deny(plan, name: str) -> dict:  # type: ignore[no-untyped-def]
    return _statement(_policy(plan, name), "DenyUseOutsideOwningService")


USE = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant"]


@pytest.mark.parametrize("domain,via", [
    ("database", ["rds"]), ("cache", ["elasticache"]), ("storage", ["s3"]), ("streaming", ["kafka"]),
    ("secrets", ["secretsmanager"]),
])
def test_phi_keys_deny_use_outside_their_owning_service(plan, domain: str, via: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert _deny(plan, f"care-test-kms-{domain}") == {
        "Sid": "DenyUseOutsideOwningService", "Effect": "Deny", "Principal": "*", "Action": USE, "Resource": "*",
        "Condition": {"StringNotEquals": {"kms:ViaService": [f"{s}.us-east-2.amazonaws.com" for s in via]},
                      "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}}
    # The deny is the last statement: everything it overrides reads first.
    assert _policy(plan, f"care-test-kms-{domain}")["Statement"][-1]["Sid"] == "DenyUseOutsideOwningService"


def test_ebs_key_exempts_only_auto_scaling_ec2_instances_and_the_csi_driver_role_by_principal_arn(plan) -> None:  # type: ignore[no-untyped-def]
    # EC2 decrypts an attached volume's key as the instance's identity-only role (aws:ec2-infrastructure), through
    # its grant and without kms:ViaService: without the exemption no node and no CSI volume would start.
    assert _deny(plan, "care-test-kms-ebs")["Condition"] == {
        "StringNotEquals": {"kms:ViaService": ["ec2.us-east-2.amazonaws.com"]},
        "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
        "ArnNotLike": {"aws:PrincipalArn": [ASG_ROLE, EC2_INSTANCES, CSI_ROLE]}}


def test_backup_keys_exempt_only_ec2_instances_attaching_restored_volumes(plan) -> None:  # type: ignore[no-untyped-def]
    for name, region in (("care-test-kms-backup", "us-east-2"), ("care-test-dr-kms-backup", "us-west-2")):
        assert _deny(plan, name) == {
            "Sid": "DenyUseOutsideOwningService", "Effect": "Deny", "Principal": "*", "Action": USE, "Resource": "*",
            "Condition": {"StringNotEquals": {"kms:ViaService": [f"{s}.{region}.amazonaws.com"
                                                                 for s in ("backup", "rds", "ec2")]},
                          "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
                          "ArnNotLike": {"aws:PrincipalArn": [EC2_INSTANCES]}}}, name


def test_dr_phi_keys_deny_use_outside_the_dr_regions_services(plan) -> None:  # type: ignore[no-untyped-def]
    # S3 replication, RDS backup replication and AWS Backup copies use the DR keys through the DR region's services.
    assert {domain: _deny(plan, f"care-test-dr-kms-{domain}")["Condition"]["StringNotEquals"]["kms:ViaService"]
            for domain in ("database", "storage", "backup")} == {
        "database": ["rds.us-west-2.amazonaws.com"], "storage": ["s3.us-west-2.amazonaws.com"],
        "backup": ["backup.us-west-2.amazonaws.com", "rds.us-west-2.amazonaws.com", "ec2.us-west-2.amazonaws.com"]}


def test_exactly_the_phi_keys_carry_the_deny(plan) -> None:  # type: ignore[no-untyped-def]
    assert PHI_DOMAINS == ("database", "cache", "storage", "streaming", "backup", "ebs", "secrets")
    denied = sorted(key.name for key in plan.of_type("aws:kms/key:Key")
                    if any(s["Sid"] == "DenyUseOutsideOwningService"
                           for s in json.loads(key.inputs["policy"])["Statement"]))
    assert denied == sorted([*(f"care-test-kms-{d}" for d in PHI_DOMAINS),
                             *(f"care-test-dr-kms-{d}" for d in ("database", "storage", "backup"))])


def test_key_admins_are_required() -> None:
    from components.encryption import EncryptionConfig

    with pytest.raises(ValueError, match="must name at least one key administrator, the role that runs `pulumi up` "
                                         "included: KMS refuses a key policy that would lock the caller out"):
        EncryptionConfig.model_validate({"keyAdminArns": []})


def test_ebs_key_waits_for_the_auto_scaling_service_linked_role(plan) -> None:  # type: ignore[no-untyped-def]
    (role,) = plan.of_type("aws:iam/serviceLinkedRole:ServiceLinkedRole")
    assert role.name == "care-test-kms-autoscaling-slr"
    assert role.inputs == {"awsServiceName": "autoscaling.amazonaws.com",
                           "tags": {"Name": "AWSServiceRoleForAutoScaling", **PROD_TAGS}}
    assert role.urn in plan.named("care-test-kms-ebs").dependencies
    assert role.urn not in plan.named("care-test-kms-database").dependencies
    options = autoscaling_role_options(stack_config("prod").encryption, ACCOUNT)
    assert (options.retain_on_delete, options.import_) == (True, None)


def test_an_existing_service_linked_role_is_adopted_by_import() -> None:
    cfg = stack_config("prod", encryption__autoscalingServiceLinkedRole="adopt")
    plan = render(lambda: KeyRing("k", cfg.encryption, domains=("ebs",), region="us-east-2", account_id=ACCOUNT,
                                  alias_prefix="care-platform/prod", policy_admin_arns=[DEPLOYER], tags=PROD_TAGS))
    (role,) = plan.of_type("aws:iam/serviceLinkedRole:ServiceLinkedRole")
    assert role.inputs == {"awsServiceName": "autoscaling.amazonaws.com"}  # an import must match: no tags
    assert role.urn in plan.named("k-ebs").dependencies
    options = autoscaling_role_options(cfg.encryption, ACCOUNT)
    assert (options.retain_on_delete, options.import_) == (
        True, f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling")


def test_ebs_key_lets_auto_scaling_launch_encrypted_volumes(plan) -> None:  # type: ignore[no-untyped-def]
    policy = _policy(plan, "care-test-kms-ebs")
    role = (f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling")
    assert _statement(policy, "AutoScalingUse")["Principal"] == {"AWS": role}
    assert _statement(policy, "AutoScalingGrants")["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_key_policies_name_admins_and_never_a_wildcard_principal(plan) -> None:  # type: ignore[no-untyped-def]
    for key in plan.of_type("aws:kms/key:Key"):
        policy = json.loads(key.inputs["policy"])
        admins = _statement(policy, "KeyAdministrators")
        assert admins["Principal"] == {"AWS": [ADMIN, DEPLOYER]}
        assert "kms:Decrypt" not in admins["Action"]
        for statement in policy["Statement"]:  # a wildcard principal only ever in a Deny
            if statement["Effect"] == "Allow":
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
                                  alias_prefix="care-platform/dev", policy_admin_arns=[DEPLOYER],
                                  protect=cfg.protection.protect, tags=PROD_TAGS))
    assert plan.named("k-logs").protect is False
    assert plan.named("k-logs").inputs["deletionWindowInDays"] == 7


def test_audit_key_lets_cloudtrail_encrypt_for_this_accounts_trails_only(plan) -> None:  # type: ignore[no-untyped-def]
    policy = _policy(plan, "care-test-kms-audit")
    trails = f"arn:aws:cloudtrail:us-east-2:{ACCOUNT}:trail/*"
    context = {"kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{ACCOUNT}:trail/*"}
    assert [s["Sid"] for s in policy["Statement"]] == [
        "KeyAdministrators", "KeyPolicyDeployer", "DenyPolicyLockoutBypass", "CloudTrailEncryptLogs",
        "CloudTrailDescribeKey", "AccountDecryptsLogFiles"]
    assert _statement(policy, "CloudTrailEncryptLogs") == {
        "Sid": "CloudTrailEncryptLogs", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*",
        "Condition": {"StringLike": context, "ArnLike": {"aws:SourceArn": trails}}}
    assert _statement(policy, "CloudTrailDescribeKey")["Condition"] == {"ArnLike": {"aws:SourceArn": trails}}
    assert _statement(policy, "AccountDecryptsLogFiles") == {
        "Sid": "AccountDecryptsLogFiles", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": ["kms:Decrypt", "kms:ReEncryptFrom"], "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-2.amazonaws.com", "kms:CallerAccount": ACCOUNT},
                      "StringLike": context}}


def test_storage_key_lets_this_accounts_cloudfront_decrypt_the_static_assets(plan) -> None:  # type: ignore[no-untyped-def]
    assert _statement(_policy(plan, "care-test-kms-storage"), "CloudFrontOacDecrypt") == {
        "Sid": "CloudFrontOacDecrypt", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT},
                      "ArnLike": {"AWS:SourceArn": f"arn:aws:cloudfront::{ACCOUNT}:distribution/*"}}}
    other = [s["Sid"] for domain in ("database", "logs", "secrets")
             for s in _policy(plan, f"care-test-kms-{domain}")["Statement"]]
    assert "CloudFrontOacDecrypt" not in other

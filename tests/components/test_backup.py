"""Backup: vaults in both regions (locked in prod), a daily tag-selected plan copied to DR, PITR for RDS."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest

from components.backup import Backup, BackupConfig
from tests.helpers import PROD_TAGS, render, stack_config, stack_raw, untagged

KEY = "arn:aws:kms:us-east-2:333333333333:key/backup"
DR_KEY = "arn:aws:kms:us-west-2:333333333333:key/dr-backup"
ACCOUNT = "333333333333"
NAME = "care-prod-backup"


def _render(config: BackupConfig, *, dr: bool, protect: bool):
    def program() -> None:
        dr_provider = aws.Provider("aws-dr", region="us-west-2") if dr else None
        backup = Backup(NAME, config, account_id=ACCOUNT, region="us-east-2", kms_key_arn=KEY,
                        dr_kms_key_arn=DR_KEY if dr else None, dr_provider=dr_provider, force_destroy=not protect,
                        protect=protect, tags=PROD_TAGS)
        pulumi.export("vault", backup.vault_arn)
        pulumi.export("drVault", backup.dr_vault_arn)

    return render(program)


@pytest.fixture(scope="module")
def prod():
    return _render(stack_config("prod").backup, dr=True, protect=True)


@pytest.fixture(scope="module")
def dev():
    return _render(BackupConfig.model_validate(stack_raw("dev")["backup"]), dr=False, protect=False)


def test_children(prod):
    component = prod.of_type("care:backup:Backup")[0]
    assert sorted(r.type for r in prod.resources if r.parent == component.urn) == sorted([
        "aws:backup/vault:Vault", "aws:backup/vault:Vault",
        "aws:backup/vaultLockConfiguration:VaultLockConfiguration",
        "aws:backup/vaultLockConfiguration:VaultLockConfiguration",
        "aws:backup/vaultPolicy:VaultPolicy", "aws:backup/vaultPolicy:VaultPolicy",
        "aws:iam/role:Role", *["aws:iam/rolePolicyAttachment:RolePolicyAttachment"] * 4,
        "aws:backup/plan:Plan", "aws:backup/plan:Plan", "aws:backup/selection:Selection",
        "aws:backup/selection:Selection",
        "aws:backup/regionSettings:RegionSettings", "aws:backup/regionSettings:RegionSettings",
    ])
    assert untagged(prod, PROD_TAGS) == []


def test_vaults_encrypted_locked_and_in_their_regions(prod):
    vault = prod.named(f"{NAME}-vault")
    dr_vault = prod.named(f"{NAME}-dr-vault")
    assert (vault.inputs["name"], vault.inputs["kmsKeyArn"], vault.inputs["forceDestroy"]) == (
        f"{NAME}-vault", KEY, False)
    assert (dr_vault.inputs["kmsKeyArn"], dr_vault.provider.startswith(prod.named("aws-dr").urn)) == (DR_KEY, True)
    assert vault.protect and dr_vault.protect
    for lock in (prod.named(f"{NAME}-vault-lock"), prod.named(f"{NAME}-dr-vault-lock")):
        assert (lock.inputs["minRetentionDays"], lock.inputs["maxRetentionDays"]) == (7, 3650)
        assert "changeableForDays" not in lock.inputs  # governance mode unless configured
    assert prod.named(f"{NAME}-dr-vault-lock").inputs["backupVaultName"] == f"{NAME}-dr-vault"
    assert prod.outputs["drVault"] == f"arn:aws:backup:us-west-2:123456789012:backup-vault:{NAME}-dr-vault"


def test_daily_rule_and_copy_to_dr(prod):
    plan = prod.named(f"{NAME}-plan").inputs
    assert plan["name"] == f"{NAME}-daily"
    (rule,) = plan["rules"]
    assert (rule["ruleName"], rule["targetVaultName"], rule["schedule"]) == (
        "daily", f"{NAME}-vault", "cron(0 8 ? * * *)")
    assert (rule["startWindow"], rule["completionWindow"]) == (60, 360)
    assert rule["lifecycle"] == {"deleteAfter": 30}
    assert rule["copyActions"] == [{
        "destinationVaultArn": f"arn:aws:backup:us-west-2:123456789012:backup-vault:{NAME}-dr-vault",
        "lifecycle": {"deleteAfter": 30},
    }]
    assert "enableContinuousBackup" not in rule


def test_continuous_backup_for_rds(prod):
    (rule,) = prod.named(f"{NAME}-pitr-plan").inputs["rules"]
    assert (rule["ruleName"], rule["enableContinuousBackup"], rule["lifecycle"]) == (
        "continuous", True, {"deleteAfter": 30})
    assert rule["copyActions"] == [{
        "destinationVaultArn": f"arn:aws:backup:us-west-2:123456789012:backup-vault:{NAME}-dr-vault",
        "lifecycle": {"deleteAfter": 30},
    }]
    selection = prod.named(f"{NAME}-pitr-selection").inputs
    assert selection["resources"] == [f"arn:aws:rds:us-east-2:{ACCOUNT}:db:*"]
    assert selection["conditions"] == [{"stringEquals": [{"key": "aws:ResourceTag/Backup", "value": "true"}]}]


def test_selection_by_tag_with_the_backup_role(prod):
    selection = prod.named(f"{NAME}-selection")
    assert selection.inputs["selectionTags"] == [{"type": "STRINGEQUALS", "key": "Backup", "value": "true"}]
    assert selection.inputs["iamRoleArn"] == f"arn:aws:iam::123456789012:role/{NAME}-role"
    assert selection.inputs["name"] == f"{NAME}-tagged"
    role = prod.named(f"{NAME}-role").inputs
    statement = json.loads(role["assumeRolePolicy"])["Statement"][0]
    assert statement["Principal"] == {"Service": "backup.amazonaws.com"}
    policies = sorted(r.inputs["policyArn"] for r in prod.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"))
    assert policies == sorted([
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
        "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
        "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
    ])
    attachment_urns = {r.urn for r in prod.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attachment_urns <= set(selection.dependencies)


def test_dev_has_no_lock_and_no_dr_copy(dev):
    assert len(dev.of_type("aws:backup/vault:Vault")) == 1
    assert dev.of_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration") == []
    (rule,) = dev.named(f"{NAME}-plan").inputs["rules"]
    assert "copyActions" not in rule and rule["lifecycle"] == {"deleteAfter": 7}
    (pitr,) = dev.named(f"{NAME}-pitr-plan").inputs["rules"]
    assert pitr["lifecycle"] == {"deleteAfter": 7} and "copyActions" not in pitr
    assert dev.named(f"{NAME}-vault").inputs["forceDestroy"] is True


def test_both_regions_opt_in_the_selected_resource_types_before_any_plan(prod):
    settings = prod.named(f"{NAME}-region-settings")
    dr_settings = prod.named(f"{NAME}-dr-region-settings")
    for region_settings in (settings, dr_settings):
        assert region_settings.inputs == {"resourceTypeOptInPreference": {"EBS": True, "RDS": True, "S3": True}}
    assert settings.provider == ""  # the component's (primary) provider
    assert dr_settings.provider.startswith(prod.named("aws-dr").urn)
    for dependent in (f"{NAME}-plan", f"{NAME}-pitr-plan", f"{NAME}-selection", f"{NAME}-pitr-selection"):
        assert {settings.urn, dr_settings.urn} <= set(prod.named(dependent).dependencies), dependent


def test_dev_opts_in_its_primary_region_only(dev):
    assert [r.name for r in dev.of_type("aws:backup/regionSettings:RegionSettings")] == [f"{NAME}-region-settings"]
    assert dev.named(f"{NAME}-region-settings").urn in dev.named(f"{NAME}-plan").dependencies


def test_vault_policies_deny_manual_recovery_point_deletion(prod):
    for vault in (f"{NAME}-vault", f"{NAME}-dr-vault"):
        policy = prod.named(f"{vault}-policy")
        assert policy.inputs["backupVaultName"] == vault
        assert json.loads(policy.inputs["policy"]) == {"Version": "2012-10-17", "Statement": [{
            "Sid": "DenyManualRecoveryPointDeletion", "Effect": "Deny", "Principal": "*",
            "Action": ["backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"], "Resource": "*"}]}
    assert prod.named(f"{NAME}-dr-vault-policy").provider.startswith(prod.named("aws-dr").urn)

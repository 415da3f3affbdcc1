"""AWS Backup: encrypted vaults in the primary and DR regions, a daily plan copied to DR, and PITR for RDS.

What is backed up is chosen by tag: every stateful resource carrying ``Backup=true``
(:data:`components.common.BACKUP_TAG_KEY`) is selected, and the components that create RDS
instances, data buckets and EBS-backed volumes apply that tag themselves, so nothing is left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws
from pydantic import Field, model_validator

from components.common import BACKUP_TAG_KEY, ConfigModel, child_opts, service_role_trust, tags_for
from components.problems import ProblemCollector

#: The managed policies AWS Backup's role needs to back up and restore, S3 included.
SERVICE_POLICIES: dict[str, str] = {
    "backup": "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "restores": "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    "s3-backup": "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
    "s3-restore": "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
}

#: The AWS Backup resource types the tag selection reaches: RDS instances (database.py), S3 buckets
#: (storage.py) and EBS volumes (the EKS storage class tags its volumes). A tag-only selection backs up
#: only the types opted in for the Region ("If service opt-in is enabled for a service, AWS Backup tries
#: to protect that service's resources in this Region ... Otherwise, AWS Backup does not try":
#: https://docs.aws.amazon.com/aws-backup/latest/devguide/API_DescribeRegionSettings.html), so the stack
#: opts them in itself, in both Regions (the DR Region receives the copies). Only valid keys for the
#: Region may be given (github.com/hashicorp/terraform-provider-aws/issues/21801); these three are valid
#: in every commercial Region.
SELECTED_RESOURCE_TYPES: tuple[str, ...] = ("EBS", "RDS", "S3")

#: Continuous backups (point-in-time recovery) are kept for at most 35 days.
MAX_CONTINUOUS_RETENTION_DAYS = 35


#: Every vault's access policy: recovery points cannot be deleted or their lifecycle changed by anyone.
VAULT_ACCESS_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "DenyManualRecoveryPointDeletion",
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"],
        "Resource": "*",
    }],
}

class BackupConfig(ConfigModel):
    retention_days: int = Field(default=30, ge=1, le=36500)
    copy_to_dr: bool = True
    #: Days the DR copies are kept; retentionDays when not given.
    dr_retention_days: int | None = Field(default=None, ge=1, le=36500)
    vault_lock: bool = True
    vault_lock_min_retention_days: int = Field(default=7, ge=1, le=36500)
    vault_lock_max_retention_days: int = Field(default=3650, ge=1, le=36500)
    #: Compliance mode once this many days have passed (at least 3); governance mode when not given.
    vault_lock_changeable_for_days: int | None = Field(default=None, ge=3, le=36500)
    #: When the daily backup starts (UTC), as an AWS Backup cron expression.
    #: Daily only (cron(M H ? * * *)); its start window must keep an hour clear of every database's
    #: maintenance window (config.py checks it).
    schedule: str = Field(default="cron(0 8 ? * * *)", pattern=r"^cron\(.+\)$")
    start_window_minutes: int = Field(default=60, ge=60, le=1440)
    completion_window_minutes: int = Field(default=360, ge=120, le=10080)
    #: Continuous backup (point-in-time recovery) of the RDS instances carrying the backup tag.
    continuous_backup: bool = True
    #: Days of point-in-time recovery; min(retentionDays, 35) when not given.
    continuous_retention_days: int | None = Field(default=None, ge=1)

    @property
    def effective_dr_retention_days(self) -> int:
        return self.dr_retention_days or self.retention_days

    @property
    def effective_continuous_retention_days(self) -> int:
        return self.continuous_retention_days or min(self.retention_days, MAX_CONTINUOUS_RETENTION_DAYS)

    @model_validator(mode="after")
    def _combinations(self) -> BackupConfig:
        problems = ProblemCollector()
        if self.continuous_retention_days is not None and self.continuous_retention_days > 35:
            problems.add("continuousRetentionDays", self.continuous_retention_days,
                         "AWS Backup keeps continuous backups (point-in-time recovery) for 1 to 35 days")
        if self.completion_window_minutes < self.start_window_minutes + 60:
            problems.add("completionWindowMinutes", self.completion_window_minutes,
                         f"must be at least startWindowMinutes + 60 ({self.start_window_minutes + 60})")
        if self.vault_lock:
            low, high = self.vault_lock_min_retention_days, self.vault_lock_max_retention_days
            if low > high:
                problems.add("vaultLockMinRetentionDays", low, f"must not exceed vaultLockMaxRetentionDays ({high})")
            kept = {"retentionDays": self.retention_days}
            if self.copy_to_dr:
                kept["drRetentionDays"] = self.effective_dr_retention_days
            if self.continuous_backup:
                kept["continuousRetentionDays"] = self.effective_continuous_retention_days
            for key, days in kept.items():
                if not low <= days <= high:
                    problems.add(key, days, f"the vault lock admits recovery points kept {low} to {high} days "
                                            "(vaultLockMinRetentionDays..vaultLockMaxRetentionDays)")
        problems.raise_if_any()
        return self


class Backup(pulumi.ComponentResource):
    """Backup vaults (primary and DR), a tag-selected daily plan copied to DR, and continuous RDS backups."""

    vault_arn: pulumi.Output[str]
    dr_vault_arn: pulumi.Output[str] | None
    plan_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        config: BackupConfig,
        *,
        account_id: str,
        region: str,
        kms_key_arn: pulumi.Input[str],
        dr_kms_key_arn: pulumi.Input[str] | None = None,
        dr_provider: pulumi.ProviderResource | None = None,
        force_destroy: bool = False,
        protect: bool = True,
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("care:backup:Backup", name, None, opts)
        child = child_opts(self)

        opt_in = {resource_type: True for resource_type in SELECTED_RESOURCE_TYPES}
        self.region_settings = aws.backup.RegionSettings(
            f"{name}-region-settings",
            aws.backup.RegionSettingsArgs(resource_type_opt_in_preference=opt_in),
            child,
        )
        self.dr_region_settings: aws.backup.RegionSettings | None = None
        if dr_provider is not None:
            self.dr_region_settings = aws.backup.RegionSettings(
                f"{name}-dr-region-settings",
                aws.backup.RegionSettingsArgs(resource_type_opt_in_preference=opt_in),
                child_opts(self, provider=dr_provider),
            )
        # Plans and selections only after both Regions are opted in: no first night without backups.
        opted_in: list[pulumi.Resource] = [self.region_settings]
        if self.dr_region_settings is not None:
            opted_in.append(self.dr_region_settings)

        self.vault = self._vault(f"{name}-vault", config, kms_key_arn, force_destroy, protect, tags, None)
        self.vault_arn = self.vault.arn
        self.dr_vault: aws.backup.Vault | None = None
        self.dr_vault_arn = None
        if config.copy_to_dr and dr_provider is not None and dr_kms_key_arn is not None:
            self.dr_vault = self._vault(f"{name}-dr-vault", config, dr_kms_key_arn, force_destroy, protect, tags,
                                        dr_provider)
            self.dr_vault_arn = self.dr_vault.arn

        self.role = aws.iam.Role(
            f"{name}-role",
            aws.iam.RoleArgs(
                description="AWS Backup: back up and restore the stack's tagged resources",
                assume_role_policy=service_role_trust("backup.amazonaws.com", source_account=account_id),
                tags=tags_for(tags, f"{name}-role"),
            ),
            child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-role-{short}", aws.iam.RolePolicyAttachmentArgs(role=self.role.name, policy_arn=arn), child,
            )
            for short, arn in SERVICE_POLICIES.items()
        ]

        copy_actions = [aws.backup.PlanRuleCopyActionArgs(
            destination_vault_arn=self.dr_vault.arn,
            lifecycle=aws.backup.PlanRuleCopyActionLifecycleArgs(delete_after=config.effective_dr_retention_days),
        )] if self.dr_vault is not None else None
        self.plan = aws.backup.Plan(
            f"{name}-plan",
            aws.backup.PlanArgs(
                name=f"{name}-daily",
                rules=[aws.backup.PlanRuleArgs(
                    rule_name="daily",
                    target_vault_name=self.vault.name,
                    schedule=config.schedule,
                    start_window=config.start_window_minutes,
                    completion_window=config.completion_window_minutes,
                    lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=config.retention_days),
                    copy_actions=copy_actions,
                    recovery_point_tags=tags_for(tags, f"{name}-daily"),
                )],
                tags=tags_for(tags, f"{name}-daily"),
            ),
            child_opts(self, depends_on=opted_in),
        )
        self.plan_id = self.plan.id
        aws.backup.Selection(
            f"{name}-selection",
            aws.backup.SelectionArgs(
                name=f"{name}-tagged",
                plan_id=self.plan.id,
                iam_role_arn=self.role.arn,
                selection_tags=[aws.backup.SelectionSelectionTagArgs(
                    type="STRINGEQUALS", key=BACKUP_TAG_KEY, value="true")],
            ),
            child_opts(self, depends_on=[*attachments, *opted_in]),
        )

        self.pitr_plan: aws.backup.Plan | None = None
        if config.continuous_backup:
            # Its own plan: a continuous rule in the daily plan would also snapshot non-RDS resources again.
            self.pitr_plan = aws.backup.Plan(
                f"{name}-pitr-plan",
                aws.backup.PlanArgs(
                    name=f"{name}-pitr",
                    rules=[aws.backup.PlanRuleArgs(
                        rule_name="continuous",
                        target_vault_name=self.vault.name,
                        schedule=config.schedule,
                        start_window=config.start_window_minutes,
                        completion_window=config.completion_window_minutes,
                        enable_continuous_backup=True,
                        lifecycle=aws.backup.PlanRuleLifecycleArgs(
                            delete_after=config.effective_continuous_retention_days),
                        # Copies of continuous backups land in the DR vault as snapshot recovery points.
                        copy_actions=copy_actions,
                        recovery_point_tags=tags_for(tags, f"{name}-pitr"),
                    )],
                    tags=tags_for(tags, f"{name}-pitr"),
                ),
                child_opts(self, depends_on=opted_in),
            )
            aws.backup.Selection(
                f"{name}-pitr-selection",
                aws.backup.SelectionArgs(
                    name=f"{name}-rds-tagged",
                    plan_id=self.pitr_plan.id,
                    iam_role_arn=self.role.arn,
                    # Resources AND conditions: the tagged RDS instances of this account and region.
                    resources=[f"arn:aws:rds:{region}:{account_id}:db:*"],
                    conditions=[aws.backup.SelectionConditionArgs(
                        string_equals=[aws.backup.SelectionConditionStringEqualArgs(
                            key=f"aws:ResourceTag/{BACKUP_TAG_KEY}", value="true")],
                    )],
                ),
                child_opts(self, depends_on=[*attachments, *opted_in]),
            )

        self.register_outputs({"vaultArn": self.vault_arn, "drVaultArn": self.dr_vault_arn, "planId": self.plan_id})

    def _vault(self, name: str, config: BackupConfig, kms_key_arn: pulumi.Input[str], force_destroy: bool,
               protect: bool, tags: Mapping[str, str], provider: pulumi.ProviderResource | None) -> aws.backup.Vault:
        vault = aws.backup.Vault(
            name,
            aws.backup.VaultArgs(name=name, kms_key_arn=kms_key_arn, force_destroy=force_destroy,
                                 tags=tags_for(tags, name)),
            child_opts(self, protect=protect, provider=provider),
        )
        if config.vault_lock:
            aws.backup.VaultLockConfiguration(
                f"{name}-lock",
                aws.backup.VaultLockConfigurationArgs(
                    backup_vault_name=vault.name,
                    min_retention_days=config.vault_lock_min_retention_days,
                    max_retention_days=config.vault_lock_max_retention_days,
                    changeable_for_days=config.vault_lock_changeable_for_days,
                ),
                child_opts(self, protect=protect, provider=provider),
            )
        # Nobody deletes a recovery point or shortens its lifecycle by hand; AWS Backup still expires them by
        # their lifecycle (AWS Config rule backup-recovery-point-manual-deletion-disabled;
        # https://docs.aws.amazon.com/aws-backup/latest/devguide/create-a-vault-access-policy.html).
        aws.backup.VaultPolicy(
            f"{name}-policy",
            aws.backup.VaultPolicyArgs(backup_vault_name=vault.name, policy=json.dumps(VAULT_ACCESS_POLICY)),
            child_opts(self, provider=provider),
        )
        return vault

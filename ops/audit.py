"""``backup-audit``: every stateful resource has a fresh recovery point in the primary vault and a copy in
the DR vault; RDS point-in-time recovery covers the last hour, in the primary region and (replicated
automated backups) in the DR region; the vaults are locked where the stack says so.

Freshness limits: a daily AWS Backup recovery point (any kind) is due once a day and may take the
plan's completion window to finish, so it is stale after 24 h + ``backup.completionWindowMinutes``;
the RDS databases carry the RPO target (:data:`ops.targets.RPO_TARGET`), met by continuous backup.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ops.context import Context
from ops.discover import Inventory, Resource
from ops.report import Report, duration
from ops.targets import RPO_TARGET


def daily_max_age(ctx: Context) -> timedelta:
    return timedelta(days=1, minutes=ctx.stack.config.backup.completion_window_minutes)


def _latest_recovery_point(client: Any, vault: str, arn: str) -> datetime | None:
    latest: datetime | None = None
    for page in client.get_paginator("list_recovery_points_by_backup_vault").paginate(
            BackupVaultName=vault, ByResourceArn=arn):
        for point in page["RecoveryPoints"]:
            if point.get("Status") == "COMPLETED" and (latest is None or point["CreationDate"] > latest):
                latest = point["CreationDate"]
    return latest


def _fresh(report: Report, now: datetime, resource: str, check: str, when: datetime | None, limit: timedelta,
           what: str) -> None:
    if when is None:
        report.add(resource, check, False, f"no completed {what}", gap_seconds=float("inf"))
        return
    age = now - when
    detail = f"latest {what} {when.isoformat()} is {duration(age)} old (limit {duration(limit)})"
    report.add(resource, check, age <= limit, detail, gap_seconds=(age - limit).total_seconds())


def _vault_points(ctx: Context, report: Report, resource: Resource, now: datetime) -> None:
    stack, limit = ctx.stack, daily_max_age(ctx)
    vaults = [("recovery point (primary vault)", stack.vault_name, stack.primary_region)]
    if stack.config.backup.copy_to_dr:
        vaults.append(("copy in DR vault", stack.dr_vault_name, stack.dr_region))
    for check, vault, region in vaults:
        try:
            latest = _latest_recovery_point(ctx.client("backup", region), vault, resource.arn)
        except ClientError as exc:
            report.add(resource.name, check, False, f"could not list {vault} ({region}): {exc}")
            continue
        _fresh(report, now, resource.name, check, latest, limit, f"recovery point in {vault}")


def _rds_pitr(ctx: Context, report: Report, resource: Resource, now: datetime) -> None:
    stack = ctx.stack
    try:
        instance = ctx.client("rds").describe_db_instances(DBInstanceIdentifier=resource.name)["DBInstances"][0]
    except ClientError as exc:
        report.add(resource.name, "point-in-time recovery", False, f"could not describe the instance: {exc}")
        return
    _fresh(report, now, resource.name, "point-in-time recovery", instance.get("LatestRestorableTime"), RPO_TARGET,
           "restorable time")
    db_key = resource.name.removeprefix(f"{stack.prefix}-")
    db_config = getattr(stack.config.database, db_key, None)
    if db_config is None or not db_config.replicate_backups_to_dr:
        return
    replications = [r["DBInstanceAutomatedBackupsArn"]
                    for r in instance.get("DBInstanceAutomatedBackupsReplications", [])
                    if f":rds:{stack.dr_region}:" in r["DBInstanceAutomatedBackupsArn"]]
    if not replications:
        report.add(resource.name, "backups replicated to DR", False,
                   f"no automated-backup replication to {stack.dr_region}", gap_seconds=float("inf"))
        return
    try:
        backups = ctx.client("rds", stack.dr_region).describe_db_instance_automated_backups(
            DBInstanceAutomatedBackupsArn=replications[0])["DBInstanceAutomatedBackups"]
    except ClientError as exc:
        report.add(resource.name, "backups replicated to DR", False, f"could not describe {replications[0]}: {exc}")
        return
    latest = backups[0].get("RestoreWindow", {}).get("LatestTime") if backups else None
    _fresh(report, now, resource.name, "backups replicated to DR", latest, RPO_TARGET,
           f"restorable time in {stack.dr_region}")


def _vault_locks(ctx: Context, report: Report) -> None:
    stack = ctx.stack
    if not stack.config.backup.vault_lock:
        return
    vaults = [(stack.vault_name, stack.primary_region)]
    if stack.config.backup.copy_to_dr:
        vaults.append((stack.dr_vault_name, stack.dr_region))
    for vault, region in vaults:
        try:
            info = ctx.client("backup", region).describe_backup_vault(BackupVaultName=vault)
        except ClientError as exc:
            report.add(vault, "vault lock", False, f"could not describe the vault ({region}): {exc}")
            continue
        locked = bool(info.get("Locked"))
        report.add(vault, "vault lock", locked,
                   f"locked, retention {info.get('MinRetentionDays')}-{info.get('MaxRetentionDays')} days" if locked
                   else "not locked (backup.vaultLock is true)")


def audit(ctx: Context, inventory: Inventory) -> Report:
    report = Report("backup-audit", ctx.stack.name, "Backup audit")
    now = ctx.clock.now()
    report.facts["Audited at"] = now.isoformat()
    if not inventory.resources:
        report.add("(stack)", "stateful resources found", False,
                   "no resource tagged Project/Environment/Backup=true: nothing is backed up, or wrong region")
    for resource in inventory.resources:
        _vault_points(ctx, report, resource, now)
        if resource.kind == "rds":
            _rds_pitr(ctx, report, resource, now)
    _vault_locks(ctx, report)
    return report

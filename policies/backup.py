"""Backup and recovery: HIPAA 164.308(a)(7)(ii)(A) data backup plan, (B) disaster recovery plan.

Minimum retention days and the DR region come from the policy config per stack
(policies/config/<stack>.json), mirroring the stack files' backup settings.
"""

from __future__ import annotations

from common import (
    BACKUP_PLAN,
    BACKUP_VAULT,
    CACHE_RG,
    EBS_VOLUME,
    K8S_STORAGE_CLASS,
    KMS_KEY,
    MSK,
    RDS_BACKUP_REPLICATION,
    RDS_CLUSTER,
    RDS_INSTANCE,
    S3_BUCKETS,
    Report,
    Resource,
    Settings,
    as_int,
    as_list,
    is_replica,
    is_true,
    is_unknown,
    min_days,
    policies_of,
    required_flag,
    resource_policy,
)

BACKUP_PLAN_CITATION = "164.308(a)(7)(ii)(A)"
DR_PLAN = "164.308(a)(7)(ii)(B)"

#: Resources whose loss loses PHI: Pulumi `protect` must guard them where the stack requires it.
#: KMS keys count as stateful: deleting one makes everything encrypted with it unreadable.
STATEFUL_TYPES: tuple[str, ...] = (RDS_INSTANCE, RDS_CLUSTER, CACHE_RG, MSK, *S3_BUCKETS, BACKUP_VAULT, EBS_VOLUME,
                                   KMS_KEY)


def rds_backup_retention(r: Resource, report: Report, cfg: Settings) -> None:
    if is_replica(r):
        return
    needed = cfg["minRetentionDays"]
    value = r.get("backupRetentionPeriod")
    if is_unknown(value):
        return
    days = as_int(value)
    if days is None or days < needed:
        shown = "not set (AWS default 1 day)" if days is None else f"{days} day(s)"
        report(f"backupRetentionPeriod is {shown}; this stack requires at least {needed}. "
               f"Set database.<name>.backupRetentionDays: {needed} or more in Pulumi.<stack>.yaml.")


resource_policy(
    "rds-backup-retention", concern="backup", citation=BACKUP_PLAN_CITATION, types=(RDS_INSTANCE, RDS_CLUSTER),
    config=min_days(30, "automated RDS backups"),
    description="Primary RDS automated backups are kept at least the stack's minimum number of days.",
)(rds_backup_retention)


def rds_deletion_protection(r: Resource, report: Report, _: Settings) -> None:
    if is_replica(r):
        return
    value = r.get("deletionProtection")
    if not is_unknown(value) and not is_true(value):
        report("deletionProtection is not true: one API call could delete the PHI database. "
               "Set protection.deletionProtection: true in Pulumi.<stack>.yaml.")


resource_policy(
    "rds-deletion-protection", concern="backup", citation=BACKUP_PLAN_CITATION, types=(RDS_INSTANCE, RDS_CLUSTER),
    description="Primary RDS databases have deletion protection on.",
)(rds_deletion_protection)


def rds_final_snapshot(r: Resource, report: Report, _: Settings) -> None:
    if is_replica(r):
        return
    skip = r.get("skipFinalSnapshot")
    if is_unknown(skip):
        return
    if is_true(skip):
        report("skipFinalSnapshot is true: deleting the database would discard its data. "
               "Set protection.skipFinalSnapshot: false in Pulumi.<stack>.yaml.")
        return
    identifier = r.get("finalSnapshotIdentifier")
    if not is_unknown(identifier) and not identifier:
        report("finalSnapshotIdentifier is not set: RDS refuses to delete without it, or the snapshot is lost "
               "when skipFinalSnapshot is flipped. Set finalSnapshotIdentifier (e.g. '<name>-final').")


resource_policy(
    "rds-final-snapshot", concern="backup", citation=BACKUP_PLAN_CITATION, types=(RDS_INSTANCE, RDS_CLUSTER),
    description="Deleting a primary RDS database keeps a named final snapshot.",
)(rds_final_snapshot)


def rds_backup_replication_retention(r: Resource, report: Report, cfg: Settings) -> None:
    needed = cfg["minRetentionDays"]
    value = r.get("retentionPeriod")
    if is_unknown(value):
        return
    days = as_int(value)
    if days is None or days < needed:
        shown = "not set (AWS default 7 days)" if days is None else f"{days} day(s)"
        report(f"retentionPeriod is {shown}; this stack requires at least {needed} for the DR region's copies. "
               f"Set database.<name>.backupRetentionDays: {needed} or more in Pulumi.<stack>.yaml "
               "(the replication keeps the primary's retention).")


# StartDBInstanceAutomatedBackupsReplication BackupRetentionPeriod (default 7 days):
# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_StartDBInstanceAutomatedBackupsReplication.html
resource_policy(
    "rds-backup-replication-retention", concern="backup", citation=DR_PLAN, types=(RDS_BACKUP_REPLICATION,),
    config=min_days(30, "RDS automated backups replicated to the DR region"),
    description="RDS automated backups replicated to the DR region are kept at least the stack's minimum.",
)(rds_backup_replication_retention)


def elasticache_snapshot_retention(r: Resource, report: Report, cfg: Settings) -> None:
    needed = cfg["minRetentionDays"]
    value = r.get("snapshotRetentionLimit")
    if is_unknown(value):
        return
    days = as_int(value) or 0
    if days < needed:
        report(f"snapshotRetentionLimit is {days} day(s); this stack requires at least {needed}. "
               f"Set cache.snapshotRetentionDays: {needed} or more in Pulumi.<stack>.yaml.")


resource_policy(
    "elasticache-snapshot-retention", concern="backup", citation=BACKUP_PLAN_CITATION, types=(CACHE_RG,),
    config=min_days(7, "ElastiCache snapshots"),
    description="ElastiCache keeps daily snapshots for at least the stack's minimum number of days.",
)(elasticache_snapshot_retention)


def _rules(r: Resource) -> list[dict]:
    rules = as_list(r.get("rules"))
    return [] if is_unknown(rules) else [rule for rule in rules if isinstance(rule, dict)]


def backup_plan_retention(r: Resource, report: Report, cfg: Settings) -> None:
    needed = cfg["minRetentionDays"]
    for rule in _rules(r):
        name = rule.get("ruleName", "?")
        lifecycles = [("lifecycle", rule.get("lifecycle"))]
        copies = as_list(rule.get("copyActions"))
        if not is_unknown(copies):
            lifecycles += [("copyActions.lifecycle", c.get("lifecycle")) for c in copies if isinstance(c, dict)]
        for label, lifecycle in lifecycles:
            if not isinstance(lifecycle, dict):
                continue  # no lifecycle: recovery points are kept until deleted by hand
            days = as_int(lifecycle.get("deleteAfter"))
            if days is not None and days < needed:
                report(f"rule {name}: {label}.deleteAfter is {days} day(s); this stack requires at least {needed}. "
                       f"Set backup.retentionDays: {needed} or more in Pulumi.<stack>.yaml.")


resource_policy(
    "backup-plan-retention", concern="backup", citation=BACKUP_PLAN_CITATION, types=(BACKUP_PLAN,),
    config=min_days(30, "AWS Backup recovery points (and their DR copies)"),
    description="AWS Backup plan rules (and their copies) keep recovery points at least the stack's minimum.",
)(backup_plan_retention)


def _region_of_arn(arn: object) -> str | None:
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        return None
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else None


def backup_plan_dr_copy(r: Resource, report: Report, cfg: Settings) -> None:
    region = cfg["drRegion"]
    rules = as_list(r.get("rules"))
    if is_unknown(rules):
        return
    for rule in _rules(r):
        name = rule.get("ruleName", "?")
        if is_true(rule.get("enableContinuousBackup")):
            continue  # in-region point-in-time recovery; RDS reaches the DR region by backup replication
        copies = as_list(rule.get("copyActions"))
        if is_unknown(copies):
            continue
        targets = [c.get("destinationVaultArn") for c in copies if isinstance(c, dict)]
        if any(is_unknown(t) for t in targets):
            continue
        regions = {_region_of_arn(t) for t in targets}
        if region not in regions:
            found = ", ".join(sorted(str(x) for x in regions)) or "none"
            report(f"rule {name}: no copy action targets a vault in {region} (found: {found}). "
                   f"Set backup.copyToDr: true and regions.dr: {region} in Pulumi.<stack>.yaml.")


resource_policy(
    "backup-plan-dr-copy", concern="backup", citation=DR_PLAN, types=(BACKUP_PLAN,),
    config={"drRegion": {"type": "string", "default": "us-west-2",
                         "description": "The region every backup rule must copy to (regions.dr)."}},
    description="Every AWS Backup snapshot rule copies its recovery points to a vault in the DR region.",
)(backup_plan_dr_copy)


def stateful_resources_protected(r: Resource, report: Report, _: Settings) -> None:
    if r.type == RDS_INSTANCE and is_replica(r):
        return
    if not r.protect:
        report("protect is not set: `pulumi destroy` or a replacement could delete this store's data. "
               "Set protection.protect: true in Pulumi.<stack>.yaml (the component passes it as protect=).")


resource_policy(
    "stateful-resources-protected", concern="backup", citation=BACKUP_PLAN_CITATION, types=STATEFUL_TYPES,
    description="Stateful stores (databases, caches, brokers, buckets, vaults, volumes, keys) carry Pulumi protect.",
)(stateful_resources_protected)


def s3_no_force_destroy(r: Resource, report: Report, _: Settings) -> None:
    if is_true(r.get("forceDestroy")):
        report("forceDestroy is true: deleting the bucket would delete every object version in it. "
               "Set protection.forceDestroyBuckets: false in Pulumi.<stack>.yaml.")


resource_policy(
    "s3-no-force-destroy", concern="backup", citation=BACKUP_PLAN_CITATION, types=S3_BUCKETS,
    description="Buckets are never force-destroyed (deleting a bucket must not delete its objects).",
)(s3_no_force_destroy)


def storage_class_retain(r: Resource, report: Report, cfg: Settings) -> None:
    if not cfg["required"] or r.get("provisioner") not in ("ebs.csi.aws.com", "kubernetes.io/aws-ebs"):
        return
    policy = r.get("reclaimPolicy")
    if is_unknown(policy) or policy == "Retain":
        return
    shown = "not set (Delete)" if policy is None else f"{policy!r}"
    report(f"reclaimPolicy is {shown}: deleting a PersistentVolumeClaim would delete its EBS volume and data. "
           "Set reclaimPolicy='Retain' on the StorageClass (protection.protect in Pulumi.<stack>.yaml).")


resource_policy(
    "storage-class-retain", concern="backup", citation=BACKUP_PLAN_CITATION, types=(K8S_STORAGE_CLASS,),
    config=required_flag(True, "persistent volumes to outlive their claims"),
    description="EBS storage classes retain volumes when their claim is deleted.",
)(storage_class_retain)


POLICIES = policies_of(__name__)

"""The data tier's impossible configurations, each refused with its exact message (one line per problem)."""

from __future__ import annotations

from typing import Any

import pytest

import config
from components.windows import overlaps, parse_daily, parse_weekly
from tests.helpers import stack_raw, with_overrides

P = "prod"
LOCK = ("the vault lock admits recovery points kept 45 to 3650 days "
        "(vaultLockMinRetentionDays..vaultLockMaxRetentionDays)")

#: (case, overrides on Pulumi.prod.yaml, the exact lines config.validate reports)
CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("replicas in a single-AZ layout",
     {"network.azCount": 1, "database.prm.multiAz": False, "database.nlfhir.multiAz": False, "cache.multiAz": False,
      "streaming.brokerCount": 2, "streaming.replicationFactor": 2, "streaming.minInsyncReplicas": 1},
     [f"{P}: database.prm.readReplicas: 2: replicas must sit in other AZs: needs network.azCount >= 2 (it is 1)",
      f"{P}: streaming.brokerCount: 2: MSK needs client subnets in 2 or 3 AZs: network.azCount is 1"]),
    ("cluster mode with failover in one AZ",
     {"network.azCount": 1, "database.prm.multiAz": False, "database.prm.readReplicas": 0,
      "database.nlfhir.multiAz": False, "streaming.brokerCount": 2, "streaming.replicationFactor": 2,
      "streaming.minInsyncReplicas": 1},
     [f"{P}: cache.multiAz: true: automatic failover needs network.azCount >= 2 and cache.replicasPerShard >= 1 "
      "(they are 1 and 1)",
      f"{P}: streaming.brokerCount: 2: MSK needs client subnets in 2 or 3 AZs: network.azCount is 1"]),
    ("shards without cluster mode",
     {"cache.clusterMode": False},
     [f"{P}: cache.shards: 3: without clusterMode a replication group has exactly 1 shard"]),
    ("RDS retention above 35 days",
     {"database.prm.backupRetentionDays": 36},
     [f"{P}: database.prm.backupRetentionDays: 36: RDS keeps automated backups (and so point-in-time recovery) "
      "for 1 to 35 days; keep longer copies with AWS Backup (backup.retentionDays)"]),
    ("RDS backup and maintenance windows overlap",
     {"database.prm.maintenanceWindow": "sun:03:15-sun:04:00"},
     [f"{P}: database.prm.maintenanceWindow: 'sun:03:15-sun:04:00': overlaps backupWindow (03:00-03:30, daily): "
      "AWS rejects a maintenance window that overlaps the backup window; move one of them"]),
    ("overlap across midnight",
     {"database.nlfhir.backupWindow": "23:45-00:15", "database.nlfhir.maintenanceWindow": "mon:00:00-mon:01:00"},
     [f"{P}: database.nlfhir.maintenanceWindow: 'mon:00:00-mon:01:00': overlaps backupWindow (23:45-00:15, daily): "
      "AWS rejects a maintenance window that overlaps the backup window; move one of them"]),
    ("Redis snapshot and maintenance windows overlap",
     {"cache.snapshotWindow": "05:30-06:30"},
     [f"{P}: cache.maintenanceWindow: 'sun:05:00-sun:06:00': overlaps snapshotWindow (05:30-06:30, daily): "
      "AWS rejects a maintenance window that overlaps the backup window; move one of them"]),
    ("backup window too short",
     {"database.nlfhir.backupWindow": "03:00-03:10"},
     [f"{P}: database.nlfhir.backupWindow: '03:00-03:10': must last at least 30 minutes (it lasts 10)"]),
    ("Redis maintenance window too short",
     {"cache.maintenanceWindow": "sun:05:00-sun:05:30"},
     [f"{P}: cache.maintenanceWindow: 'sun:05:00-sun:05:30': must last from 60 minutes to 24 hours "
      "(it lasts 30 minutes)"]),
    ("malformed maintenance window",
     {"database.nlfhir.maintenanceWindow": "sunday 5am"},
     [f"{P}: database.nlfhir.maintenanceWindow: 'sunday 5am': must be a weekly UTC window ddd:hh24:mi-ddd:hh24:mi, "
      "like sun:05:00-sun:06:00"]),
    ("Performance Insights on a class without it",
     {"database.nlfhir.instanceClass": "db.t4g.micro"},
     [f"{P}: database.nlfhir.instanceClass: 'db.t4g.micro': RDS offers no Performance Insights on this class: "
      "choose db.t4g.medium or larger, or set performanceInsights: false"]),
    ("Performance Insights retention AWS does not offer",
     {"database.prm.performanceInsightsRetentionDays": 30},
     [f"{P}: database.prm.performanceInsightsRetentionDays: 30: Performance Insights keeps data for 7 days or a "
      "multiple of 31 days up to 731"]),
    ("MSK autoscaling ceiling below the volume",
     {"streaming.ebsMaxVolumeGib": 100},
     [f"{P}: streaming.ebsMaxVolumeGib: 100: must be at least ebsVolumeGib (500)"]),
    ("MSK storage target above what autoscaling accepts",
     {"streaming.storageTargetUtilizationPercent": 85},
     [f"{P}: streaming.storageTargetUtilizationPercent: 85: Input should be less than or equal to 80"]),
    ("MSK without client authentication",
     {"streaming.clientAuthIam": False},
     [f"{P}: streaming.clientAuthIam: false: clients must authenticate: enable clientAuthIam or clientAuthScram "
      "(unauthenticated access is never allowed)"]),
    ("continuous backup beyond 35 days",
     {"backup.continuousRetentionDays": 40},
     [f"{P}: backup.continuousRetentionDays: 40: AWS Backup keeps continuous backups (point-in-time recovery) "
      "for 1 to 35 days"]),
    ("vault lock refusing the plan's own retention",
     {"backup.vaultLockMinRetentionDays": 45},
     [f"{P}: backup.retentionDays: 30: {LOCK}", f"{P}: backup.drRetentionDays: 30: {LOCK}",
      f"{P}: backup.continuousRetentionDays: 30: {LOCK}"]),
    ("AWS Backup starting in a database's maintenance window",
     {"backup.schedule": "cron(0 5 ? * * *)"},
     [f"{P}: backup.schedule: 'cron(0 5 ? * * *)': its start window (60 minutes) falls in or within 60 minutes "
      "before database.prm.maintenanceWindow (sun:05:00-sun:06:00), when AWS Backup does not start database "
      "backups; move it",
      f"{P}: backup.schedule: 'cron(0 5 ? * * *)': its start window (60 minutes) falls in or within 60 minutes "
      "before database.nlfhir.maintenanceWindow (sun:06:00-sun:07:00), when AWS Backup does not start database "
      "backups; move it"]),
    ("AWS Backup starting within the hour before a maintenance window",
     {"backup.schedule": "cron(30 3 ? * * *)", "backup.startWindowMinutes": 60},
     [f"{P}: backup.schedule: 'cron(30 3 ? * * *)': its start window (60 minutes) falls in or within 60 minutes "
      "before database.prm.maintenanceWindow (sun:05:00-sun:06:00), when AWS Backup does not start database "
      "backups; move it"]),
    ("AWS Backup schedule that is not daily",
     {"backup.schedule": "cron(0 */6 ? * * *)"},
     [f"{P}: backup.schedule: 'cron(0 */6 ? * * *)': must be a daily AWS Backup schedule cron(M H ? * * *) so its "
      "start window can be checked against the databases' maintenance windows"]),
    ("RDS backup window ending within the hour before maintenance",
     {"database.prm.backupWindow": "04:15-04:45"},
     [f"{P}: database.prm.backupWindow: '04:15-04:45': falls within 60 minutes before maintenanceWindow "
      "(sun:05:00-sun:06:00): backups must not start in or within an hour before the maintenance window; "
      "move one of them"]),
    ("a full version instead of the major",
     {"database.prm.engineVersion": "16.4"},
     [f"{P}: database.prm.engineVersion: '16.4': must be a PostgreSQL major version RDS offers for new instances "
      "(18), the major only: autoMinorVersionUpgrade applies the minors"]),
    ("minor upgrades switched off",
     {"database.nlfhir.autoMinorVersionUpgrade": False},
     [f"{P}: database.nlfhir.autoMinorVersionUpgrade: false: must be true: engineVersion pins the major only, and "
      "AWS's minor upgrades must not fight the stack"]),
    ("the app logging in as the master user",
     {"database.prm.appUsername": "care_admin"},
     [f"{P}: database.prm.appUsername: 'care_admin': must differ from masterUsername (care_admin) and not start "
      "with rds or pg_ (reserved): apps never log in as the master user"]),
    ("no key administrator",
     {"encryption.keyAdminArns": []},
     [f"{P}: encryption.keyAdminArns: []: must name at least one key administrator, the role that runs "
      "`pulumi up` included: KMS refuses a key policy that would lock the caller out"]),
    ("storage lifecycle out of order",
     {"storage.lifecycle.infrequentAccessAfterDays": 60, "storage.lifecycle.glacierAfterDays": 45},
     [f"{P}: storage.lifecycle.glacierAfterDays: 45: must be later than infrequentAccessAfterDays (60)"]),
]


@pytest.mark.parametrize(("overrides", "lines"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refused_with_exact_lines(overrides: dict[str, Any], lines: list[str]) -> None:
    with pytest.raises(config.ConfigError) as caught:
        config.validate(P, with_overrides(stack_raw(P), overrides))
    assert caught.value.lines == lines


def test_window_overlap_wraps_the_week() -> None:
    daily, weekly = parse_daily("00:00-00:30"), parse_weekly("sun:23:30-mon:00:15")
    assert daily == (0, 30) and weekly == (6 * 1440 + 23 * 60 + 30, 45)
    assert overlaps(daily, weekly)
    assert not overlaps(parse_daily("03:00-03:30"), parse_weekly("sun:03:30-sun:04:30"))  # touching is apart

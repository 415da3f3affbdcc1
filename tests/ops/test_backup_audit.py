"""backup-audit: AWS Backup recovery points and RDS automated backups are stubbed (moto does not implement
ListRecoveryPointsByBackupVault, and its RDS has no restore windows)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tests.ops.awsfakes import ACCOUNT, DR, PRIMARY, Aws, ScriptedClock, run, utc

BACKUP_TAGS = [{"Key": "Project", "Value": "care-platform"}, {"Key": "Environment", "Value": "prod"},
               {"Key": "Backup", "Value": "true"}]
BUCKET = f"care-prod-app-data-{ACCOUNT}"
RDS_ARN = f"arn:aws:rds:{PRIMARY}:{ACCOUNT}:db:care-prod-prm"
REPLICATED = f"arn:aws:rds:{DR}:{ACCOUNT}:auto-backup:ab-prm0123456789"


VOLUME_ARN = f"arn:aws:ec2:{PRIMARY}:{ACCOUNT}:volume/vol-0chroma0123456789"
STACK_FILTERS = [{"Key": "Project", "Values": ["care-platform"]}, {"Key": "Environment", "Values": ["prod"]},
                 {"Key": "Backup", "Values": ["true"]}]


def tagged_resources(aws: Aws) -> None:
    """The Tagging API answers with an RDS instance, a data bucket and a PVC volume, asked with the stack's tags.

    Stubbed, not moto: the exact filters are what matters here, and moto's RDS and EC2 backends cost ~8 s to load.
    """
    tagging = aws.stub("resourcegroupstaggingapi")
    tagging.add_response("get_resources", {"ResourceTagMappingList": [
        {"ResourceARN": arn, "Tags": BACKUP_TAGS} for arn in (RDS_ARN, f"arn:aws:s3:::{BUCKET}", VOLUME_ARN)]},
        {"TagFilters": STACK_FILTERS, "ResourceTypeFilters": ["rds:db", "s3", "ec2:volume"]})


def points(*created: datetime) -> dict[str, Any]:
    return {"RecoveryPoints": [{"RecoveryPointArn": f"arn:aws:backup:{PRIMARY}:{ACCOUNT}:recovery-point:rp-{i}",
                                "CreationDate": when, "Status": "COMPLETED"} for i, when in enumerate(created)]}


def test_audit_finds_a_missing_dr_copy_a_stale_recovery_point_and_an_unlocked_vault(aws: Aws, tmp_path: Any) -> None:
    tagged_resources(aws)
    volume_arn = VOLUME_ARN
    primary, dr = aws.stub("backup", PRIMARY), aws.stub("backup", DR)
    for arn, here, there in ((volume_arn, points(utc(7)), points()),  # no copy in the DR vault
                             (RDS_ARN, points(utc(12)), points(utc(11))),
                             (f"arn:aws:s3:::{BUCKET}", points(utc(1, day=1)), points(utc(0, day=1)))):
        primary.add_response("list_recovery_points_by_backup_vault", here,
                             {"BackupVaultName": "care-prod-backup-vault", "ByResourceArn": arn})
        dr.add_response("list_recovery_points_by_backup_vault", there,
                        {"BackupVaultName": "care-prod-backup-dr-vault", "ByResourceArn": arn})
    rds, rds_dr = aws.stub("rds", PRIMARY), aws.stub("rds", DR)
    rds.add_response("describe_db_instances", {"DBInstances": [{
        "DBInstanceIdentifier": "care-prod-prm", "LatestRestorableTime": utc(16, 55),
        "DBInstanceAutomatedBackupsReplications": [{"DBInstanceAutomatedBackupsArn": REPLICATED}]}]},
        {"DBInstanceIdentifier": "care-prod-prm"})
    rds_dr.add_response("describe_db_instance_automated_backups", {"DBInstanceAutomatedBackups": [
        {"DBInstanceAutomatedBackupsArn": REPLICATED, "RestoreWindow": {"LatestTime": utc(16, 50)}}]},
        {"DBInstanceAutomatedBackupsArn": REPLICATED})
    primary.add_response("describe_backup_vault", {"BackupVaultName": "care-prod-backup-vault", "Locked": True,
                                                   "MinRetentionDays": 7, "MaxRetentionDays": 3650},
                         {"BackupVaultName": "care-prod-backup-vault"})
    dr.add_response("describe_backup_vault", {"BackupVaultName": "care-prod-backup-dr-vault", "Locked": False},
                    {"BackupVaultName": "care-prod-backup-dr-vault"})

    markdown = tmp_path / "audit.md"
    result = run(aws, "backup-audit", "--stack", "prod", "--json", "--markdown", str(markdown),
                 clock=ScriptedClock(utc(17)))

    aws.assert_all_used()
    assert result.code == 1
    report = json.loads(result.out)
    volume = volume_arn.rsplit("/", 1)[1]
    assert [(c["resource"], c["check"], c["status"]) for c in report["checks"]] == [
        (volume, "recovery point (primary vault)", "pass"),
        (volume, "copy in DR vault", "fail"),
        ("care-prod-prm", "recovery point (primary vault)", "pass"),
        ("care-prod-prm", "copy in DR vault", "pass"),
        ("care-prod-prm", "point-in-time recovery", "pass"),
        ("care-prod-prm", "backups replicated to DR", "pass"),
        (BUCKET, "recovery point (primary vault)", "fail"),
        (BUCKET, "copy in DR vault", "fail"),
        ("care-prod-backup-vault", "vault lock", "pass"),
        ("care-prod-backup-dr-vault", "vault lock", "fail"),
    ]
    gaps = {resource: (c["check"], c["detail"]) for resource, c in report["oldestGaps"].items()}
    assert gaps == {
        volume: ("copy in DR vault", "no completed recovery point in care-prod-backup-dr-vault"),
        BUCKET: ("copy in DR vault", "latest recovery point in care-prod-backup-dr-vault 2026-12-01T00:00:00+00:00 "
                                     "is 1d 17h 00m 00s old (limit 1d 06h 00m 00s)"),
        "care-prod-backup-dr-vault": ("vault lock", "not locked (backup.vaultLock is true)"),
    }
    pitr = report["checks"][4]["detail"]
    assert pitr == "latest restorable time 2026-12-02T16:55:00+00:00 is 5m 00s old (limit 1h 00m 00s)"
    lines = markdown.read_text().splitlines()
    assert lines[:4] == ["# Backup audit", "", "- Stack: `prod`", "- Result: **FAIL**"]
    assert "| care-prod-backup-dr-vault | vault lock | FAIL | not locked (backup.vaultLock is true) |" in lines
    assert "## Oldest gap per resource" in lines


def test_a_bad_outputs_file_is_a_usage_error_before_any_aws_call(aws: Aws, tmp_path: Any) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"prmDatabase": {"endpoint": "care-prod-prm.abc.us-east-2.rds.amazonaws.com"}}))
    result = run(aws, "backup-audit", "--stack", "prod", "--outputs", str(outputs))
    assert (result.code, result.err.strip()) == (2, f"error: --outputs {outputs}: missing stack output "
                                                    "nlfhirDatabase.endpoint")
    assert aws.created == []

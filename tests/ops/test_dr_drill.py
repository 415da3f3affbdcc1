"""dr-drill: exact RTO/RPO, a restore that times out, an interruption after the instance exists, and
cleanup that deletes only the drill's own (DrillId-tagged) instance.

RDS is stubbed (Stubber): moto ignores RestoreTime and has no restore timings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.stub import Stubber

from tests.ops.awsfakes import ACCOUNT, DR, PRIMARY, Aws, ScriptedClock, run, utc

SOURCE_ID = "care-prod-prm"
DRILL_ID = "drill-20261202170000"
TARGET = f"{SOURCE_ID}-{DRILL_ID}"
REPLICATED = f"arn:aws:rds:{DR}:{ACCOUNT}:auto-backup:ab-prm0123456789"
DRILL_TAGS = [
    {"Key": "Project", "Value": "care-platform"},
    {"Key": "Environment", "Value": "prod"},
    {"Key": "Owner", "Value": "platform-team@care.example"},
    {"Key": "CostCenter", "Value": "CC-1024-PLATFORM"},
    {"Key": "DataClassification", "Value": "phi"},
    {"Key": "ManagedBy", "Value": "ops-dr-drill"},
    {"Key": "Name", "Value": TARGET},
    {"Key": "DrillId", "Value": DRILL_ID},
]
SOURCE: dict[str, Any] = {
    "DBInstanceIdentifier": SOURCE_ID, "DBInstanceClass": "db.r5.xlarge", "Engine": "postgres",
    "EngineVersion": "18.1", "DBInstanceStatus": "available", "MultiAZ": True, "AvailabilityZone": "us-east-2a",
    "LatestRestorableTime": utc(16, 55),
    "DBSubnetGroup": {"DBSubnetGroupName": "care-prod-prm-subnets"},
    "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-0db1234", "Status": "active"}],
    "DBParameterGroups": [{"DBParameterGroupName": "care-prod-prm-params", "ParameterApplyStatus": "in-sync"}],
    "DBInstanceAutomatedBackupsReplications": [{"DBInstanceAutomatedBackupsArn": REPLICATED}],
}
PITR_ARGS = {
    "SourceDBInstanceIdentifier": SOURCE_ID, "DBSubnetGroupName": "care-prod-prm-subnets",
    "VpcSecurityGroupIds": ["sg-0db1234"], "DBParameterGroupName": "care-prod-prm-params",
}


def database_key(aws: Aws, region: str) -> str:
    """The stack's database key behind its alias (stubbed: moto generates key material, ~0.5 s a key)."""
    arn = f"arn:aws:kms:{region}:{ACCOUNT}:key/0f6a1c2e-1111-4222-8333-944455556666"
    aws.stub("kms", region).add_response(
        "describe_key", {"KeyMetadata": {"KeyId": arn.rsplit("/", 1)[1], "Arn": arn}},
        {"KeyId": "alias/care-platform/prod/database"})
    return arn


def restored(status: str, key_arn: str, *, version: str = "18.1", multi_az: bool = False,
             tags: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"DBInstances": [{"DBInstanceIdentifier": TARGET, "DBInstanceStatus": status, "Engine": "postgres",
                             "EngineVersion": version, "StorageEncrypted": True, "KmsKeyId": key_arn,
                             "MultiAZ": multi_az, "TagList": DRILL_TAGS if tags is None else tags}]}


def expect_restore(rds: Stubber, restore_args: dict[str, Any], *, multi_az: bool = False) -> None:
    rds.add_response("restore_db_instance_to_point_in_time", {"DBInstance": {"DBInstanceIdentifier": TARGET}}, {
        "TargetDBInstanceIdentifier": TARGET, "RestoreTime": utc(16, 55), "DBInstanceClass": "db.r5.xlarge",
        "MultiAZ": multi_az, "PubliclyAccessible": False, "DeletionProtection": False,
        "EnableIAMDatabaseAuthentication": True, "CopyTagsToSnapshot": True, "Tags": DRILL_TAGS, **restore_args,
    })


def expect_cleanup(rds: Stubber, key_arn: str, status: str = "available") -> None:
    target = {"DBInstanceIdentifier": TARGET}
    rds.add_response("describe_db_instances", restored(status, key_arn), target)
    rds.add_response("delete_db_instance", {"DBInstance": target},
                     {**target, "SkipFinalSnapshot": True, "DeleteAutomatedBackups": True})
    rds.add_client_error("describe_db_instances", "DBInstanceNotFound", "DBInstance not found", 404,
                         expected_params=target)


def front_matter(path: Path) -> dict[str, Any]:
    text = path.read_text()
    return dict(yaml.safe_load(text.split("---\n")[1]))


def test_without_yes_prints_the_plan_and_touches_nothing(aws: Aws) -> None:
    result = run(aws, "dr-drill", "--stack", "prod", "--scenario", "pitr", clock=ScriptedClock(utc(17)))
    assert result.code == 0
    assert result.out.splitlines()[:2] == [
        f"Drill {DRILL_ID}: point-in-time restore in the primary region (us-east-2)",
        f"  restore {SOURCE_ID} at the latest restorable time to a NEW instance {TARGET} (Multi-AZ off), "
        f"tagged DrillId={DRILL_ID}",
    ]
    assert "Run again with --yes to start the drill." in result.out
    assert aws.created == [("sts", PRIMARY)]


def test_successful_pitr_drill_measures_exact_rto_and_rpo(aws: Aws, tmp_path: Path) -> None:
    key_arn = database_key(aws, PRIMARY)
    rds = aws.stub("rds")
    rds.add_response("describe_db_instances", {"DBInstances": [SOURCE]}, {"DBInstanceIdentifier": SOURCE_ID})
    expect_restore(rds, PITR_ARGS)
    rds.add_response("describe_db_instances", restored("creating", key_arn), {"DBInstanceIdentifier": TARGET})
    rds.add_response("describe_db_instances", restored("available", key_arn), {"DBInstanceIdentifier": TARGET})
    rds.add_response("describe_db_instances", restored("available", key_arn), {"DBInstanceIdentifier": TARGET})
    expect_cleanup(rds, key_arn)
    # plan, drill start (the simulated disaster), restore requested, available
    clock = ScriptedClock(utc(17), utc(17), utc(17, 0, 5), utc(17, 21, 5))

    result = run(aws, "dr-drill", "--stack", "prod", "--scenario", "pitr", "--yes", "--json",
                 "--report-dir", str(tmp_path), clock=clock)

    aws.assert_all_used()
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["facts"]["RTO"] == "21m 00s (target < 4h 00m 00s)"
    assert report["facts"]["RPO"] == "5m 00s (target < 1h 00m 00s)"
    assert [(c["check"], c["status"], c["detail"]) for c in report["checks"]] == [
        ("RPO", "pass", "5m 00s of data after the latest restorable time (target < 1h 00m 00s)"),
        ("available", "pass", "status available"),
        ("encrypted with the database key", "pass",
         f"StorageEncrypted=True, key {key_arn} (expected {key_arn})"),
        ("engine version", "pass", "postgres 18.1 (configured major 18)"),
        ("Multi-AZ as requested", "pass", "MultiAZ=False (requested False)"),
        ("RTO", "pass", "21m 00s from restore request to available (target < 4h 00m 00s)"),
        ("restore time", "pass", "21m 00s to restore (target < 30m 00s)"),
        ("cleanup", "pass", f"deleted {TARGET} (DrillId={DRILL_ID})"),
    ]
    record = tmp_path / "2026-12-02-170000-prod-dr-drill-pitr-prm.md"
    assert front_matter(record) == {
        "kind": "dr-drill", "drillId": DRILL_ID, "stack": "prod", "scenario": "pitr", "target": "prm",
        "startedAt": "2026-12-02T17:00:00+00:00", "rtoSeconds": 1260.0, "rpoSeconds": 300.0,
        "recoverySeconds": None, "result": "pass",
    }


def test_region_drill_restores_from_the_replicated_backups_and_checks_the_major_version(aws: Aws,
                                                                                       tmp_path: Path) -> None:
    key_arn = database_key(aws, DR)
    primary = aws.stub("rds", PRIMARY)
    primary.add_response("describe_db_instances", {"DBInstances": [SOURCE]}, {"DBInstanceIdentifier": SOURCE_ID})
    rds = aws.stub("rds", DR)
    rds.add_response("describe_db_instance_automated_backups", {"DBInstanceAutomatedBackups": [
        {"DBInstanceAutomatedBackupsArn": REPLICATED, "RestoreWindow": {"LatestTime": utc(16, 55)}}]},
        {"DBInstanceAutomatedBackupsArn": REPLICATED})
    expect_restore(rds, {"SourceDBInstanceAutomatedBackupsArn": REPLICATED, "DBSubnetGroupName": "dr-drill"},
                   multi_az=True)
    rds.add_response("describe_db_instances", restored("available", key_arn, multi_az=True),
                     {"DBInstanceIdentifier": TARGET})
    # Restored on another major version than the configured 18: the drill must fail on it.
    rds.add_response("describe_db_instances", restored("available", key_arn, version="17.2", multi_az=True),
                     {"DBInstanceIdentifier": TARGET})
    expect_cleanup(rds, key_arn)
    clock = ScriptedClock(utc(17), utc(17), utc(17, 0, 5), utc(17, 40, 5))

    result = run(aws, "dr-drill", "--stack", "prod", "--scenario", "region", "--multi-az", "--dr-subnet-group",
                 "dr-drill", "--yes", "--json", "--report-dir", str(tmp_path), clock=clock)

    aws.assert_all_used()
    assert result.code == 1
    failed = [(c["check"], c["detail"]) for c in json.loads(result.out)["checks"] if c["status"] == "fail"]
    assert failed == [("engine version", "postgres 17.2 (configured major 18)"),
                      ("restore time", "40m 00s to restore (target < 30m 00s)")]
    assert front_matter(tmp_path / "2026-12-02-170000-prod-dr-drill-region-prm.md")["result"] == "fail"


def test_restore_that_times_out_is_reported_and_still_cleaned_up(aws: Aws, tmp_path: Path) -> None:
    key_arn = "arn:aws:kms:us-east-2:333333333333:key/never-checked"
    rds = aws.stub("rds")
    rds.add_response("describe_db_instances", {"DBInstances": [SOURCE]}, {"DBInstanceIdentifier": SOURCE_ID})
    expect_restore(rds, PITR_ARGS)
    for _ in range(2):  # the waiter's two attempts
        rds.add_response("describe_db_instances", restored("creating", key_arn), {"DBInstanceIdentifier": TARGET})
    expect_cleanup(rds, key_arn, status="creating")
    clock = ScriptedClock(utc(17), utc(17), utc(17, 0, 5), utc(21, 0, 5))

    result = run(aws, "dr-drill", "--stack", "prod", "--scenario", "pitr", "--yes", "--json",
                 "--report-dir", str(tmp_path), clock=clock, attempts=2)

    aws.assert_all_used()
    assert result.code == 1
    checks = [(c["check"], c["status"], c["detail"]) for c in json.loads(result.out)["checks"]]
    assert checks == [
        ("RPO", "pass", "5m 00s of data after the latest restorable time (target < 1h 00m 00s)"),
        ("available", "fail", "not available after 4h 00m 00s (timeout 4h 00m 00s): still restoring"),
        ("cleanup", "pass", f"deleted {TARGET} (DrillId={DRILL_ID})"),
    ]
    front = front_matter(tmp_path / "2026-12-02-170000-prod-dr-drill-pitr-prm.md")
    assert (front["result"], front["rtoSeconds"], front["rpoSeconds"]) == ("fail", None, 300.0)


def test_interrupted_after_the_instance_exists_deletes_only_the_drill_instance(aws: Aws, tmp_path: Path) -> None:
    key_arn = "arn:aws:kms:us-east-2:333333333333:key/never-checked"
    rds = aws.stub("rds")
    rds.add_response("describe_db_instances", {"DBInstances": [SOURCE]}, {"DBInstanceIdentifier": SOURCE_ID})
    expect_restore(rds, PITR_ARGS)
    rds.add_response("describe_db_instances", restored("creating", key_arn), {"DBInstanceIdentifier": TARGET})
    expect_cleanup(rds, key_arn, status="creating")

    interrupts: list[str] = []

    def ctrl_c_while_creating(parsed: dict[str, Any], **_: Any) -> None:
        if not interrupts and parsed.get("DBInstances", [{}])[0].get("DBInstanceStatus") == "creating":
            interrupts.append("Ctrl-C")  # once, in the wait; cleanup reads the same status afterwards
            raise KeyboardInterrupt
    aws.clients[("rds", PRIMARY)].meta.events.register("after-call.rds.DescribeDBInstances", ctrl_c_while_creating)
    clock = ScriptedClock(utc(17), utc(17), utc(17, 0, 5))

    result = run(aws, "dr-drill", "--stack", "prod", "--scenario", "pitr", "--yes", "--json",
                 "--report-dir", str(tmp_path), clock=clock)

    aws.assert_all_used()  # the one delete_db_instance stubbed, for the drill's own identifier, was called
    assert result.code == 1
    checks = [(c["check"], c["status"], c["detail"]) for c in json.loads(result.out)["checks"]]
    assert checks[1:] == [
        ("drill", "fail", "interrupted (Ctrl-C) before the drill finished"),
        ("cleanup", "pass", f"deleted {TARGET} (DrillId={DRILL_ID})"),
    ]


@pytest.mark.parametrize("tags, found", [
    ([{"Key": "Project", "Value": "care-platform"}], "None"),
    ([{"Key": "DrillId", "Value": "drill-20261101000000"}], "'drill-20261101000000'"),
])
def test_cleanup_never_deletes_an_instance_without_this_drills_id(aws: Aws, tmp_path: Path,
                                                                  tags: list[dict[str, str]], found: str) -> None:
    rds = aws.stub("rds")
    rds.add_response("describe_db_instances", {"DBInstances": [SOURCE]}, {"DBInstanceIdentifier": SOURCE_ID})
    expect_restore(rds, PITR_ARGS)
    rds.add_response("describe_db_instances", restored("failed", "k", tags=tags), {"DBInstanceIdentifier": TARGET})
    # cleanup reads it back, finds no DrillId of this drill, and stops: no delete_db_instance is stubbed
    rds.add_response("describe_db_instances", restored("failed", "k", tags=tags), {"DBInstanceIdentifier": TARGET})
    clock = ScriptedClock(utc(17), utc(17), utc(17, 0, 5), utc(17, 5))

    result = run(aws, "dr-drill", "--stack", "prod", "--scenario", "pitr", "--yes", "--json",
                 "--report-dir", str(tmp_path), clock=clock)

    aws.assert_all_used()
    assert result.code == 1
    cleanup = json.loads(result.out)["checks"][-1]
    assert (cleanup["check"], cleanup["status"], cleanup["detail"]) == (
        "cleanup", "fail", f"NOT deleted: {TARGET} is not tagged DrillId={DRILL_ID} (found {found}); left alone")


def test_restore_time_after_the_latest_restorable_time_creates_nothing(aws: Aws, tmp_path: Path) -> None:
    rds = aws.stub("rds")
    rds.add_response("describe_db_instances", {"DBInstances": [SOURCE]}, {"DBInstanceIdentifier": SOURCE_ID})
    result = run(aws, "dr-drill", "--stack", "prod", "--scenario", "pitr", "--restore-time", "2026-12-02T16:58:00Z",
                 "--yes", "--json", "--report-dir", str(tmp_path), clock=ScriptedClock(utc(17), utc(17)))
    aws.assert_all_used()
    assert result.code == 1
    assert json.loads(result.out)["checks"][-1]["detail"] == (
        "requested restore time 2026-12-02T16:58:00+00:00 is after the latest restorable time")

"""failover-drill: RDS reboot with failover and ElastiCache test_failover, stubbed (moto ignores ForceFailover and
has no failover timings or events); the clock makes the recovery times exact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.ops.awsfakes import Aws, ScriptedClock, run, utc

DB = {"DBInstanceIdentifier": "care-prod-prm"}
GROUP = {"ReplicationGroupId": "care-prod-redis"}


def instance(status: str, az: str, multi_az: bool = True) -> dict[str, Any]:
    return {"DBInstances": [{"DBInstanceIdentifier": "care-prod-prm", "DBInstanceStatus": status, "MultiAZ": multi_az,
                             "AvailabilityZone": az, "SecondaryAvailabilityZone": "us-east-2b"}]}


def replication_group(status: str = "available") -> dict[str, Any]:
    members = [{"CacheClusterId": "care-prod-redis-0001-001", "PreferredAvailabilityZone": "us-east-2a"},
               {"CacheClusterId": "care-prod-redis-0001-002", "PreferredAvailabilityZone": "us-east-2c"}]
    return {"ReplicationGroups": [{"ReplicationGroupId": "care-prod-redis", "Status": status,
                                   "AutomaticFailover": "enabled", "MultiAZ": "enabled",
                                   "NodeGroups": [{"NodeGroupId": "0001", "NodeGroupMembers": members}]}]}


def test_failover_drill_measures_recovery_and_checks_the_writer_moved(aws: Aws, tmp_path: Path) -> None:
    rds = aws.stub("rds")
    rds.add_response("describe_db_instances", instance("available", "us-east-2a"), DB)
    rds.add_response("reboot_db_instance", {"DBInstance": DB}, {**DB, "ForceFailover": True})
    rds.add_response("describe_db_instances", instance("rebooting", "us-east-2a"), DB)
    rds.add_response("describe_db_instances", instance("available", "us-east-2b"), DB)
    rds.add_response("describe_db_instances", instance("available", "us-east-2b"), DB)
    cache = aws.stub("elasticache")
    cache.add_response("describe_replication_groups", replication_group(), GROUP)
    cache.add_response("test_failover", {"ReplicationGroup": GROUP}, {**GROUP, "NodeGroupId": "0001"})
    events = {"SourceIdentifier": "care-prod-redis", "SourceType": "replication-group", "StartTime": utc(17, 2)}
    done = {"Events": [{"SourceIdentifier": "care-prod-redis", "Message": "Failover from primary node "
                        "care-prod-redis-0001-001 to replica node care-prod-redis-0001-002 completed"}]}
    cache.add_response("describe_events", {"Events": []}, events)
    cache.add_response("describe_events", done, events)
    cache.add_response("describe_replication_groups", replication_group(), GROUP)
    cache.add_response("describe_events", done, events)
    # drill start, report start, RDS call, RDS recovered, Redis call, Redis recovered
    clock = ScriptedClock(utc(17), utc(17), utc(17, 0, 10), utc(17, 1, 40), utc(17, 2), utc(17, 4, 30))

    result = run(aws, "failover-drill", "--stack", "prod", "--yes", "--json", "--report-dir", str(tmp_path),
                 clock=clock)

    aws.assert_all_used()
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert [(c["resource"], c["check"], c["detail"]) for c in report["checks"]] == [
        ("care-prod-prm", "Multi-AZ", "writer in us-east-2a, standby in us-east-2b"),
        ("care-prod-prm", "writer moved AZ", "us-east-2a -> us-east-2b"),
        ("care-prod-prm", "time to recovery", "1m 30s from the failover call to available (target < 15m 00s)"),
        ("care-prod-redis", "automatic failover", "AutomaticFailover=enabled, MultiAZ=enabled"),
        ("care-prod-redis/0001", "primary moved AZ",
         "care-prod-redis-0001-001 (us-east-2a) -> care-prod-redis-0001-002 (us-east-2c)"),
        ("care-prod-redis/0001", "time to recovery", "2m 30s from the failover call to available (target < 15m 00s)"),
    ]
    record = (tmp_path / "2026-12-02-170000-prod-failover-drill-all-prm.md").read_text()
    assert "recoverySeconds: 150.0\nresult: pass\n" in record


def test_single_az_database_is_not_rebooted(aws: Aws, tmp_path: Path) -> None:
    rds = aws.stub("rds")
    rds.add_response("describe_db_instances", instance("available", "us-east-2a", multi_az=False), DB)
    result = run(aws, "failover-drill", "--stack", "prod", "--target", "rds", "--yes", "--json",
                 "--report-dir", str(tmp_path), clock=ScriptedClock(utc(17), utc(17)))
    aws.assert_all_used()  # no reboot_db_instance was stubbed: calling it would fail the test
    assert result.code == 1
    assert json.loads(result.out)["checks"] == [{"resource": "care-prod-prm", "check": "Multi-AZ", "status": "fail",
                                                 "detail": "not Multi-AZ: a reboot with failover would be an outage",
                                                 "gap_seconds": None}]

"""``failover-drill``: fail the RDS writer over to its standby and a Redis shard's primary to its replica,
measure the time to recovery and check that the writer moved to another AZ.

The waits are boto3 waiters: RDS's own ``db_instance_available`` cannot tell a failover that has not
started from one that finished, so the RDS wait is a custom waiter model ("available and in another AZ
than before"); ElastiCache reports the end of a failover as the replication-group event "Failover from
primary node <old> to replica node <new> completed" (TestFailover API reference), so the Redis wait
is a custom waiter on DescribeEvents followed by ``replication_group_available``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError, WaiterError
from botocore.waiter import WaiterModel, create_waiter_with_client

from ops.context import Context
from ops.report import Report, duration
from ops.targets import FAILOVER_TARGET

FAILOVER_EVENT = re.compile(r"Failover from primary node (\S+) to replica node (\S+) completed")


def _waiter(name: str, operation: str, expression: str, client: Any) -> Any:
    model = WaiterModel({"version": 2, "waiters": {name: {
        "operation": operation, "delay": 15, "maxAttempts": 60,
        "acceptors": [{"matcher": "path", "argument": expression, "expected": True, "state": "success"}],
    }}})
    return create_waiter_with_client(name, model, client)


def writer_moved_waiter(client: Any, az_before: str) -> Any:
    expression = (f"DBInstances[0].DBInstanceStatus == 'available' && "
                  f"DBInstances[0].AvailabilityZone != '{az_before}'")
    return _waiter("WriterMovedAz", "DescribeDBInstances", expression, client)


def failover_event_waiter(client: Any) -> Any:
    expression = ("length(Events[?contains(Message, 'Failover from primary node') && "
                  "contains(Message, 'completed')]) > `0`")
    return _waiter("FailoverCompleted", "DescribeEvents", expression, client)


def rds_failover(ctx: Context, report: Report, db: str, timeout: timedelta) -> timedelta | None:
    rds, identifier = ctx.client("rds"), ctx.stack.database_identifier(db)
    instance = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    if not instance.get("MultiAZ"):
        report.add(identifier, "Multi-AZ", False, "not Multi-AZ: a reboot with failover would be an outage")
        return None
    report.add(identifier, "Multi-AZ", True, f"writer in {instance['AvailabilityZone']}, standby in "
                                             f"{instance.get('SecondaryAvailabilityZone', '?')}")
    az_before = instance["AvailabilityZone"]
    started = ctx.clock.now()
    rds.reboot_db_instance(DBInstanceIdentifier=identifier, ForceFailover=True)
    try:
        with ctx.progress(f"failing {identifier} over (up to {duration(timeout)})"):
            writer_moved_waiter(rds, az_before).wait(DBInstanceIdentifier=identifier,
                                                     WaiterConfig=ctx.wait.config(timeout.total_seconds()))
    except WaiterError:
        waited = ctx.clock.now() - started
        report.add(identifier, "writer moved AZ", False,
                   f"still not available in another AZ than {az_before} after {duration(waited)}")
        return None
    recovered = ctx.clock.now() - started
    after = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]["AvailabilityZone"]
    report.add(identifier, "writer moved AZ", after != az_before, f"{az_before} -> {after}")
    report.add(identifier, "time to recovery", recovered < FAILOVER_TARGET,
               f"{duration(recovered)} from the failover call to available (target < {duration(FAILOVER_TARGET)})")
    return recovered


def _redis_members(group: dict[str, Any]) -> dict[str, str]:
    return {m["CacheClusterId"]: m.get("PreferredAvailabilityZone", "?")
            for shard in group["NodeGroups"] for m in shard.get("NodeGroupMembers", [])}


def redis_failover(ctx: Context, report: Report, shard: str | None, timeout: timedelta) -> timedelta | None:
    cache, group_id = ctx.client("elasticache"), ctx.stack.redis_replication_group_id
    group = cache.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"][0]
    automatic = group.get("AutomaticFailover") == "enabled" and group.get("MultiAZ") == "enabled"
    report.add(group_id, "automatic failover", automatic,
               f"AutomaticFailover={group.get('AutomaticFailover')}, MultiAZ={group.get('MultiAZ')}")
    if not automatic:
        return None
    node_group = shard or group["NodeGroups"][0]["NodeGroupId"]
    zones = _redis_members(group)
    started: datetime = ctx.clock.now()
    cache.test_failover(ReplicationGroupId=group_id, NodeGroupId=node_group)
    config = ctx.wait.config(timeout.total_seconds())
    try:
        with ctx.progress(f"failing shard {node_group} of {group_id} over (up to {duration(timeout)})"):
            failover_event_waiter(cache).wait(SourceIdentifier=group_id, SourceType="replication-group",
                                              StartTime=started, WaiterConfig=config)
            ctx.waiter(cache, "replication_group_available", timeout.total_seconds())[0].wait(
                ReplicationGroupId=group_id, WaiterConfig=config)
    except WaiterError:
        waited = ctx.clock.now() - started
        report.add(f"{group_id}/{node_group}", "failover completed", False,
                   f"no completed failover reported after {duration(waited)}")
        return None
    recovered = ctx.clock.now() - started
    events = cache.describe_events(SourceIdentifier=group_id, SourceType="replication-group",
                                   StartTime=started)["Events"]
    match = next((m for e in events if (m := FAILOVER_EVENT.search(e["Message"]))), None)
    resource = f"{group_id}/{node_group}"
    if match is None:
        report.add(resource, "primary moved AZ", False, "the failover event names no nodes")
    else:
        old, new = match.groups()
        before, after = zones.get(old, "?"), zones.get(new, "?")
        report.add(resource, "primary moved AZ", "?" not in (before, after) and before != after,
                   f"{old} ({before}) -> {new} ({after})")
    report.add(resource, "time to recovery", recovered < FAILOVER_TARGET,
               f"{duration(recovered)} from the failover call to available (target < {duration(FAILOVER_TARGET)})")
    return recovered


def failover_drill(ctx: Context, *, target: str, db: str, shard: str | None, timeout: timedelta) -> Report:
    report = Report("failover-drill", ctx.stack.name, f"Failover drill ({target})")
    report.facts["Started"] = ctx.clock.now().isoformat()
    measured: list[timedelta] = []
    for name, run in (("rds", lambda: rds_failover(ctx, report, db, timeout)),
                      ("redis", lambda: redis_failover(ctx, report, shard, timeout))):
        if target not in (name, "all"):
            continue
        try:
            recovered = run()
        except ClientError as exc:
            report.add(name, "failover", False, f"AWS refused: {exc}")
            continue
        if recovered is not None:
            report.facts[f"{name} recovery"] = duration(recovered)
            measured.append(recovered)
    report.facts["recoverySeconds"] = str(max(measured).total_seconds()) if measured else "unmeasured"
    return report

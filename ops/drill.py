"""``dr-drill``: restore a database to a new instance, measure RTO and RPO, check it, and delete it again.

Scenarios: ``pitr`` restores to a point in time in the primary region; ``region`` restores in the DR
region from the automated backups replicated there. The drill creates exactly one DB instance, tagged
``DrillId=<id>``; cleanup runs in ``finally`` (a failure, a timeout or Ctrl-C half-way) and deletes an
instance only after reading back that it carries this drill's ``DrillId``.

RTO is measured from the restore request to the instance being available; RPO is the drill's start
(the simulated moment of disaster) minus the latest restorable time (the data a restore cannot bring
back). The restore itself is checked against :data:`ops.targets.RESTORE_TARGET` as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from ops.context import Context, OpsError
from ops.records import write_record
from ops.report import Report, duration
from ops.targets import RESTORE_TARGET, RPO_TARGET, RTO_TARGET

DRILL_TAG = "DrillId"
#: How long cleanup waits for the drill's instance to be gone.
DELETE_TIMEOUT = timedelta(minutes=60)


@dataclass(frozen=True)
class DrillPlan:
    drill_id: str
    scenario: str  # pitr | region
    db: str
    source: str
    target: str
    region: str
    multi_az: bool
    restore_time: datetime | None
    timeout: timedelta
    dr_subnet_group: str | None

    def lines(self) -> list[str]:
        when = self.restore_time.isoformat() if self.restore_time else "the latest restorable time"
        where = ("point-in-time restore in the primary region" if self.scenario == "pitr"
                 else "restore from the automated backups replicated to the DR region")
        return [
            f"Drill {self.drill_id}: {where} ({self.region})",
            f"  restore {self.source} at {when} to a NEW instance {self.target} "
            f"(Multi-AZ {'on' if self.multi_az else 'off'}), tagged {DRILL_TAG}={self.drill_id}",
            f"  wait up to {duration(self.timeout)} for it to be available; check status, encryption key, engine "
            "version, Multi-AZ; measure RTO and RPO",
            f"  then delete {self.target} (only if it carries {DRILL_TAG}={self.drill_id}); nothing else is touched",
            f"  targets: RTO < {duration(RTO_TARGET)}, RPO < {duration(RPO_TARGET)}, "
            f"restore < {duration(RESTORE_TARGET)}",
        ]


def make_plan(ctx: Context, *, scenario: str, db: str, multi_az: bool, restore_time: datetime | None,
              timeout: timedelta, dr_subnet_group: str | None) -> DrillPlan:
    stack = ctx.stack
    drill_id = f"drill-{ctx.clock.now():%Y%m%d%H%M%S}"
    source = stack.database_identifier(db)
    return DrillPlan(drill_id=drill_id, scenario=scenario, db=db, source=source, target=f"{source}-{drill_id}",
                     region=stack.primary_region if scenario == "pitr" else stack.dr_region, multi_az=multi_az,
                     restore_time=restore_time, timeout=timeout, dr_subnet_group=dr_subnet_group)


class Drill:
    def __init__(self, ctx: Context, plan: DrillPlan) -> None:
        self.ctx, self.plan = ctx, plan
        self.rds = ctx.client("rds", plan.region)
        self.report = Report("dr-drill", ctx.stack.name, f"DR drill {plan.drill_id} ({plan.scenario}, {plan.db})")
        self.created: list[str] = []
        self.started_at = ctx.clock.now()
        self.rto: timedelta | None = None
        self.rpo: timedelta | None = None

    # --- the steps -----------------------------------------------------------------------------
    def _tags(self) -> list[dict[str, str]]:
        tags = {**self.ctx.stack.config.standard_tags, "ManagedBy": "ops-dr-drill", "Name": self.plan.target,
                DRILL_TAG: self.plan.drill_id}
        return [{"Key": k, "Value": v} for k, v in tags.items()]

    def _source(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The source instance, and the restore arguments naming it (with its latest restorable time)."""
        primary = self.ctx.client("rds").describe_db_instances(DBInstanceIdentifier=self.plan.source)["DBInstances"][0]
        if self.plan.scenario == "pitr":
            args: dict[str, Any] = {
                "SourceDBInstanceIdentifier": self.plan.source,
                "DBSubnetGroupName": primary["DBSubnetGroup"]["DBSubnetGroupName"],
                "VpcSecurityGroupIds": [g["VpcSecurityGroupId"] for g in primary["VpcSecurityGroups"]],
                "DBParameterGroupName": primary["DBParameterGroups"][0]["DBParameterGroupName"],
            }
            return primary, {**args, "_latest": primary["LatestRestorableTime"]}
        arns = [r["DBInstanceAutomatedBackupsArn"] for r in primary.get("DBInstanceAutomatedBackupsReplications", [])
                if f":rds:{self.plan.region}:" in r["DBInstanceAutomatedBackupsArn"]]
        if not arns:
            raise OpsError(f"{self.plan.source} has no automated backups replicated to {self.plan.region}")
        backup = self.rds.describe_db_instance_automated_backups(
            DBInstanceAutomatedBackupsArn=arns[0])["DBInstanceAutomatedBackups"][0]
        args = {"SourceDBInstanceAutomatedBackupsArn": arns[0]}
        if self.plan.dr_subnet_group:
            args["DBSubnetGroupName"] = self.plan.dr_subnet_group
        return primary, {**args, "_latest": backup["RestoreWindow"]["LatestTime"]}

    def _restore(self) -> datetime | None:
        """Start the restore; returns when it was requested (None when it could not start)."""
        primary, args = self._source()
        latest: datetime = args.pop("_latest")
        restore_time = self.plan.restore_time or latest
        self.rpo = self.started_at - latest
        facts = self.report.facts
        facts["Latest restorable time"] = latest.isoformat()
        facts["Restore time"] = restore_time.isoformat()
        facts["RPO"] = f"{duration(self.rpo)} (target < {duration(RPO_TARGET)})"
        self.report.add(self.plan.source, "RPO", self.rpo < RPO_TARGET,
                        f"{duration(self.rpo)} of data after the latest restorable time "
                        f"(target < {duration(RPO_TARGET)})")
        if restore_time > latest:
            self.report.add(self.plan.target, "restore started", False,
                            f"requested restore time {restore_time.isoformat()} is after the latest restorable time")
            return None
        self.created.append(self.plan.target)  # before the call: cleanup looks for it even if the call fails
        requested = self.ctx.clock.now()
        self.rds.restore_db_instance_to_point_in_time(
            TargetDBInstanceIdentifier=self.plan.target, RestoreTime=restore_time,
            DBInstanceClass=primary["DBInstanceClass"], MultiAZ=self.plan.multi_az, PubliclyAccessible=False,
            DeletionProtection=False, EnableIAMDatabaseAuthentication=True, CopyTagsToSnapshot=True,
            Tags=self._tags(), **args)
        facts["Restore requested"] = requested.isoformat()
        return requested

    def _wait_available(self, requested: datetime) -> dict[str, Any] | None:
        waiter, config = self.ctx.waiter(self.rds, "db_instance_available", self.plan.timeout.total_seconds())
        try:
            with self.ctx.progress(f"restoring {self.plan.target} (up to {duration(self.plan.timeout)})"):
                waiter.wait(DBInstanceIdentifier=self.plan.target, WaiterConfig=config)
        except WaiterError as exc:
            waited = self.ctx.clock.now() - requested
            self.report.add(self.plan.target, "available", False,
                            f"not available after {duration(waited)} (timeout {duration(self.plan.timeout)}): "
                            f"{exc.last_response.get('Error', {}).get('Message') or 'still restoring'}",
                            gap_seconds=waited.total_seconds())
            return None
        available = self.ctx.clock.now()
        self.rto = available - requested
        self.report.facts["Available"] = available.isoformat()
        self.report.facts["RTO"] = f"{duration(self.rto)} (target < {duration(RTO_TARGET)})"
        instance: dict[str, Any] = self.rds.describe_db_instances(
            DBInstanceIdentifier=self.plan.target)["DBInstances"][0]
        return instance

    def _verify(self, instance: dict[str, Any]) -> None:
        assert self.rto is not None
        target, report = self.plan.target, self.report
        report.add(target, "available", instance["DBInstanceStatus"] == "available",
                   f"status {instance['DBInstanceStatus']}")
        expected_key = self.ctx.client("kms", self.plan.region).describe_key(
            KeyId=self.ctx.stack.kms_alias("database"))["KeyMetadata"]["Arn"]
        encrypted = bool(instance.get("StorageEncrypted")) and instance.get("KmsKeyId") == expected_key
        report.add(target, "encrypted with the database key", encrypted,
                   f"StorageEncrypted={instance.get('StorageEncrypted')}, key {instance.get('KmsKeyId')} "
                   f"(expected {expected_key})")
        major = self.ctx.stack.database_major(self.plan.db)
        version = str(instance.get("EngineVersion", ""))
        report.add(target, "engine version", instance.get("Engine") == "postgres" and version.startswith(f"{major}."),
                   f"{instance.get('Engine')} {version} (configured major {major})")
        report.add(target, "Multi-AZ as requested", instance.get("MultiAZ") == self.plan.multi_az,
                   f"MultiAZ={instance.get('MultiAZ')} (requested {self.plan.multi_az})")
        report.add(target, "RTO", self.rto < RTO_TARGET,
                   f"{duration(self.rto)} from restore request to available (target < {duration(RTO_TARGET)})")
        report.add(target, "restore time", self.rto < RESTORE_TARGET,
                   f"{duration(self.rto)} to restore (target < {duration(RESTORE_TARGET)})")

    # --- cleanup -------------------------------------------------------------------------------
    def cleanup(self) -> None:
        for identifier in self.created:
            self.report.add(identifier, "cleanup", *self._delete(identifier))

    def _delete(self, identifier: str) -> tuple[bool, str]:
        try:
            instance = self.rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "DBInstanceNotFound":
                return True, "nothing to delete: the instance was never created"
            return False, f"could not read {identifier} to delete it: {exc}"
        tags = {t["Key"]: t["Value"] for t in instance.get("TagList", [])}
        if tags.get(DRILL_TAG) != self.plan.drill_id:
            return False, (f"NOT deleted: {identifier} is not tagged {DRILL_TAG}={self.plan.drill_id} "
                           f"(found {tags.get(DRILL_TAG)!r}); left alone")
        try:
            self.rds.delete_db_instance(DBInstanceIdentifier=identifier, SkipFinalSnapshot=True,
                                        DeleteAutomatedBackups=True)
            waiter, config = self.ctx.waiter(self.rds, "db_instance_deleted", DELETE_TIMEOUT.total_seconds())
            with self.ctx.progress(f"deleting {identifier}"):
                waiter.wait(DBInstanceIdentifier=identifier, WaiterConfig=config)
        except (ClientError, WaiterError) as exc:
            return False, (f"delete of {identifier} did not complete: {exc}; "
                           "delete it by hand (docs/runbooks/restore-database.md)")
        return True, f"deleted {identifier} ({DRILL_TAG}={self.plan.drill_id})"

    # --- the whole drill -------------------------------------------------------------------------
    def run(self) -> Report:
        facts = self.report.facts
        facts["Drill"] = self.plan.drill_id
        facts["Scenario"] = self.plan.scenario
        facts["Source"] = self.plan.source
        facts["Target"] = self.plan.target
        facts["Started"] = self.started_at.isoformat()
        try:
            requested = self._restore()
            if requested is not None:
                instance = self._wait_available(requested)
                if instance is not None:
                    self._verify(instance)
        except ClientError as exc:
            self.report.add(self.plan.target, "drill", False, f"AWS refused: {exc}")
        except KeyboardInterrupt:
            self.report.add(self.plan.target, "drill", False, "interrupted (Ctrl-C) before the drill finished")
        finally:
            self.cleanup()
        return self.report

    def record(self, directory: Path) -> Path:
        front = {"kind": "dr-drill", "drillId": self.plan.drill_id, "stack": self.ctx.stack.name,
                 "scenario": self.plan.scenario, "target": self.plan.db, "startedAt": self.started_at.isoformat(),
                 "rtoSeconds": self.rto.total_seconds() if self.rto is not None else None,
                 "rpoSeconds": self.rpo.total_seconds() if self.rpo is not None else None,
                 "recoverySeconds": None, "result": "pass" if self.report.passed else "fail"}
        return write_record(directory, front, self.report.to_markdown())

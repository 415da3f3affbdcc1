"""``python -m ops <command> --stack <stack> ...``: the argument parser and the command dispatch.

Every command that touches AWS verifies first, with STS, that the credentials are for the stack's
``environment.accountId`` and refuses otherwise. Exit codes: 0 passed, 1 a check failed (or could not
run), 2 usage (bad arguments, unreadable stack or outputs file, wrong account).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from ops.audit import audit
from ops.capacity import capacity
from ops.context import ClientFactory, Clock, Context, OpsError, SystemClock, WaitPolicy, WrongAccount
from ops.discover import OutputsError, Resource, inventory, read_outputs
from ops.drill import Drill, make_plan
from ops.failover import failover_drill
from ops.golive import GoLiveInputs, checklist_markdown, run_checks
from ops.records import DRILLS_DIR, RecordError, write_record
from ops.report import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Report, write_outputs
from ops.stack import DATABASES, Stack, StackError, load_stack

CHECKLIST = DRILLS_DIR.parent / "go-live-checklist.md"


def _utc_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time like 2026-12-02T03:15:00Z") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no timezone: add Z for UTC")
    return value.astimezone(UTC)


def _positive_minutes(text: str) -> timedelta:
    try:
        minutes = int(text)
    except ValueError:
        minutes = 0
    if minutes <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number of minutes")
    return timedelta(minutes=minutes)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops",
        description="Operations toolkit for a live account: backup audit, DR and failover drills, go-live, capacity.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack", required=True, help="the Pulumi stack (reads Pulumi.<stack>.yaml)")
    common.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    common.add_argument("--markdown", type=Path, metavar="FILE", help="also write the report as Markdown")
    outputs = argparse.ArgumentParser(add_help=False)
    outputs.add_argument("--outputs", type=Path, metavar="FILE",
                         help="a saved `pulumi stack output --json`; without it, resources are found by tags")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    commands.add_parser("backup-audit", parents=[common, outputs],
                        help="recovery points, DR copies, PITR coverage and vault locks of every stateful resource")

    dr = commands.add_parser("dr-drill", parents=[common],
                             help="restore a database to a new instance, measure RTO/RPO, check it, delete it")
    dr.add_argument("--scenario", choices=("pitr", "region"), required=True,
                    help="pitr: point-in-time restore in the primary region; region: restore in the DR region")
    dr.add_argument("--db", choices=DATABASES, default="prm", help="the database to restore (default prm)")
    dr.add_argument("--restore-time", type=_utc_time, metavar="ISO8601",
                    help="restore to this time (default: the latest restorable time)")
    dr.add_argument("--multi-az", action="store_true", help="restore as Multi-AZ (default single-AZ)")
    dr.add_argument("--timeout-minutes", type=_positive_minutes, default=timedelta(minutes=240), metavar="N",
                    help="give up waiting for the restore after N minutes (default 240, the RTO)")
    dr.add_argument("--dr-subnet-group", metavar="NAME",
                    help="region scenario: DB subnet group in the DR region (default: the default VPC's)")
    dr.add_argument("--report-dir", type=Path, default=DRILLS_DIR, metavar="DIR",
                    help="where the dated drill record goes (default docs/drills)")
    dr.add_argument("--yes", action="store_true", help="run the drill; without it the plan is printed")

    fo = commands.add_parser("failover-drill", parents=[common],
                             help="RDS reboot with failover and ElastiCache test_failover, timed")
    fo.add_argument("--target", choices=("rds", "redis", "all"), default="all")
    fo.add_argument("--db", choices=DATABASES, default="prm")
    fo.add_argument("--shard", metavar="NODE_GROUP_ID", help="the Redis shard (default the first, 0001)")
    fo.add_argument("--timeout-minutes", type=_positive_minutes, default=timedelta(minutes=30), metavar="N")
    fo.add_argument("--report-dir", type=Path, default=DRILLS_DIR, metavar="DIR")
    fo.add_argument("--yes", action="store_true", help="run the failovers; without it the plan is printed")

    go = commands.add_parser("golive", parents=[common, outputs], help="the machine-checkable go-live items")
    go.add_argument("--drills-dir", type=Path, default=DRILLS_DIR, metavar="DIR")
    go.add_argument("--checklist", type=Path, metavar="FILE", help="write the checklist with the results (Markdown)")

    commands.add_parser("capacity", parents=[common],
                        help="offline: can the node pools at max hold every workload at its HPA max")

    cl = commands.add_parser("checklist", help="offline: print the go-live checklist template")
    cl.add_argument("--write", action="store_true", help=f"write it to {CHECKLIST.relative_to(DRILLS_DIR.parents[1])}")
    return parser


def _golive(ctx: Context, args: argparse.Namespace, from_outputs: list[Resource] | None) -> Report:
    inputs = GoLiveInputs(inventory(ctx, from_outputs), args.drills_dir)
    report, results = run_checks(ctx, inputs)
    if args.checklist is not None:
        args.checklist.parent.mkdir(parents=True, exist_ok=True)
        args.checklist.write_text(checklist_markdown(results, ctx.stack.name))
    return report


def _dr_drill(ctx: Context, args: argparse.Namespace, stdout: Console) -> Report | None:
    plan = make_plan(ctx, scenario=args.scenario, db=args.db, multi_az=args.multi_az, restore_time=args.restore_time,
                     timeout=args.timeout_minutes, dr_subnet_group=args.dr_subnet_group)
    if not args.yes:
        for line in plan.lines():
            stdout.print(line, highlight=False)
        stdout.print("Nothing was changed. Run again with --yes to start the drill.")
        return None
    drill = Drill(ctx, plan)
    report = drill.run()
    path = drill.record(args.report_dir)
    ctx.console.print(f"drill record: {path}")
    return report


def _failover(ctx: Context, args: argparse.Namespace, stdout: Console) -> Report | None:
    if not args.yes:
        what = {"rds": f"reboot {ctx.stack.database_identifier(args.db)} with failover (Multi-AZ only)",
                "redis": f"test_failover on shard {args.shard or '0001'} of {ctx.stack.redis_replication_group_id}"}
        for key in ("rds", "redis"):
            if args.target in (key, "all"):
                stdout.print(f"would {what[key]}, then wait up to {args.timeout_minutes} for recovery",
                             highlight=False)
        stdout.print("Nothing was changed. Run again with --yes to start the failovers.")
        return None
    started = ctx.clock.now()
    report = failover_drill(ctx, target=args.target, db=args.db, shard=args.shard, timeout=args.timeout_minutes)
    recovery = report.facts.get("recoverySeconds", "unmeasured")
    front = {"kind": "failover-drill", "drillId": f"failover-{started:%Y%m%d%H%M%S}", "stack": ctx.stack.name,
             "scenario": args.target, "target": args.db if args.target != "redis" else "redis",
             "startedAt": started.isoformat(), "rtoSeconds": None, "rpoSeconds": None,
             "recoverySeconds": None if recovery == "unmeasured" else float(recovery),
             "result": "pass" if report.passed else "fail"}
    ctx.console.print(f"drill record: {write_record(args.report_dir, front, report.to_markdown())}")
    return report


def main(argv: Sequence[str] | None = None, *, clock: Clock | None = None, client_factory: ClientFactory | None = None,
         wait: WaitPolicy | None = None, stdout: Console | None = None, stderr: Console | None = None) -> int:
    out = stdout or Console()
    err = stderr or Console(stderr=True)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)

    if args.command == "checklist":
        text = checklist_markdown()
        if args.write:
            CHECKLIST.write_text(text)
            err.print(f"wrote {CHECKLIST}")
        else:
            out.print(text, markup=False, highlight=False, end="", soft_wrap=True)
        return EXIT_OK

    try:
        stack: Stack = load_stack(args.stack)
        from_outputs = read_outputs(stack, args.outputs) if getattr(args, "outputs", None) else None
    except (StackError, OutputsError) as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        return EXIT_USAGE

    if args.command == "capacity":
        report: Report | None = capacity(stack)
    else:
        ctx = Context(stack, clock=clock or SystemClock(), wait=wait or WaitPolicy(), console=err,
                      client_factory=client_factory)
        try:
            account = ctx.verify_account()
            err.print(f"account {account} verified for stack {stack.name}", highlight=False)
            if args.command == "backup-audit":
                report = audit(ctx, inventory(ctx, from_outputs))
            elif args.command == "golive":
                report = _golive(ctx, args, from_outputs)
            elif args.command == "dr-drill":
                report = _dr_drill(ctx, args, out)
            else:
                report = _failover(ctx, args, out)
        except WrongAccount as exc:
            err.print(f"error: {exc}", markup=False, highlight=False)
            return EXIT_USAGE
        except (OpsError, RecordError, ClientError, BotoCoreError) as exc:
            err.print(f"error: {exc}", markup=False, highlight=False)
            return EXIT_FAILED
    if report is None:
        return EXIT_OK
    write_outputs(report, json_out=args.json, markdown=args.markdown, console=err, stdout=out)
    return report.exit_code

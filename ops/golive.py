"""``golive``: the machine-checkable part of the go-live checklist, read from the live account.

:data:`ITEMS` is the one list: ``golive`` runs the checks of its machine items, and ``docs/go-live-checklist.md``
is generated from it (``python -m ops checklist --write``), manual items left as unchecked boxes. The
sections and manual items are EPIC-024's "Go-Live Checklist" (``/work/shared/seeds/``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ops.audit import daily_max_age
from ops.context import Context
from ops.discover import Inventory
from ops.records import RecordError, latest_record
from ops.report import Report, duration
from ops.stack import DATABASES
from ops.targets import DRILL_MAX_AGE, LAUNCH_DRILL_MAX_AGE, RPO_TARGET, RTO_TARGET

Result = tuple[bool, str]


@dataclass(frozen=True)
class GoLiveInputs:
    inventory: Inventory
    drills_dir: Path


Check = Callable[[Context, GoLiveInputs], Result]


@dataclass(frozen=True)
class Item:
    key: str
    section: str
    text: str
    check: Check | None = None  # None: a manual item, left unchecked


def _rds_ha(ctx: Context, _: GoLiveInputs) -> Result:
    problems, seen = [], []
    for db in DATABASES:
        identifier = ctx.stack.database_identifier(db)
        instance = ctx.client("rds").describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
        if not instance.get("MultiAZ"):
            problems.append(f"{identifier} is not Multi-AZ")
        if not instance.get("DeletionProtection"):
            problems.append(f"{identifier} has no deletion protection")
        seen.append(identifier)
    return (not problems, "; ".join(problems) or f"{', '.join(seen)}: Multi-AZ, deletion protection on")


def _backups(ctx: Context, inputs: GoLiveInputs) -> Result:
    if not inputs.inventory.resources:
        return False, "no resource tagged for backup was found"
    now, limit, problems = ctx.clock.now(), daily_max_age(ctx), []
    client = ctx.client("backup")
    for resource in inputs.inventory.resources:
        jobs = client.list_backup_jobs(ByResourceArn=resource.arn, ByBackupVaultName=ctx.stack.vault_name)["BackupJobs"]
        done = [j["CompletionDate"] for j in jobs if j.get("State") == "COMPLETED" and j.get("CompletionDate")]
        if not done:
            problems.append(f"{resource.name}: no completed backup job")
        elif now - max(done) > limit:
            problems.append(f"{resource.name}: last success {duration(now - max(done))} ago (limit {duration(limit)})")
        latest = max(jobs, key=lambda j: j["CreationDate"], default=None)
        if latest is not None and latest.get("State") in ("FAILED", "ABORTED", "EXPIRED"):
            problems.append(f"{resource.name}: latest job {latest['State']}")
    return (not problems, "; ".join(problems) or
            f"{len(inputs.inventory.resources)} resources backed up within {duration(limit)}")


def _alarms(ctx: Context, _: GoLiveInputs) -> Result:
    alarms = [a for page in ctx.client("cloudwatch").get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=f"{ctx.stack.prefix}-") for a in page["MetricAlarms"]]
    if not alarms:
        return False, f"no CloudWatch alarm named {ctx.stack.prefix}-*"
    firing = sorted(a["AlarmName"] for a in alarms if a["StateValue"] == "ALARM")
    return (not firing, f"in ALARM: {', '.join(firing)}" if firing else f"{len(alarms)} alarms, none in ALARM")


def _pagerduty(ctx: Context, _: GoLiveInputs) -> Result:
    sns = ctx.client("sns")
    topics = [t["TopicArn"] for page in sns.get_paginator("list_topics").paginate() for t in page["Topics"]
              if t["TopicArn"].rsplit(":", 1)[-1].startswith(f"{ctx.stack.prefix}-")]
    subscriptions = [s for topic in topics for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
                     if "pagerduty.com" in s.get("Endpoint", "")]
    confirmed = [s for s in subscriptions if s["SubscriptionArn"].startswith("arn:")]
    if confirmed:
        return True, f"confirmed: {confirmed[0]['SubscriptionArn']}"
    if subscriptions:
        return False, "PagerDuty subscription pending confirmation"
    return False, f"no PagerDuty subscription on an SNS topic named {ctx.stack.prefix}-*"


def _waf(ctx: Context, _: GoLiveInputs) -> Result:
    cloudfront = ctx.client("cloudfront", "us-east-1")
    wanted = {"Project": ctx.stack.config.standard_tags["Project"], "Environment": ctx.stack.config.environment.name}
    found = []
    for page in cloudfront.get_paginator("list_distributions").paginate():
        for item in page["DistributionList"].get("Items", []):
            tags = cloudfront.list_tags_for_resource(Resource=item["ARN"])["Tags"].get("Items", [])
            if {t["Key"]: t.get("Value") for t in tags}.items() >= wanted.items():
                found.append(item)
    if not found:
        return False, "no CloudFront distribution tagged with the stack's Project/Environment"
    bare = [d["Id"] for d in found if not d.get("WebACLId")]
    return (not bare, f"no WAF web ACL on {', '.join(bare)}" if bare else
            f"{len(found)} distribution(s) behind a WAF web ACL")


def _cloudtrail(ctx: Context, _: GoLiveInputs) -> Result:
    client = ctx.client("cloudtrail")
    trails = [t for t in client.describe_trails(includeShadowTrails=True)["trailList"] if t.get("IsMultiRegionTrail")]
    logging = [t["Name"] for t in trails if client.get_trail_status(Name=t["TrailARN"]).get("IsLogging")]
    return (bool(logging), f"multi-region trail logging: {', '.join(logging)}" if logging
            else "no multi-region CloudTrail trail is logging")


def _guardduty(ctx: Context, _: GoLiveInputs) -> Result:
    client = ctx.client("guardduty")
    detectors = client.list_detectors()["DetectorIds"]
    enabled = [d for d in detectors if client.get_detector(DetectorId=d)["Status"] == "ENABLED"]
    return (bool(enabled), f"detector {enabled[0]} enabled in {ctx.stack.primary_region}" if enabled
            else f"no enabled GuardDuty detector in {ctx.stack.primary_region}")


def _budgets(ctx: Context, _: GoLiveInputs) -> Result:
    budgets = ctx.client("budgets", "us-east-1").describe_budgets(AccountId=ctx.stack.account_id).get("Budgets", [])
    return (bool(budgets), f"{len(budgets)} budget(s): {', '.join(b['BudgetName'] for b in budgets)}" if budgets
            else "no AWS Budgets budget in the account")


def _drill(max_age: timedelta) -> Check:
    def check(ctx: Context, inputs: GoLiveInputs) -> Result:
        record = latest_record(inputs.drills_dir, ctx.stack.name, "dr-drill")
        if record is None:
            return False, f"no dr-drill record for {ctx.stack.name} in {inputs.drills_dir}"
        age = ctx.clock.now() - record.started_at
        problems = [f"{record.path.name} is {duration(age)} old (limit {duration(max_age)})"] if age > max_age else []
        if record.result != "pass":
            problems.append(f"{record.path.name} failed")
        if record.rto_seconds is None or record.rto_seconds >= RTO_TARGET.total_seconds():
            problems.append(f"RTO {record.rto_seconds} s not under {RTO_TARGET.total_seconds():.0f} s")
        if record.rpo_seconds is None or record.rpo_seconds >= RPO_TARGET.total_seconds():
            problems.append(f"RPO {record.rpo_seconds} s not under {RPO_TARGET.total_seconds():.0f} s")
        return (not problems, "; ".join(problems) or
                f"{record.path.name}: RTO {duration(record.rto_seconds or 0)}, RPO {duration(record.rpo_seconds or 0)}")
    return check


def _failover(ctx: Context, inputs: GoLiveInputs) -> Result:
    record = latest_record(inputs.drills_dir, ctx.stack.name, "failover-drill")
    if record is None:
        return False, f"no failover-drill record for {ctx.stack.name} in {inputs.drills_dir}"
    age = ctx.clock.now() - record.started_at
    ok = record.result == "pass" and age <= DRILL_MAX_AGE
    return ok, f"{record.path.name}: {record.result}, {duration(age)} old (limit {duration(DRILL_MAX_AGE)})"


ITEMS: tuple[Item, ...] = (
    Item("services-healthy", "Infrastructure", "All services deployed and healthy"),
    Item("rds-ha", "Infrastructure", "Databases Multi-AZ with deletion protection", _rds_ha),
    Item("backups", "Infrastructure", "Latest backup of every stateful resource succeeded within a day", _backups),
    Item("autoscaling", "Infrastructure", "Auto-scaling verified (`python -m ops capacity --stack prod`, a load test)"),
    Item("db-failover", "Infrastructure", "Database failover tested (failover drill within 90 days)", _failover),
    Item("cdn", "Infrastructure", "CDN configured and tested"),
    Item("waf", "Infrastructure", "WAF rules active on the CDN distribution", _waf),
    Item("ddos", "Infrastructure", "DDoS protection enabled (Shield Advanced where configured)"),
    Item("dashboards", "Monitoring", "All dashboards operational"),
    Item("alarms", "Monitoring", "All alerts configured, none in ALARM", _alarms),
    Item("pagerduty", "Monitoring", "PagerDuty subscription confirmed", _pagerduty),
    Item("on-call", "Monitoring", "On-call rotation active"),
    Item("incident-response", "Monitoring", "Incident response tested ([incident response](incident-response.md))"),
    Item("status-page", "Monitoring", "Status page live"),
    Item("cloudtrail", "Security", "CloudTrail logging in every region", _cloudtrail),
    Item("guardduty", "Security", "GuardDuty enabled", _guardduty),
    Item("pentest", "Security", "Penetration test passed"),
    Item("security-controls", "Security", "Security controls verified (policy pack: zero mandatory violations)"),
    Item("hipaa", "Security", "HIPAA compliance confirmed (BAA with AWS signed)"),
    Item("access-controls", "Security", "Access controls validated"),
    Item("dr-drill", "Operations", "DR drill within 90 days with RTO < 4 h and RPO < 1 h", _drill(DRILL_MAX_AGE)),
    Item("dr-drill-launch", "Operations", "DR tested within 30 days before launch", _drill(LAUNCH_DRILL_MAX_AGE)),
    Item("budgets", "Operations", "Budgets set", _budgets),
    Item("runbooks", "Operations", "Runbooks complete ([runbooks](runbooks/README.md))"),
    Item("support-training", "Operations", "Support team trained"),
    Item("escalation", "Operations", "Escalation paths documented ([incident response](incident-response.md))"),
    Item("communication-channels", "Operations", "Communication channels ready"),
    Item("customer-onboarding", "Business", "Customer onboarding ready"),
    Item("support-channels", "Business", "Support channels live"),
    Item("documentation", "Business", "Documentation published"),
    Item("sla", "Business", "SLA terms defined"),
    Item("launch-communication", "Business", "Launch communication sent"),
)


def run_checks(ctx: Context, inputs: GoLiveInputs) -> tuple[Report, dict[str, Result]]:
    report = Report("golive", ctx.stack.name, "Go-live readiness")
    results: dict[str, Result] = {}
    for item in ITEMS:
        if item.check is None:
            continue
        try:
            results[item.key] = item.check(ctx, inputs)
        except (ClientError, BotoCoreError, RecordError, KeyError, IndexError) as exc:
            results[item.key] = (False, f"could not check: {exc}")
        ok, detail = results[item.key]
        report.add(item.key, item.text, ok, detail)
    report.facts["Manual items left open"] = str(sum(1 for i in ITEMS if i.check is None))
    return report, results


def checklist_markdown(results: dict[str, Result] | None = None, stack: str | None = None) -> str:
    """The checklist: machine items ticked from ``results`` (unticked with the reason when failed), manual items open.

    Without results it is the template committed as ``docs/go-live-checklist.md``.
    """
    title = f"Go-live checklist: {stack}" if stack else "Go-live checklist"
    lines = [f"# {title}", "",
             "<!-- Generated from ops/golive.py ITEMS by `python -m ops checklist --write`; do not edit. -->", "",
             "Items marked *machine* are checked against the live account by "
             "`python -m ops golive --stack <stack> --checklist FILE`, which writes this list with them ticked; "
             "the others are confirmed by people and stay unchecked until they are.", ""]
    section = None
    for item in ITEMS:
        if item.section != section:
            section = item.section
            lines += ["", f"## {section}", ""] if lines[-1] else [f"## {section}", ""]
        if item.check is None:
            lines.append(f"- [ ] {item.text}")
            continue
        result: Any = (results or {}).get(item.key)
        if result is None:
            lines.append(f"- [ ] {item.text} *machine* `{item.key}`")
        else:
            ok, detail = result
            lines.append(f"- [{'x' if ok else ' '}] {item.text} *machine* `{item.key}`: {detail}")
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"

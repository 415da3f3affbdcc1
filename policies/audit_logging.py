"""Logging and audit trails: HIPAA 164.312(b) audit controls, 164.308(a)(1)(ii)(D) activity review.

(Named audit_logging, not logging, so it does not shadow the standard library's logging module.)
"""

from __future__ import annotations

from common import (
    EKS_CLUSTER,
    K8S_PROMETHEUS_RULE,
    LOG_GROUP,
    MSK,
    RDS_CLUSTER,
    RDS_INSTANCE,
    TRAIL,
    WEB_ACL_LOGGING,
    Report,
    Resource,
    Settings,
    as_int,
    as_list,
    is_false,
    is_true,
    is_unknown,
    min_days,
    policies_of,
    resource_policy,
)

AUDIT = "164.312(b)"
REVIEW = "164.308(a)(1)(ii)(D)"

EKS_LOG_TYPES: tuple[str, ...] = ("api", "audit", "authenticator", "controllerManager", "scheduler")


def eks_control_plane_logs(r: Resource, report: Report, _: Settings) -> None:
    enabled = as_list(r.get("enabledClusterLogTypes"))
    if is_unknown(enabled):
        return
    missing = [t for t in EKS_LOG_TYPES if t not in enabled]
    if missing:
        report(f"enabledClusterLogTypes is missing {', '.join(missing)}: every API call to the cluster must be "
               f"auditable. Set enabledClusterLogTypes={list(EKS_LOG_TYPES)} in components/eks/control_plane.py.")


resource_policy(
    "eks-control-plane-logs", concern="logging", citation=AUDIT, types=(EKS_CLUSTER,),
    description="EKS sends all five control-plane log types (api, audit, authenticator, controllerManager, "
                "scheduler) to CloudWatch.",
)(eks_control_plane_logs)


def rds_log_exports(r: Resource, report: Report, _: Settings) -> None:
    engine = r.get("engine")
    if engine is not None and (is_unknown(engine) or not str(engine).startswith(("postgres", "aurora-postgresql"))):
        return
    exports = as_list(r.get("enabledCloudwatchLogsExports"))
    if is_unknown(exports):
        return
    if "postgresql" not in exports:
        report("enabledCloudwatchLogsExports does not include \"postgresql\": connection and statement logs "
               "(the database's audit trail) would stay on the instance. Set "
               "enabledCloudwatchLogsExports=['postgresql', 'upgrade'] in components/database.py.")


resource_policy(
    "rds-log-exports", concern="logging", citation=AUDIT, types=(RDS_INSTANCE, RDS_CLUSTER),
    description="PostgreSQL databases (replicas included) export their logs to CloudWatch.",
)(rds_log_exports)


def msk_broker_logs(r: Resource, report: Report, _: Settings) -> None:
    logs = r.get("loggingInfo.brokerLogs")
    if is_unknown(logs):
        return
    for sink in ("cloudwatchLogs", "s3", "firehose"):
        settings = (logs or {}).get(sink)
        if is_unknown(settings):
            return
        enabled = settings.get("enabled") if isinstance(settings, dict) else None
        if is_unknown(enabled) or is_true(enabled):
            return
    report("loggingInfo.brokerLogs enables no destination: broker connection and authorization events would "
           "be lost. Set loggingInfo.brokerLogs.cloudwatchLogs={enabled: True, logGroup: <KMS-encrypted group>}.")


resource_policy(
    "msk-broker-logs", concern="logging", citation=AUDIT, types=(MSK,),
    description="MSK delivers broker logs (CloudWatch Logs, S3 or Firehose).",
)(msk_broker_logs)


#: Headers whose values carry credentials: WAF logs must redact them.
REDACTED_HEADERS = ("authorization", "cookie")


def waf_log_redaction(r: Resource, report: Report, _: Settings) -> None:
    fields = as_list(r.get("redactedFields"))
    if is_unknown(fields):
        return
    redacted = {str((f.get("singleHeader") or {}).get("name", "")).lower() for f in fields if isinstance(f, dict)}
    missing = [h for h in REDACTED_HEADERS if h not in redacted]
    if missing:
        report(f"redactedFields does not redact the {', '.join(missing)} header(s): WAF request logs of a PHI API "
               "would hold credentials. Add redactedFields=[{singleHeader: {name: 'authorization'}}, "
               "{singleHeader: {name: 'cookie'}}] (components/edge_waf.py).")


resource_policy(
    "waf-log-redaction", concern="logging", citation=AUDIT, types=(WEB_ACL_LOGGING,),
    description="WAF logging redacts the authorization and cookie headers.",
)(waf_log_redaction)


def cloudtrail_log_validation(r: Resource, report: Report, _: Settings) -> None:
    validation = r.get("enableLogFileValidation")
    if not is_unknown(validation) and not is_true(validation):
        report("enableLogFileValidation is not true: tampering with the audit trail could not be detected. "
               "Set enableLogFileValidation=True on the trail.")
    multi = r.get("isMultiRegionTrail")
    if not is_unknown(multi) and not is_true(multi):
        report("isMultiRegionTrail is not true: API calls in the DR and edge regions would not be recorded. "
               "Set isMultiRegionTrail=True.")
    if is_false(r.get("enableLogging")):
        report("enableLogging is false: the trail records nothing. Remove enableLogging=False.")


resource_policy(
    "cloudtrail-log-validation", concern="logging", citation=AUDIT, types=(TRAIL,),
    description="CloudTrail is on, multi-region, and writes digest files for log-file validation.",
)(cloudtrail_log_validation)


def log_group_retention(r: Resource, report: Report, cfg: Settings) -> None:
    needed = cfg["minRetentionDays"]
    days = as_int(r.get("retentionInDays"))
    if days is None or days == 0:
        return  # never expire
    if days < needed:
        report(f"retentionInDays is {days}; this stack requires at least {needed}. "
               f"Set observability.logRetentionDays (network.flowLogs.retentionDays for flow logs) to {needed} "
               "or more in Pulumi.<stack>.yaml.")


resource_policy(
    "log-group-retention", concern="logging", citation=REVIEW, types=(LOG_GROUP,),
    config=min_days(365, "CloudWatch logs"),
    description="CloudWatch log groups keep logs at least the stack's minimum number of days.",
)(log_group_retention)


ALERT_SEVERITIES: tuple[str, ...] = ("P1", "P2", "P3", "P4")


def prometheus_rule_alert_runbook(r: Resource, report: Report, _: Settings) -> None:
    groups = as_list(r.get("spec.groups"))
    if is_unknown(groups):
        return
    for group in groups:
        rules = as_list(group.get("rules")) if isinstance(group, dict) else []
        for rule in rules if not is_unknown(rules) else []:
            if not isinstance(rule, dict) or not isinstance(rule.get("alert"), str):
                continue  # a recording rule
            alert = rule["alert"]
            severity = (rule.get("labels") or {}).get("severity")
            runbook = (rule.get("annotations") or {}).get("runbook_url")
            if is_unknown(severity) or is_unknown(runbook):
                continue
            if severity not in ALERT_SEVERITIES:
                report(f"alert {alert} has severity {severity!r}: every alert needs a severity label P1, P2, P3 or "
                       "P4, which Alertmanager routes on (P1/P2 page, P3/P4 ticket). Generate rules with "
                       "components.alerting.rules.")
            if not isinstance(runbook, str) or not runbook.endswith(f"/{alert}.md"):
                report(f"alert {alert} has runbook_url {runbook!r}: every alert needs a runbook_url annotation to "
                       f"<alerting.runbookBaseUrl>/{alert}.md, a page of docs/runbooks/alerts/ that on-call opens "
                       "from the page.")


resource_policy(
    "prometheus-rule-alert-runbook", concern="logging", citation=REVIEW, types=(K8S_PROMETHEUS_RULE,),
    description="Every PrometheusRule alert has a P1-P4 severity label and a runbook_url to its runbook page.",
)(prometheus_rule_alert_runbook)


POLICIES = policies_of(__name__)

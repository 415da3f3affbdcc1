# ruff: noqa: E501  (the expected messages are asserted verbatim)
"""The resource policies added for AWS's HIPAA conformance pack (policies/conformance_rules.py): a compliant
case, violating cases with their exact messages, and unknown values that must not be reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.policies.support import DROP, REGISTRY, U, check, edit
from tests.policies.wire import BACKUP_PLAN, KMS_KEY, RDS_PRIMARY

ROLE_POLICY_T, POLICY_T = "aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"
RDS_T, PLAN_T, KEY_T = "aws:rds/instance:Instance", "aws:backup/plan:Plan", "aws:kms/key:Key"
ALARM_T = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "arn:aws:sns:us-east-2:333333333333:care-prod-alerts"


def document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_iam_no_inline_policy() -> None:
    assert check("iam-no-inline-policy", ROLE_POLICY_T, {"role": "r", "policy": document()}) == [
        "an inline IAM policy: permissions must be customer-managed policies (aws.iam.Policy attached with "
        "RolePolicyAttachment) so they are versioned, reusable and visible to Access Analyzer. Use "
        "components.common.managed_role_policy."]
    assert check("iam-no-inline-policy", POLICY_T, {"policy": document()}) == []


def test_iam_policy_statements() -> None:
    scoped = document({"Sid": "Read", "Effect": "Allow", "Action": ["kms:Decrypt"],
                       "Resource": "arn:aws:kms:us-east-2:333333333333:key/k"})
    assert check("iam-policy-statements", POLICY_T, {"policy": scoped}) == []
    admin = document({"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "*"})
    assert check("iam-policy-statements", POLICY_T, {"policy": admin}) == [
        "statement All allows Action '*' on Resource '*': administrator access. Grant the actions the role needs on its own resources."]
    full = document({"Effect": "Allow", "Action": ["s3:*", "s3:GetObject"], "Resource": "arn:aws:s3:::b/*"})
    assert check("iam-policy-statements", ROLE_POLICY_T, {"policy": full}) == [
        "statement (no Sid) allows s3:*: full access to a service. List the actions the role needs."]
    kms = document({"Sid": "Keys", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:ReEncrypt*"], "Resource": "*"})
    assert check("iam-policy-statements", POLICY_T, {"policy": kms}) == [
        "statement Keys allows kms:Decrypt, kms:ReEncrypt* on every KMS key (Resource '*'): name the keys the role may use."]
    denied = document({"Effect": "Deny", "Action": "*", "Resource": "*"})
    assert check("iam-policy-statements", POLICY_T, {"policy": denied}) == []
    assert check("iam-policy-statements", POLICY_T, {"policy": U}) == []
    # A permissions boundary (a ceiling, never a grant) named in permissionBoundaryPolicies is exempt from the
    # admin-access check only; another name with the same document is not.
    assert check("iam-policy-statements", POLICY_T, {"policy": admin, "name": "care-prod-ci-boundary"}) == []
    assert len(check("iam-policy-statements", POLICY_T, {"policy": admin, "name": "care-prod-ci-deploy"})) == 1
    assert check("iam-policy-statements", POLICY_T, {"policy": admin, "name": "care-prod-ci-boundary"},
                 config={"permissionBoundaryPolicies": []}) == [
        "statement All allows Action '*' on Resource '*': administrator access. Grant the actions the role needs on its own resources."]
    assert check("iam-policy-statements", POLICY_T, {"policy": full, "name": "care-prod-ci-boundary"}) == [
        "statement (no Sid) allows s3:*: full access to a service. List the actions the role needs."]


def test_rds_auto_minor_upgrade() -> None:
    assert check("rds-auto-minor-upgrade", RDS_T, RDS_PRIMARY) == []
    assert check("rds-auto-minor-upgrade", RDS_T, edit(RDS_PRIMARY, autoMinorVersionUpgrade=DROP)) == []
    assert check("rds-auto-minor-upgrade", RDS_T, edit(RDS_PRIMARY, autoMinorVersionUpgrade=False)) == [
        "autoMinorVersionUpgrade is false: security patches of the engine would wait for someone to apply them. "
        "Remove autoMinorVersionUpgrade=False (components/database.py)."]


def test_rds_enhanced_monitoring() -> None:
    monitored = edit(RDS_PRIMARY, monitoringInterval=60, monitoringRoleArn="arn:aws:iam::333333333333:role/rds-mon")
    assert check("rds-enhanced-monitoring", RDS_T, monitored) == []
    assert check("rds-enhanced-monitoring", RDS_T, edit(monitored, monitoringInterval=0)) == [
        "monitoringInterval is 0 or unset: enhanced monitoring (OS metrics of the host) is off. Set "
        "database.<db>.monitoringIntervalSeconds to 1, 5, 10, 15, 30 or 60."]
    assert check("rds-enhanced-monitoring", RDS_T, edit(monitored, monitoringRoleArn=DROP)) == [
        "monitoringRoleArn is not set: RDS cannot publish enhanced monitoring without its role."]
    assert check("rds-enhanced-monitoring", RDS_T, edit(monitored, monitoringInterval=U)) == []


@pytest.mark.parametrize(("schedule", "daily"), [
    ("cron(0 8 ? * * *)", True), ("cron(0 */4 * * ? *)", True), ("rate(12 hours)", True), ("rate(1 day)", True),
    ("cron(0 8 ? * SUN *)", False), ("cron(0 8 1 * ? *)", False), ("rate(2 days)", False), ("rate(25 hours)", False),
])
def test_backup_plan_min_frequency(schedule: str, daily: bool) -> None:
    plan = edit(BACKUP_PLAN)
    plan["rules"][0]["schedule"] = schedule
    expected = [] if daily else [
        f"rule {plan['rules'][0]['ruleName']!r} runs on {schedule!r}: recovery points must be taken at least daily. "
        "Use a schedule like cron(0 5 ? * * *) (backup.schedule)."]
    assert check("backup-plan-min-frequency", PLAN_T, plan) == expected


def test_backup_plan_min_frequency_skips_unknown_schedules() -> None:
    plan = edit(BACKUP_PLAN)
    plan["rules"][0]["schedule"] = U
    assert check("backup-plan-min-frequency", PLAN_T, plan) == []


def test_kms_deletion_window() -> None:
    assert check("kms-deletion-window", KEY_T, edit(KMS_KEY, deletionWindowInDays=30)) == []
    assert check("kms-deletion-window", KEY_T, edit(KMS_KEY, deletionWindowInDays=DROP)) == []
    assert check("kms-deletion-window", KEY_T, edit(KMS_KEY, deletionWindowInDays=7)) == [
        "deletionWindowInDays is 7: a key scheduled for deletion must stay recoverable for at least 30 days. "
        "Set encryption.deletionWindowDays."]
    assert check("kms-deletion-window", KEY_T, edit(KMS_KEY, deletionWindowInDays=7),
                 config={"minDeletionWindowDays": 7}) == []


def test_cloudwatch_alarm_actions() -> None:
    alarm = {"alarmName": "a", "alarmActions": [TOPIC], "insufficientDataActions": [TOPIC]}
    assert check("cloudwatch-alarm-actions", ALARM_T, alarm) == []
    assert check("cloudwatch-alarm-actions", ALARM_T, edit(alarm, alarmActions=DROP, insufficientDataActions=[])) == [
        "alarmActions is empty: the alarm must notify the alert topic when it fires.",
        "insufficientDataActions is empty: the alarm must notify the alert topic when it fires and when its data stops."]
    assert check("cloudwatch-alarm-actions", ALARM_T, edit(alarm, insufficientDataActions=DROP),
                 config={"insufficientDataActionRequired": False}) == []
    assert check("cloudwatch-alarm-actions", ALARM_T, edit(alarm, actionsEnabled=False)) == [
        "actionsEnabled is false: the alarm would notify no one."]


def test_every_conformance_resource_policy_has_compliant_and_violating_cases_here() -> None:
    source = Path(__file__).read_text()
    names = [n for n, i in REGISTRY.items() if i.module.endswith("conformance_rules") and i.kind == "resource"]
    assert len(names) == 8
    # every test above asserts one compliant ([]) and at least one violating case with its exact message
    assert {n for n in names if source.count(f'check("{n}"') < 2} == set()


def test_acm_dns_validation() -> None:
    cert = "aws:acm/certificate:Certificate"
    assert check("acm-dns-validation", cert, {"domainName": "care.example", "validationMethod": "DNS"}) == []
    assert check("acm-dns-validation", cert, {"domainName": "care.example", "validationMethod": "EMAIL"}) == [
        "validationMethod is 'EMAIL': ACM renews a certificate automatically only when it is DNS-validated. Set validationMethod='DNS' and keep the validation CNAME in DNS (components/edge.py)."]
    assert check("acm-dns-validation", cert, {"certificateBody": "-----BEGIN", "privateKey": "k"}) == [
        "an imported certificate: ACM never renews it, so it expires unnoticed. Request it from ACM with validationMethod='DNS' (components/edge.py)."]
    assert check("acm-dns-validation", cert, {"domainName": "care.example", "validationMethod": U}) == []

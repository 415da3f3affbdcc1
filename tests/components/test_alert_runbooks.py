"""Every alert (Prometheus rule or CloudWatch alarm) has its runbook page, with Impact, Diagnosis (commands or
queries in a code block), Mitigation and Escalation; and every page belongs to an alert."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.alerting.cloudwatch import CLOUDWATCH_ALERTS
from components.alerting.rules import alert_names, rule_groups
from tests.helpers import rendered_stack, stack_config

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "docs" / "runbooks" / "alerts"
SECTIONS = ("## Impact", "## Diagnosis", "## Mitigation", "## Escalation")


def prometheus_alerts() -> set[str]:
    return alert_names(rule_groups(stack_config("prod").alerting,
                                   {"nlfhir": "nlfhir", "prm-api": "prm", "prm-worker": "prm"}))


def all_alerts() -> set[str]:
    return prometheus_alerts() | set(CLOUDWATCH_ALERTS)


def pages(directory: Path = PAGES) -> set[str]:
    return {p.stem for p in directory.glob("*.md") if p.name != "README.md"}


def test_every_alert_has_a_page():
    missing = sorted(all_alerts() - pages())
    assert missing == [], f"alerts without docs/runbooks/alerts/<alert>.md: {missing}"


def test_every_page_belongs_to_an_alert():
    orphans = sorted(pages() - all_alerts())
    assert orphans == [], f"runbook pages no alert uses: {orphans}"
    assert len(pages()) == 35


@pytest.mark.parametrize("alert", sorted(all_alerts()))
def test_page_has_the_four_sections_and_exact_diagnosis(alert):
    text = (PAGES / f"{alert}.md").read_text()
    assert text.startswith(f"# {alert}\n")
    positions = [text.find(s + "\n") for s in SECTIONS]
    assert -1 not in positions and positions == sorted(positions), f"{alert}: sections {SECTIONS} in this order"
    diagnosis = text[positions[1]:positions[2]]
    assert re.search(r"```(promql|sh)\n.+?\n```", diagnosis, re.S), f"{alert}: Diagnosis needs a query or command"
    assert re.search(r"Severity \*\*P[1-4]\*\*", text)


def test_the_page_names_the_severity_the_alert_has():
    severities = {r["alert"]: r["labels"]["severity"]
                  for groups in rule_groups(stack_config("prod").alerting,
                                            {"nlfhir": "nlfhir", "prm-api": "prm", "prm-worker": "prm"}).values()
                  for g in groups for r in g["rules"] if "alert" in r}
    plan = rendered_stack("prod")
    for alarm in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        severities[alarm.inputs["tags"]["Alert"]] = alarm.inputs["tags"]["Severity"]
    severities["BackupJobFailed"] = plan.named("care-prod-alarms-BackupJobFailed").inputs["tags"]["Severity"]
    for alert, severity in severities.items():
        assert f"Severity **{severity}**" in (PAGES / f"{alert}.md").read_text(), alert


def test_a_missing_page_would_be_caught(tmp_path):
    for page in PAGES.glob("*.md"):
        if page.stem != "ClusterOutage":
            (tmp_path / page.name).write_text(page.read_text())
    (tmp_path / "OldAlert.md").write_text("# OldAlert\n")
    assert sorted(all_alerts() - pages(tmp_path)) == ["ClusterOutage"]
    assert sorted(pages(tmp_path) - all_alerts()) == ["OldAlert"]

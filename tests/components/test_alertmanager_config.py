"""The generated Alertmanager configuration, proven with amtool: `amtool check-config` passes and
`amtool config routes test` sends each severity to its receiver; the routing key is only ever a placeholder."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.alerting.alertmanager import (
    ROUTING_KEY_PLACEHOLDER,
    alertmanager_config,
    alertmanager_template,
    eso_actions,
    rendered,
)
from tests import external_tools
from tests.helpers import stack_config

ROUTING_KEY = "0123456789abcdef0123456789abcdef"  # a fake 32-character Events API v2 routing key


@pytest.fixture(scope="module")
def alerting():
    return stack_config("prod").alerting


@pytest.fixture(scope="module")
def config_file(alerting, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("alertmanager") / "alertmanager.yaml"
    path.write_text(rendered(alerting, ROUTING_KEY))
    return path


def test_amtool_check_config(config_file):
    result = external_tools.run("amtool", "check-config", config_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert " - 2 inhibit rules\n - 3 receivers\n" in result.stdout


def test_a_broken_config_fails_amtool(alerting, tmp_path):
    broken = alertmanager_config(alerting)
    broken["route"]["routes"][0]["receiver"] = "pager-duty"  # no such receiver
    path = tmp_path / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(broken))
    result = external_tools.run("amtool", "check-config", path)
    assert result.returncode == 1
    assert 'undefined receiver "pager-duty" used in route' in result.stdout + result.stderr


@pytest.mark.parametrize("labels, receiver", [
    (["severity=P1", "alertname=ErrorBudgetBurnCritical", "service=prm-api", "namespace=prm"], "pagerduty-p1"),
    (["severity=P2", "alertname=ErrorBudgetBurnHigh", "service=prm-api", "namespace=prm"], "pagerduty-p2"),
    (["severity=P3", "alertname=ErrorBudgetBurnModerate", "service=nlfhir", "namespace=nlfhir"], "ticket"),
    (["severity=P4", "alertname=ErrorBudgetBurnSlow", "service=nlfhir", "namespace=nlfhir"], "ticket"),
    (["severity=P1", "alertname=ClusterOutage", "scope=cluster"], "pagerduty-p1"),
    # A severity nobody defined still reaches a human (the ticket receiver), it is never dropped.
    (["severity=critical", "alertname=Watchdog"], "ticket"),
])
def test_amtool_routes_each_severity(config_file, labels, receiver):
    result = external_tools.run("amtool", "config", "routes", "test", f"--config.file={config_file}",
                                f"--verify.receivers={receiver}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def test_amtool_verify_detects_a_wrong_receiver(config_file):
    result = external_tools.run("amtool", "config", "routes", "test", f"--config.file={config_file}",
                                "--verify.receivers=ticket", "severity=P1")
    assert result.returncode == 1
    assert "WARNING: Expected receivers did not match resolved receivers." in result.stdout + result.stderr


def test_grouping_inhibitions_and_pagerduty(alerting):
    am = alertmanager_config(alerting)
    assert am["route"]["group_by"] == ["alertname", "service", "namespace"]
    assert am["inhibit_rules"] == [
        {"source_matchers": ['severity="P1"', 'scope="service"'],
         "target_matchers": ['severity=~"P2|P3|P4"', 'scope="service"'], "equal": ["namespace", "service"]},
        {"source_matchers": ['alertname="ClusterOutage"', 'scope="cluster"'],
         "target_matchers": ['scope=~"service|workload"']},
    ]
    receivers = {r["name"]: r for r in am["receivers"]}
    (p1,) = receivers["pagerduty-p1"]["pagerduty_configs"]
    assert (p1["routing_key"], p1["severity"], p1["send_resolved"]) == (ROUTING_KEY_PLACEHOLDER, "critical", True)
    assert receivers["pagerduty-p2"]["pagerduty_configs"][0]["severity"] == "error"
    assert receivers["ticket"]["webhook_configs"] == [
        {"url": "http://alert-tickets.monitoring.svc.cluster.local:8080/alertmanager", "send_resolved": True}]


def test_the_template_holds_no_key_and_only_escaped_alertmanager_actions(alerting):
    text = alertmanager_template(alerting)
    assert text.count("routing_key: '{{ .pagerdutyRoutingKey }}'") == 2
    assert ROUTING_KEY not in text
    # ESO executes the placeholder and prints the raw-string literals; nothing else is an ESO action.
    assert sorted(set(eso_actions(text))) == sorted({
        "{{ .pagerdutyRoutingKey }}",
        "{{ `{{ .CommonLabels.product }}` }}", "{{ `{{ .CommonLabels.service }}` }}",
        "{{ `{{ .CommonLabels.namespace }}` }}", "{{ `{{ .CommonAnnotations.runbook_url }}` }}",
        '{{ `{{ template "pagerduty.default.instances" .Alerts.Firing }}` }}',
        '{{ `{{ template "pagerduty.default.instances" .Alerts.Resolved }}` }}',
        "{{ `{{ .Alerts.Firing | len }}` }}", "{{ `{{ .Alerts.Resolved | len }}` }}"})


def test_pagerduty_events_carry_the_product_oncall_routes_on(config_file):
    """oncall/'s event orchestration routes on custom_details.service (nlfhir, prm; anything else: platform)."""
    am = yaml.safe_load(config_file.read_text())
    p1 = next(r for r in am["receivers"] if r["name"] == "pagerduty-p1")["pagerduty_configs"][0]
    assert p1["routing_key"] == ROUTING_KEY
    assert p1["details"]["service"] == "{{ .CommonLabels.product }}"
    assert p1["links"] == [{"href": "{{ .CommonAnnotations.runbook_url }}", "text": "runbook"}]


def test_rendering_refuses_an_unknown_eso_action(alerting, monkeypatch):
    from components.alerting import alertmanager

    monkeypatch.setattr(alertmanager, "alertmanager_template", lambda config: "a: '{{ .other }}'\n")
    with pytest.raises(ValueError, match=r"ESO template actions other than the routing key and literals: "
                                         r"\['\{\{ \.other \}\}'\]"):
        rendered(alerting, ROUTING_KEY)

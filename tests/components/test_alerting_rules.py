"""The generated Prometheus rules, proven with promtool: they pass `promtool check rules`, and `promtool test rules`
shows that a total outage pages P1 within 5 minutes (the MTTD guarantee), a 2x slow burn raises only the slow-burn
ticket, and a healthy service raises nothing. The recording rules other tools query exist with the exact values."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.alerting.rules import BURN_TIERS, alert_names, all_rules, recorded_names, rule_groups
from tests import external_tools
from tests.helpers import stack_config

RUNBOOKS = "https://github.com/care-platform/care-platform/blob/main/docs/runbooks/alerts"


def namespaces_of(stack: str = "prod") -> dict[str, str]:
    apps = stack_config(stack).apps
    return {"nlfhir": apps.nlfhir.namespace, "prm-api": apps.prm_api.namespace, "prm-worker": apps.prm_worker.namespace}


@pytest.fixture(scope="module")
def objects() -> dict[str, list[dict[str, Any]]]:
    return rule_groups(stack_config("prod").alerting, namespaces_of())


@pytest.fixture(scope="module")
def rules_file(objects, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [g for groups in objects.values() for g in groups]}, sort_keys=False))
    return path


def test_promtool_check_rules(rules_file):
    result = external_tools.run("promtool", "check", "rules", rules_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(all_rules(rule_groups(stack_config('prod').alerting, namespaces_of())))} rules found" \
        in result.stdout


def test_recording_rules_the_rollouts_query_exist_per_service(objects):
    by_service = {(r["record"], r["labels"]["service"]) for r in all_rules(objects) if "record" in r}
    for service in ("nlfhir", "prm-api"):
        assert ("service:request_errors:ratio_rate5m", service) in by_service
        assert ("service:request_latency_seconds:p99_5m", service) in by_service
    assert {f"service:request_errors:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")} \
        <= recorded_names(objects)
    # The worker serves no requests: saturation only.
    assert {r["record"] for r in all_rules(objects) if "record" in r and r["labels"]["service"] == "prm-worker"} == {
        "service:container_cpu_usage:ratio_limit5m", "service:container_memory_working_set:ratio_limit"}


def test_every_alert_has_severity_scope_and_runbook(objects):
    alerts = [r for r in all_rules(objects) if "alert" in r]
    assert len(alerts) == 33
    for alert in alerts:
        assert alert["labels"]["severity"] in ("P1", "P2", "P3", "P4"), alert["alert"]
        assert alert["labels"]["scope"] in ("service", "workload", "cluster"), alert["alert"]
        assert alert["annotations"]["runbook_url"] == f"{RUNBOOKS}/{alert['alert']}.md"


def test_burn_rate_tiers_exact(objects):
    prm = {r["alert"]: r for r in objects["slo-prm-api"][1]["rules"] if r["labels"].get("slo") == "availability"}
    assert {name: (r["labels"]["severity"], r["expr"]) for name, r in prm.items()} == {
        f"ErrorBudgetBurn{t.suffix}": (
            t.severity,
            f'service:request_errors:ratio_rate{t.long}{{namespace="prm",service="prm-api"}} > {t.factor * 0.001:.10g}'
            f'\nand\nservice:request_errors:ratio_rate{t.short}{{namespace="prm",service="prm-api"}} > '
            f"{t.factor * 0.001:.10g}")
        for t in BURN_TIERS}
    assert [(t.severity, t.factor, t.long, t.short) for t in BURN_TIERS] == [
        ("P1", 14.4, "1h", "5m"), ("P2", 6, "6h", "30m"), ("P3", 3, "1d", "2h"), ("P4", 1, "3d", "6h")]


def test_latency_tiers_that_cannot_fire_are_left_out(objects):
    latency = sorted((r["labels"]["service"], r["labels"]["slo"], r["alert"])
                     for groups in objects.values() for g in groups for r in g["rules"]
                     if r.get("alert", "").startswith("LatencyBudgetBurn"))
    # p50 (a 50 % budget): only the 1x tier is below 100 %; p95 and p99 keep all four.
    assert [a for a in latency if a[1] == "p50"] == [("prm-api", "p50", "LatencyBudgetBurnSlow")]
    assert len([a for a in latency if a[1] == "p99"]) == 4
    assert len([a for a in latency if a[0] == "nlfhir"]) == 4


# --- promtool test rules ------------------------------------------------------------------------------------
# Each scenario is one promtool test file; the module's fixture starts all of them at once (one promtool process
# each, in parallel) and every test below asserts on its own scenario's result.

PRM = 'namespace="prm",service="prm-api"'


def _series(name: str, values: str) -> dict[str, str]:
    return {"series": name, "values": values}


def _traffic(ok_per_min: int, errors_per_min: int, minutes: int, *, fast_share: float = 0.99) -> list[dict[str, str]]:
    """prm-api's counters, one sample a minute for ``minutes``: 2xx and 5xx requests and the latency histogram."""
    total = ok_per_min + errors_per_min
    return [
        _series(f'http_requests_total{{{PRM},status="2xx"}}', f"0+{ok_per_min}x{minutes}"),
        _series(f'http_requests_total{{{PRM},status="5xx"}}', f"0+{errors_per_min}x{minutes}"),
        _series(f'http_request_duration_seconds_bucket{{{PRM},le="0.1"}}', f"0+{int(total * 0.9)}x{minutes}"),
        _series(f'http_request_duration_seconds_bucket{{{PRM},le="0.5"}}', f"0+{int(total * fast_share)}x{minutes}"),
        _series(f'http_request_duration_seconds_bucket{{{PRM},le="1.0"}}', f"0+{total}x{minutes}"),
        _series(f'http_request_duration_seconds_bucket{{{PRM},le="+Inf"}}', f"0+{total}x{minutes}"),
        _series(f"http_request_duration_seconds_count{{{PRM}}}", f"0+{total}x{minutes}"),
    ]


def _expected(objects, alert: str, severity: str, slo: str, value: str) -> dict[str, Any]:
    """prm-api's ``alert`` as promtool must see it: exact labels, annotations with ``$value`` rendered as ``value``."""
    rule = next(r for r in objects["slo-prm-api"][1]["rules"] if r["alert"] == alert and r["labels"]["slo"] == slo)
    annotations = {k: v.replace("{{ $value | humanizePercentage }}", value) for k, v in rule["annotations"].items()}
    return {"exp_labels": {"severity": severity, "scope": "service", "service": "prm-api", "product": "prm",
                           "namespace": "prm", "slo": slo}, "exp_annotations": annotations}


def _none_but(objects, eval_time: str, firing: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """An alert_rule_test for every alert name: ``firing``'s expected alerts, nothing for all the others."""
    return [{"eval_time": eval_time, "alertname": name, "exp_alerts": firing.get(name, [])}
            for name in sorted(alert_names(objects))]


def _scenarios(objects) -> dict[str, dict[str, Any]]:
    outage_p1 = _expected(objects, "ErrorBudgetBurnCritical", "P1", "availability", "8.333%")
    return {
        # Healthy for 2 h, then every request fails from minute 121: P1 fires by minute 125 (MTTD <= 5 minutes).
        "outage": {
            "input_series": [
                _series(f'http_requests_total{{{PRM},status="2xx"}}', "0+600x120 72000x10"),
                # The 5xx series first appears with the outage (the instrumentator creates it on the first 5xx).
                _series(f'http_requests_total{{{PRM},status="5xx"}}', "_x120 0+600x10"),
            ],
            "alert_rule_test": [
                {"eval_time": "120m", "alertname": "ErrorBudgetBurnCritical", "exp_alerts": []},
                {"eval_time": "125m", "alertname": "ErrorBudgetBurnCritical", "exp_alerts": [outage_p1]},
            ],
            "promql_expr_test": [
                # Argo Rollouts' analysis queries this name: every request is failing.
                {"expr": 'service:request_errors:ratio_rate5m{service="prm-api"}', "eval_time": "125m",
                 "exp_samples": [{"labels": f"service:request_errors:ratio_rate5m{{{PRM}}}", "value": 1}]},
            ],
        },
        # 0.2 % errors (2x the 0.1 % budget) for 3 h: the 1x (P4) ticket fires, and nothing else (no P3: 2x < 3x).
        "slow-burn": {
            "input_series": _traffic(998, 2, 180),
            "alert_rule_test": _none_but(objects, "3h", {"ErrorBudgetBurnSlow": [
                _expected(objects, "ErrorBudgetBurnSlow", "P4", "availability", "0.2%")]}),
        },
        # 0.05 % errors, 90 % of requests under 100 ms and 99.5 % under 500 ms, for 3 h: silence.
        "healthy": {
            "input_series": _traffic(1999, 1, 180, fast_share=0.995),
            "alert_rule_test": [*_none_but(objects, "1h", {}), *_none_but(objects, "3h", {})],
            "promql_expr_test": [
                # The p99 lies in the (0.1, 0.5] bucket: 0.1 + 0.4 x (0.99 - 0.9) / (0.995 - 0.9) = 0.47894736842105...
                # (promtool compares the sample exactly: this is Prometheus's float, to its last digit).
                {"expr": 'service:request_latency_seconds:p99_5m{service="prm-api"}', "eval_time": "3h",
                 "exp_samples": [{"labels": f"service:request_latency_seconds:p99_5m{{{PRM}}}",
                                  "value": 0.478947368421052}]},
            ],
        },
        # 20 % of requests slower than 500 ms (20x the p99 objective's 1 % budget): the latency P1 pages.
        "slow-p99": {
            "input_series": _traffic(1000, 0, 90, fast_share=0.8),
            "alert_rule_test": [{"eval_time": "90m", "alertname": "LatencyBudgetBurnCritical",
                                 "exp_alerts": [_expected(objects, "LatencyBudgetBurnCritical", "P1", "p99", "20%")]}],
        },
    }


@pytest.fixture(scope="module")
def promtool_results(objects, rules_file) -> dict[str, subprocess.CompletedProcess[str]]:
    promtool = external_tools.require("promtool")
    # Without group_eval_order promtool evaluates the groups of one instant in map order, so an alert could read
    # the recording rules' previous minute (the outage's $value was 6.667 % instead of 8.333 % about one run in
    # six): the recording groups first, then the alerting groups, as the alerts' values assume.
    groups = [g for groups in objects.values() for g in groups]
    order = [g["name"] for g in groups if all("record" in r for r in g["rules"])]
    order += [g["name"] for g in groups if g["name"] not in order]
    running = {}
    for name, scenario in _scenarios(objects).items():
        path = rules_file.parent / f"{name}.test.yaml"
        path.write_text(yaml.safe_dump({"rule_files": [rules_file.name], "evaluation_interval": "1m",
                                        "group_eval_order": order,
                                        "tests": [{"interval": "1m", **scenario}]}, sort_keys=False))
        running[name] = subprocess.Popen([promtool, "test", "rules", path.name], cwd=rules_file.parent,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    results = {}
    for name, process in running.items():
        out, _ = process.communicate(timeout=300)
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, out, "")
    return results


@pytest.mark.parametrize("scenario", ["outage", "slow-burn", "healthy", "slow-p99"])
def test_promtool_scenario(promtool_results, scenario):
    """outage: P1 within 5 minutes; slow-burn: only the P4 ticket; healthy: nothing; slow-p99: the latency page."""
    result = promtool_results[scenario]
    assert result.returncode == 0, result.stdout[-4000:]
    assert result.stdout.strip().endswith("SUCCESS")


def test_a_wrong_expectation_fails(objects, rules_file):
    """The scenarios can fail: the same outage does not page at minute 121 (the 5xx series has one sample)."""
    scenario = _scenarios(objects)["outage"]
    scenario["alert_rule_test"] = [{"eval_time": "121m", "alertname": "ErrorBudgetBurnCritical",
                                    "exp_alerts": scenario["alert_rule_test"][1]["exp_alerts"]}]
    del scenario["promql_expr_test"]
    path = rules_file.parent / "wrong.test.yaml"
    path.write_text(yaml.safe_dump({"rule_files": [rules_file.name], "evaluation_interval": "1m",
                                    "tests": [{"interval": "1m", **scenario}]}, sort_keys=False))
    result = external_tools.run("promtool", "test", "rules", path.name, cwd=rules_file.parent)
    assert result.returncode == 1
    assert "alertname: ErrorBudgetBurnCritical, time: 2h1m" in result.stdout + result.stderr

"""Dashboards as code: every panel query parses and names only metrics the exporters and apps emit.

The list of known metrics is ``dashboards/metrics.yaml``; PromQL is parsed with promql-parser (a PromQL
parser, so a query that does not parse fails here too), CloudWatch targets are (namespace, metricName).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from components.monitoring.dashboards import DASHBOARDS, dashboard_files
from tests.helpers import stack_config

CATALOGUE = yaml.safe_load((DASHBOARDS / "metrics.yaml").read_text(encoding="utf-8"))
PROMETHEUS_METRICS = {m for source in CATALOGUE["prometheus"].values() for m in source}
CLOUDWATCH_METRICS = {(ns, m) for ns, metrics in CATALOGUE["cloudwatch"].items() for m in metrics}


def metric_names(node: Any) -> Iterator[str]:
    """Every metric name a PromQL expression selects (walking the parsed expression)."""
    if isinstance(node, promql_parser.VectorSelector):
        yield node.name
        return
    for attribute in ("lhs", "rhs", "expr", "args", "vector_selector", "param"):
        child = getattr(node, attribute, None)
        for item in child if isinstance(child, list) else [child]:
            if item is not None and not isinstance(item, (int, float, str)):
                yield from metric_names(item)


def targets(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for panel in json.loads(path.read_text(encoding="utf-8"))["panels"]:
        for target in panel["targets"]:
            yield panel["title"], target


def test_metric_names_walks_every_kind_of_expression() -> None:
    expression = promql_parser.parse('-(sum by (le) (rate(a_total{s="x"}[5m])) + max_over_time(b[1h:5m])) / c')
    assert sorted(metric_names(expression)) == ["a_total", "b", "c"]


@pytest.mark.parametrize("name", sorted(dashboard_files()))
def test_every_panel_query_names_a_known_metric(name: str) -> None:
    unknown = []
    for title, target in targets(dashboard_files()[name]):
        kind = target["datasource"]["type"]
        if kind == "prometheus":
            names = set(metric_names(promql_parser.parse(target["expr"])))
            assert names, f"{name}: {title}: the query names no metric"
            unknown += [f"{title}: {m}" for m in sorted(names - PROMETHEUS_METRICS)]
        elif kind == "cloudwatch":
            if (target["namespace"], target["metricName"]) not in CLOUDWATCH_METRICS:
                unknown.append(f"{title}: {target['namespace']} {target['metricName']}")
        else:
            unknown.append(f"{title}: data source {kind}")
    assert unknown == []


def test_a_query_naming_an_unknown_metric_is_caught() -> None:
    names = set(metric_names(promql_parser.parse('sum(rate(http_requests_totl{service="nlfhir"}[5m]))')))
    assert names - PROMETHEUS_METRICS == {"http_requests_totl"}


def test_one_dashboard_per_service_and_one_for_the_data_tier() -> None:
    apps = {"nlfhir", "prm-api", "prm-worker"}
    assert set(stack_config("prod").apps.model_dump()) >= {"nlfhir", "prm_api", "prm_worker"}
    assert sorted(dashboard_files()) == ["data-tier", *sorted(f"service-{app}" for app in apps)]
    for app in apps:
        document = json.loads(dashboard_files()[f"service-{app}"].read_text(encoding="utf-8"))
        assert [p["title"] for p in document["panels"]] == [
            "Request rate", "Error ratio (5xx)", "Latency p50 / p99", "CPU saturation (share of limit)",
            "Memory saturation (share of limit)"]
        assert document["uid"] == f"care-{app}"
        exprs = [t["expr"] for _, t in targets(dashboard_files()[f"service-{app}"])]
        assert all(f'"{app}' in e for e in exprs), app  # every query is about this service
    data = json.loads(dashboard_files()["data-tier"].read_text(encoding="utf-8"))
    assert {t["namespace"] for p in data["panels"] for t in p["targets"]} == {"AWS/RDS", "AWS/ElastiCache",
                                                                              "AWS/Kafka"}

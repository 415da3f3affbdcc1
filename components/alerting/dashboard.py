"""The SLO dashboard (Grafana JSON model), generated from the SLO spec: per service, the error budget remaining
and the burn rates of every SLO over the alert windows, the recorded latency quantiles and saturation.

Panels query recording rules only (tests/components/test_alerting_component.py checks each name exists), so
the dashboard and the alerts read the same numbers. Grafana's sidecar loads a ConfigMap labelled
``grafana_dashboard: "1"`` (kube-prometheus-stack's ``grafana.sidecar.dashboards``).
"""

from __future__ import annotations

import json
from typing import Any

from components.alerting.config import AlertingConfig
from components.alerting.rules import (
    BUDGET_REMAINING,
    CPU,
    ERRORS,
    LATENCY_SLOW,
    MEMORY,
    RATIO_BAD,
    RECORDED_QUANTILES,
    quantile_record,
)

BURN_WINDOWS: tuple[str, ...] = ("5m", "1h", "6h", "1d", "3d")
DASHBOARD_UID = "care-slo"


def _panel(panel_id: int, title: str, kind: str, targets: list[tuple[str, str]], y: int, x: int,
           unit: str) -> dict[str, Any]:
    return {
        "id": panel_id, "title": title, "type": kind,
        "datasource": {"type": "prometheus", "uid": "prometheus"},
        "gridPos": {"h": 8, "w": 8, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
                    for i, (expr, legend) in enumerate(targets)],
    }


def slo_dashboard(config: AlertingConfig) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    y = 0
    for service, slo in sorted(config.services.items()):
        sel = f'{{service="{service}"}}'
        row: list[tuple[str, str, list[tuple[str, str]], str]] = []
        if slo.availability is not None:
            budget = slo.availability.budget
            row.append((f"{service}: error budget remaining ({slo.availability.window_days} d)", "stat",
                        [(f'{BUDGET_REMAINING}{{service="{service}",slo="availability"}}', "remaining")],
                        "percentunit"))
            row.append((f"{service}: availability burn rate (x budget)", "timeseries",
                        [(f"{ERRORS}{w}{sel} / {budget:.10g}", w) for w in BURN_WINDOWS], "none"))
            percentiles = sorted({*RECORDED_QUANTILES, *(o.percentile for o in slo.latency)})
            row.append((f"{service}: latency", "timeseries",
                        [(f"{quantile_record(p)}{sel}", f"p{p:g}") for p in percentiles], "s"))
        for objective in slo.latency:
            row.append((f"{service}: {objective.name} < {objective.threshold_seconds:g} s burn rate (x budget)",
                        "timeseries",
                        [(f'{LATENCY_SLOW}{w}{{service="{service}",slo="{objective.name}"}} / {objective.budget:.10g}',
                          w) for w in BURN_WINDOWS], "none"))
        for ratio in slo.ratios:
            budget = round(1 - ratio.target_percent / 100, 10)
            row.append((f"{service}: {ratio.name} burn rate (x budget)", "timeseries",
                        [(f'{RATIO_BAD}{w}{{service="{service}",slo="{ratio.name}"}} / {budget:.10g}', w)
                         for w in BURN_WINDOWS], "none"))
        row.append((f"{service}: saturation (share of limits)", "timeseries",
                    [(f"{CPU}{sel}", "cpu"), (f"{MEMORY}{sel}", "memory")], "percentunit"))
        for index, (title, kind, targets, unit) in enumerate(row):
            panels.append(_panel(len(panels) + 1, title, kind, targets, y + (index // 3) * 8, (index % 3) * 8, unit))
        y += ((len(row) + 2) // 3) * 8
    return {"uid": DASHBOARD_UID, "title": "SLOs and error budgets", "tags": ["slo", "care-platform"],
            "timezone": "utc", "schemaVersion": 39, "refresh": "1m", "time": {"from": "now-7d", "to": "now"},
            "panels": panels}


def slo_dashboard_json(config: AlertingConfig) -> str:
    return json.dumps(slo_dashboard(config), indent=1, sort_keys=True)

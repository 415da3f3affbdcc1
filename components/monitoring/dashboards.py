"""Grafana dashboards as code: every ``dashboards/*.json`` becomes a ConfigMap the Grafana sidecar loads.

The sidecar (kube-prometheus-stack ``grafana.sidecar.dashboards``) watches every namespace for ConfigMaps
labelled ``grafana_dashboard: "1"``. ``dashboards/metrics.yaml`` lists the metrics panels may name
(tests/components/test_dashboards.py checks every query against it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from components.monitoring.values import DASHBOARD_LABEL, NAMESPACE

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"


def dashboard_files() -> dict[str, Path]:
    """The repository's dashboards by name (file stem), sorted."""
    return {path.stem: path for path in sorted(DASHBOARDS.glob("*.json"))}


def dashboard_config_maps(name: str, opts: pulumi.ResourceOptions) -> list[k8s.core.v1.ConfigMap]:
    maps = []
    for stem, path in dashboard_files().items():
        document = json.loads(path.read_text(encoding="utf-8"))
        maps.append(k8s.core.v1.ConfigMap(
            f"{name}-dashboard-{stem}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"dashboard-{stem}", namespace=NAMESPACE,
                labels={DASHBOARD_LABEL[0]: DASHBOARD_LABEL[1], "app.kubernetes.io/part-of": "care-platform"}),
            data={f"{stem}.json": json.dumps(document, sort_keys=True)},
            opts=opts,
        ))
    return maps

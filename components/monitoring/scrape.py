"""What Prometheus scrapes besides the chart's own targets: the apps, ChromaDB, Istio and the MSK brokers.

Apps and ChromaDB run in the Istio mesh with STRICT mTLS, and Prometheus does not: it could not scrape
their ports in plain HTTP. Istio's metrics merging solves that without weakening mTLS
(https://istio.io/latest/docs/ops/integrations/prometheus/#option-1-metrics-merging): the pod's
``prometheus.io/port`` and ``prometheus.io/path`` annotations (the app's metrics port and path, set by
the app service) are read by the sidecar agent, which serves the app's metrics merged with Envoy's on
``:15020/stats/prometheus``, outside mTLS. Each monitor selects the pods through the sidecar's declared
``http-envoy-prom`` port and rewrites the address to ``<pod IP>:15020``. The apps' and ChromaDB's
NetworkPolicies admit port 15020 from the Prometheus pods only.

The workers have no Service, so the apps are PodMonitors (Prometheus selects every PodMonitor as it does
every ServiceMonitor); ``job`` is the app's name. MSK brokers are outside the cluster: a ScrapeConfig
with their host names (``b-1`` ... ``b-N`` of the cluster's broker domain) on the JMX (11001) and node
(11002) exporters (https://docs.aws.amazon.com/msk/latest/developerguide/open-monitoring.html).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.monitoring.values import NAMESPACE

MONITORING_API = "monitoring.coreos.com/v1"
SCRAPE_CONFIG_API = "monitoring.coreos.com/v1alpha1"
#: Istio's merged metrics port (pilot-agent), and the path it serves them on.
MERGED_METRICS_PORT, MERGED_METRICS_PATH = 15020, "/stats/prometheus"
#: MSK open monitoring: JMX exporter and node exporter on every broker.
MSK_EXPORTERS = {"msk-jmx": 11001, "msk-node": 11002}
ISTIOD_PORT = "http-monitoring"


@dataclass(frozen=True)
class PodTarget:
    """Pods to scrape through Istio's merged endpoint: ``name`` becomes the job label."""

    name: str
    namespace: str
    selector: Mapping[str, str]


def merged_endpoint() -> dict[str, Any]:
    return {
        "port": "http-envoy-prom",
        "path": MERGED_METRICS_PATH,
        "interval": "30s",
        "relabelings": [
            {"sourceLabels": ["__meta_kubernetes_pod_ip"], "targetLabel": "__address__",
             "replacement": f"$1:{MERGED_METRICS_PORT}", "action": "replace"},
            {"sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], "targetLabel": "service",
             "action": "replace"},
        ],
    }


def pod_monitor(name: str, target: PodTarget, opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        f"{name}-podmonitor-{target.name}",
        api_version=MONITORING_API,
        kind="PodMonitor",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=target.name, namespace=NAMESPACE),
        spec={
            "jobLabel": "app.kubernetes.io/name",
            "namespaceSelector": {"matchNames": [target.namespace]},
            "selector": {"matchLabels": dict(target.selector)},
            "podMetricsEndpoints": [merged_endpoint()],
        },
        opts=opts,
    )


def istiod_monitor(name: str, opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    """istiod's control-plane metrics (xDS pushes, config errors) on its ``http-monitoring`` port 15014."""
    return k8s.apiextensions.CustomResource(
        f"{name}-servicemonitor-istiod",
        api_version=MONITORING_API,
        kind="ServiceMonitor",
        metadata=k8s.meta.v1.ObjectMetaArgs(name="istiod", namespace=NAMESPACE),
        spec={
            "jobLabel": "app",
            "namespaceSelector": {"matchNames": ["istio-system"]},
            "selector": {"matchLabels": {"app": "istiod"}},
            "endpoints": [{"port": ISTIOD_PORT, "interval": "30s"}],
        },
        opts=opts,
    )


def broker_hosts(bootstrap_brokers: str, broker_count: int) -> list[str]:
    """``b-1.<domain>`` ... ``b-N.<domain>`` from a bootstrap string like ``b-2.x.y.c2.kafka.<region>...:9098,...``."""
    first = bootstrap_brokers.split(",")[0].strip().rsplit(":", 1)[0]
    label, _, domain = first.partition(".")
    if not label.startswith("b-") or not domain:
        raise ValueError(f"not an MSK broker host: {first!r} (expected b-<n>.<cluster domain>)")
    return [f"b-{index}.{domain}" for index in range(1, broker_count + 1)]


def msk_scrape_config(name: str, *, bootstrap_brokers: pulumi.Input[str], broker_count: int,
                      opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    def static_configs(brokers: str) -> list[dict[str, Any]]:
        hosts = broker_hosts(brokers, broker_count)
        return [{"targets": [f"{host}:{port}" for host in hosts], "labels": {"job": job, "service": "msk"}}
                for job, port in MSK_EXPORTERS.items()]

    return k8s.apiextensions.CustomResource(
        f"{name}-scrapeconfig-msk",
        api_version=SCRAPE_CONFIG_API,
        kind="ScrapeConfig",
        metadata=k8s.meta.v1.ObjectMetaArgs(name="msk-open-monitoring", namespace=NAMESPACE),
        spec={"scrapeInterval": "60s",
              "staticConfigs": pulumi.Output.from_input(bootstrap_brokers).apply(static_configs)},
        opts=opts,
    )


def scrape_targets(name: str, pods: Sequence[PodTarget], *, bootstrap_brokers: pulumi.Input[str] | None,
                   broker_count: int, opts: pulumi.ResourceOptions) -> list[k8s.apiextensions.CustomResource]:
    monitors = [pod_monitor(name, target, opts) for target in pods]
    monitors.append(istiod_monitor(name, opts))
    if bootstrap_brokers is not None:
        monitors.append(msk_scrape_config(name, bootstrap_brokers=bootstrap_brokers, broker_count=broker_count,
                                          opts=opts))
    return monitors

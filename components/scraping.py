"""How workloads in the mesh let Prometheus scrape them (shared by the app service, ChromaDB and monitoring).

Prometheus (namespace ``monitoring``, outside the mesh) scrapes Istio's merged metrics endpoint on
port 15020 of each pod (components/monitoring/scrape.py explains why), so a workload's NetworkPolicy
admits that port from the Prometheus pods and nothing else.
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

MONITORING_NAMESPACE = "monitoring"
#: prometheus-operator labels every Prometheus pod with this.
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus"}
#: Istio's pilot-agent serves the app's metrics merged with Envoy's here, outside mTLS.
MERGED_METRICS_PORT = 15020


def scrape_annotations(port: int, path: str) -> dict[str, str]:
    """Pod annotations Istio's metrics merging reads (the app's own metrics port and path)."""
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": path}


def prometheus_ingress_rule() -> k8s.networking.v1.NetworkPolicyIngressRuleArgs:
    return k8s.networking.v1.NetworkPolicyIngressRuleArgs(
        from_=[k8s.networking.v1.NetworkPolicyPeerArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(PROMETHEUS_POD_LABELS)),
            namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                match_labels={"kubernetes.io/metadata.name": MONITORING_NAMESPACE}),
        )],
        ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=MERGED_METRICS_PORT, protocol="TCP")],
    )

"""The observability tier: metrics, logs, traces and dashboards on the cluster (components/monitoring/).

Prometheus scrapes the apps and ChromaDB through Istio's merged metrics endpoint, istiod, and the MSK
brokers' open-monitoring exporters; Loki and Tempo keep their data in buckets of their own (storage key,
access-logged to the stack's access-log bucket). The apps' OTLP endpoint and sampling come from the same
config (``tracing_environment``, wired in tiers/apps.py), so they need nothing from this tier at runtime.
"""

from __future__ import annotations

import pulumi

from components.egress import Destination, namespace_egress, workload_egress
from components.monitoring import ObservabilityStack, PodTarget
from components.pod_network import PodSecurityGroups
from tiers.apps import AppsTier
from tiers.compute import ComputeTier
from tiers.context import Stack
from tiers.data import DataTier
from tiers.identity import PROMETHEUS_NAMESPACE, pod_security_group_policy
from tiers.security import Keys


def monitoring_destinations(stack: Stack) -> list[Destination]:
    """Where the monitoring namespace's pods may connect (beyond DNS and istiod). Prometheus scrapes across the
    whole VPC, so this is wider than an app's egress, but by port, never the metadata service, and names outside
    the VPC only through the DNS Firewall's allow-list."""
    vpc = (str(stack.cfg.network.vpc_cidr),)
    return [
        Destination("within the namespace: Grafana to Prometheus, Loki and Tempo; Alloy to Loki; Prometheus to "
                    "Alertmanager; memberlist and gRPC between replicas", (3000, 3100, 3200, 4317, 4318, 7946, 8080,
                                                                            9090, 9093, 9094, 9095, 12345),
                    peer_namespace=PROMETHEUS_NAMESPACE, peer_labels={}),
        Destination("scrapes across the VPC: the pods' merged metrics (15020), istiod (15014), kubelet and cAdvisor "
                    "(10250), node exporter (9100), MSK's exporters (11001-11002); the API server and the interface "
                    "endpoints (443)", (443, 9100, 10250, 11001, 11002, 15014, 15020), cidrs=vpc),
        Destination("outside the VPC on 443 only: Alertmanager to PagerDuty, Loki and Tempo to S3, Grafana to "
                    "CloudWatch (names filtered by the DNS Firewall)", (443,), cidrs=("0.0.0.0/0",)),
    ]


def observability_tier(stack: Stack, keys: Keys, data: DataTier, compute: ComputeTier,
                       apps: AppsTier, pods: PodSecurityGroups) -> ObservabilityStack:
    cfg, cluster = stack.cfg, compute.cluster

    def in_namespace(namespace: pulumi.Resource) -> list[pulumi.Resource]:
        """Default-deny egress with the monitoring allows, and Prometheus's own security group (its pods get it
        only if the SecurityGroupPolicy exists before they start)."""
        opts = pulumi.ResourceOptions.merge(compute.workloads, pulumi.ResourceOptions(depends_on=[namespace]))
        policies: list[pulumi.Resource] = [
            *namespace_egress(f"{stack.prefix}-observability", {PROMETHEUS_NAMESPACE: namespace}, opts=opts)[
                PROMETHEUS_NAMESPACE],
            workload_egress(f"{stack.prefix}-observability", "monitoring", PROMETHEUS_NAMESPACE, {},
                            monitoring_destinations(stack), opts),
            pod_security_group_policy(stack, pods, "prometheus", opts),
        ]
        return policies

    targets = [PodTarget(app.selector["app.kubernetes.io/name"], app.namespace, app.selector)
               for app in apps.by_output_name().values()]
    targets.append(PodTarget("chromadb", cfg.chromadb.namespace, {"app.kubernetes.io/name": "chromadb"}))
    return ObservabilityStack(
        f"{stack.prefix}-observability", cfg.observability, region=stack.region, account_id=stack.account_id,
        storage_class_name=cluster.storage_class_name, irsa_role=cluster.irsa_role,
        oidc_provider_arn=cluster.oidc_provider_arn, oidc_issuer=cluster.oidc_issuer,
        storage_kms_key_arn=keys.arn("storage"), secrets_kms_key_arn=keys.arn("secrets"),
        access_log_bucket=data.storage.access_logs.bucket_name, access_log_ready=data.storage.access_logs.policy,
        pod_targets=targets,
        bootstrap_brokers=data.kafka.bootstrap_brokers if cfg.streaming.open_monitoring else None,
        broker_count=cfg.streaming.broker_count, wait_for=cluster.addons_ready,
        protect=cfg.protection.protect, tags=stack.tags, in_namespace=in_namespace, opts=compute.workloads,
    )

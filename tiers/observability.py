"""The observability tier: metrics, logs, traces and dashboards on the cluster (components/monitoring/).

Prometheus scrapes the apps and ChromaDB through Istio's merged metrics endpoint, istiod, and the MSK
brokers' open-monitoring exporters; Loki and Tempo keep their data in buckets of their own (storage key,
access-logged to the stack's access-log bucket). The apps' OTLP endpoint and sampling come from the same
config (``tracing_environment``, wired in tiers/apps.py), so they need nothing from this tier at runtime.
"""

from __future__ import annotations

from components.monitoring import ObservabilityStack, PodTarget
from tiers.apps import AppsTier
from tiers.compute import ComputeTier
from tiers.context import Stack
from tiers.data import DataTier
from tiers.security import Keys


def observability_tier(stack: Stack, keys: Keys, data: DataTier, compute: ComputeTier,
                       apps: AppsTier) -> ObservabilityStack:
    cfg, cluster = stack.cfg, compute.cluster
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
        protect=cfg.protection.protect, tags=stack.tags, opts=compute.workloads,
    )

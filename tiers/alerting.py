"""Alerting: SLO alerts and Alertmanager routing in the cluster (components/alerting/component.py).

The SLO spec of each app (``care-platform:alerting.services``) becomes PrometheusRules; P1/P2 page through
PagerDuty (the stack secret ``pagerdutyIntegrationKey``, via Secrets Manager and External Secrets), P3/P4 go to
the ticket webhook. Everything waits for the cluster's add-ons (External Secrets).
"""

from __future__ import annotations

from dataclasses import dataclass

from components.alerting.component import Alerting
from tiers.apps import AppsTier
from tiers.compute import ComputeTier
from tiers.context import Stack
from tiers.security import Keys


@dataclass(frozen=True)
class AlertingTier:
    in_cluster: Alerting


def alerting_tier(stack: Stack, keys: Keys, compute: ComputeTier, apps: AppsTier) -> AlertingTier:
    cfg, cluster = stack.cfg, compute.cluster
    namespaces = {"nlfhir": cfg.apps.nlfhir.namespace, "prm-api": cfg.apps.prm_api.namespace,
                  "prm-worker": cfg.apps.prm_worker.namespace}
    in_cluster = Alerting(
        f"{stack.prefix}-alerting", cfg.alerting, namespaces={s: namespaces[s] for s in cfg.alerting.services},
        pagerduty_routing_key=stack.settings.secrets.pagerduty_integration_key,
        secret_kms_key_arn=keys.arn("secrets"), region=stack.region, oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer=cluster.oidc_issuer, protect=cfg.protection.protect, wait_for=cluster.addons_ready,
        tags=stack.tags, opts=compute.workloads,
    )
    return AlertingTier(in_cluster)

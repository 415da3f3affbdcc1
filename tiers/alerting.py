"""Alerting: SLO alerts and Alertmanager routing in the cluster (components/alerting/component.py), and the
CloudWatch alarms of the AWS-managed services (components/alerting/cloudwatch.py).

The SLO spec of each app (``care-platform:alerting.services``) becomes PrometheusRules; P1/P2 page through
PagerDuty (the stack secret ``pagerdutyIntegrationKey``, via Secrets Manager and External Secrets), P3/P4 go to
the ticket webhook. The RDS, ElastiCache and MSK alarms and the AWS Backup failure rule publish to the primary
alert topic; CloudFront's 5xx-rate alarm is created in us-east-1 on the edge alert topic; both topics are subscribed
to PagerDuty's CloudWatch integration (``pagerdutyCloudwatchUrl``). ``alb_alarms`` needs an ALB's ARN suffix, which
exists only once the Load Balancer Controller has created the ALB: not wired (the SLO alerts cover 5xx and latency).
"""

from __future__ import annotations

from dataclasses import dataclass

from components.alerting.cloudwatch import (
    CLOUDWATCH_ALERTS,
    AlarmSpec,
    ManagedServiceAlarms,
    PagerDutySubscription,
    cloudfront_alarms,
    msk_alarms,
    rds_alarms,
    redis_alarms,
    redis_member_ids,
)
from components.alerting.component import Alerting
from components.monitoring import ObservabilityStack
from tiers.apps import AppsTier
from tiers.compute import ComputeTier
from tiers.context import Providers, Stack
from tiers.data import DataTier
from tiers.edge import EdgeTier
from tiers.notifications import Notifications
from tiers.security import Keys


@dataclass(frozen=True)
class AlertingTier:
    in_cluster: Alerting
    managed_services: ManagedServiceAlarms
    pagerduty: list[PagerDutySubscription]
    #: CloudFront's alarms, in us-east-1 with the edge alert topic (None with the edge disabled).
    edge_alarms: ManagedServiceAlarms | None = None


def managed_service_alarm_specs(stack: Stack, data: DataTier) -> list[AlarmSpec]:
    """RDS (every instance), ElastiCache (every member cluster) and MSK (cluster and brokers) alarms."""
    cfg, t = stack.cfg, stack.cfg.alerting.cloudwatch
    specs: list[AlarmSpec] = []
    for db_name, db in (("prm", data.prm_db), ("nlfhir", data.nlfhir_db)):
        allocated = getattr(cfg.database, db_name).allocated_storage_gib
        specs += rds_alarms(f"{stack.prefix}-{db_name}", db.primary.identifier, replica=False,
                            allocated_gib=allocated, t=t)
        for index, replica in enumerate(db.replicas):
            specs += rds_alarms(f"{stack.prefix}-{db_name}-replica-{index + 1}", replica.identifier, replica=True,
                                allocated_gib=allocated, t=t)
    cache = cfg.cache
    # The replication group id is the component's name (tiers/data.py: f"{prefix}-redis").
    for member in redis_member_ids(f"{stack.prefix}-redis", cluster_mode=cache.cluster_mode, shards=cache.shards,
                                   replicas_per_shard=cache.replicas_per_shard):
        specs += redis_alarms(member, has_replicas=cache.replicas_per_shard > 0, t=t)
    specs += msk_alarms(f"{stack.prefix}-kafka", cfg.streaming.broker_count, t)
    return specs


def alerting_tier(stack: Stack, providers: Providers, keys: Keys, data: DataTier, compute: ComputeTier,
                  apps: AppsTier, alerts: Notifications, observability: ObservabilityStack,
                  edge: EdgeTier) -> AlertingTier:
    """The PrometheusRules and the Alertmanager Secret wait for kube-prometheus-stack (its CRDs and namespace)."""
    cfg, cluster = stack.cfg, compute.cluster
    namespaces = {"nlfhir": cfg.apps.nlfhir.namespace, "prm-api": cfg.apps.prm_api.namespace,
                  "prm-worker": cfg.apps.prm_worker.namespace}
    in_cluster = Alerting(
        f"{stack.prefix}-alerting", cfg.alerting, namespaces={s: namespaces[s] for s in cfg.alerting.services},
        pagerduty_routing_key=stack.settings.secrets.pagerduty_integration_key,
        secret_kms_key_arn=keys.arn("secrets"), region=stack.region, oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer=cluster.oidc_issuer, protect=cfg.protection.protect,
        wait_for=[*cluster.addons_ready, observability.namespace, observability.releases["kube-prometheus-stack"]],
        tags=stack.tags, opts=compute.workloads,
    )
    runbooks = {alert: cfg.alerting.runbook_url(alert) for alert in CLOUDWATCH_ALERTS}
    managed = ManagedServiceAlarms(
        f"{stack.prefix}-alarms", managed_service_alarm_specs(stack, data), topic_arn=alerts.primary.arn,
        runbook_url=runbooks, backup_failures=True, tags=stack.tags, opts=providers.in_primary,
    )
    url = stack.settings.secrets.pagerduty_cloudwatch_url
    pagerduty = [
        PagerDutySubscription(f"{stack.prefix}-alerts-pagerduty", topic_arn=alerts.primary.arn, url=url,
                              opts=providers.in_primary),
        PagerDutySubscription(f"{stack.prefix}-edge-alerts-pagerduty", topic_arn=alerts.edge.arn, url=url,
                              opts=providers.in_edge),
    ]
    # CloudFront publishes its metrics in us-east-1 only, and an alarm's SNS action must be in the alarm's region.
    edge_alarms = None
    if edge.edge is not None:
        edge_alarms = ManagedServiceAlarms(
            f"{stack.prefix}-edge-alarms",
            cloudfront_alarms(f"{stack.prefix}-edge-cdn", edge.edge.distribution.id, cfg.alerting.cloudwatch),
            topic_arn=alerts.edge.arn, runbook_url=runbooks, backup_failures=False, tags=stack.tags,
            opts=providers.in_edge,
        )
    return AlertingTier(in_cluster, managed, pagerduty, edge_alarms)

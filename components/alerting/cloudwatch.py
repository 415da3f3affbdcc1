"""CloudWatch alarms for the AWS-managed services, and the AWS Backup failure rule, publishing to the alert topics.

Each alarm is named after its alert (``<prefix>-<Alert>-<resource>``) and its description carries the severity and
the runbook URL (docs/runbooks/alerts/<Alert>.md). Metrics, dimensions and statistics are the services' own:
* RDS (namespace AWS/RDS, dimension DBInstanceIdentifier): CPUUtilization, FreeStorageSpace (bytes), ReplicaLag
  (seconds), DatabaseConnections: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html
* ElastiCache Redis (AWS/ElastiCache, dimension CacheClusterId: each member cluster, named
  ``<group>-<shard 0001>-<node 001>`` in cluster mode): EngineCPUUtilization, DatabaseMemoryUsagePercentage,
  Evictions, ReplicationLag (replicas only):
  https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheMetrics.Redis.html
* MSK (AWS/Kafka, dimensions "Cluster Name" and "Broker ID", DEFAULT monitoring level): OfflinePartitionsCount
  (per cluster), UnderReplicatedPartitions and KafkaDataLogsDiskUsed (per broker):
  https://docs.aws.amazon.com/msk/latest/developerguide/metrics-details.html
* ALB (AWS/ApplicationELB, dimension LoadBalancer = the ARN suffix ``app/<name>/<id>``): HTTPCode_Target_5XX_Count,
  TargetResponseTime (p99):
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
* CloudFront (AWS/CloudFront, dimensions DistributionId and Region=Global; the metrics exist in us-east-1 only, so
  the alarm and its topic live there): 5xxErrorRate (percent):
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/programming-cloudwatch-metrics.html
* AWS Backup job failures are events, not metrics: an EventBridge rule on "Backup Job State Change" and "Copy Job
  State Change" in FAILED, ABORTED or EXPIRED
  (https://docs.aws.amazon.com/aws-backup/latest/devguide/eventbridge.html) targets the topic, whose policy and key
  policy let events.amazonaws.com publish (components/alert_topic.py, components/encryption.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
from pydantic import Field

from components.common import ConfigModel, child_opts, tags_for

GIB = 1024 ** 3


class CloudWatchThresholds(ConfigModel):
    """Alarm thresholds for the managed services (``alerting.cloudwatch``)."""

    rds_cpu_percent: float = Field(default=80, gt=0, lt=100)
    rds_free_storage_percent: float = Field(default=10, gt=0, lt=100)
    rds_replica_lag_seconds: int = Field(default=60, ge=1)
    rds_connections: int = Field(default=400, ge=1)
    cache_cpu_percent: float = Field(default=80, gt=0, lt=100)
    cache_memory_percent: float = Field(default=80, gt=0, lt=100)
    cache_evictions_per_5m: int = Field(default=100, ge=1)
    cache_replication_lag_seconds: int = Field(default=30, ge=1)
    msk_disk_used_percent: float = Field(default=80, gt=0, lt=100)
    alb_target_5xx_per_5m: int = Field(default=50, ge=1)
    alb_target_p99_seconds: float = Field(default=1.0, gt=0)
    cloudfront_5xx_percent: float = Field(default=1.0, gt=0, lt=100)


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: what the MetricAlarm gets, as plain data (so it can be checked without rendering)."""

    alert: str
    resource: str
    severity: str
    namespace: str
    metric: str
    dimensions: Mapping[str, pulumi.Input[str]]
    threshold: float
    summary: str
    statistic: str = "Average"          # or a percentile ("p99"), given as extended_statistic
    comparison: str = "GreaterThanThreshold"
    period: int = 300
    evaluation_periods: int = 3
    datapoints_to_alarm: int = 3
    treat_missing_data: str = "notBreaching"
    extra: Mapping[str, str] = field(default_factory=dict)


def rds_alarms(db: str, identifier: pulumi.Input[str], *, replica: bool, allocated_gib: int,
               t: CloudWatchThresholds) -> list[AlarmSpec]:
    dims = {"DBInstanceIdentifier": identifier}
    specs = [
        AlarmSpec("RdsCpuHigh", db, "P3", "AWS/RDS", "CPUUtilization", dims, t.rds_cpu_percent,
                  f"{db}: CPU above {t.rds_cpu_percent:g} % for 15 minutes"),
        AlarmSpec("RdsFreeStorageLow", db, "P2", "AWS/RDS", "FreeStorageSpace", dims,
                  round(allocated_gib * GIB * t.rds_free_storage_percent / 100),
                  f"{db}: free storage below {t.rds_free_storage_percent:g} % of {allocated_gib} GiB",
                  statistic="Minimum", comparison="LessThanThreshold", evaluation_periods=2, datapoints_to_alarm=2),
        AlarmSpec("RdsConnectionsHigh", db, "P3", "AWS/RDS", "DatabaseConnections", dims, t.rds_connections,
                  f"{db}: more than {t.rds_connections} connections for 15 minutes", statistic="Maximum"),
    ]
    if replica:
        specs.append(AlarmSpec("RdsReplicaLag", db, "P2", "AWS/RDS", "ReplicaLag", dims, t.rds_replica_lag_seconds,
                               f"{db}: replica more than {t.rds_replica_lag_seconds} s behind", statistic="Maximum",
                               period=60, evaluation_periods=10, datapoints_to_alarm=8))
    return specs


def redis_member_ids(group_id: str, *, cluster_mode: bool, shards: int, replicas_per_shard: int) -> list[str]:
    """The replication group's member clusters (ElastiCache names them ``<group>-0001-001``; ``<group>-001``
    without cluster mode)."""
    nodes = replicas_per_shard + 1
    if cluster_mode:
        return [f"{group_id}-{s:04d}-{n:03d}" for s in range(1, shards + 1) for n in range(1, nodes + 1)]
    return [f"{group_id}-{n:03d}" for n in range(1, nodes + 1)]


def redis_alarms(member: str, *, has_replicas: bool, t: CloudWatchThresholds) -> list[AlarmSpec]:
    dims = {"CacheClusterId": member}
    specs = [
        AlarmSpec("ElastiCacheCpuHigh", member, "P3", "AWS/ElastiCache", "EngineCPUUtilization", dims,
                  t.cache_cpu_percent, f"{member}: Redis engine CPU above {t.cache_cpu_percent:g} % for 15 minutes"),
        AlarmSpec("ElastiCacheMemoryHigh", member, "P2", "AWS/ElastiCache", "DatabaseMemoryUsagePercentage", dims,
                  t.cache_memory_percent, f"{member}: Redis memory above {t.cache_memory_percent:g} %"),
        AlarmSpec("ElastiCacheEvictions", member, "P3", "AWS/ElastiCache", "Evictions", dims,
                  t.cache_evictions_per_5m, f"{member}: more than {t.cache_evictions_per_5m} evictions per 5 minutes",
                  statistic="Sum", evaluation_periods=2, datapoints_to_alarm=2),
    ]
    if has_replicas:  # the metric is published by replicas; on a primary it is absent (notBreaching)
        specs.append(AlarmSpec("ElastiCacheReplicationLag", member, "P2", "AWS/ElastiCache", "ReplicationLag", dims,
                               t.cache_replication_lag_seconds,
                               f"{member}: replica more than {t.cache_replication_lag_seconds} s behind",
                               statistic="Maximum", period=60, evaluation_periods=5, datapoints_to_alarm=5))
    return specs


def msk_alarms(cluster_name: str, broker_count: int, t: CloudWatchThresholds) -> list[AlarmSpec]:
    specs = [AlarmSpec("MskOfflinePartitions", cluster_name, "P1", "AWS/Kafka", "OfflinePartitionsCount",
                       {"Cluster Name": cluster_name}, 0, f"{cluster_name}: partitions offline (no leader)",
                       statistic="Maximum", period=60, evaluation_periods=2, datapoints_to_alarm=2)]
    for broker in range(1, broker_count + 1):
        dims = {"Cluster Name": cluster_name, "Broker ID": str(broker)}
        resource = f"{cluster_name}-broker-{broker}"
        specs += [
            AlarmSpec("MskUnderReplicatedPartitions", resource, "P2", "AWS/Kafka", "UnderReplicatedPartitions", dims,
                      0, f"{resource}: under-replicated partitions for 10 minutes", statistic="Maximum", period=60,
                      evaluation_periods=10, datapoints_to_alarm=10),
            AlarmSpec("MskDiskUsed", resource, "P2", "AWS/Kafka", "KafkaDataLogsDiskUsed", dims,
                      t.msk_disk_used_percent, f"{resource}: data-log disk above {t.msk_disk_used_percent:g} %",
                      statistic="Maximum", evaluation_periods=2, datapoints_to_alarm=2),
        ]
    return specs


def alb_alarms(name: str, arn_suffix: pulumi.Input[str], t: CloudWatchThresholds) -> list[AlarmSpec]:
    """For an ALB (the edge tier's, or an Ingress's): give its ARN suffix (``aws.lb.LoadBalancer.arn_suffix``)."""
    dims = {"LoadBalancer": arn_suffix}
    return [
        AlarmSpec("AlbTarget5xx", name, "P2", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", dims,
                  t.alb_target_5xx_per_5m, f"{name}: more than {t.alb_target_5xx_per_5m} target 5xx per 5 minutes",
                  statistic="Sum", evaluation_periods=2, datapoints_to_alarm=2),
        AlarmSpec("AlbTargetLatency", name, "P3", "AWS/ApplicationELB", "TargetResponseTime", dims,
                  t.alb_target_p99_seconds, f"{name}: p99 target response time above {t.alb_target_p99_seconds:g} s",
                  statistic="p99"),
    ]


def cloudfront_alarms(name: str, distribution_id: pulumi.Input[str], t: CloudWatchThresholds) -> list[AlarmSpec]:
    """For a CloudFront distribution: the alarm must be created in us-east-1 (with the edge alert topic)."""
    return [AlarmSpec("CloudFront5xxRate", name, "P2", "AWS/CloudFront", "5xxErrorRate",
                      {"DistributionId": distribution_id, "Region": "Global"}, t.cloudfront_5xx_percent,
                      f"{name}: 5xx error rate above {t.cloudfront_5xx_percent:g} %", evaluation_periods=2,
                      datapoints_to_alarm=2)]


BACKUP_FAILURE_PATTERN = {
    "source": ["aws.backup"],
    "detail-type": ["Backup Job State Change", "Copy Job State Change"],
    "detail": {"state": ["FAILED", "ABORTED", "EXPIRED"]},
}


class ManagedServiceAlarms(pulumi.ComponentResource):
    """MetricAlarms from ``specs`` publishing (alarm and OK) to ``topic_arn``; optionally the Backup failure rule.

    The provider in ``opts`` decides the region: the edge (us-east-1) provider for CloudFront."""

    def __init__(self, name: str, specs: Sequence[AlarmSpec], *, topic_arn: pulumi.Input[str],
                 runbook_url: Mapping[str, str], backup_failures: bool, tags: Mapping[str, str],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("care:observability:ManagedServiceAlarms", name, None, opts)
        self.alarms: list[aws.cloudwatch.MetricAlarm] = []
        for spec in specs:
            alarm_name = f"{name}-{spec.alert}-{spec.resource}"
            percentile = spec.statistic.startswith("p")
            self.alarms.append(aws.cloudwatch.MetricAlarm(
                alarm_name,
                aws.cloudwatch.MetricAlarmArgs(
                    name=alarm_name,
                    alarm_description=f"[{spec.severity}] {spec.summary}. Runbook: {runbook_url[spec.alert]}",
                    namespace=spec.namespace, metric_name=spec.metric, dimensions=dict(spec.dimensions),
                    statistic=None if percentile else spec.statistic,
                    extended_statistic=spec.statistic if percentile else None,
                    period=spec.period, evaluation_periods=spec.evaluation_periods,
                    datapoints_to_alarm=spec.datapoints_to_alarm, threshold=spec.threshold,
                    comparison_operator=spec.comparison, treat_missing_data=spec.treat_missing_data,
                    # ALARM pages, OK resolves, INSUFFICIENT_DATA says the metric stopped arriving (a monitoring
                    # gap; AWS Config rule cloudwatch-alarm-action-check, the HIPAA pack's parameters).
                    alarm_actions=[topic_arn], ok_actions=[topic_arn], insufficient_data_actions=[topic_arn],
                    tags=tags_for(tags, alarm_name, Severity=spec.severity, Alert=spec.alert),
                ),
                child_opts(self),
            ))
        self.backup_rule: aws.cloudwatch.EventRule | None = None
        if backup_failures:
            self.backup_rule = aws.cloudwatch.EventRule(
                f"{name}-BackupJobFailed",
                aws.cloudwatch.EventRuleArgs(
                    name=f"{name}-BackupJobFailed",
                    description=f"[P2] AWS Backup or copy job failed. Runbook: {runbook_url['BackupJobFailed']}",
                    event_pattern=json.dumps(BACKUP_FAILURE_PATTERN),
                    tags=tags_for(tags, f"{name}-BackupJobFailed", Severity="P2", Alert="BackupJobFailed"),
                ),
                child_opts(self),
            )
            # The topic's policy and its key's policy let events.amazonaws.com of this account publish.
            aws.cloudwatch.EventTarget(
                f"{name}-BackupJobFailed-target",
                aws.cloudwatch.EventTargetArgs(rule=self.backup_rule.name, arn=topic_arn),
                child_opts(self),
            )
        self.register_outputs({"alarmCount": len(self.alarms)})


class PagerDutySubscription(pulumi.ComponentResource):
    """The alert topic's HTTPS subscription to PagerDuty's CloudWatch integration (PagerDuty confirms it itself:
    https://support.pagerduty.com/main/docs/amazon-cloudwatch-integration-guide)."""

    def __init__(self, name: str, *, topic_arn: pulumi.Input[str], url: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("care:observability:PagerDutySubscription", name, None, opts)
        self.subscription = aws.sns.TopicSubscription(
            name,
            aws.sns.TopicSubscriptionArgs(topic=topic_arn, protocol="https", endpoint=url,
                                          endpoint_auto_confirms=True),
            child_opts(self),
        )
        self.register_outputs({})


CLOUDWATCH_ALERTS: tuple[str, ...] = (
    "RdsCpuHigh", "RdsFreeStorageLow", "RdsConnectionsHigh", "RdsReplicaLag",
    "ElastiCacheCpuHigh", "ElastiCacheMemoryHigh", "ElastiCacheEvictions", "ElastiCacheReplicationLag",
    "MskOfflinePartitions", "MskUnderReplicatedPartitions", "MskDiskUsed",
    "AlbTarget5xx", "AlbTargetLatency", "CloudFront5xxRate", "BackupJobFailed",
)

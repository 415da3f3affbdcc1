"""CloudWatch alarms of the AWS-managed services and the AWS Backup failure rule, as the prod program renders them;
the ALB and CloudFront builders the edge tier uses."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from components.alerting.cloudwatch import (
    BACKUP_FAILURE_PATTERN,
    CLOUDWATCH_ALERTS,
    CloudWatchThresholds,
    ManagedServiceAlarms,
    alb_alarms,
    cloudfront_alarms,
    redis_member_ids,
)
from tests.helpers import PROD_TAGS, render, rendered_stack

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
RUNBOOKS = "https://github.com/care-platform/care-platform/blob/main/docs/runbooks/alerts"


@pytest.fixture(scope="module")
def plan():  # type: ignore[no-untyped-def]
    return rendered_stack("prod")


def test_every_managed_service_gets_its_alarms(plan) -> None:  # type: ignore[no-untyped-def]
    everything = plan.of_type(ALARM)
    # CloudFront's alarm lives in us-east-1 on the edge topic (its metrics exist only there).
    edge = [a for a in everything if "::aws-edge::" in (a.provider or "")]
    assert [(a.inputs["tags"]["Alert"], a.inputs["namespace"], a.inputs["alarmActions"]) for a in edge] == [
        ("CloudFront5xxRate", "AWS/CloudFront", [plan.outputs["alertTopicArns"]["edge"]])]
    assert edge[0].inputs["dimensions"]["Region"] == "Global"
    alarms = [a for a in everything if a not in edge]
    counts = Counter(a.inputs["tags"]["Alert"] for a in alarms)
    # prod: PRM primary + 2 replicas, NL-FHIR primary; Redis 3 shards x 2 nodes; MSK 3 brokers.
    assert counts == {"RdsCpuHigh": 4, "RdsFreeStorageLow": 4, "RdsConnectionsHigh": 4, "RdsReplicaLag": 2,
                      "ElastiCacheCpuHigh": 6, "ElastiCacheMemoryHigh": 6, "ElastiCacheEvictions": 6,
                      "ElastiCacheReplicationLag": 6, "MskOfflinePartitions": 1,
                      "MskUnderReplicatedPartitions": 3, "MskDiskUsed": 3}
    topic = plan.outputs["alertTopicArns"]["primary"]
    for alarm in alarms:
        assert alarm.inputs["alarmActions"] == [topic] == alarm.inputs["okActions"], alarm.name
        assert alarm.inputs["insufficientDataActions"] == [topic], alarm.name
        assert alarm.inputs["alarmDescription"].endswith(f"Runbook: {RUNBOOKS}/{alarm.inputs['tags']['Alert']}.md")
        assert {k: alarm.inputs["tags"][k] for k in PROD_TAGS} == PROD_TAGS


def test_rds_primary_cpu_and_storage_exact(plan) -> None:  # type: ignore[no-untyped-def]
    cpu = plan.named("care-prod-alarms-RdsCpuHigh-care-prod-prm").inputs
    assert {k: cpu[k] for k in ("namespace", "metricName", "statistic", "threshold", "comparisonOperator",
                                "period", "evaluationPeriods", "datapointsToAlarm", "treatMissingData")} == {
        "namespace": "AWS/RDS", "metricName": "CPUUtilization", "statistic": "Average", "threshold": 80,
        "comparisonOperator": "GreaterThanThreshold", "period": 300, "evaluationPeriods": 3, "datapointsToAlarm": 3,
        "treatMissingData": "notBreaching"}
    assert cpu["dimensions"] == {"DBInstanceIdentifier": "care-prod-prm"}
    assert cpu["alarmDescription"].startswith("[P3] care-prod-prm: CPU above 80 % for 15 minutes.")
    storage = plan.named("care-prod-alarms-RdsFreeStorageLow-care-prod-prm").inputs
    allocated = 200  # Pulumi.prod.yaml database.prm.allocatedStorageGib
    assert (storage["threshold"], storage["comparisonOperator"], storage["statistic"]) == (
        allocated * 1024 ** 3 // 10, "LessThanThreshold", "Minimum")
    lag = plan.named("care-prod-alarms-RdsReplicaLag-care-prod-prm-replica-1").inputs
    assert (lag["dimensions"], lag["threshold"]) == ({"DBInstanceIdentifier": "care-prod-prm-replica-1"}, 60)


def test_redis_and_msk_dimensions(plan) -> None:  # type: ignore[no-untyped-def]
    assert redis_member_ids("g", cluster_mode=True, shards=2, replicas_per_shard=1) == [
        "g-0001-001", "g-0001-002", "g-0002-001", "g-0002-002"]
    assert redis_member_ids("g", cluster_mode=False, shards=1, replicas_per_shard=2) == ["g-001", "g-002", "g-003"]
    memory = plan.named("care-prod-alarms-ElastiCacheMemoryHigh-care-prod-redis-0002-001").inputs
    assert (memory["metricName"], memory["dimensions"], memory["threshold"]) == (
        "DatabaseMemoryUsagePercentage", {"CacheClusterId": "care-prod-redis-0002-001"}, 80)
    offline = plan.named("care-prod-alarms-MskOfflinePartitions-care-prod-kafka").inputs
    assert (offline["namespace"], offline["metricName"], offline["dimensions"], offline["threshold"]) == (
        "AWS/Kafka", "OfflinePartitionsCount", {"Cluster Name": "care-prod-kafka"}, 0)
    disk = plan.named("care-prod-alarms-MskDiskUsed-care-prod-kafka-broker-3").inputs
    assert disk["dimensions"] == {"Cluster Name": "care-prod-kafka", "Broker ID": "3"}


def test_backup_failures_reach_the_topic_through_eventbridge(plan) -> None:  # type: ignore[no-untyped-def]
    rule = plan.named("care-prod-alarms-BackupJobFailed").inputs
    assert json.loads(rule["eventPattern"]) == BACKUP_FAILURE_PATTERN == {
        "source": ["aws.backup"], "detail-type": ["Backup Job State Change", "Copy Job State Change"],
        "detail": {"state": ["FAILED", "ABORTED", "EXPIRED"]}}
    target = plan.named("care-prod-alarms-BackupJobFailed-target").inputs
    assert target["arn"] == plan.outputs["alertTopicArns"]["primary"]


def test_both_topics_subscribed_to_pagerduty_cloudwatch(plan) -> None:  # type: ignore[no-untyped-def]
    subs = {s.name: s for s in plan.of_type("aws:sns/topicSubscription:TopicSubscription")}
    assert set(subs) == {"care-prod-alerts-pagerduty", "care-prod-edge-alerts-pagerduty"}
    for name, topic in (("care-prod-alerts-pagerduty", "primary"), ("care-prod-edge-alerts-pagerduty", "edge")):
        inputs = subs[name].inputs
        assert (inputs["topic"], inputs["protocol"], inputs["endpoint"], inputs["endpointAutoConfirms"]) == (
            plan.outputs["alertTopicArns"][topic], "https", "[secret]", True)
    # The edge topic is in us-east-1 (the edge provider), where CloudFront's alarms are.
    assert subs["care-prod-edge-alerts-pagerduty"].provider.endswith("::aws-edge::aws-edge-provider-id")
    assert subs["care-prod-alerts-pagerduty"].provider.endswith("::aws-primary::aws-primary-provider-id")


def test_edge_builders_alb_and_cloudfront() -> None:
    t = CloudWatchThresholds()
    specs = [*alb_alarms("care-prod-alb", "app/care-prod/0123456789abcdef", t),
             *cloudfront_alarms("care-prod-cdn", "E2EXAMPLE", t)]

    def program() -> None:
        ManagedServiceAlarms("edge", specs, topic_arn="arn:aws:sns:us-east-1:333333333333:care-prod-edge-alerts",
                             runbook_url={a: f"{RUNBOOKS}/{a}.md" for a in CLOUDWATCH_ALERTS}, backup_failures=False,
                             tags=PROD_TAGS)

    plan = render(program)
    latency = plan.named("edge-AlbTargetLatency-care-prod-alb").inputs
    assert (latency["extendedStatistic"], latency.get("statistic"), latency["threshold"], latency["dimensions"]) == (
        "p99", None, 1.0, {"LoadBalancer": "app/care-prod/0123456789abcdef"})
    cdn = plan.named("edge-CloudFront5xxRate-care-prod-cdn").inputs
    assert (cdn["namespace"], cdn["metricName"], cdn["dimensions"], cdn["threshold"]) == (
        "AWS/CloudFront", "5xxErrorRate", {"DistributionId": "E2EXAMPLE", "Region": "Global"}, 1.0)
    assert plan.of_type("aws:cloudwatch/eventRule:EventRule") == []


def test_the_topics_the_alarms_and_the_rule_publish_to_let_them(plan) -> None:  # type: ignore[no-untyped-def]
    """Deployable: an alarm or an EventBridge rule can only publish to a CMK-encrypted topic when the topic policy
    and the key policy both let its service principal in (components/alert_topic.py, the lead's AlertTopic)."""
    for topic, key in (("care-prod-alerts", "care-prod-kms-alerts"), ("care-prod-edge-alerts",
                                                                       "care-prod-edge-kms-alerts")):
        sns = next(r for r in plan.of_type("aws:sns/topic:Topic") if r.name == topic).inputs
        assert sns["kmsMasterKeyId"].startswith("arn:aws:kms:")  # a customer key (sns-topic-kms checks which)
        policy = json.loads(plan.named(f"{topic}-policy").inputs["policy"])
        publish = next(s for s in policy["Statement"] if s["Sid"] == "AwsServicesOfThisAccountPublish")
        assert {"cloudwatch.amazonaws.com", "events.amazonaws.com"} <= set(publish["Principal"]["Service"])
        assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": "333333333333"}}
        key_policy = json.loads(plan.named(key).inputs["policy"])
        publishers = next(s for s in key_policy["Statement"] if s["Sid"] == "AlertPublishers")
        assert {"cloudwatch.amazonaws.com", "events.amazonaws.com"} <= set(publishers["Principal"]["Service"])
        assert set(publishers["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}

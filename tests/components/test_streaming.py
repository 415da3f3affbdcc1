"""KafkaCluster: the prod MSK cluster (3 brokers, RF 3, min ISR 2, IAM auth, TLS, storage autoscaling)."""

from __future__ import annotations

import pulumi
import pytest
from pydantic import ValidationError

from components.streaming import KafkaCluster, StreamingConfig
from tests.helpers import PROD_TAGS, render, stack_config, untagged

KEY = "arn:aws:kms:us-east-2:333333333333:key/streaming"
LOGS_KEY = "arn:aws:kms:us-east-2:333333333333:key/logs"
CLIENT_SG = "sg-0workload"
PROMETHEUS_SG = "sg-0prometheus"
COMPONENT = "care:data:KafkaCluster"


@pytest.fixture(scope="module")
def prod():
    config = stack_config("prod").streaming

    def program() -> None:
        kafka = KafkaCluster(
            "care-prod-kafka", config, vpc_id="vpc-0abc", subnet_ids=["subnet-a", "subnet-b", "subnet-c"],
            client_security_group_ids=[CLIENT_SG], monitoring_security_group_ids=[PROMETHEUS_SG], kms_key_arn=KEY,
            logs_kms_key_arn=LOGS_KEY, log_retention_days=365, protect=True, tags=PROD_TAGS,
        )
        pulumi.export("brokers", kafka.bootstrap_brokers)

    return render(program)


def test_children(prod):
    component = prod.of_type(COMPONENT)[0]
    assert sorted(r.type for r in prod.resources if r.parent == component.urn) == sorted([
        "aws:ec2/securityGroup:SecurityGroup", "aws:msk/configuration:Configuration",
        "aws:cloudwatch/logGroup:LogGroup", "aws:msk/cluster:Cluster",
        "aws:appautoscaling/target:Target", "aws:appautoscaling/policy:Policy",
    ])
    assert untagged(prod, PROD_TAGS) == []


def test_brokers_and_storage(prod):
    cluster = prod.named("care-prod-kafka-cluster")
    i = cluster.inputs
    assert (i["clusterName"], i["kafkaVersion"], i["numberOfBrokerNodes"]) == ("care-prod-kafka", "4.1.x.kraft", 3)
    nodes = i["brokerNodeGroupInfo"]
    assert nodes["instanceType"] == "kafka.m5.large"
    assert nodes["clientSubnets"] == ["subnet-a", "subnet-b", "subnet-c"]
    assert nodes["securityGroups"] == [prod.named("care-prod-kafka-sg").id]
    assert nodes["storageInfo"] == {"ebsStorageInfo": {"volumeSize": 500}}
    assert "connectivityInfo" not in nodes  # no public access
    assert cluster.protect is True


def test_encryption_and_authentication(prod):
    i = prod.named("care-prod-kafka-cluster").inputs
    assert i["encryptionInfo"] == {"encryptionAtRestKmsKeyArn": KEY,
                                   "encryptionInTransit": {"clientBroker": "TLS", "inCluster": True}}
    assert i["clientAuthentication"] == {"sasl": {"iam": True, "scram": False}, "unauthenticated": False}


def test_configuration(prod):
    config = prod.named("care-prod-kafka-config").inputs
    assert config["kafkaVersions"] == ["4.1.x.kraft"]
    # Auto-named (no fixed physical name), so a replacement never collides with the configuration in use.
    assert "name" not in config
    assert config["serverProperties"].splitlines() == [
        "auto.create.topics.enable=false", "default.replication.factor=3", "min.insync.replicas=2",
        "unclean.leader.election.enable=false", "log.retention.hours=168",
    ]
    info = prod.named("care-prod-kafka-cluster").inputs["configurationInfo"]
    auto = prod.named("care-prod-kafka-config").id
    assert auto.startswith("care-prod-kafka-config-") and len(auto) == len("care-prod-kafka-config-") + 7
    assert info["arn"].startswith(f"arn:aws:kafka:us-east-2:123456789012:configuration/{auto}/")
    assert info["revision"] == 1


def test_kafka_version_must_be_within_its_msk_support_window():
    with pytest.raises(ValidationError) as info:
        StreamingConfig(kafka_version="3.6.0")
    assert info.value.errors()[0]["ctx"]["error"].problems[0].allowed == (
        "must be an MSK version within its support window: one of 3.8.x, 3.8.x.kraft, 3.9.x, 3.9.x.kraft, "
        "4.0.x.kraft, 4.1.x.kraft")
    assert StreamingConfig(kafka_version="3.9.x").kafka_version == "3.9.x"


def test_logging_and_monitoring(prod):
    i = prod.named("care-prod-kafka-cluster").inputs
    assert i["loggingInfo"] == {"brokerLogs": {"cloudwatchLogs": {"enabled": True,
                                                                  "logGroup": "/aws/msk/care-prod-kafka/broker"}}}
    assert i["openMonitoring"] == {"prometheus": {"jmxExporter": {"enabledInBroker": True},
                                                  "nodeExporter": {"enabledInBroker": True}}}
    assert i["enhancedMonitoring"] == "PER_TOPIC_PER_BROKER"
    log = prod.named("care-prod-kafka-broker-logs").inputs
    assert (log["kmsKeyId"], log["retentionInDays"]) == (LOGS_KEY, 365)


def test_storage_autoscaling(prod):
    target = prod.named("care-prod-kafka-storage-target").inputs
    assert (target["serviceNamespace"], target["scalableDimension"], target["minCapacity"],
            target["maxCapacity"]) == ("kafka", "kafka:broker-storage:VolumeSize", 1, 2000)
    assert target["resourceId"].startswith("arn:aws:kafka:us-east-2:123456789012:cluster/care-prod-kafka-cluster/")
    policy = prod.named("care-prod-kafka-storage-policy").inputs
    assert policy["policyType"] == "TargetTrackingScaling"
    assert policy["targetTrackingScalingPolicyConfiguration"] == {
        "targetValue": 60, "disableScaleIn": True,
        "predefinedMetricSpecification": {"predefinedMetricType": "KafkaBrokerStorageUtilization"},
    }
    assert policy["resourceId"] == target["resourceId"]


def test_security_group_admits_only_clients(prod):
    """Clients on the broker port; the unauthenticated exporters from the monitoring group only."""
    sg = prod.named("care-prod-kafka-sg").inputs
    assert [(r["fromPort"], r["toPort"], r["securityGroups"]) for r in sg["ingress"]] == [
        (9098, 9098, [CLIENT_SG]), (11001, 11002, [PROMETHEUS_SG])]
    assert all("cidrBlocks" not in r for r in sg["ingress"])
    assert sg["egress"] == []


def test_without_a_monitoring_group_the_exporters_are_closed():
    def program() -> None:
        KafkaCluster("k", StreamingConfig(), vpc_id="v", subnet_ids=["a", "b", "c"], client_security_group_ids=["sg-c"],
                     kms_key_arn="k", logs_kms_key_arn="l", log_retention_days=30, tags=PROD_TAGS)

    sg = render(program).named("k-sg").inputs
    assert [(r["fromPort"], r["toPort"], r["securityGroups"]) for r in sg["ingress"]] == [(9098, 9098, ["sg-c"])]


def test_outputs(prod):
    brokers = prod.outputs["brokers"].split(",")
    assert len(brokers) == 3 and all(b.endswith(".amazonaws.com:9098") for b in brokers)


def test_uneven_broker_spread_is_refused():
    # The stack config refuses this too (config.py); the component guards its own invariant.
    config = StreamingConfig(broker_count=4)

    def program() -> None:
        KafkaCluster("k", config, vpc_id="v", subnet_ids=["a", "b", "c"], client_security_group_ids=["sg"],
                     kms_key_arn="k", logs_kms_key_arn="l", log_retention_days=30, tags=PROD_TAGS)

    with pytest.raises(Exception, match="4 brokers cannot spread evenly over 3 client subnets"):
        render(program)

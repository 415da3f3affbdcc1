"""Amazon MSK: a provisioned Kafka cluster, TLS everywhere, IAM client auth, storage autoscaling."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import pulumi
import pulumi_aws as aws
from pydantic import Field, model_validator

from components.common import ConfigModel, child_opts, client_security_group, tags_for
from components.instance_classes import MskBrokerType
from components.problems import ProblemCollector

#: Broker ports by client-authentication method (private VPC connectivity; all of them TLS). The plain
#: TLS listener (9094) serves only unauthenticated or mutual-TLS clients, and neither is enabled here.
PORT_SASL_SCRAM = 9096
PORT_SASL_IAM = 9098
#: Open monitoring: Prometheus JMX exporter and node exporter on every broker.
PORTS_OPEN_MONITORING = (11001, 11002)

#: MSK spreads brokers over at most three client subnets, one per AZ.
MAX_CLIENT_SUBNETS = 3


#: MSK Kafka versions a new Standard-broker cluster may use, all without a published end of support
#: (https://docs.aws.amazon.com/msk/latest/developerguide/supported-kafka-versions.html, checked 2026-12-02:
#: 3.6.0 ended 2026-06-01 and 3.7.x 2026-09-01; a cluster past its date is auto-upgraded by MSK at any time,
#: https://docs.aws.amazon.com/msk/latest/developerguide/version-support.html). 4.x is KRaft-only and MSK
#: names it "<v>.kraft" (aws-cdk aws-msk-alpha KafkaVersion.V4_1_X_KRAFT = '4.1.x.kraft'); 4.2.x.kraft
#: serves Express brokers only, so 4.1.x.kraft is the newest for Standard brokers. The metadata mode is
#: fixed when a cluster is created (https://docs.aws.amazon.com/msk/latest/developerguide/kraft-intro.html):
#: an existing ZooKeeper cluster (e.g. one created on 3.6.0) upgrades in place only to 3.8.x/3.9.x, and
#: reaches 4.x only through MSK's ZooKeeper-to-KRaft migration or a new cluster.
MSK_KAFKA_VERSIONS: tuple[str, ...] = (
    "3.8.x", "3.8.x.kraft",  # MSK release 2025-02-20
    "3.9.x", "3.9.x.kraft",  # 2025-04-21, the last ZooKeeper line
    "4.0.x.kraft",           # 2025-05-16
    "4.1.x.kraft",           # 2025-10-15: the newest, with the longest support ahead
)


class StreamingConfig(ConfigModel):
    #: Exactly as MSK names it: the cluster reports the same string, so no perpetual diff.
    kafka_version: str = "4.1.x.kraft"
    broker_count: int = Field(default=3, ge=2, le=30)
    instance_type: MskBrokerType = "kafka.m5.large"
    replication_factor: int = Field(default=3, ge=1, le=5)
    min_insync_replicas: int = Field(default=2, ge=1, le=4)
    ebs_volume_gib: int = Field(default=100, ge=1, le=16384)
    #: Storage autoscaling grows each broker's volume up to this size (it never shrinks).
    ebs_max_volume_gib: int = Field(default=1000, ge=1, le=16384)
    #: MSK accepts a storage-utilization target of 10 to 80 percent.
    storage_target_utilization_percent: int = Field(default=60, ge=10, le=80)
    client_auth_iam: bool = True
    client_auth_scram: bool = False
    enhanced_monitoring: Literal["DEFAULT", "PER_BROKER", "PER_TOPIC_PER_BROKER",
                                 "PER_TOPIC_PER_PARTITION"] = "PER_BROKER"
    #: Prometheus JMX and node exporters on the brokers, scraped by the observability stack.
    open_monitoring: bool = True
    log_retention_hours: int = Field(default=168, ge=1, le=87600)

    @model_validator(mode="after")
    def _combinations(self) -> StreamingConfig:
        problems = ProblemCollector()
        if self.kafka_version not in MSK_KAFKA_VERSIONS:
            problems.add("kafkaVersion", self.kafka_version,
                         f"must be an MSK version within its support window: one of {', '.join(MSK_KAFKA_VERSIONS)}")
        if self.replication_factor > self.broker_count:
            problems.add("replicationFactor", self.replication_factor,
                         f"must be at most brokerCount ({self.broker_count})")
        if self.min_insync_replicas >= self.replication_factor and self.replication_factor > 1:
            problems.add("minInsyncReplicas", self.min_insync_replicas,
                         f"must be below replicationFactor ({self.replication_factor}) so one broker can fail")
        if self.ebs_max_volume_gib < self.ebs_volume_gib:
            problems.add("ebsMaxVolumeGib", self.ebs_max_volume_gib,
                         f"must be at least ebsVolumeGib ({self.ebs_volume_gib})")
        if not (self.client_auth_iam or self.client_auth_scram):
            problems.add("clientAuthIam", False, "clients must authenticate: enable clientAuthIam or "
                                                 "clientAuthScram (unauthenticated access is never allowed)")
        problems.raise_if_any()
        return self

    def server_properties(self) -> str:
        """The broker settings of the MSK configuration, one ``key=value`` per line."""
        return "\n".join([
            "auto.create.topics.enable=false",
            f"default.replication.factor={self.replication_factor}",
            f"min.insync.replicas={self.min_insync_replicas}",
            "unclean.leader.election.enable=false",
            f"log.retention.hours={self.log_retention_hours}",
        ]) + "\n"


def kafka_client_ports(config: StreamingConfig) -> list[tuple[int, int, str]]:
    """The broker ports clients use: SASL/SCRAM and IAM, as configured (TLS only)."""
    ports: list[tuple[int, int, str]] = []
    if config.client_auth_scram:
        ports.append((PORT_SASL_SCRAM, PORT_SASL_SCRAM, "Kafka SASL/SCRAM from clients"))
    if config.client_auth_iam:
        ports.append((PORT_SASL_IAM, PORT_SASL_IAM, "Kafka IAM auth from clients"))
    return ports


class KafkaCluster(pulumi.ComponentResource):
    """An MSK provisioned cluster in the database tier, reachable only from its client security groups."""

    bootstrap_brokers: pulumi.Output[str]
    bootstrap_brokers_sasl_iam: pulumi.Output[str]
    security_group_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        config: StreamingConfig,
        *,
        vpc_id: pulumi.Input[str],
        subnet_ids: Sequence[pulumi.Input[str]],
        client_security_group_ids: Sequence[pulumi.Input[str]],
        monitoring_security_group_ids: Sequence[pulumi.Input[str]] = (),
        kms_key_arn: pulumi.Input[str],
        logs_kms_key_arn: pulumi.Input[str],
        log_retention_days: int,
        protect: bool = True,
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("care:data:KafkaCluster", name, None, opts)
        child = child_opts(self)
        client_subnets = list(subnet_ids)[:MAX_CLIENT_SUBNETS]
        if len(client_subnets) < 2 or config.broker_count % len(client_subnets):
            raise ValueError(f"{name}: {config.broker_count} brokers cannot spread evenly over "
                             f"{len(client_subnets)} client subnets")
        ports = kafka_client_ports(config)
        # The exporters are unauthenticated: only the monitoring groups (Prometheus) reach them, never the clients.
        if config.open_monitoring and monitoring_security_group_ids:
            ports.append((*PORTS_OPEN_MONITORING, "Prometheus JMX and node exporters"))
        self.security_group = client_security_group(
            f"{name}-sg", vpc_id=vpc_id, description=f"MSK {name}: broker ports from its clients only",
            ports=ports, client_security_group_ids=client_security_group_ids, tags=tags, opts=child,
            sources={PORTS_OPEN_MONITORING[0]: list(monitoring_security_group_ids)},
        )
        self.security_group_id = self.security_group.id

        # Auto-named: a change that replaces the configuration (kafkaVersions) creates the new one, moves the
        # cluster to its ARN and revision, and only then deletes the old one (MSK refuses to delete a
        # configuration a cluster uses, and a fixed name would collide with the old one:
        # CreateConfiguration ConflictException). Server-property edits are a new revision in place.
        self.configuration = aws.msk.Configuration(
            f"{name}-config",
            aws.msk.ConfigurationArgs(
                description=f"{name}: replicated, no auto-created topics, no unclean leader election",
                kafka_versions=[config.kafka_version],
                server_properties=config.server_properties(),
            ),
            child,
        )
        self.broker_log_group = aws.cloudwatch.LogGroup(
            f"{name}-broker-logs",
            aws.cloudwatch.LogGroupArgs(
                name=f"/aws/msk/{name}/broker", retention_in_days=log_retention_days,
                kms_key_id=logs_kms_key_arn, tags=tags_for(tags, f"{name}-broker-logs"),
            ),
            child,
        )

        prometheus = aws.msk.ClusterOpenMonitoringPrometheusArgs(
            jmx_exporter=aws.msk.ClusterOpenMonitoringPrometheusJmxExporterArgs(enabled_in_broker=True),
            node_exporter=aws.msk.ClusterOpenMonitoringPrometheusNodeExporterArgs(enabled_in_broker=True),
        )
        self.cluster = aws.msk.Cluster(
            f"{name}-cluster",
            aws.msk.ClusterArgs(
                cluster_name=name,
                kafka_version=config.kafka_version,
                number_of_broker_nodes=config.broker_count,
                broker_node_group_info=aws.msk.ClusterBrokerNodeGroupInfoArgs(
                    instance_type=config.instance_type,
                    client_subnets=client_subnets,
                    security_groups=[self.security_group.id],
                    storage_info=aws.msk.ClusterBrokerNodeGroupInfoStorageInfoArgs(
                        ebs_storage_info=aws.msk.ClusterBrokerNodeGroupInfoStorageInfoEbsStorageInfoArgs(
                            volume_size=config.ebs_volume_gib,
                        ),
                    ),
                ),
                client_authentication=aws.msk.ClusterClientAuthenticationArgs(
                    sasl=aws.msk.ClusterClientAuthenticationSaslArgs(
                        iam=config.client_auth_iam, scram=config.client_auth_scram,
                    ),
                    unauthenticated=False,
                ),
                configuration_info=aws.msk.ClusterConfigurationInfoArgs(
                    arn=self.configuration.arn, revision=self.configuration.latest_revision,
                ),
                encryption_info=aws.msk.ClusterEncryptionInfoArgs(
                    encryption_at_rest_kms_key_arn=kms_key_arn,
                    encryption_in_transit=aws.msk.ClusterEncryptionInfoEncryptionInTransitArgs(
                        client_broker="TLS", in_cluster=True,
                    ),
                ),
                logging_info=aws.msk.ClusterLoggingInfoArgs(
                    broker_logs=aws.msk.ClusterLoggingInfoBrokerLogsArgs(
                        cloudwatch_logs=aws.msk.ClusterLoggingInfoBrokerLogsCloudwatchLogsArgs(
                            enabled=True, log_group=self.broker_log_group.name,
                        ),
                    ),
                ),
                open_monitoring=aws.msk.ClusterOpenMonitoringArgs(prometheus=prometheus)
                if config.open_monitoring else None,
                enhanced_monitoring=config.enhanced_monitoring,
                tags=tags_for(tags, name),
            ),
            # Storage autoscaling grows the volumes; a later `pulumi up` must not try to shrink them.
            child_opts(self, protect=protect,
                       ignore_changes=["brokerNodeGroupInfo.storageInfo.ebsStorageInfo.volumeSize"]),
        )

        self.storage_scaling_target = aws.appautoscaling.Target(
            f"{name}-storage-target",
            aws.appautoscaling.TargetArgs(
                service_namespace="kafka",
                scalable_dimension="kafka:broker-storage:VolumeSize",
                resource_id=self.cluster.arn,
                min_capacity=1,
                max_capacity=config.ebs_max_volume_gib,
                tags=tags_for(tags, f"{name}-storage-target"),
            ),
            child,
        )
        aws.appautoscaling.Policy(
            f"{name}-storage-policy",
            aws.appautoscaling.PolicyArgs(
                name=f"{name}-broker-storage",
                policy_type="TargetTrackingScaling",
                service_namespace=self.storage_scaling_target.service_namespace,
                scalable_dimension=self.storage_scaling_target.scalable_dimension,
                resource_id=self.storage_scaling_target.resource_id,
                target_tracking_scaling_policy_configuration=(
                    aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                        target_value=config.storage_target_utilization_percent,
                        disable_scale_in=True,  # MSK cannot shrink broker storage
                        predefined_metric_specification=(
                            aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(  # noqa: E501
                                predefined_metric_type="KafkaBrokerStorageUtilization",
                            )
                        ),
                    )
                ),
            ),
            child,
        )

        self.arn = self.cluster.arn
        #: Clients authenticate with IAM access control (else SASL/SCRAM); see KafkaBinding.
        self.client_auth_iam = config.client_auth_iam
        self.bootstrap_brokers_sasl_iam = self.cluster.bootstrap_brokers_sasl_iam
        self.bootstrap_brokers_sasl_scram = self.cluster.bootstrap_brokers_sasl_scram
        #: The brokers clients dial (TLS on the wire): IAM auth when enabled, else SASL/SCRAM.
        self.bootstrap_brokers = (self.bootstrap_brokers_sasl_iam if config.client_auth_iam
                                  else self.bootstrap_brokers_sasl_scram)
        self.register_outputs({
            "arn": self.arn,
            "bootstrapBrokers": self.bootstrap_brokers,
            "bootstrapBrokersSaslIam": self.bootstrap_brokers_sasl_iam,
            "securityGroupId": self.security_group_id,
        })

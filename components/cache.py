"""ElastiCache Redis: a cluster-mode replication group, Multi-AZ, encrypted at rest and in transit, AUTH."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_random as random
from pydantic import Field, model_validator

from components.common import ConfigModel, child_opts, client_security_group, tags_for
from components.instance_classes import CacheNodeType
from components.problems import ProblemCollector
from components.windows import check_windows


class CacheConfig(ConfigModel):
    node_type: CacheNodeType
    #: Redis OSS 7.1 is ElastiCache's newest Redis OSS engine and has no announced end of life (only v4 and
    #: v5 left standard support, on 2026-01-31; https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/
    #: engine-versions.html, .../deprecated-engine-versions.html). Major.minor only: ElastiCache applies
    #: the patch level itself (autoMinorVersionUpgrade) and reports "7.1.x" as engineVersionActual, so
    #: the pinned "7.1" shows no diff on a second ``pulumi up``.
    engine_version: str = Field(default="7.1", pattern=r"^7\.\d+$")
    #: Bump to rotate the AUTH token (docs/runbooks/rotate-redis-auth-token.md): a new random token is
    #: generated and added with the ROTATE strategy, so the old one keeps working until the runbook's
    #: last step removes it.
    auth_token_generation: int = Field(default=1, ge=1)
    cluster_mode: bool = True
    shards: int = Field(default=3, ge=1, le=500)
    replicas_per_shard: int = Field(default=1, ge=0, le=5)
    multi_az: bool = True
    port: int = Field(default=6379, ge=1024, le=65535)
    snapshot_retention_days: int = Field(default=7, ge=0, le=35)
    #: Daily UTC snapshot window (at least 60 minutes); must not overlap the maintenance window.
    snapshot_window: str = "03:00-04:00"
    #: Weekly UTC maintenance window (at least 60 minutes).
    maintenance_window: str = "sun:05:00-sun:06:00"
    apply_immediately: bool = False
    auto_minor_version_upgrade: bool = True
    #: Deliver the Redis slow log to CloudWatch Logs.
    slow_log: bool = True

    @model_validator(mode="after")
    def _combinations(self) -> CacheConfig:
        problems = ProblemCollector()
        if not self.cluster_mode and self.shards != 1:
            problems.add("shards", self.shards, "without clusterMode a replication group has exactly 1 shard")
        check_windows(problems, daily_key="snapshotWindow", daily=self.snapshot_window,
                      weekly_key="maintenanceWindow", weekly=self.maintenance_window,
                      daily_min=60, weekly_min=60)
        problems.raise_if_any()
        return self


class RedisCluster(pulumi.ComponentResource):
    """A Redis replication group (cluster mode by default) reachable only from its client security groups.

    Clients connect with TLS and the AUTH token, which stays a Pulumi secret and is also kept in a
    Secrets Manager secret (encrypted with the secrets key) that workloads read at start-up.
    """

    configuration_endpoint: pulumi.Output[str]
    auth_secret_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        config: CacheConfig,
        *,
        vpc_id: pulumi.Input[str],
        subnet_ids: Sequence[pulumi.Input[str]],
        client_security_group_ids: Sequence[pulumi.Input[str]],
        kms_key_arn: pulumi.Input[str],
        secret_kms_key_arn: pulumi.Input[str],
        logs_kms_key_arn: pulumi.Input[str],
        log_retention_days: int,
        protect: bool = True,
        skip_final_snapshot: bool = False,
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("care:data:RedisCluster", name, None, opts)
        child = child_opts(self)

        self.security_group = client_security_group(
            f"{name}-sg", vpc_id=vpc_id, description=f"Redis {name}: port {config.port} (TLS) from its clients only",
            ports=[(config.port, config.port, "Redis (TLS) from clients")],
            client_security_group_ids=client_security_group_ids, tags=tags, opts=child,
        )
        self.security_group_id = self.security_group.id

        subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            aws.elasticache.SubnetGroupArgs(
                name=f"{name}-subnets", description=f"{name}: the database tier", subnet_ids=list(subnet_ids),
                tags=tags_for(tags, f"{name}-subnets"),
            ),
            child,
        )
        # Auto-named (``<logical name>-<random suffix>``): a change that replaces the group (family, e.g.
        # a major engine upgrade) creates the new one before the old one is deleted, instead of colliding
        # on a fixed name (CreateCacheParameterGroup: CacheParameterGroupAlreadyExists).
        parameter_group = aws.elasticache.ParameterGroup(
            f"{name}-params",
            aws.elasticache.ParameterGroupArgs(
                family="redis" + config.engine_version.split(".")[0],
                description=f"{name}: cluster mode {'on' if config.cluster_mode else 'off'}",
                parameters=[aws.elasticache.ParameterGroupParameterArgs(
                    name="cluster-enabled", value="yes" if config.cluster_mode else "no")],
                tags=tags_for(tags, f"{name}-params"),
            ),
            child,
        )

        log_deliveries: list[aws.elasticache.ReplicationGroupLogDeliveryConfigurationArgs] = []
        depends_on: list[pulumi.Resource] = []
        if config.slow_log:
            self.slow_log_group = aws.cloudwatch.LogGroup(
                f"{name}-slow-log",
                aws.cloudwatch.LogGroupArgs(
                    name=f"/aws/elasticache/{name}/slow-log", retention_in_days=log_retention_days,
                    kms_key_id=logs_kms_key_arn, tags=tags_for(tags, f"{name}-slow-log"),
                ),
                child,
            )
            depends_on.append(self.slow_log_group)
            log_deliveries.append(aws.elasticache.ReplicationGroupLogDeliveryConfigurationArgs(
                destination=self.slow_log_group.name, destination_type="cloudwatch-logs",
                log_format="json", log_type="slow-log",
            ))

        # Redis AUTH allows printable ASCII except space, " , / and @; letters and digits suffice. A new
        # generation (cache.authTokenGeneration) replaces the password, i.e. yields a new token.
        self.auth_token = random.RandomPassword(
            f"{name}-auth-token",
            random.RandomPasswordArgs(length=64, special=False,
                                      keepers={"generation": str(config.auth_token_generation)}),
            child,
        )
        # Explicitly secret: the engine would mark it so, but say it here where the value is used.
        self.auth_token_value: pulumi.Output[str] = pulumi.Output.secret(self.auth_token.result)  # type: ignore[arg-type]

        # Cluster mode needs automatic failover; Multi-AZ needs it too (and a replica per shard).
        failover = config.cluster_mode or config.multi_az
        sizing: dict[str, object] = (
            {"num_node_groups": config.shards, "replicas_per_node_group": config.replicas_per_shard}
            if config.cluster_mode else {"num_cache_clusters": 1 + config.replicas_per_shard}
        )
        self.replication_group = aws.elasticache.ReplicationGroup(
            f"{name}-group",
            aws.elasticache.ReplicationGroupArgs(
                replication_group_id=name,
                description=f"Redis for {name}",
                engine="redis",
                engine_version=config.engine_version,
                node_type=config.node_type,
                port=config.port,
                cluster_mode="enabled" if config.cluster_mode else "disabled",
                parameter_group_name=parameter_group.name,
                subnet_group_name=subnet_group.name,
                security_group_ids=[self.security_group.id],
                automatic_failover_enabled=failover,
                multi_az_enabled=config.multi_az,
                at_rest_encryption_enabled=True,
                kms_key_id=kms_key_arn,
                transit_encryption_enabled=True,
                auth_token=self.auth_token_value,
                # A changed token is added next to the old one (ROTATE), so clients still holding the old
                # token keep working; the runbook removes the old one with SET once every client has the
                # new token (ModifyReplicationGroup AuthTokenUpdateStrategy,
                # https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth.html#auth-modifyng-token).
                # CreateReplicationGroup ignores it (hashicorp/terraform-provider-aws#45674).
                auth_token_update_strategy="ROTATE",
                snapshot_retention_limit=config.snapshot_retention_days,
                snapshot_window=config.snapshot_window,
                maintenance_window=config.maintenance_window,
                final_snapshot_identifier=None if skip_final_snapshot else f"{name}-final",
                apply_immediately=config.apply_immediately,
                auto_minor_version_upgrade=config.auto_minor_version_upgrade,
                log_delivery_configurations=log_deliveries,
                tags=tags_for(tags, name),
                **sizing,  # type: ignore[arg-type]
            ),
            child_opts(self, protect=protect, depends_on=depends_on),
        )

        group = self.replication_group
        self.configuration_endpoint = (group.configuration_endpoint_address if config.cluster_mode
                                       else group.primary_endpoint_address)
        self.reader_endpoint = None if config.cluster_mode else group.reader_endpoint_address
        self.port = config.port

        self.auth_secret = aws.secretsmanager.Secret(
            f"{name}-auth",
            aws.secretsmanager.SecretArgs(
                name=f"{name}/auth",
                description=f"AUTH token and endpoint of the Redis replication group {name}",
                kms_key_id=secret_kms_key_arn,
                recovery_window_in_days=30 if protect else 0,
                tags=tags_for(tags, f"{name}-auth"),
            ),
            child,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-auth-version",
            aws.secretsmanager.SecretVersionArgs(
                secret_id=self.auth_secret.id,
                secret_string=pulumi.Output.json_dumps({
                    "authToken": self.auth_token_value,
                    "endpoint": self.configuration_endpoint,
                    "port": config.port,
                    "tls": True,
                    "clusterMode": config.cluster_mode,
                }),
            ),
            child,
        )
        self.auth_secret_arn = self.auth_secret.arn

        self.register_outputs({
            "configurationEndpoint": self.configuration_endpoint,
            "port": self.port,
            "authSecretArn": self.auth_secret_arn,
            "securityGroupId": self.security_group_id,
        })

"""ElastiCache Redis: a cluster-mode replication group, Multi-AZ, encrypted at rest and in transit, RBAC per app."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
    #: Only for a group created before RBAC (with the shared AUTH token): the ``authTokenGeneration`` it had.
    #: While set, the ``default`` user accepts that token with the old full access, so pods that still send
    #: ``AUTH <token>`` keep working while the apps roll onto their own users (phase 1 of the runbook's
    #: migration); unset it in the next ``pulumi up`` (phase 2: ``default`` disabled).
    legacy_auth_token_generation: int | None = Field(default=None, ge=1)

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


#: ElastiCache RBAC (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Clusters.RBAC.html): Redis OSS 6.0
#: and later (CacheConfig pins 7.x), users and user groups of engine "redis" (also what a Valkey group uses), and
#: every user group must contain a user whose *user name* is "default" (CreateUserGroup: DefaultUserRequired;
#: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-elasticache-usergroup.html). Ours
#: is disabled: access string "off -@all" (RBAC page: a user without "on" has no access) and a random password
#: nobody holds, so a client that sends the old one-argument AUTH lands on a user that cannot log in.
RBAC_ENGINE = "redis"
DEFAULT_USER_ACCESS = "off -@all"
#: The default user during a migration from the AUTH token: what one-argument ``AUTH <token>`` had before RBAC
#: (Redis treats it as ``AUTH default <token>``; https://redis.io/docs/latest/commands/auth/).
LEGACY_DEFAULT_USER_ACCESS = "on ~* +@all"


@dataclass(frozen=True)
class RedisUser:
    """One app's RBAC user: its access string and the generation that rotates its password."""

    access_string: str
    password_generation: int = 1


def password_slots(generation: int) -> tuple[int, int]:
    """The keepers of the user's two password slots (a, b) at ``generation``: each bump renews one slot only.

    ElastiCache keeps up to two passwords per user (CreateUser/ModifyUser ``Passwords``,
    https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateUser.html), so the password the
    pods still hold stays valid while the new one reaches them. Odd generations renew slot a, even ones slot b.
    """
    return (generation + 1) // 2, generation // 2


class RedisCluster(pulumi.ComponentResource):
    """A Redis replication group (cluster mode by default) reachable only from its client security groups.

    Clients connect with TLS as their own RBAC user (``users``: app name -> access string and password
    generation): each user's password is a Pulumi secret kept in the app's own Secrets Manager secret
    (``<name>/users/<app>``, encrypted with the secrets key) that only that app's role reads.
    """

    configuration_endpoint: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    #: Each app's credentials secret (JSON: username, password, endpoint, port, tls, clusterMode), by app name.
    user_secret_arns: dict[str, pulumi.Output[str]]

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
        users: Mapping[str, RedisUser],
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

        self.user_group = self._user_group(name, users, tags, config.legacy_auth_token_generation)

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
                # RBAC: each app authenticates as its own user of this group; no shared AUTH token.
                user_group_ids=[self.user_group.user_group_id],
                # Migrating a group that has an AUTH token: one ModifyReplicationGroup adds the user group
                # and deletes the token (AuthTokenUpdateStrategy DELETE, "allowed only when transitioning to
                # RBAC"; https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Clusters.RBAC.html#Migrate-From-RBAC-to-Auth).
                # The provider sends DELETE with the token removed since hashicorp/terraform-provider-aws#45518
                # (fixes #39546, "User group can't be associated with auth token enabled"); CreateReplicationGroup
                # ignores the strategy, and with no token change it is never sent again.
                auth_token_update_strategy="DELETE",
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

        self.user_secret_arns = {
            app: self._credentials(name, app, passwords[0], config, secret_kms_key_arn, protect, tags)
            for app, passwords in self._app_passwords.items()}

        self.register_outputs({
            "configurationEndpoint": self.configuration_endpoint,
            "port": self.port,
            "userGroupId": self.user_group.user_group_id,
            "userSecretArns": self.user_secret_arns,
            "securityGroupId": self.security_group_id,
        })

    def _user_group(self, name: str, users: Mapping[str, RedisUser], tags: Mapping[str, str],
                    legacy_token_generation: int | None) -> aws.elasticache.UserGroup:
        """The disabled "default" user, one user per app (two password slots each), and their user group.

        With ``legacy_token_generation`` (a group moving from the AUTH token) the default user is on, with the old
        token (the same RandomPassword resource and keepers as before RBAC, so the same value) and its old access.
        """
        child = child_opts(self)
        if legacy_token_generation is None:
            default_access, default_password = DEFAULT_USER_ACCESS, self._password(f"{name}-user-default-password", 0)
        else:
            pulumi.log.warn(f"cache.legacyAuthTokenGeneration is set: the Redis default user of {name} accepts the old "
                            "shared AUTH token with access to every key until it is unset (runbook "
                            "rotate-redis-auth-token.md, migration phase 2)", resource=self)
            default_access = LEGACY_DEFAULT_USER_ACCESS
            default_password = self._password(f"{name}-auth-token", legacy_token_generation)
        # A user's user_id is unique in the account and region; its user_name is what clients send to AUTH.
        default = aws.elasticache.User(
            f"{name}-user-default",
            aws.elasticache.UserArgs(
                user_id=f"{name}-default", user_name="default", engine=RBAC_ENGINE,
                access_string=default_access,
                authentication_mode=aws.elasticache.UserAuthenticationModeArgs(
                    type="password", passwords=[default_password]),
                tags=tags_for(tags, f"{name}-user-default"),
            ),
            child,
        )
        self._app_passwords: dict[str, list[pulumi.Output[str]]] = {}
        self.users: dict[str, aws.elasticache.User] = {}
        for app, user in sorted(users.items()):
            slot_a, slot_b = password_slots(user.password_generation)
            a = self._password(f"{name}-{app}-password-a", slot_a)
            b = self._password(f"{name}-{app}-password-b", slot_b)
            # The current password first: the slot the latest generation renewed.
            current, previous = (a, b) if user.password_generation % 2 else (b, a)
            self._app_passwords[app] = [current, previous]
            self.users[app] = aws.elasticache.User(
                f"{name}-user-{app}",
                aws.elasticache.UserArgs(
                    user_id=f"{name}-{app}", user_name=app, engine=RBAC_ENGINE, access_string=user.access_string,
                    authentication_mode=aws.elasticache.UserAuthenticationModeArgs(
                        type="password", passwords=[current, previous]),
                    tags=tags_for(tags, f"{name}-user-{app}"),
                ),
                child,
            )
        return aws.elasticache.UserGroup(
            f"{name}-users",
            aws.elasticache.UserGroupArgs(
                user_group_id=f"{name}-users", engine=RBAC_ENGINE,
                user_ids=[default.user_id, *(u.user_id for u in self.users.values())],
                tags=tags_for(tags, f"{name}-users"),
            ),
            child,
        )

    def _password(self, logical_name: str, generation: int) -> pulumi.Output[str]:
        """64 letters and digits: within ElastiCache's 16-128 printable characters, none of the refused ones."""
        password = random.RandomPassword(
            logical_name,
            random.RandomPasswordArgs(length=64, special=False, keepers={"generation": str(generation)}),
            child_opts(self),
        )
        return pulumi.Output.secret(password.result)  # type: ignore[arg-type]

    def _credentials(self, name: str, app: str, password: pulumi.Output[str], config: CacheConfig,
                     secret_kms_key_arn: pulumi.Input[str], protect: bool,
                     tags: Mapping[str, str]) -> pulumi.Output[str]:
        """The app's own secret: its user name, current password and where to connect."""
        child = child_opts(self)
        secret = aws.secretsmanager.Secret(
            f"{name}-{app}-credentials",
            aws.secretsmanager.SecretArgs(
                name=f"{name}/users/{app}",
                description=f"Redis user {app} of the replication group {name} (RBAC): user name, password, endpoint",
                kms_key_id=secret_kms_key_arn,
                recovery_window_in_days=30 if protect else 0,
                tags=tags_for(tags, f"{name}-{app}-credentials"),
            ),
            child,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-{app}-credentials-version",
            aws.secretsmanager.SecretVersionArgs(
                secret_id=secret.id,
                secret_string=pulumi.Output.json_dumps({
                    "username": self.users[app].user_name, "password": password,
                    "endpoint": self.configuration_endpoint, "port": config.port, "tls": True,
                    "clusterMode": config.cluster_mode,
                }),
            ),
            child,
        )
        return secret.arn

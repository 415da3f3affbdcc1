"""The data tier: PostgreSQL (PRM, NL-FHIR), Redis, Kafka, S3 and AWS Backup.

Everything lives in the primary region on the database subnets and admits only the security groups of
the workloads bound to it (tiers/identity.py; security groups for Pods), each store on its own ports;
MSK's exporters admit Prometheus only. Children in the DR region (RDS backup replication, the DR bucket, the DR
backup vault) are created with the DR provider handed over as ``dr_provider``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from components.audit import audit_bucket_statements
from components.backup import Backup
from components.cache import RedisCluster, RedisUser
from components.database import DatabaseInstanceConfig, PostgresDatabase
from components.network import Network
from components.pod_network import STORE_TAG, PodSecurityGroups
from components.storage import Storage
from components.streaming import PORTS_OPEN_MONITORING, KafkaCluster, kafka_client_ports
from tiers.context import Providers, Stack
from tiers.edge import EdgeTier
from tiers.identity import KAFKA_EXPORTERS, bound_access, check_store_access
from tiers.security import Keys


@dataclass(frozen=True)
class DataTier:
    prm_db: PostgresDatabase
    nlfhir_db: PostgresDatabase
    redis: RedisCluster
    kafka: KafkaCluster
    storage: Storage
    backup: Backup

    def databases(self) -> dict[str, PostgresDatabase]:
        """By stack output name."""
        return {"prmDatabase": self.prm_db, "nlfhirDatabase": self.nlfhir_db}


def database_subnet_ports(stack: Stack) -> list[tuple[int, int, str]]:
    """The TCP ports of the stores in the database subnets, as the private tier reaches them (their network ACL,
    components/network_acl.py): PostgreSQL, Redis, MSK's client ports and, when on, its exporters (Prometheus)."""
    cfg = stack.cfg
    ports = [(db.port, db.port, f"PostgreSQL ({name})") for name, db in (("prm", cfg.database.prm),
                                                                           ("nlfhir", cfg.database.nlfhir))]
    ports += [(cfg.cache.port, cfg.cache.port, "Redis (TLS)"), *kafka_client_ports(cfg.streaming)]
    if cfg.streaming.open_monitoring:
        ports.append((*PORTS_OPEN_MONITORING, "MSK JMX and node exporters"))
    return ports


def audit_name(stack: Stack) -> str:
    """The account baseline component's name (the trail's ARN in the bucket policy derives from it)."""
    return f"{stack.prefix}-audit"


def data_tier(stack: Stack, providers: Providers, keys: Keys, network: Network, pods: PodSecurityGroups,
              edge: EdgeTier | None = None) -> DataTier:
    """``edge``: the CDN that reads the static-assets bucket (its distribution is named in the bucket policy)."""
    cfg, prefix, protection = stack.cfg, stack.prefix, stack.cfg.protection
    primary, dr = providers.in_primary, providers.dr
    vpc_id, subnet_ids = network.vpc_id, network.subnet_ids["database"]
    log_retention_days = cfg.observability.log_retention_days

    def tags(*stores: str) -> dict[str, str]:
        """The standard tags plus the store keys the policy pack matches the clients' bindings against."""
        return {**stack.tags, STORE_TAG: " ".join(stores)}

    def postgres(name: str, db_config: DatabaseInstanceConfig) -> PostgresDatabase:
        db = PostgresDatabase(
            f"{prefix}-{name}", db_config, vpc_id=vpc_id, subnet_ids=subnet_ids, availability_zones=cfg.network.zones,
            client_security_group_ids=pods.clients_of(f"{name}_db"), account_id=stack.account_id,
            region=stack.region, kms_key_arn=keys.arn("database"),
            secret_kms_key_arn=keys.arn("secrets"), logs_kms_key_arn=keys.arn("logs"),
            log_retention_days=log_retention_days, dr_kms_key_arn=keys.dr_arn("database"), dr_provider=dr,
            protect=protection.protect, deletion_protection=protection.deletion_protection,
            skip_final_snapshot=protection.skip_final_snapshot, tags=tags(f"{name}_db"), opts=primary,
        )
        pods.admit(f"{name}_db", db.security_group_id, [(db.port, db.port, "PostgreSQL")])
        return db

    check_store_access(stack)
    # One RBAC user per app bound to Redis: its key prefixes and commands, its password generation.
    redis_users = {app: RedisUser(config.redis.access_string, config.redis.password_generation)
                   for app, config in bound_access(stack, "redis").items() if config.redis is not None}
    redis = RedisCluster(
        f"{prefix}-redis", cfg.cache, vpc_id=vpc_id, subnet_ids=subnet_ids,
        client_security_group_ids=pods.clients_of("redis"),
        kms_key_arn=keys.arn("cache"), secret_kms_key_arn=keys.arn("secrets"), logs_kms_key_arn=keys.arn("logs"),
        users=redis_users,
        log_retention_days=log_retention_days, protect=protection.protect,
        skip_final_snapshot=protection.skip_final_snapshot, tags=tags("redis"), opts=primary,
    )
    pods.admit("redis", redis.security_group_id, [(redis.port, redis.port, "Redis (TLS)")])
    kafka = KafkaCluster(
        f"{prefix}-kafka", cfg.streaming, vpc_id=vpc_id, subnet_ids=subnet_ids,
        client_security_group_ids=pods.clients_of("kafka"),
        monitoring_security_group_ids=pods.clients_of(KAFKA_EXPORTERS),
        kms_key_arn=keys.arn("streaming"), logs_kms_key_arn=keys.arn("logs"),
        log_retention_days=log_retention_days, protect=protection.protect, tags=tags("kafka", KAFKA_EXPORTERS),
        opts=primary,
    )
    pods.admit("kafka", kafka.security_group_id, kafka_client_ports(cfg.streaming))
    if cfg.streaming.open_monitoring:
        pods.admit(KAFKA_EXPORTERS, kafka.security_group_id, [(*PORTS_OPEN_MONITORING, "MSK JMX and node exporters")])

    return DataTier(
        prm_db=postgres("prm", cfg.database.prm),
        nlfhir_db=postgres("nlfhir", cfg.database.nlfhir),
        redis=redis,
        kafka=kafka,
        storage=Storage(
            prefix, cfg.storage, account_id=stack.account_id, region=stack.region, kms_key_arn=keys.arn("storage"),
            dr_kms_key_arn=keys.dr_arn("storage"), dr_region=cfg.regions.dr, dr_provider=dr,
            force_destroy=protection.force_destroy_buckets,
            # The audit-log bucket admits CloudTrail and AWS Config (tiers/audit.py) in its one bucket policy.
            audit_log_statements=functools.partial(audit_bucket_statements, name=audit_name(stack), config=cfg.audit,
                                                   account_id=stack.account_id, region=stack.region),
            s3_endpoint_id=network.s3_endpoint_id,
            # AWS Backup's role (components/backup.py, auto-named <prefix>-backup-role-<suffix>) backs the bucket up;
            # the deployer (`pulumi up`/refresh) reads it with HeadBucket (s3:ListBucket) and empties it on destroy.
            exempt_role_patterns=[f"arn:aws:iam::{stack.account_id}:role/{prefix}-backup-role-*",
                                  cfg.eks.deployer_role_arn],
            protect=protection.protect, alb_logs_region=stack.region,
            cdn_distribution_arn=edge.distribution_arn if edge is not None else None, tags=stack.tags, opts=primary,
        ),
        backup=Backup(
            f"{prefix}-backup", cfg.backup, account_id=stack.account_id, region=stack.region,
            kms_key_arn=keys.arn("backup"), dr_kms_key_arn=keys.dr_arn("backup"), dr_provider=dr,
            force_destroy=protection.force_destroy_buckets, protect=protection.protect, tags=stack.tags, opts=primary,
        ),
    )

"""care-platform: the AWS platform for the PRM platform and the NL-FHIR service, one stack per environment.

Composition only: configuration -> providers -> components -> exports. Every difference between
environments is in Pulumi.<stack>.yaml (read and validated by config.py).
"""

import pulumi
import pulumi_aws as aws

import config
from components.backup import Backup
from components.cache import RedisCluster
from components.database import DatabaseInstanceConfig, PostgresDatabase
from components.encryption import PRIMARY_DOMAINS, KeyRing
from components.network import Network
from components.storage import Storage
from components.streaming import KafkaCluster

settings = config.load()
cfg = settings.config
env = cfg.environment
tags = cfg.standard_tags
prefix = f"care-{env.name}"


def aws_provider(name: str, region: str) -> aws.Provider:
    """An AWS provider pinned to one region and to this environment's account only."""
    return aws.Provider(name, aws.ProviderArgs(region=region, allowed_account_ids=[env.account_id]))


primary = aws_provider("aws-primary", cfg.regions.primary)
dr = aws_provider("aws-dr", cfg.regions.dr)
edge = aws_provider("aws-edge", cfg.regions.edge)  # CloudFront certificates and WAF live in us-east-1

keys = KeyRing(
    f"{prefix}-kms", cfg.encryption, domains=PRIMARY_DOMAINS, region=cfg.regions.primary,
    account_id=env.account_id, alias_prefix=f"care-platform/{env.name}", tags=tags,
    opts=pulumi.ResourceOptions(provider=primary),
)
dr_keys = KeyRing(
    f"{prefix}-dr-kms", cfg.encryption, domains=cfg.encryption.dr_domains, region=cfg.regions.dr,
    account_id=env.account_id, alias_prefix=f"care-platform/{env.name}", tags=tags,
    opts=pulumi.ResourceOptions(provider=dr),
)

network = Network(
    prefix, cfg.network, region=cfg.regions.primary, account_id=env.account_id,
    logs_kms_key_arn=keys.arn("logs"), tags=tags,
    opts=pulumi.ResourceOptions(provider=primary),
)

# --- Data tier: PostgreSQL (PRM, NL-FHIR), Redis, Kafka, S3 and AWS Backup ------------------------
# Everything lives in the primary region on the database subnets and admits only the EKS nodes'
# workload security group. Children in the DR region (RDS backup replication, the DR bucket, the
# DR backup vault) are created with the `dr` provider handed over as `dr_provider`.
protection = cfg.protection
data_clients = [network.workload_security_group_id]
log_retention_days = cfg.observability.log_retention_days


def postgres(name: str, db_config: DatabaseInstanceConfig) -> PostgresDatabase:
    return PostgresDatabase(
        f"{prefix}-{name}", db_config, vpc_id=network.vpc_id, subnet_ids=network.subnet_ids["database"],
        availability_zones=cfg.network.zones, client_security_group_ids=data_clients,
        kms_key_arn=keys.arn("database"), secret_kms_key_arn=keys.arn("secrets"),
        logs_kms_key_arn=keys.arn("logs"), log_retention_days=log_retention_days,
        dr_kms_key_arn=dr_keys.arn("database"), dr_provider=dr, protect=protection.protect,
        deletion_protection=protection.deletion_protection, skip_final_snapshot=protection.skip_final_snapshot,
        tags=tags, opts=pulumi.ResourceOptions(provider=primary),
    )


prm_db = postgres("prm", cfg.database.prm)
nlfhir_db = postgres("nlfhir", cfg.database.nlfhir)
redis = RedisCluster(
    f"{prefix}-redis", cfg.cache, vpc_id=network.vpc_id, subnet_ids=network.subnet_ids["database"],
    client_security_group_ids=data_clients, kms_key_arn=keys.arn("cache"), secret_kms_key_arn=keys.arn("secrets"),
    logs_kms_key_arn=keys.arn("logs"), log_retention_days=log_retention_days, protect=protection.protect,
    skip_final_snapshot=protection.skip_final_snapshot, tags=tags,
    opts=pulumi.ResourceOptions(provider=primary),
)
kafka = KafkaCluster(
    f"{prefix}-kafka", cfg.streaming, vpc_id=network.vpc_id, subnet_ids=network.subnet_ids["database"],
    client_security_group_ids=data_clients, kms_key_arn=keys.arn("streaming"), logs_kms_key_arn=keys.arn("logs"),
    log_retention_days=log_retention_days, protect=protection.protect, tags=tags,
    opts=pulumi.ResourceOptions(provider=primary),
)
storage = Storage(
    prefix, cfg.storage, account_id=env.account_id, kms_key_arn=keys.arn("storage"),
    dr_kms_key_arn=dr_keys.arn("storage"), dr_provider=dr, force_destroy=protection.force_destroy_buckets,
    protect=protection.protect, tags=tags, opts=pulumi.ResourceOptions(provider=primary),
)
backup = Backup(
    f"{prefix}-backup", cfg.backup, account_id=env.account_id, region=cfg.regions.primary,
    kms_key_arn=keys.arn("backup"), dr_kms_key_arn=dr_keys.arn("backup"), dr_provider=dr,
    force_destroy=protection.force_destroy_buckets, protect=protection.protect, tags=tags,
    opts=pulumi.ResourceOptions(provider=primary),
)

for export_name, db in (("prmDatabase", prm_db), ("nlfhirDatabase", nlfhir_db)):
    pulumi.export(export_name, {
        "endpoint": db.endpoint, "readerEndpoints": db.reader_endpoints, "port": db.port,
        "masterSecretArn": db.master_secret_arn, "securityGroupId": db.security_group_id,
        "pointInTimeRecovery": db.point_in_time_recovery,
    })
pulumi.export("redis", {"configurationEndpoint": redis.configuration_endpoint, "port": redis.port,
                        "authSecretArn": redis.auth_secret_arn, "securityGroupId": redis.security_group_id})
pulumi.export("kafka", {"arn": kafka.arn, "bootstrapBrokers": kafka.bootstrap_brokers,
                        "securityGroupId": kafka.security_group_id})
pulumi.export("bucketNames", storage.bucket_names)
pulumi.export("backupVaultArns", {"primary": backup.vault_arn, "dr": backup.dr_vault_arn})

pulumi.export("vpcId", network.vpc_id)
pulumi.export("publicSubnetIds", network.subnet_ids["public"])
pulumi.export("privateSubnetIds", network.subnet_ids["private"])
pulumi.export("databaseSubnetIds", network.subnet_ids["database"])
pulumi.export("kmsKeyArns", keys.key_arns)
pulumi.export("drKmsKeyArns", dr_keys.key_arns)

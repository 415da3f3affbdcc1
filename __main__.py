"""care-platform: the AWS platform for the PRM platform and the NL-FHIR service, one stack per environment.

Composition only: configuration -> providers -> components -> exports. Every difference between
environments is in Pulumi.<stack>.yaml (read and validated by config.py).
"""

from typing import Any

import pulumi
import pulumi_aws as aws

import config
from components.app_service import AppService, ChromaDbBinding, KafkaBinding, PostgresBinding, RedisBinding
from components.backup import Backup
from components.cache import RedisCluster
from components.chromadb import ChromaDb
from components.database import DatabaseInstanceConfig, PostgresDatabase
from components.db_bootstrap import DatabaseBootstrap
from components.eks import EksCluster
from components.encryption import PRIMARY_DOMAINS, KeyRing
from components.network import Network
from components.reloader import Reloader
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
    account_id=env.account_id, alias_prefix=f"care-platform/{env.name}", protect=cfg.protection.protect, tags=tags,
    opts=pulumi.ResourceOptions(provider=primary),
)
dr_keys = KeyRing(
    f"{prefix}-dr-kms", cfg.encryption, domains=cfg.encryption.dr_domains, region=cfg.regions.dr,
    account_id=env.account_id, alias_prefix=f"care-platform/{env.name}", protect=cfg.protection.protect, tags=tags,
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
        "masterSecretArn": db.master_secret_arn, "appUser": db.app_username, "resourceIds": db.resource_ids,
        "securityGroupId": db.security_group_id,
        "pointInTimeRecovery": db.point_in_time_recovery,
    })
pulumi.export("redis", {"configurationEndpoint": redis.configuration_endpoint, "port": redis.port,
                        "authSecretArn": redis.auth_secret_arn, "securityGroupId": redis.security_group_id})
pulumi.export("kafka", {"arn": kafka.arn, "bootstrapBrokers": kafka.bootstrap_brokers,
                        "securityGroupId": kafka.security_group_id})
pulumi.export("bucketNames", storage.bucket_names)
pulumi.export("backupVaultArns", {"primary": backup.vault_arn, "dr": backup.dr_vault_arn})

# --- Compute tier: EKS, the apps (Railway-style) and ChromaDB -----------------------------------
# The cluster sits in the private subnets. Its nodes carry the cluster security group (control
# plane <-> nodes) and the workload security group, the one source the data tier admits. Secrets
# are envelope-encrypted with the EKS key, node and PV volumes with the EBS key, control-plane
# logs with the logs key. Kubernetes objects go through the cluster's own kubernetes.Provider.
apps = {"nlfhir": cfg.apps.nlfhir, "prm-api": cfg.apps.prm_api, "prm-worker": cfg.apps.prm_worker}
cluster = EksCluster(
    f"{prefix}-eks", cfg.eks, region=cfg.regions.primary, account_id=env.account_id, vpc_id=network.vpc_id,
    subnet_ids=network.subnet_ids["private"], node_security_group_ids=[network.workload_security_group_id],
    secrets_kms_key_arn=keys.arn("eks"), ebs_kms_key_arn=keys.arn("ebs"), logs_kms_key_arn=keys.arn("logs"),
    namespaces=sorted({app.namespace for app in apps.values()} | {cfg.chromadb.namespace,
                                                                  cfg.database.bootstrap.namespace}),
    deletion_protection=protection.deletion_protection, tags=tags,
    opts=pulumi.ResourceOptions(provider=primary),
)
workloads = pulumi.ResourceOptions(providers={"aws": primary, "kubernetes": cluster.provider})
app_wiring: dict[str, Any] = {  # what every app service is wired to
    "region": cfg.regions.primary, "account_id": env.account_id,
    "oidc_provider_arn": cluster.oidc_provider_arn, "oidc_issuer": cluster.oidc_issuer,
    "secret_kms_key_arns": [keys.arn("secrets")],
    "load_balancer_cidrs": {"internet-facing": cfg.network.subnet_cidrs("public"),
                            "internal": cfg.network.subnet_cidrs("private")},
    "tags": tags,
}
chromadb = ChromaDb(
    f"{prefix}-chromadb", cfg.chromadb, storage_class_name=cluster.storage_class_name,
    client_pod_labels=AppService.labels_for("nlfhir"), client_namespace=cfg.apps.nlfhir.namespace,
    secrets_kms_key_arn=keys.arn("secrets"), wait_for=cluster.addons_ready, protect=protection.protect, tags=tags,
    opts=workloads,
)

# Apps log in to PostgreSQL as their own user with IAM authentication (never as the master user): the
# bootstrap Job creates that user, after the database and the cluster's add-ons, and the app starts after it.
def bootstrap(name: str, db: PostgresDatabase) -> DatabaseBootstrap:
    return DatabaseBootstrap(
        f"{prefix}-{name}-bootstrap", cfg.database.bootstrap, database=name, host=db.endpoint, port=db.port,
        database_name=db.database_name, app_username=db.app_username, master_secret_arn=db.master_secret_arn,
        secret_kms_key_arn=keys.arn("secrets"), region=cfg.regions.primary,
        oidc_provider_arn=cluster.oidc_provider_arn, oidc_issuer=cluster.oidc_issuer,
        wait_for=[*cluster.addons_ready, db.primary, db.master_secret_version], tags=tags, opts=workloads,
    )


prm_bootstrap = bootstrap("prm", prm_db)
nlfhir_bootstrap = bootstrap("nlfhir", nlfhir_db)
reloader = Reloader(f"{prefix}-reloader", cfg.apps.reloader, wait_for=cluster.addons_ready, opts=workloads)


nlfhir = AppService(
    f"{prefix}-nlfhir", cfg.apps.nlfhir, app_name="nlfhir",
    bindings=[PostgresBinding.of(nlfhir_db), ChromaDbBinding.of(chromadb)],
    wait_for=[*cluster.addons_ready, nlfhir_bootstrap.job], **app_wiring, opts=workloads,
)
prm_api = AppService(
    f"{prefix}-prm-api", cfg.apps.prm_api, app_name="prm-api",
    bindings=[PostgresBinding.of(prm_db), RedisBinding.of(redis)],
    wait_for=[*cluster.addons_ready, prm_bootstrap.job], **app_wiring, opts=workloads,
)
prm_worker = AppService(
    f"{prefix}-prm-worker", cfg.apps.prm_worker, app_name="prm-worker",
    bindings=[RedisBinding.of(redis), KafkaBinding.of(kafka)],
    wait_for=cluster.addons_ready, **app_wiring, opts=workloads,
)

pulumi.export("eksClusterName", cluster.cluster_name)
pulumi.export("eksEndpoint", cluster.endpoint)
pulumi.export("eksOidcIssuer", cluster.oidc_issuer)
pulumi.export("kubeconfig", cluster.kubeconfig)  # a secret: `pulumi stack output kubeconfig --show-secrets`
pulumi.export("apps", {key: {"namespace": app.namespace, "url": app.url, "roleArn": app.role.arn if app.role else None}
                       for key, app in (("nlfhir", nlfhir), ("prmApi", prm_api), ("prmWorker", prm_worker))})
pulumi.export("chromadbUrl", chromadb.url)

pulumi.export("vpcId", network.vpc_id)
pulumi.export("publicSubnetIds", network.subnet_ids["public"])
pulumi.export("privateSubnetIds", network.subnet_ids["private"])
pulumi.export("databaseSubnetIds", network.subnet_ids["database"])
pulumi.export("kmsKeyArns", keys.key_arns)
pulumi.export("drKmsKeyArns", dr_keys.key_arns)

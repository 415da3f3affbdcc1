"""care-platform: the AWS platform for the PRM platform and the NL-FHIR service, one stack per environment.

Composition only, in the order of docs/architecture.md's diagram: configuration -> providers -> one
line per box (KMS, VPC, data tier, compute tier, apps) -> exports. Each box's wiring is in tiers/
(one module per box, returning a typed record of its components); every difference between
environments is in Pulumi.<stack>.yaml (read and validated by config.py).
"""

import pulumi

import config
from components.network import Network
from tiers.alerting import alerting_tier
from tiers.apps import apps_tier
from tiers.audit import audit_tier
from tiers.compute import compute_tier
from tiers.context import Providers, Stack
from tiers.cost import cost_tier
from tiers.data import data_tier, database_subnet_ports
from tiers.delivery import delivery_tier
from tiers.edge import edge_tier, publish
from tiers.identity import network_identities
from tiers.notifications import notifications_tier
from tiers.observability import observability_tier
from tiers.security import key_rings

stack = Stack(config.load())
cfg = stack.cfg

# --- Providers: one AWS provider per region (primary, DR, edge for CloudFront/WAF), pinned to the account;
# the kubernetes provider comes from the EKS cluster (compute tier).
providers = Providers.create(stack)

# --- KMS: one key per data domain, DR-region keys for copies and replicas --------------------------------
keys = key_rings(stack, providers)

# --- Alert topics: what CloudWatch alarms, EventBridge rules and budgets publish to (primary and edge region)
alerts = notifications_tier(stack, providers, keys)

# --- VPC: public, private and database subnets in every AZ (the database ACL admits the stores' ports); nodes' SG
network = Network(stack.prefix, cfg.network, region=stack.region, account_id=stack.account_id,
                  logs_kms_key_arn=keys.arn("logs"), database_ports=database_subnet_ports(stack), tags=stack.tags,
                  opts=providers.in_primary)

# --- Network identities: one security group per workload (security groups for Pods) ----------------------
pods = network_identities(stack, providers, network)

# --- Edge: CloudFront + WAF (us-east-1 and regional), certificates, Shield; before the bucket and apps it fronts
edge = edge_tier(stack, providers, keys, network)

# --- Data tier (database subnets): PostgreSQL (PRM, NL-FHIR), Redis, Kafka; S3 and AWS Backup ----------
data = data_tier(stack, providers, keys, network, pods, edge)

# --- Compute tier (private subnets): EKS, ChromaDB, the database bootstrap Jobs, Reloader --------------
compute = compute_tier(stack, providers, keys, network, data, pods)

# --- Apps on EKS: NL-FHIR API, PRM API, PRM worker, bound to their stores --------------------------------
apps = apps_tier(stack, keys, data, compute, edge)
publish(edge, apps.ingress_statuses())  # origin DNS records -> the published apps' ALBs; the `edge` export

# --- Observability (namespace monitoring): Prometheus, Alertmanager, Grafana, Loki + Alloy, Tempo, dashboards -----
observability = observability_tier(stack, keys, data, compute, apps, pods)

# --- Alerting: SLO burn-rate alerts and Alertmanager routing (P1/P2 PagerDuty, P3/P4 tickets); AWS alarms ------
alerting = alerting_tier(stack, providers, keys, data, compute, apps, alerts, observability, edge)

# --- Audit baseline (account-wide): CloudTrail, AWS Config + HIPAA pack, GuardDuty, Security Hub ---------
audit = audit_tier(stack, providers, keys, network, data, alert_topic_arn=alerts.primary.arn)

# --- Cost: the monthly budget (75/90/100 % actual, 100 % forecast), cost allocation tags, anomaly detection
cost = cost_tier(stack, providers, alerts)

# --- CI identity: the GitHub Actions OIDC provider, this stack's preview and deploy roles (docs/delivery.md)
delivery_tier(stack, providers)

# --- Exports ----------------------------------------------------------------------------------------------
for export_name, db in data.databases().items():
    pulumi.export(export_name, {
        "endpoint": db.endpoint, "readerEndpoints": db.reader_endpoints, "port": db.port,
        "masterSecretArn": db.master_secret_arn, "appUser": db.app_username, "resourceIds": db.resource_ids,
        "securityGroupId": db.security_group_id,
        "pointInTimeRecovery": db.point_in_time_recovery,
    })
redis, kafka = data.redis, data.kafka
pulumi.export("redis", {"configurationEndpoint": redis.configuration_endpoint, "port": redis.port,
                        "userGroupId": redis.user_group.user_group_id,
                        "userSecretArns": redis.user_secret_arns, "securityGroupId": redis.security_group_id})
pulumi.export("kafka", {"arn": kafka.arn, "bootstrapBrokers": kafka.bootstrap_brokers,
                        "securityGroupId": kafka.security_group_id})
pulumi.export("bucketNames", data.storage.bucket_names)
pulumi.export("backupVaultArns", {"primary": data.backup.vault_arn, "dr": data.backup.dr_vault_arn})

cluster = compute.cluster
pulumi.export("eksClusterName", cluster.cluster_name)
pulumi.export("eksEndpoint", cluster.endpoint)
pulumi.export("eksOidcIssuer", cluster.oidc_issuer)
pulumi.export("kubeconfig", cluster.kubeconfig)  # a secret: `pulumi stack output kubeconfig --show-secrets`
pulumi.export("apps", {key: {"namespace": app.namespace, "url": app.url, "roleArn": app.role.arn if app.role else None}
                       for key, app in apps.by_output_name().items()})
pulumi.export("chromadbUrl", compute.chromadb.url)

pulumi.export("vpcId", network.vpc_id)
pulumi.export("publicSubnetIds", network.subnet_ids["public"])
pulumi.export("privateSubnetIds", network.subnet_ids["private"])
pulumi.export("databaseSubnetIds", network.subnet_ids["database"])
pulumi.export("kmsKeyArns", keys.primary.key_arns)
pulumi.export("drKmsKeyArns", keys.dr.key_arns)
pulumi.export("edgeKmsKeyArns", keys.edge.key_arns)
pulumi.export("alertTopicArns", {"primary": alerts.primary.arn, "edge": alerts.edge.arn})

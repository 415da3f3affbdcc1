"""The compute tier: the EKS cluster, ChromaDB, the database bootstrap Jobs and Reloader.

The cluster sits in the private subnets. Its nodes carry the cluster security group (control plane
<-> nodes) and the workload security group; the data tier admits neither: each workload that uses a
store has its own security group (tiers/identity.py), given to its pods by a ``SecurityGroupPolicy``
that the workload waits for. Secrets are
envelope-encrypted with the EKS key, node and PV volumes with the EBS key, control-plane logs with
the logs key. Kubernetes objects go through the cluster's own kubernetes.Provider (``workloads``).

Apps log in to PostgreSQL as their own user with IAM authentication (never as the master user): the
bootstrap Job creates that user, after the database and the cluster's add-ons, and the app starts
after it (``bootstrap_jobs``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.app_service import AppService
from components.chromadb import ChromaDb
from components.database import PostgresDatabase
from components.db_bootstrap import DatabaseBootstrap
from components.eks import EksCluster
from components.network import Network
from components.pod_network import PodSecurityGroups
from components.rds_ca import bundle_for
from components.reloader import Reloader
from tiers.context import Providers, Stack
from tiers.data import DataTier
from tiers.edge import app_configs
from tiers.egress import egress_policies
from tiers.identity import pod_security_group_policy
from tiers.security import Keys


@dataclass(frozen=True)
class ComputeTier:
    cluster: EksCluster
    #: Options for everything on the cluster: the primary AWS provider and the cluster's kubernetes provider.
    workloads: pulumi.ResourceOptions
    chromadb: ChromaDb
    #: The bootstrap Job of each database, by database ("prm", "nlfhir").
    bootstraps: dict[str, DatabaseBootstrap]
    reloader: Reloader
    #: The workloads' ``SecurityGroupPolicy`` objects, by identity (tiers/identity.py).
    security_group_policies: dict[str, pulumi.Resource]
    #: The workloads' egress NetworkPolicies (tiers/egress.py), by workload.
    egress_policies: dict[str, pulumi.Resource]


def published_ingresses(stack: Stack) -> list[str]:
    """The published apps' Ingresses (``namespace/name``; the Ingress is named after the app): the only ones the
    admission policy lets be internet-facing. None without the edge (no published Ingress then)."""
    cfg = stack.cfg
    if not cfg.edge.enabled:
        return []
    return [f"{app.namespace}/{name}" for name, app in app_configs(cfg).items() if app.published]


def load_balancer_targets(stack: Stack) -> list[str]:
    """The apps whose pods are ALB targets (an Ingress of their own, or published through the edge): the AWS
    Load Balancer Controller adds its backend rule to their security groups, and to no other."""
    cfg = stack.cfg
    return [name for name, app in app_configs(cfg).items()
            if app.ingress is not None or (app.published and cfg.edge.enabled)]


def _cluster(stack: Stack, providers: Providers, keys: Keys, network: Network, pods: PodSecurityGroups) -> EksCluster:
    cfg = stack.cfg
    apps = (cfg.apps.nlfhir, cfg.apps.prm_api, cfg.apps.prm_worker)
    return EksCluster(
        stack.cluster_name, cfg.eks, region=stack.region, account_id=stack.account_id, vpc_id=network.vpc_id,
        subnet_ids=network.subnet_ids["private"], node_security_group_ids=[network.workload_security_group_id],
        secrets_kms_key_arn=keys.arn("eks"), ebs_kms_key_arn=keys.arn("ebs"), logs_kms_key_arn=keys.arn("logs"),
        namespaces=sorted({app.namespace for app in apps} | {cfg.chromadb.namespace, cfg.database.bootstrap.namespace}),
        pod_security_group_ids={k: v for k, v in pods.ids.items() if not pods.identities[k].scrapes_vpc},
        scraper_security_group_ids={k: v for k, v in pods.ids.items() if pods.identities[k].scrapes_vpc},
        published_ingresses=published_ingresses(stack),
        load_balancer_target_security_group_ids=[pods.ids[app] for app in load_balancer_targets(stack)],
        deletion_protection=cfg.protection.deletion_protection, tags=stack.tags, opts=providers.in_primary,
    )


def _bootstrap(stack: Stack, keys: Keys, cluster: EksCluster, workloads: pulumi.ResourceOptions, name: str,
               db: PostgresDatabase, policy: pulumi.Resource, egress: pulumi.Resource) -> DatabaseBootstrap:
    return DatabaseBootstrap(
        f"{stack.prefix}-{name}-bootstrap", stack.cfg.database.bootstrap, database=name, host=db.endpoint,
        port=db.port, database_name=db.database_name, app_username=db.app_username,
        master_secret_arn=db.master_secret_arn, secret_kms_key_arn=keys.arn("secrets"), region=stack.region,
        oidc_provider_arn=cluster.oidc_provider_arn, oidc_issuer=cluster.oidc_issuer,
        wait_for=[*cluster.addons_ready, db.primary, db.master_secret_version, policy, egress],
        ca_bundle=bundle_for([stack.region, stack.cfg.regions.dr]),
        tags=stack.tags,
        opts=workloads,
    )


def compute_tier(stack: Stack, providers: Providers, keys: Keys, network: Network, data: DataTier,
                 pods: PodSecurityGroups) -> ComputeTier:
    cfg = stack.cfg
    cluster = _cluster(stack, providers, keys, network, pods)
    workloads = pulumi.ResourceOptions(providers={"aws": providers.primary, "kubernetes": cluster.provider})
    # Every identity's SecurityGroupPolicy, once the namespaces exist; Prometheus's is created with its namespace
    # by the observability tier (tiers/observability.py).
    policies = {name: pod_security_group_policy(stack, pods, name, pulumi.ResourceOptions.merge(
        workloads, pulumi.ResourceOptions(depends_on=cluster.addons_ready)))
        for name in pods.identities if name != "prometheus"}
    chromadb = ChromaDb(
        f"{stack.prefix}-chromadb", cfg.chromadb, storage_class_name=cluster.storage_class_name,
        client_pod_labels=AppService.labels_for("nlfhir"), client_namespace=cfg.apps.nlfhir.namespace,
        client_service_account="nlfhir",
        secrets_kms_key_arn=keys.arn("secrets"), wait_for=[*cluster.addons_ready, policies["chromadb"]],
        protect=cfg.protection.protect,
        tags=stack.tags, opts=workloads,
    )
    pods.admit("chromadb", pods.ids["chromadb"], [(cfg.chromadb.port, cfg.chromadb.port, "ChromaDB HTTP")],
               store_ingress=True)
    egress = egress_policies(stack, data, chromadb, pulumi.ResourceOptions.merge(
        workloads, pulumi.ResourceOptions(depends_on=cluster.addons_ready)))
    bootstraps = {name: _bootstrap(stack, keys, cluster, workloads, name, db, policies[f"bootstrap-{name}"],
                                   egress[f"bootstrap-{name}"])
                  for name, db in (("prm", data.prm_db), ("nlfhir", data.nlfhir_db))}
    reloader = Reloader(f"{stack.prefix}-reloader", cfg.apps.reloader, wait_for=cluster.addons_ready, opts=workloads)
    return ComputeTier(cluster, workloads, chromadb, bootstraps, reloader, policies, egress)

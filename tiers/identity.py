"""Network identities: one security group per workload (security groups for Pods), from one table of bindings.

``APP_STORES`` says which stores each app is bound to; the apps tier builds the apps' bindings from it
(environment, secrets, IAM) and the data tier admits each store only from the groups of the workloads
bound to it. The database bootstrap Jobs, ChromaDB and Prometheus have identities of their own.
"""

from __future__ import annotations

import pulumi

from components.app_service import AppService
from components.network import Network
from components.pod_network import Identity, PodSecurityGroups, security_group_policy
from tiers.context import Providers, Stack

#: The stores each app is bound to (store keys: prm_db, nlfhir_db, redis, kafka, chromadb).
APP_STORES: dict[str, tuple[str, ...]] = {
    "nlfhir": ("nlfhir_db", "chromadb"),
    "prm-api": ("prm_db", "redis"),
    "prm-worker": ("redis", "kafka"),
}
#: Where kube-prometheus-stack runs its Prometheus, and the label its pods carry.
PROMETHEUS_NAMESPACE = "monitoring"
PROMETHEUS_LABELS = {"app.kubernetes.io/name": "prometheus"}
#: The store key of MSK's open-monitoring exporters (JMX 11001, node 11002): Prometheus only.
KAFKA_EXPORTERS = "kafka-exporters"


def identities(stack: Stack) -> list[Identity]:
    cfg = stack.cfg
    apps = {"nlfhir": cfg.apps.nlfhir, "prm-api": cfg.apps.prm_api, "prm-worker": cfg.apps.prm_worker}
    bootstrap_ns = cfg.database.bootstrap.namespace
    return [
        *(Identity(app, apps[app].namespace, AppService.labels_for(app), stores) for app, stores in APP_STORES.items()),
        *(Identity(f"bootstrap-{db}", bootstrap_ns, {"app.kubernetes.io/name": f"bootstrap-{db}"}, (f"{db}_db",))
          for db in ("prm", "nlfhir")),
        Identity("chromadb", cfg.chromadb.namespace, {"app.kubernetes.io/name": "chromadb"}, serves=("chromadb",)),
        Identity("prometheus", PROMETHEUS_NAMESPACE, PROMETHEUS_LABELS, (KAFKA_EXPORTERS,), scrapes_vpc=True),
    ]


def network_identities(stack: Stack, providers: Providers, network: Network) -> PodSecurityGroups:
    return PodSecurityGroups(
        f"{stack.prefix}-pods", identities(stack), vpc_id=network.vpc_id, vpc_cidr=str(stack.cfg.network.vpc_cidr),
        endpoint_security_group_id=network.endpoint_security_group_id, tags=stack.tags, opts=providers.in_primary)


def pod_security_group_policy(stack: Stack, pods: PodSecurityGroups, name: str,
                              opts: pulumi.ResourceOptions) -> pulumi.Resource:
    """The ``SecurityGroupPolicy`` of workload ``name`` (the workload waits for it: it applies to new pods only)."""
    return security_group_policy(stack.prefix, pods.identities[name], pods.ids[name], opts)

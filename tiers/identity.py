"""Network identities: one security group per workload (security groups for Pods), from one table of bindings.

``APP_STORES`` says which stores each app is bound to; the apps tier builds the apps' bindings from it
(environment, secrets, IAM) and the data tier admits each store only from the groups of the workloads
bound to it. The database bootstrap Jobs, ChromaDB and Prometheus have identities of their own.
"""

from __future__ import annotations

import pulumi

from components.app_service import AppConfig, AppService
from components.network import Network
from components.pod_network import Identity, PodSecurityGroups, security_group_policy
from config import ConfigError
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


#: Stores an app binds as itself, and the key of its access in its config (``apps.<app>.<key>``).
STORE_ACCESS: dict[str, str] = {"redis": "redis", "kafka": "kafka"}
#: The apps' keys in the stack file.
APP_KEYS: dict[str, str] = {"nlfhir": "nlfhir", "prm-api": "prmApi", "prm-worker": "prmWorker"}


def app_configs(stack: Stack) -> dict[str, AppConfig]:
    cfg = stack.cfg
    return {"nlfhir": cfg.apps.nlfhir, "prm-api": cfg.apps.prm_api, "prm-worker": cfg.apps.prm_worker}


def check_store_access(stack: Stack) -> None:
    """Every app bound to Redis or Kafka names its access there, and no app names access to a store it is not
    bound to; one line per problem (a ``ConfigError``, no traceback)."""
    lines = []
    for app, config in app_configs(stack).items():
        for store, key in STORE_ACCESS.items():
            bound, given = store in APP_STORES[app], getattr(config, key) is not None
            if bound and not given:
                lines.append(f"apps.{APP_KEYS[app]}.{key}: required: {app} is bound to {store} (tiers/identity.py "
                             f"APP_STORES), so it must name its own access there")
            elif given and not bound:
                lines.append(f"apps.{APP_KEYS[app]}.{key}: {app} is not bound to {store} (tiers/identity.py "
                             "APP_STORES); remove the key or bind the app")
    if lines:
        raise ConfigError(stack.settings.stack, lines)


def bound_access(stack: Stack, store: str) -> dict[str, AppConfig]:
    """The apps bound to ``store``, with their configs (call ``check_store_access`` first)."""
    return {app: config for app, config in app_configs(stack).items() if store in APP_STORES[app]}


def identities(stack: Stack) -> list[Identity]:
    cfg = stack.cfg
    apps = app_configs(stack)
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

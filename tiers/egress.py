"""Each workload's egress allow-list, from the same binding table as its security group (tiers/identity.py).

The workload namespaces deny all egress but DNS and istiod (components/egress.py); here each workload gets
the stores it is bound to (their subnets, on their ports), the interface endpoints, the apps it calls
(``allowFrom`` of the callee) and the named external destinations of its config (``apps.<app>.egressTo``).
"""

from __future__ import annotations

import pulumi

from components.app_service import AppService
from components.chromadb import ChromaDb
from components.egress import Destination, workload_egress
from components.streaming import kafka_client_ports
from tiers.context import Stack
from tiers.data import DataTier
from tiers.identity import APP_STORES


def store_destinations(stack: Stack, data: DataTier, chromadb: ChromaDb) -> dict[str, Destination]:
    cfg = stack.cfg
    database = tuple(cfg.network.subnet_cidrs("database"))
    return {
        "prm_db": Destination("PRM PostgreSQL", (data.prm_db.port,), database),
        "nlfhir_db": Destination("NL-FHIR PostgreSQL", (data.nlfhir_db.port,), database),
        "redis": Destination("Redis", (data.redis.port,), database),
        "kafka": Destination("MSK", tuple(low for low, _, _ in kafka_client_ports(cfg.streaming)), database),
        "chromadb": Destination("ChromaDB", (cfg.chromadb.port,), peer_namespace=cfg.chromadb.namespace,
                                peer_labels={"app.kubernetes.io/name": "chromadb"}),
    }


def egress_policies(stack: Stack, data: DataTier, chromadb: ChromaDb, opts: pulumi.ResourceOptions
                    ) -> dict[str, pulumi.Resource]:
    """``<workload>-egress`` for the apps and the bootstrap Jobs, by workload name."""
    cfg = stack.cfg
    stores = store_destinations(stack, data, chromadb)
    endpoints = ([Destination("AWS APIs (interface endpoints)", (443,), tuple(cfg.network.subnet_cidrs("private")))]
                 if cfg.network.interface_endpoints else [])
    apps = {"nlfhir": cfg.apps.nlfhir, "prm-api": cfg.apps.prm_api, "prm-worker": cfg.apps.prm_worker}
    policies: dict[str, pulumi.Resource] = {}
    for app, app_cfg in apps.items():
        callees = [Destination(f"calls {callee}", (callee_cfg.port,), peer_namespace=callee_cfg.namespace,
                               peer_labels=AppService.labels_for(callee))
                   for callee, callee_cfg in apps.items()
                   if app in callee_cfg.allow_from or f"{app_cfg.namespace}/{app}" in callee_cfg.allow_from]
        external = [Destination(d.why, d.ports, (str(d.cidr),)) for d in app_cfg.egress_to]
        policies[app] = workload_egress(
            stack.prefix, app, app_cfg.namespace, AppService.labels_for(app),
            [*(stores[s] for s in APP_STORES[app]), *endpoints, *callees, *external], opts)
    for db in ("prm", "nlfhir"):
        name = f"bootstrap-{db}"
        policies[name] = workload_egress(stack.prefix, name, cfg.database.bootstrap.namespace,
                                         {"app.kubernetes.io/name": name}, [stores[f"{db}_db"], *endpoints], opts)
    return policies

"""The apps (Railway-style): NL-FHIR API, PRM API and PRM worker, each bound to its stores.

How an app reaches a store is a typed binding (components/app_service/bindings.py): the binding
gives the environment, the secret references and the IAM role policies together. Which stores an app
is bound to is ``tiers/identity.APP_STORES``, the same table its security group is admitted by; each
app waits for its ``SecurityGroupPolicy`` (new pods only get their group once it exists). Every app starts
after the cluster's add-ons and, if it has a database, after that database's bootstrap Job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi

from components.app_service import (
    AppConfig,
    AppService,
    Binding,
    ChromaDbBinding,
    EnvironmentBinding,
    KafkaBinding,
    PostgresBinding,
    RedisBinding,
)
from components.app_service.authorization import allow_nothing
from components.monitoring import tracing_environment
from components.rds_ca import bundle_for
from tiers.compute import ComputeTier
from tiers.context import Stack
from tiers.data import DataTier
from tiers.edge import EdgeTier
from tiers.identity import APP_STORES
from tiers.security import Keys


@dataclass(frozen=True)
class AppsTier:
    nlfhir: AppService
    prm_api: AppService
    prm_worker: AppService

    def by_output_name(self) -> dict[str, AppService]:
        return {"nlfhir": self.nlfhir, "prmApi": self.prm_api, "prmWorker": self.prm_worker}

    def ingress_statuses(self) -> dict[str, pulumi.Output[object] | None]:
        """Each app's Ingress status by app name (None without an Ingress): where its ALB answers."""
        return {"nlfhir": _status(self.nlfhir), "prm-api": _status(self.prm_api),
                "prm-worker": _status(self.prm_worker)}


def _status(app: AppService) -> pulumi.Output[object] | None:
    return app.ingress.status if app.ingress is not None else None  # type: ignore[return-value]


def apps_tier(stack: Stack, keys: Keys, data: DataTier, compute: ComputeTier,
              edge: EdgeTier | None = None) -> AppsTier:
    """``edge`` publishes the apps with ``published: true`` (their Ingress, ALB access logs to the log bucket)."""
    cfg, cluster = stack.cfg, compute.cluster
    network = cfg.network

    # The databases' server certificates are verified against the RDS roots of the primary and the DR region.
    rds_ca = bundle_for([stack.region, cfg.regions.dr])
    # Every app sends its traces to Tempo (OTLP endpoint and sampling from observability.tempo).
    tracing = EnvironmentBinding(values=tracing_environment(cfg.observability.tempo))
    # Redis and Kafka bind each app as itself: its own RBAC user, its own topics and groups (tiers/identity.py
    # checked that every app bound to them configures apps.<app>.redis / .kafka).
    stores: dict[str, Callable[[str, AppConfig], Binding]] = {
        "prm_db": lambda _, __: PostgresBinding.of(data.prm_db, rds_ca),
        "nlfhir_db": lambda _, __: PostgresBinding.of(data.nlfhir_db, rds_ca),
        "redis": lambda name, _: RedisBinding.of(data.redis, name),
        "kafka": lambda name, config: KafkaBinding.of(data.kafka, config.kafka, name),
        "chromadb": lambda _, __: ChromaDbBinding.of(compute.chromadb),
    }

    def app(app_name: str, config: AppConfig, wait_for: Sequence[pulumi.Resource] = ()) -> AppService:
        bindings: Sequence[Binding] = [stores[store](app_name, config) for store in APP_STORES[app_name]]
        publication = edge.publication(app_name, config) if edge is not None else None
        return AppService(
            f"{stack.prefix}-{app_name}", config, app_name=app_name, bindings=[*bindings, tracing],
            region=stack.region,
            account_id=stack.account_id, oidc_provider_arn=cluster.oidc_provider_arn, oidc_issuer=cluster.oidc_issuer,
            secret_kms_key_arns=[keys.arn("secrets")],
            load_balancer_cidrs={"internet-facing": network.subnet_cidrs("public"),
                                 "internal": network.subnet_cidrs("private")},
            publication=publication,
            access_logs_bucket=data.storage.bucket_names["accessLogs"] if publication is not None else None,
            wait_for=[*cluster.addons_ready, compute.security_group_policies[app_name],
                      compute.egress_policies[app_name], *wait_for],
            # The app's CloudWatch alarms that roll a feature-flag change back (none wired yet).
            flag_alarm_arns=(),
            tags=stack.tags, opts=compute.workloads,
        )

    tier = AppsTier(
        nlfhir=app("nlfhir", cfg.apps.nlfhir, wait_for=[compute.bootstraps["nlfhir"].job]),
        prm_api=app("prm-api", cfg.apps.prm_api, wait_for=[compute.bootstraps["prm"].job]),
        prm_worker=app("prm-worker", cfg.apps.prm_worker),
    )
    # Each workload namespace denies every mesh request no ALLOW policy admits; created after those policies
    # (the apps' and ChromaDB's), so an update never cuts the traffic they admit.
    allows = [*(a.authorization_policy for a in tier.by_output_name().values()), compute.chromadb.authorization_policy]
    allow_nothing(f"{stack.prefix}-eks", cluster.namespaces, pulumi.ResourceOptions.merge(
        compute.workloads, pulumi.ResourceOptions(depends_on=[*cluster.addons_ready, *allows])))
    return tier

"""The in-cluster observability stack: metrics, logs, traces and dashboards in namespace ``monitoring``.

- kube-prometheus-stack: Prometheus (retention and an encrypted gp3 volume per stack, selecting every
  ServiceMonitor/PodMonitor/ScrapeConfig/PrometheusRule in the cluster), Alertmanager (configuration
  from the ``alertmanager-care-config`` Secret), Grafana, node exporter, kube-state-metrics;
- Loki (chunks in its own bucket) fed by Grafana Alloy with every pod's log; Tempo (traces in its own
  bucket) receiving OTLP from the apps;
- Grafana's admin login from Secrets Manager through External Secrets Operator, its data sources linked
  for trace <-> log correlation, and the dashboards of ``dashboards/`` as labelled ConfigMaps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.app_service import EXTERNAL_SECRETS_API, secrets_manager_store_spec, secrets_read_policy
from components.common import child_opts, managed_role_policy, tags_for
from components.eks import irsa_trust_policy
from components.monitoring import values as v
from components.monitoring.aws import grafana_policy, scoped_bucket_policy
from components.monitoring.dashboards import dashboard_config_maps
from components.monitoring.scrape import PodTarget, scrape_targets
from components.observability import ObservabilityConfig
from components.storage import LifecycleConfig, SecureBucket

REPOS = {
    "kube-prometheus-stack": "https://prometheus-community.github.io/helm-charts",
    "loki": "https://grafana-community.github.io/helm-charts",
    "tempo": "https://grafana-community.github.io/helm-charts",
    "alloy": "https://grafana.github.io/helm-charts",
}
#: ``EksCluster.irsa_role``: (short, namespace, service_account, *, policy=...) -> Role.
IrsaRole = Callable[..., aws.iam.Role]


class ObservabilityStack(pulumi.ComponentResource):
    """Give it ``providers`` for ``aws`` and ``kubernetes`` through ``opts``."""

    prometheus_url: str = v.PROMETHEUS_URL
    otlp_endpoint: str = v.OTLP_ENDPOINT

    def __init__(self, name: str, config: ObservabilityConfig, *, region: str, account_id: str,
                 storage_class_name: pulumi.Input[str], irsa_role: IrsaRole, oidc_provider_arn: pulumi.Input[str],
                 oidc_issuer: pulumi.Input[str], storage_kms_key_arn: pulumi.Input[str],
                 secrets_kms_key_arn: pulumi.Input[str], access_log_bucket: pulumi.Input[str],
                 access_log_ready: pulumi.Resource, pod_targets: Sequence[PodTarget],
                 bootstrap_brokers: pulumi.Input[str] | None, broker_count: int,
                 wait_for: Sequence[pulumi.Resource], protect: bool, tags: Mapping[str, str],
                 in_namespace: Callable[[pulumi.Resource], Sequence[pulumi.Resource]] | None = None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        """``in_namespace``: what must exist in the namespace before any of the stack's pods start (given the
        Namespace; e.g. its egress NetworkPolicies and Prometheus's SecurityGroupPolicy, tiers/observability.py)."""
        super().__init__("care:observability:ObservabilityStack", name, None, opts)
        self._name, self._tags, self._region = name, tags, region
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            # Outside the mesh (Prometheus scrapes meshed pods through Istio's merged endpoint). Pod Security
            # stays privileged here only for the node exporter's host access (policies/k8s_workloads.py
            # HELM_EXCEPTIONS); every other pod of the stack meets restricted, which is audited and warned.
            metadata=k8s.meta.v1.ObjectMetaArgs(name=v.NAMESPACE, labels={
                "app.kubernetes.io/part-of": "care-platform", "app.kubernetes.io/managed-by": "pulumi",
                "pod-security.kubernetes.io/enforce": "privileged",
                "pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/warn": "restricted"}),
            opts=child_opts(self, depends_on=list(wait_for)),
        )
        in_ns: list[pulumi.Resource] = [self.namespace, *(in_namespace(self.namespace) if in_namespace else [])]
        admin = self._grafana_admin(config, secrets_kms_key_arn, oidc_provider_arn, oidc_issuer, in_ns)
        grafana_role = irsa_role("grafana", v.NAMESPACE, v.SERVICE_ACCOUNTS["grafana"], policy=grafana_policy())
        self.releases: dict[str, k8s.helm.v3.Release] = {}
        stack = self._release("kube-prometheus-stack", config.charts.kube_prometheus_stack,
                              v.kube_prometheus_stack_values(config, storage_class=storage_class_name,
                                                             grafana_role_arn=grafana_role.arn, region=region),
                              depends_on=[*in_ns, admin])

        def bucket(purpose: str, expire_days: int) -> SecureBucket:
            return SecureBucket(
                f"{name}-{purpose}", bucket_name=f"{name}-{purpose}-{account_id}", purpose=purpose,
                account_id=account_id, kms_key_arn=storage_kms_key_arn, lifecycle=LifecycleConfig(),
                tier_to_cold_storage=False, expire_after_days=expire_days, access_log_bucket=access_log_bucket,
                access_log_ready=access_log_ready, backup=True, protect=protect, tags=tags,
                opts=child_opts(self))

        self.loki_bucket = bucket("loki-chunks", config.log_retention_days)
        self.tempo_bucket = bucket("tempo-traces", config.tempo.retention_days)
        loki_role = irsa_role("loki", v.NAMESPACE, v.SERVICE_ACCOUNTS["loki"],
                              policy=scoped_bucket_policy(self.loki_bucket.arn, storage_kms_key_arn, region))
        tempo_role = irsa_role("tempo", v.NAMESPACE, v.SERVICE_ACCOUNTS["tempo"],
                               policy=scoped_bucket_policy(self.tempo_bucket.arn, storage_kms_key_arn, region))
        loki = self._release("loki", config.charts.loki, v.loki_values(
            config.loki, bucket=self.loki_bucket.bucket_name, region=region, role_arn=loki_role.arn,
            retention_days=config.log_retention_days, storage_class=storage_class_name), depends_on=[stack])
        self._release("tempo", config.charts.tempo, v.tempo_values(
            config.tempo, bucket=self.tempo_bucket.bucket_name, region=region, role_arn=tempo_role.arn,
            storage_class=storage_class_name), depends_on=[stack])
        self._release("alloy", config.charts.alloy, v.alloy_values(), depends_on=[loki])

        after_crds = child_opts(self, depends_on=[stack])
        self.monitors = scrape_targets(name, pod_targets, bootstrap_brokers=bootstrap_brokers,
                                       broker_count=broker_count, opts=after_crds)
        self.dashboards = dashboard_config_maps(name, child_opts(self, depends_on=in_ns))
        self.bucket_names = {"loki": self.loki_bucket.bucket_name, "tempo": self.tempo_bucket.bucket_name}
        self.register_outputs({"prometheusUrl": self.prometheus_url, "otlpEndpoint": self.otlp_endpoint,
                               "bucketNames": self.bucket_names})

    def _release(self, chart: str, version: str, values: Mapping[str, Any],
                 depends_on: Sequence[pulumi.Resource]) -> k8s.helm.v3.Release:
        self.releases[chart] = k8s.helm.v3.Release(
            f"{self._name}-{chart}",
            k8s.helm.v3.ReleaseArgs(
                name=chart, chart=chart, version=version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=REPOS[chart]),
                namespace=v.NAMESPACE, values=dict(values), atomic=True, cleanup_on_fail=True, max_history=10,
            ),
            child_opts(self, depends_on=list(depends_on)),
        )
        return self.releases[chart]

    def _grafana_admin(self, config: ObservabilityConfig, kms_key_arn: pulumi.Input[str],
                       oidc_provider_arn: pulumi.Input[str], oidc_issuer: pulumi.Input[str],
                       in_ns: list[pulumi.Resource]) -> pulumi.Resource:
        """A generated password in Secrets Manager, synced by ESO into the ``grafana-admin`` Secret."""
        name, reader = self._name, "grafana-admin-reader"
        password = random.RandomPassword(
            f"{name}-grafana-admin-password",
            random.RandomPasswordArgs(length=32, special=False,
                                      keepers={"generation": str(config.grafana.admin_password_generation)}),
            child_opts(self))
        self.grafana_admin_secret = aws.secretsmanager.Secret(
            f"{name}-grafana-admin",
            aws.secretsmanager.SecretArgs(
                name=f"{name}/grafana-admin", kms_key_id=kms_key_arn, recovery_window_in_days=7,
                description="Grafana admin login (synced into monitoring/grafana-admin by External Secrets)",
                tags=tags_for(self._tags, f"{name}-grafana-admin")),
            child_opts(self))
        aws.secretsmanager.SecretVersion(
            f"{name}-grafana-admin-version",
            aws.secretsmanager.SecretVersionArgs(
                secret_id=self.grafana_admin_secret.id,
                secret_string=pulumi.Output.json_dumps({v.GRAFANA_USER_KEY: "admin",
                                                        v.GRAFANA_PASSWORD_KEY: password.result})),
            child_opts(self))
        role = aws.iam.Role(
            f"{name}-grafana-admin-irsa",
            aws.iam.RoleArgs(description=f"IRSA: {v.NAMESPACE}/{reader} (reads the Grafana admin secret only)",
                             assume_role_policy=irsa_trust_policy(oidc_provider_arn, oidc_issuer, v.NAMESPACE, reader),
                             tags=tags_for(self._tags, f"{name}-grafana-admin-irsa")),
            child_opts(self))
        policy = managed_role_policy(
            f"{name}-grafana-admin-irsa-secret",
            aws.iam.RolePolicyArgs(role=role.name, policy=pulumi.Output.all(self.grafana_admin_secret.arn, kms_key_arn)
                                   .apply(lambda a: secrets_read_policy([a[0]], [a[1]], self._region))),
            child_opts(self), tags=self._tags)
        meta = k8s.meta.v1.ObjectMetaArgs(name=reader, namespace=v.NAMESPACE,
                                          annotations={"eks.amazonaws.com/role-arn": role.arn})
        account = k8s.core.v1.ServiceAccount(f"{name}-grafana-admin-sa", metadata=meta,
                                             automount_service_account_token=False,
                                             opts=child_opts(self, depends_on=in_ns))
        store = k8s.apiextensions.CustomResource(
            f"{name}-grafana-admin-store", api_version=EXTERNAL_SECRETS_API, kind="SecretStore",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=reader, namespace=v.NAMESPACE),
            spec=secrets_manager_store_spec(self._region, reader),
            opts=child_opts(self, depends_on=[account, policy]))
        return k8s.apiextensions.CustomResource(
            f"{name}-grafana-admin-external-secret", api_version=EXTERNAL_SECRETS_API, kind="ExternalSecret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=v.GRAFANA_ADMIN_SECRET, namespace=v.NAMESPACE),
            spec={"refreshInterval": "1h",
                  "secretStoreRef": {"name": reader, "kind": "SecretStore"},
                  "target": {"name": v.GRAFANA_ADMIN_SECRET, "creationPolicy": "Owner"},
                  "data": [{"secretKey": key, "remoteRef": {"key": self.grafana_admin_secret.arn, "property": key}}
                           for key in (v.GRAFANA_USER_KEY, v.GRAFANA_PASSWORD_KEY)]},
            opts=child_opts(self, depends_on=[store]))

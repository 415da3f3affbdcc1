"""Helm values of the observability charts: kube-prometheus-stack, Loki, Tempo, Grafana Alloy.

Keys follow each chart's values.yaml at the pinned version (components/observability.py cites them):
kube-prometheus-stack 88.5.3 (prometheus-community/helm-charts charts/kube-prometheus-stack/values.yaml),
loki 18.11.0 and tempo 2.2.4 (grafana-community/helm-charts charts/loki|tempo/values.yaml), alloy 1.11.1
(grafana/alloy operations/helm/charts/alloy/values.yaml). Every workload runs on the ``app`` pool with
requests and limits, as a non-root user, without privilege escalation, with all capabilities dropped.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.eks import POOL_LABEL
from components.observability import LokiConfig, ObservabilityConfig, TempoConfig

NAMESPACE = "monitoring"
#: The operator-managed Service in front of every Prometheus replica (what the SLO tooling and Grafana query).
PROMETHEUS_URL = f"http://prometheus-operated.{NAMESPACE}.svc:9090"
LOKI_URL = f"http://loki.{NAMESPACE}.svc:3100"
TEMPO_URL = f"http://tempo.{NAMESPACE}.svc:3200"
#: OTLP over gRPC (Tempo's distributor receiver); apps get it as OTEL_EXPORTER_OTLP_ENDPOINT.
OTLP_ENDPOINT = f"http://tempo.{NAMESPACE}.svc:4317"
#: The Alertmanager configuration Secret (key alertmanager.yaml), written by the alerting half of #12.
ALERTMANAGER_CONFIG_SECRET = "alertmanager-care-config"
#: The Kubernetes Secret ESO writes from Secrets Manager; the Grafana chart reads the admin login from it.
GRAFANA_ADMIN_SECRET = "grafana-admin"
GRAFANA_USER_KEY, GRAFANA_PASSWORD_KEY = "admin-user", "admin-password"
#: The label (and value) the Grafana dashboard sidecar looks for on ConfigMaps in every namespace.
DASHBOARD_LABEL = ("grafana_dashboard", "1")
#: Service accounts whose IRSA roles the stack creates.
SERVICE_ACCOUNTS = {"grafana": "grafana", "loki": "loki", "tempo": "tempo"}
#: Pods of the Prometheus StatefulSet carry this label (set by prometheus-operator).
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus"}

POD_SECURITY = {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534, "fsGroup": 65534,
                "seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                      "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True}


def resources(cpu: str, memory: str, *, cpu_limit: str | None = None) -> dict[str, Any]:
    """Requests and limits (memory limit = request; CPU limit = ``cpu_limit`` or twice the request)."""
    limit = cpu_limit or (f"{int(cpu[:-1]) * 2}m" if cpu.endswith("m") else str(int(cpu) * 2))
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": limit, "memory": memory}}


def _pool() -> dict[str, Any]:
    return {"nodeSelector": {POOL_LABEL: "app"}}


def _claim(storage_class: pulumi.Input[str], gib: int) -> dict[str, Any]:
    return {"volumeClaimTemplate": {"spec": {"storageClassName": storage_class, "accessModes": ["ReadWriteOnce"],
                                             "resources": {"requests": {"storage": f"{gib}Gi"}}}}}


def _select_everything() -> dict[str, Any]:
    """Prometheus selects every ServiceMonitor, PodMonitor, Probe, ScrapeConfig and PrometheusRule in the cluster."""
    return {f"{kind}SelectorNilUsesHelmValues": False
            for kind in ("rule", "serviceMonitor", "podMonitor", "probe", "scrapeConfig")}


def kube_prometheus_stack_values(config: ObservabilityConfig, *, storage_class: pulumi.Input[str],
                                 grafana_role_arn: pulumi.Input[str], region: str) -> dict[str, Any]:
    p, am = config.prometheus, config.alertmanager
    return {
        "fullnameOverride": "kps",
        "crds": {"enabled": True},
        # EKS runs the control plane: its scheduler, controller manager and etcd cannot be scraped, and their
        # targets would only ever be "down".
        "kubeControllerManager": {"enabled": False}, "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        "prometheus": {"prometheusSpec": {
            **_select_everything(),
            "replicas": p.replicas,
            "retention": f"{p.retention_days}d",
            # Units are powers of two (https://prometheus.io/docs/prometheus/latest/storage/#operational-aspects).
            "retentionSize": f"{p.usable_bytes // 1024 ** 3}GB",
            "storageSpec": _claim(storage_class, p.storage_gib),
            "resources": resources(p.cpu, p.memory),
            "securityContext": {**POD_SECURITY, "runAsUser": 1000, "runAsGroup": 2000, "fsGroup": 2000},
            **_pool(),
        }},
        "alertmanager": {"alertmanagerSpec": {
            "replicas": am.replicas,
            "configSecret": ALERTMANAGER_CONFIG_SECRET,
            "storage": _claim(storage_class, am.storage_gib),
            "resources": resources("50m", "256Mi"),
            "securityContext": {**POD_SECURITY, "runAsUser": 1000, "runAsGroup": 2000, "fsGroup": 2000},
            **_pool(),
        }},
        "prometheusOperator": {"resources": resources("100m", "256Mi"), **_pool(),
                               # The config reloader runs beside Prometheus and Alertmanager; the patch Job
                               # writes the webhook certificates once per install.
                               "prometheusConfigReloader": {"resources": resources("10m", "64Mi", cpu_limit="100m")},
                               "admissionWebhooks": {"patch": {"resources": resources("10m", "64Mi",
                                                                                      cpu_limit="100m"),
                                                               **_pool()}}},
        "kube-state-metrics": {"resources": resources("50m", "256Mi"), **_pool()},
        # A DaemonSet on every node (both pools); the chart runs it with hostNetwork and hostPID to read the
        # node's /proc and /sys: the documented exception in policies/k8s_workloads.py (HELM_EXCEPTIONS).
        "prometheus-node-exporter": {"resources": resources("50m", "64Mi")},
        "grafana": grafana_values(config, role_arn=grafana_role_arn, region=region),
    }


def grafana_values(config: ObservabilityConfig, *, role_arn: pulumi.Input[str], region: str) -> dict[str, Any]:
    return {
        "fullnameOverride": "grafana",
        # The admin login comes only from the ESO-synced Secret (never adminPassword, never chart-generated).
        "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": GRAFANA_USER_KEY,
                  "passwordKey": GRAFANA_PASSWORD_KEY},
        "serviceAccount": {"create": True, "name": SERVICE_ACCOUNTS["grafana"],
                           "annotations": {"eks.amazonaws.com/role-arn": role_arn}},
        "sidecar": {"resources": resources("10m", "128Mi", cpu_limit="100m"),
                    "dashboards": {"enabled": True, "label": DASHBOARD_LABEL[0], "labelValue": DASHBOARD_LABEL[1],
                                   "searchNamespace": "ALL"}},
        "additionalDataSources": datasources(region),
        "grafana.ini": {"users": {"allow_sign_up": False}, "auth.anonymous": {"enabled": False},
                        "analytics": {"reporting_enabled": False, "check_for_updates": False}},
        "resources": resources("100m", "512Mi"),
        **_pool(),
    }


def datasources(region: str) -> list[dict[str, Any]]:
    """Loki, Tempo and CloudWatch (Prometheus is the chart's own, uid ``prometheus``), linked for correlation.

    Traces -> logs: Tempo's tracesToLogsV2 queries Loki by trace id; logs -> traces: Loki's derived field
    turns a ``trace_id=...`` in a log line into a Tempo link. ``$$`` is a literal ``$`` in provisioning files.
    """
    return [
        {"name": "Loki", "uid": "loki", "type": "loki", "access": "proxy", "url": LOKI_URL,
         "jsonData": {"derivedFields": [{"name": "TraceID", "datasourceUid": "tempo",
                                         "matcherRegex": "trace_id=(\\w+)", "url": "$${__value.raw}"}]}},
        {"name": "Tempo", "uid": "tempo", "type": "tempo", "access": "proxy", "url": TEMPO_URL,
         "jsonData": {
             "tracesToLogsV2": {"datasourceUid": "loki", "spanStartTimeShift": "-5m", "spanEndTimeShift": "5m",
                                "filterByTraceID": True, "tags": [{"key": "service.name", "value": "app"}]},
             "tracesToMetrics": {"datasourceUid": "prometheus"},
             "serviceMap": {"datasourceUid": "prometheus"},
             "lokiSearch": {"datasourceUid": "loki"},
         }},
        # Credentials from the pod's IRSA role (the default AWS SDK chain), never keys.
        {"name": "CloudWatch", "uid": "cloudwatch", "type": "cloudwatch", "access": "proxy",
         "jsonData": {"authType": "default", "defaultRegion": region}},
    ]


def loki_values(config: LokiConfig, *, bucket: pulumi.Input[str], region: str, role_arn: pulumi.Input[str],
                retention_days: int, storage_class: pulumi.Input[str]) -> dict[str, Any]:
    return {
        "deploymentMode": "Monolithic",
        "loki": {
            "auth_enabled": False,
            "commonConfig": {"replication_factor": 3 if config.replicas >= 3 else 1},
            "storage": {"type": "s3", "bucketNames": {"chunks": bucket, "ruler": bucket, "admin": bucket},
                        "s3": {"region": region}},
            "schemaConfig": {"configs": [{"from": "2026-12-01", "store": "tsdb", "object_store": "s3",
                                          "schema": "v13", "index": {"prefix": "index_", "period": "24h"}}]},
            "limits_config": {"retention_period": f"{retention_days * 24}h"},
            "compactor": {"retention_enabled": True, "delete_request_store": "s3"},
        },
        "serviceAccount": {"create": True, "name": SERVICE_ACCOUNTS["loki"],
                           "annotations": {"eks.amazonaws.com/role-arn": role_arn}},
        # No rules sidecar: the stack keeps no Loki ruler rules (alerting is Prometheus's).
        "singleBinary": {"replicas": config.replicas, "resources": resources(config.cpu, config.memory),
                         "sidecar": False,
                         "persistence": {"size": f"{config.storage_gib}Gi", "storageClass": storage_class},
                         **_pool()},
        # Monolithic: no read/write/backend targets, no memcached caches (chunksCache asks for 8 GiB by
        # default), no canary, no nginx gateway, no MinIO (chunks go to S3).
        **{target: {"replicas": 0} for target in ("read", "write", "backend")},
        "chunksCache": {"enabled": False}, "resultsCache": {"enabled": False},
        "lokiCanary": {"enabled": False}, "test": {"enabled": False}, "gateway": {"enabled": False},
        "minio": {"enabled": False},
    }


def tempo_values(config: TempoConfig, *, bucket: pulumi.Input[str], region: str,
                 role_arn: pulumi.Input[str], storage_class: pulumi.Input[str]) -> dict[str, Any]:
    return {
        "fullnameOverride": "tempo",
        "tempo": {
            "retention": f"{config.retention_days * 24}h",
            "reportingEnabled": False,
            "storage": {"trace": {"backend": "s3",
                                  "s3": {"bucket": bucket, "endpoint": f"s3.{region}.amazonaws.com",
                                         "region": region},
                                  "wal": {"path": "/var/tempo/wal"}}},
            "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "0.0.0.0:4317"},
                                                 "http": {"endpoint": "0.0.0.0:4318"}}}},
            "resources": resources(config.cpu, config.memory),
            # Tempo writes its WAL under /var/tempo (the persistent volume); the root filesystem stays
            # writable because the chart's own note says the image fails with it read-only.
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        },
        "securityContext": {"runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001, "runAsNonRoot": True},
        "serviceAccount": {"create": True, "name": SERVICE_ACCOUNTS["tempo"],
                           "annotations": {"eks.amazonaws.com/role-arn": role_arn}},
        "persistence": {"enabled": True, "size": f"{config.storage_gib}Gi", "storageClassName": storage_class},
        **_pool(),
    }


#: Alloy tails every pod's log through the Kubernetes API (loki.source.kubernetes), so it needs no host
#: path, no root and no DaemonSet; clustered replicas share the targets.
ALLOY_CONFIG = f"""\
discovery.kubernetes "pods" {{
  role = "pod"
}}

discovery.relabel "pods" {{
  targets = discovery.kubernetes.pods.targets
  rule {{
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
    target_label  = "app"
  }}
}}

loki.source.kubernetes "pods" {{
  targets    = discovery.relabel.pods.output
  forward_to = [loki.write.default.receiver]
  clustering {{
    enabled = true
  }}
}}

loki.write "default" {{
  endpoint {{
    url = "{LOKI_URL}/loki/api/v1/push"
  }}
}}
"""


def alloy_values() -> dict[str, Any]:
    return {
        "alloy": {
            "configMap": {"create": True, "content": ALLOY_CONFIG},
            "clustering": {"enabled": True},
            "mounts": {"varlog": False, "dockercontainers": False},
            "resources": resources("100m", "256Mi"),
            "securityContext": {**CONTAINER_SECURITY, "runAsUser": 473, "runAsGroup": 473},
        },
        "configReloader": {"resources": resources("10m", "32Mi", cpu_limit="50m"),
                           "securityContext": {**CONTAINER_SECURITY, "runAsUser": 65534}},
        "controller": {"type": "deployment", "replicas": 2, **_pool()},
        "global": {"podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}},
    }


def tracing_environment(config: TempoConfig) -> dict[str, str]:
    """What every app is given to send traces to Tempo (OpenTelemetry SDK environment variables)."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": OTLP_ENDPOINT,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": f"{config.sampling_rate:g}",
    }

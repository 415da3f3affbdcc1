"""The observability stack (components/monitoring/): what it installs, how Grafana logs in, what Prometheus scrapes."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest

import config
from components.eks.iam import irsa_role
from components.monitoring import ObservabilityStack, PodTarget, tracing_environment
from components.monitoring.scrape import broker_hosts
from components.monitoring.values import kube_prometheus_stack_values
from tests.helpers import PROD_TAGS, render, stack_config, stack_raw, with_overrides

NAME = "care-prod-observability"
ACCOUNT = "333333333333"
STORAGE_KEY = f"arn:aws:kms:us-east-2:{ACCOUNT}:key/storage"
SECRETS_KEY = f"arn:aws:kms:us-east-2:{ACCOUNT}:key/secrets"
OIDC_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-2.amazonaws.com/id/ABC123"
ISSUER = "https://oidc.eks.us-east-2.amazonaws.com/id/ABC123"
BROKERS = ("b-2.care-prod-kafka.ab12cd.c2.kafka.us-east-2.amazonaws.com:9098,"
           "b-1.care-prod-kafka.ab12cd.c2.kafka.us-east-2.amazonaws.com:9098")
DOMAIN = "care-prod-kafka.ab12cd.c2.kafka.us-east-2.amazonaws.com"


def _build() -> None:
    cfg = stack_config("prod")
    parent = pulumi.ComponentResource("care:test:Cluster", "cluster")

    def role(short: str, namespace: str, service_account: str, **kwargs: object) -> aws.iam.Role:
        return irsa_role(parent, "care-prod-eks", PROD_TAGS, oidc_provider_arn=OIDC_ARN, oidc_issuer=ISSUER,
                         short=short, namespace=namespace, service_account=service_account, **kwargs)  # type: ignore[arg-type]

    access_logs = aws.s3.BucketPolicy("access-logs-policy", bucket="care-prod-access-logs", policy="{}")
    ObservabilityStack(
        NAME, cfg.observability, region="us-east-2", account_id=ACCOUNT, storage_class_name="gp3-encrypted",
        irsa_role=role, oidc_provider_arn=OIDC_ARN, oidc_issuer=ISSUER, storage_kms_key_arn=STORAGE_KEY,
        secrets_kms_key_arn=SECRETS_KEY, access_log_bucket="care-prod-access-logs", access_log_ready=access_logs,
        pod_targets=[PodTarget("nlfhir", "nlfhir", {"app.kubernetes.io/name": "nlfhir"})],
        bootstrap_brokers=BROKERS, broker_count=3, wait_for=[], protect=True, tags=PROD_TAGS)


@pytest.fixture(scope="module")
def prod():  # type: ignore[no-untyped-def]
    return render(_build)


def _values(plan, chart: str):  # type: ignore[no-untyped-def]
    return plan.named(f"{NAME}-{chart}").inputs["values"]


def test_children(prod) -> None:  # type: ignore[no-untyped-def]
    counts = prod.counts()
    releases = {r.inputs["chart"]: (r.inputs["version"], r.inputs["namespace"], r.inputs["repositoryOpts"]["repo"])
                for r in prod.of_type("kubernetes:helm.sh/v3:Release")}
    assert releases == {
        "kube-prometheus-stack": ("88.5.3", "monitoring", "https://prometheus-community.github.io/helm-charts"),
        "loki": ("18.11.0", "monitoring", "https://grafana-community.github.io/helm-charts"),
        "tempo": ("2.2.4", "monitoring", "https://grafana-community.github.io/helm-charts"),
        "alloy": ("1.11.1", "monitoring", "https://grafana.github.io/helm-charts"),
    }
    assert all(r.inputs["atomic"] is True for r in prod.of_type("kubernetes:helm.sh/v3:Release"))
    assert counts["kubernetes:monitoring.coreos.com/v1:PodMonitor"] == 1
    assert counts["kubernetes:monitoring.coreos.com/v1:ServiceMonitor"] == 1
    assert counts["kubernetes:monitoring.coreos.com/v1alpha1:ScrapeConfig"] == 1
    assert counts["care:storage:SecureBucket"] == 2
    assert counts["kubernetes:core/v1:ConfigMap"] == 4  # dashboards/*.json
    assert prod.named(f"{NAME}-namespace").inputs["metadata"]["name"] == "monitoring"


def test_prometheus_selects_everything_keeps_retention_on_an_encrypted_volume(prod) -> None:  # type: ignore[no-untyped-def]
    spec = _values(prod, "kube-prometheus-stack")["prometheus"]["prometheusSpec"]
    for kind in ("rule", "serviceMonitor", "podMonitor", "probe", "scrapeConfig"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False, kind
    assert (spec["replicas"], spec["retention"], spec["retentionSize"]) == (2, "30d", "120GB")
    assert spec["storageSpec"] == {"volumeClaimTemplate": {"spec": {
        "storageClassName": "gp3-encrypted", "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "150Gi"}}}}}
    assert spec["resources"] == {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}}
    assert spec["securityContext"]["runAsNonRoot"] is True


def test_alertmanager_is_replicated_and_reads_the_alerting_config_secret(prod) -> None:  # type: ignore[no-untyped-def]
    spec = _values(prod, "kube-prometheus-stack")["alertmanager"]["alertmanagerSpec"]
    assert (spec["replicas"], spec["configSecret"]) == (3, "alertmanager-care-config")


def test_grafana_logs_in_only_with_the_secret_synced_from_secrets_manager(prod) -> None:  # type: ignore[no-untyped-def]
    grafana = _values(prod, "kube-prometheus-stack")["grafana"]
    assert grafana["admin"] == {"existingSecret": "grafana-admin", "userKey": "admin-user",
                                "passwordKey": "admin-password"}
    assert "adminPassword" not in json.dumps(_values(prod, "kube-prometheus-stack"))
    secret = prod.named(f"{NAME}-grafana-admin").inputs
    assert (secret["name"], secret["kmsKeyId"]) == (f"{NAME}/grafana-admin", SECRETS_KEY)
    external = prod.named(f"{NAME}-grafana-admin-external-secret").inputs
    assert external["apiVersion"] == "external-secrets.io/v1"
    assert external["spec"]["target"] == {"name": "grafana-admin", "creationPolicy": "Owner"}
    assert [d["secretKey"] for d in external["spec"]["data"]] == ["admin-user", "admin-password"]
    store = prod.named(f"{NAME}-grafana-admin-store").inputs["spec"]
    assert store == {"provider": {"aws": {"service": "SecretsManager", "region": "us-east-2",
                                          "auth": {"jwt": {"serviceAccountRef": {"name": "grafana-admin-reader"}}}}}}
    trust = json.loads(prod.named(f"{NAME}-grafana-admin-irsa").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"]["StringEquals"][
        "oidc.eks.us-east-2.amazonaws.com/id/ABC123:sub"] == "system:serviceaccount:monitoring:grafana-admin-reader"
    release = prod.named(f"{NAME}-kube-prometheus-stack")
    assert prod.named(f"{NAME}-grafana-admin-external-secret").urn in release.dependencies


def test_grafana_data_sources_link_traces_and_logs(prod) -> None:  # type: ignore[no-untyped-def]
    sources = {s["uid"]: s for s in _values(prod, "kube-prometheus-stack")["grafana"]["additionalDataSources"]}
    assert sorted(sources) == ["cloudwatch", "loki", "tempo"]
    assert sources["loki"]["url"] == "http://loki.monitoring.svc:3100"
    assert sources["loki"]["jsonData"]["derivedFields"] == [
        {"name": "TraceID", "datasourceUid": "tempo", "matcherRegex": "trace_id=(\\w+)", "url": "$${__value.raw}"}]
    tempo = sources["tempo"]["jsonData"]
    assert (tempo["tracesToLogsV2"]["datasourceUid"], tempo["tracesToMetrics"]["datasourceUid"]) == ("loki",
                                                                                                     "prometheus")
    assert sources["cloudwatch"]["jsonData"] == {"authType": "default", "defaultRegion": "us-east-2"}
    policy = json.loads(prod.named("care-prod-eks-grafana-irsa-policy").inputs["policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["CloudWatchMetricsRead"]
    assert not any(a.startswith("logs:") for a in policy["Statement"][0]["Action"])


@pytest.mark.parametrize(("purpose", "days", "role"), [("loki-chunks", 365, "loki"), ("tempo-traces", 30, "tempo")])
def test_loki_and_tempo_buckets_are_encrypted_expired_and_their_roles_scoped(prod, purpose, days, role) -> None:  # type: ignore[no-untyped-def]
    bucket = f"{NAME}-{purpose}"
    assert prod.named(f"{bucket}-bucket").inputs["bucket"] == f"{bucket}-{ACCOUNT}"
    rule = prod.named(f"{bucket}-encryption").inputs["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": STORAGE_KEY}
    (lifecycle,) = prod.named(f"{bucket}-lifecycle").inputs["rules"]
    assert lifecycle["expiration"] == {"days": days} and "transitions" not in lifecycle
    assert prod.named(f"{bucket}-versioning").inputs["versioningConfiguration"] == {"status": "Enabled"}
    policy = json.loads(prod.named(f"care-prod-eks-{role}-irsa-policy").inputs["policy"])
    resources = [s["Resource"] for s in policy["Statement"]]
    assert resources[2] == STORAGE_KEY and resources[0].startswith("arn:aws:s3:::") and resources[1].endswith("/*")
    assert policy["Statement"][2]["Condition"] == {"StringEquals": {"kms:ViaService": "s3.us-east-2.amazonaws.com"}}


def test_loki_keeps_the_stacks_log_retention_and_tempo_receives_otlp(prod) -> None:  # type: ignore[no-untyped-def]
    loki = _values(prod, "loki")
    assert loki["loki"]["limits_config"] == {"retention_period": "8760h"}
    assert loki["loki"]["commonConfig"] == {"replication_factor": 3}
    assert loki["singleBinary"]["replicas"] == 3
    assert loki["serviceAccount"]["name"] == "loki"
    tempo = _values(prod, "tempo")["tempo"]
    assert tempo["storage"]["trace"]["backend"] == "s3"
    assert tempo["receivers"]["otlp"]["protocols"]["grpc"] == {"endpoint": "0.0.0.0:4317"}
    alloy = _values(prod, "alloy")
    assert alloy["controller"]["type"] == "deployment"
    assert 'loki.source.kubernetes "pods"' in alloy["alloy"]["configMap"]["content"]
    assert "http://loki.monitoring.svc:3100/loki/api/v1/push" in alloy["alloy"]["configMap"]["content"]


def test_apps_are_scraped_through_istio_merged_metrics(prod) -> None:  # type: ignore[no-untyped-def]
    monitor = prod.named(f"{NAME}-podmonitor-nlfhir").inputs
    assert monitor["metadata"]["namespace"] == "monitoring"
    assert monitor["spec"] == {
        "jobLabel": "app.kubernetes.io/name",
        "namespaceSelector": {"matchNames": ["nlfhir"]},
        "selector": {"matchLabels": {"app.kubernetes.io/name": "nlfhir"}},
        "podMetricsEndpoints": [{"port": "http-envoy-prom", "path": "/stats/prometheus", "interval": "30s",
                                 "relabelings": [
                                     {"sourceLabels": ["__meta_kubernetes_pod_ip"], "targetLabel": "__address__",
                                      "replacement": "$1:15020", "action": "replace"},
                                     {"sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
                                      "targetLabel": "service", "action": "replace"}]}],
    }
    istiod = prod.named(f"{NAME}-servicemonitor-istiod").inputs["spec"]
    assert istiod["endpoints"] == [{"port": "http-monitoring", "interval": "30s"}]
    release = prod.named(f"{NAME}-kube-prometheus-stack").urn
    assert release in prod.named(f"{NAME}-podmonitor-nlfhir").dependencies  # the CRDs come with the chart


def test_msk_brokers_open_monitoring_exporters(prod) -> None:  # type: ignore[no-untyped-def]
    spec = prod.named(f"{NAME}-scrapeconfig-msk").inputs["spec"]
    hosts = [f"b-{i}.{DOMAIN}" for i in (1, 2, 3)]
    assert spec["staticConfigs"] == [
        {"targets": [f"{h}:11001" for h in hosts], "labels": {"job": "msk-jmx", "service": "msk"}},
        {"targets": [f"{h}:11002" for h in hosts], "labels": {"job": "msk-node", "service": "msk"}},
    ]


def test_broker_hosts_refuses_what_is_not_an_msk_broker() -> None:
    with pytest.raises(ValueError) as info:
        broker_hosts("kafka.example:9092", 3)
    assert str(info.value) == "not an MSK broker host: 'kafka.example' (expected b-<n>.<cluster domain>)"


def test_tracing_environment_of_each_stack() -> None:
    assert tracing_environment(stack_config("prod").observability.tempo) == {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://tempo.monitoring.svc:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}
    assert tracing_environment(stack_config("dev").observability.tempo)["OTEL_TRACES_SAMPLER_ARG"] == "1"


def test_every_workload_has_limits_and_runs_as_non_root() -> None:
    values = kube_prometheus_stack_values(stack_config("dev").observability, storage_class="gp3-encrypted",
                                          grafana_role_arn="arn", region="us-east-2")
    for path in (("prometheus", "prometheusSpec"), ("alertmanager", "alertmanagerSpec"), ("prometheusOperator",),
                 ("kube-state-metrics",), ("prometheus-node-exporter",), ("grafana",), ("grafana", "sidecar"),
                 ("prometheusOperator", "prometheusConfigReloader"),
                 ("prometheusOperator", "admissionWebhooks", "patch")):
        node = values
        for key in path:
            node = node[key]
        assert set(node["resources"]["limits"]) == {"cpu", "memory"}, path


def test_config_errors_one_line_each() -> None:
    raw = with_overrides(stack_raw("prod"), {"observability.prometheus.retentionDays": 90,
                                             "observability.tempo.samplingRate": 0})
    with pytest.raises(config.ConfigError) as info:
        config.validate("prod", raw)
    assert info.value.lines == [
        "prod: observability.prometheus.retentionDays: 90: does not fit in storageGib 150: 90 d x 20000 samples/s "
        "x 2 bytes/sample needs 289.7 GiB, and only 80 % of the volume (120.0 GiB) holds blocks; raise storageGib "
        "to 363 or shorten the retention",
        "prod: observability.tempo.samplingRate: 0: Input should be greater than 0",
    ]


def test_the_pack_checks_every_chart_the_stack_installs() -> None:
    import tests.policies.support  # noqa: F401  (puts the pack's modules on sys.path by bare name)
    from components.monitoring.stack import REPOS

    k8s_workloads = __import__("k8s_workloads")
    assert set(k8s_workloads.HELM_WORKLOADS) == set(REPOS)
    assert {key.split("/")[0] for key in k8s_workloads.HELM_EXCEPTIONS} <= {*REPOS, "*"}

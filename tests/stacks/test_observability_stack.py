"""Issue #12 (in-cluster half) in every rendered stack: the stack is there, wired and sized per environment."""

from __future__ import annotations

import json

import pytest

from tests.helpers import rendered_stack

STACKS = ["dev", "staging", "prod"]
#: (Prometheus replicas, retention, volume, Alertmanager replicas, trace sampling) per stack (Pulumi.<stack>.yaml).
SIZES = {"dev": (1, "7d", "20Gi", 1, "1"), "staging": (1, "15d", "50Gi", 2, "0.25"),
         "prod": (2, "30d", "150Gi", 3, "0.1")}


@pytest.mark.parametrize("stack", STACKS)
def test_observability_stack_per_environment(stack: str) -> None:
    plan = rendered_stack(stack)
    name = f"care-{stack}-observability"
    values = plan.named(f"{name}-kube-prometheus-stack").inputs["values"]
    prometheus, alertmanager = values["prometheus"]["prometheusSpec"], values["alertmanager"]["alertmanagerSpec"]
    prom_replicas, retention, volume, am_replicas, sampling = SIZES[stack]
    assert (prometheus["replicas"], prometheus["retention"], alertmanager["replicas"]) == (
        prom_replicas, retention, am_replicas)
    claim = prometheus["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert (claim["storageClassName"], claim["resources"]["requests"]["storage"]) == ("gp3-encrypted", volume)
    assert "adminPassword" not in json.dumps(values)
    # Every app sends traces to Tempo with the stack's sampling, and lets Prometheus scrape its merged metrics.
    for app in ("nlfhir", "prm-api", "prm-worker"):
        workload = next(r for r in plan.resources if r.name in (f"care-{stack}-{app}-deployment",
                                                                 f"care-{stack}-{app}-rollout"))
        pod = workload.inputs["spec"]["template"]
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
        assert (env["OTEL_EXPORTER_OTLP_ENDPOINT"], env["OTEL_TRACES_SAMPLER"], env["OTEL_TRACES_SAMPLER_ARG"]) == (
            "http://tempo.monitoring.svc:4317", "parentbased_traceidratio", sampling), app
        assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true", app
        assert plan.named(f"{name}-podmonitor-{app}").inputs["spec"]["selector"] == {
            "matchLabels": {"app.kubernetes.io/name": app}}
    assert plan.named(f"{name}-podmonitor-chromadb").inputs["spec"]["namespaceSelector"] == {"matchNames": ["nlfhir"]}


def test_prod_alertmanager_is_replicated() -> None:
    values = rendered_stack("prod").named("care-prod-observability-kube-prometheus-stack").inputs["values"]
    assert values["alertmanager"]["alertmanagerSpec"]["replicas"] >= 2

"""Releases of the apps: rolling defaults, Argo Rollouts (blue-green, canary), the SLO analysis, migration gating."""

from __future__ import annotations

import pytest

import config
from components.app_service import AppService
from tests.components.test_app_service import _wiring
from tests.helpers import render, stack_config, stack_raw, with_overrides

MIGRATE = {"command": ["alembic", "upgrade", "head"], "timeoutSeconds": 900}
LABELS = {"app.kubernetes.io/name": "nlfhir", "app.kubernetes.io/part-of": "care-platform",
          "app.kubernetes.io/managed-by": "pulumi"}
ANALYSIS = {"templates": [{"templateName": "nlfhir-slo"}]}


def _app(**overrides: object):  # type: ignore[no-untyped-def]
    cfg = stack_config("prod", apps__nlfhir__preDeploy=MIGRATE, **overrides)
    return render(lambda: AppService("care-prod-nlfhir", cfg.apps.nlfhir, app_name="nlfhir", **_wiring()))


@pytest.fixture(scope="module")
def rolling():  # type: ignore[no-untyped-def]
    return _app(apps__nlfhir__rollout="rolling")


@pytest.fixture(scope="module")
def blue_green():  # type: ignore[no-untyped-def]
    return _app()  # prod's nlfhir: rollout blueGreen, analysis.maxP99LatencySeconds 2.0


@pytest.fixture(scope="module")
def canary():  # type: ignore[no-untyped-def]
    return _app(apps__nlfhir__rollout="canary", apps__nlfhir__canaryWeights=[10, 30, 60],
                apps__nlfhir__analysis={"maxErrorRatio": 0.002, "intervalSeconds": 30, "count": 4,
                                        "failureLimit": 0})


def _urns(plan, *names: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {plan.named(n).urn for n in names}


# -- rolling (the default) -------------------------------------------------------------------------

def test_rolling_default_fails_instead_of_hanging(rolling) -> None:  # type: ignore[no-untyped-def]
    assert stack_config("dev").apps.nlfhir.rollout == "rolling"
    deployment = rolling.named("care-prod-nlfhir-deployment").inputs
    # pulumi-kubernetes waits at most 660 s (the 600 s progress deadline + 60) and never skips the wait.
    assert deployment["metadata"]["annotations"] == {"pulumi.com/timeoutSeconds": "660"}
    spec = deployment["spec"]
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}}
    container = spec["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["lifecycle"] == {"preStop": {"sleep": {"seconds": 10}}}
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == 60
    assert not rolling.of_type("kubernetes:argoproj.io/v1alpha1:Rollout")
    assert not rolling.of_type("kubernetes:argoproj.io/v1alpha1:AnalysisTemplate")
    hpa = rolling.named("care-prod-nlfhir-hpa").inputs["spec"]["scaleTargetRef"]
    assert hpa == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "nlfhir"}


def test_progress_deadline_sets_the_await_timeout() -> None:
    plan = _app(apps__nlfhir__rollout="rolling", apps__nlfhir__progressDeadlineSeconds=300)
    deployment = plan.named("care-prod-nlfhir-deployment").inputs
    assert deployment["spec"]["progressDeadlineSeconds"] == 300
    assert deployment["metadata"]["annotations"] == {"pulumi.com/timeoutSeconds": "360"}


# -- blue-green ------------------------------------------------------------------------------------

def test_blue_green_rollout_manifest(blue_green) -> None:  # type: ignore[no-untyped-def]
    rollout = blue_green.named("care-prod-nlfhir-rollout").inputs
    assert (rollout["apiVersion"], rollout["kind"]) == ("argoproj.io/v1alpha1", "Rollout")
    # 600 s progress deadline + 2 analysis runs of 5 x 60 s + 60 s margin.
    assert rollout["metadata"] == {"name": "nlfhir", "namespace": "nlfhir", "labels": LABELS, "annotations": {
        "pulumi.com/timeoutSeconds": "1260", "pulumi.com/waitFor": "jsonpath={.status.phase}=Healthy"}}
    spec = dict(rollout["spec"])
    template = spec.pop("template")
    assert spec == {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "nlfhir"}},
        "minReadySeconds": 10, "revisionHistoryLimit": 5,
        "progressDeadlineSeconds": 600, "progressDeadlineAbort": True,
        "strategy": {"blueGreen": {
            "activeService": "nlfhir", "previewService": "nlfhir-preview", "autoPromotionEnabled": True,
            "prePromotionAnalysis": ANALYSIS, "postPromotionAnalysis": ANALYSIS,
            "scaleDownDelaySeconds": 360,
        }},
    }
    assert "replicas" not in spec  # the HPA owns the count
    # The same hardened pod template as the Deployment's.
    assert template["metadata"]["labels"]["app.kubernetes.io/name"] == "nlfhir"
    pod = template["spec"]
    assert pod["containers"][0]["lifecycle"] == {"preStop": {"sleep": {"seconds": 10}}}
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert not blue_green.of_type("kubernetes:apps/v1:Deployment")


def test_analysis_template_queries_the_slo_recording_rules(blue_green) -> None:  # type: ignore[no-untyped-def]
    template = blue_green.named("care-prod-nlfhir-analysis").inputs
    assert (template["kind"], template["metadata"]["name"], template["metadata"]["namespace"]) == (
        "AnalysisTemplate", "nlfhir-slo", "nlfhir")
    common = {"interval": "60s", "count": 5, "failureLimit": 1, "consecutiveErrorLimit": 2}
    prometheus = "http://prometheus-operated.monitoring.svc:9090"
    assert template["spec"] == {"metrics": [
        {"name": "error-ratio", **common,
         "successCondition": "len(result) > 0 && result[0] <= 0.001",
         "failureCondition": "len(result) == 0 || result[0] > 0.001",
         "provider": {"prometheus": {"address": prometheus,
                                     "query": 'service:request_errors:ratio_rate5m{service="nlfhir"}'}}},
        {"name": "p99-latency", **common,
         "successCondition": "len(result) > 0 && result[0] <= 2.0",
         "failureCondition": "len(result) == 0 || result[0] > 2.0",
         "provider": {"prometheus": {"address": prometheus,
                                     "query": 'service:request_latency_seconds:p99_5m{service="nlfhir"}'}}},
    ]}


def test_blue_green_services_hpa_pdb_and_selectors_still_match(blue_green) -> None:  # type: ignore[no-untyped-def]
    selector = {"app.kubernetes.io/name": "nlfhir"}
    for name, service in (("nlfhir", "service"), ("nlfhir-preview", "preview-service")):
        inputs = blue_green.named(f"care-prod-nlfhir-{service}").inputs
        assert inputs["metadata"]["name"] == name
        assert inputs["spec"]["selector"] == selector
        assert inputs["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP",
                                            "appProtocol": "http"}]
    hpa = blue_green.named("care-prod-nlfhir-hpa")
    assert hpa.inputs["spec"]["scaleTargetRef"] == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                                                    "name": "nlfhir"}
    assert blue_green.named("care-prod-nlfhir-rollout").urn in hpa.dependencies
    assert blue_green.named("care-prod-nlfhir-pdb").inputs["spec"]["selector"] == {"matchLabels": selector}
    assert blue_green.named("care-prod-nlfhir-netpol").inputs["spec"]["podSelector"] == {"matchLabels": selector}
    pod_labels = blue_green.named("care-prod-nlfhir-rollout").inputs["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()


def test_rollout_waits_for_its_services_template_and_migration(blue_green) -> None:  # type: ignore[no-untyped-def]
    rollout = blue_green.named("care-prod-nlfhir-rollout")
    assert _urns(blue_green, "care-prod-nlfhir-predeploy", "care-prod-nlfhir-analysis", "care-prod-nlfhir-service",
                 "care-prod-nlfhir-preview-service", "care-prod-nlfhir-sa") <= set(rollout.dependencies)


# -- canary ----------------------------------------------------------------------------------------

def test_canary_weighted_steps_each_followed_by_analysis(canary) -> None:  # type: ignore[no-untyped-def]
    rollout = canary.named("care-prod-nlfhir-rollout").inputs
    step = {"analysis": ANALYSIS}
    assert rollout["spec"]["strategy"] == {"canary": {
        "maxUnavailable": 0, "maxSurge": "25%",
        "steps": [{"setWeight": 10}, step, {"setWeight": 30}, step, {"setWeight": 60}, step],
    }}
    # 600 s + 3 analysis runs of 4 x 30 s + 60 s.
    assert rollout["metadata"]["annotations"]["pulumi.com/timeoutSeconds"] == "1020"
    metrics = canary.named("care-prod-nlfhir-analysis").inputs["spec"]["metrics"]
    assert [(m["interval"], m["count"], m["failureLimit"], m["successCondition"]) for m in metrics] == [
        ("30s", 4, 0, "len(result) > 0 && result[0] <= 0.002"),
        ("30s", 4, 0, "len(result) > 0 && result[0] <= 0.5"),  # the seed's p99 default (the section was replaced)
    ]
    # No preview Service for a canary: the one Service selects stable and canary pods alike.
    assert [s.inputs["metadata"]["name"] for s in canary.of_type("kubernetes:core/v1:Service")] == ["nlfhir"]


# -- migrations gate the release -------------------------------------------------------------------

@pytest.mark.parametrize("fixture", ["rolling", "blue_green", "canary"])
def test_the_release_waits_for_the_migration_job(fixture: str, request: pytest.FixtureRequest) -> None:
    plan = request.getfixturevalue(fixture)
    job = plan.named("care-prod-nlfhir-predeploy")
    # pulumi-kubernetes waits for the Job (900 s deadline + 60) and fails the update when it fails;
    # a failed Job is run again (replaced) by the next pulumi up.
    assert job.inputs["metadata"]["annotations"] == {"pulumi.com/timeoutSeconds": "960",
                                                     "pulumi.com/replaceUnready": "true"}
    assert job.inputs["spec"]["activeDeadlineSeconds"] == 900
    assert job.inputs["spec"]["template"]["spec"]["containers"][0]["command"] == ["alembic", "upgrade", "head"]
    workload = plan.named("care-prod-nlfhir-deployment" if fixture == "rolling" else "care-prod-nlfhir-rollout")
    assert job.urn in workload.dependencies
    assert "pulumi.com/skipAwait" not in workload.inputs["metadata"]["annotations"]


# -- configuration errors --------------------------------------------------------------------------

def _errors(**overrides: object) -> list[str]:
    raw = with_overrides(stack_raw("prod"), {k.replace("__", "."): v for k, v in overrides.items()})
    with pytest.raises(config.ConfigError) as info:
        config.validate("prod", raw)
    return info.value.lines


def test_release_config_errors() -> None:
    assert _errors(apps__prmWorker__rollout="canary", apps__prmApi__canaryWeights=[50, 20, 100],
                   apps__nlfhir__rollout="recreate") == [
        "prod: apps.nlfhir.rollout: 'recreate': Input should be 'rolling', 'blueGreen' or 'canary'",
        "prod: apps.prmApi.canaryWeights: [50, 20, 100]: must be increasing percentages between 1 and 99 "
        "(the last step to 100 % is implicit)",
        "prod: apps.prmWorker.rollout: 'canary': needs service: true (the analysis reads the service's request "
        "metrics; blue-green switches Services)",
    ]

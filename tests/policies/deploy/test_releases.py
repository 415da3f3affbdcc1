"""Deploy-stage release rules: Argo Rollouts' CRDs first, awaited releases, AppConfig API bounds (exact messages)."""

from __future__ import annotations

from typing import Any

from pulumi_policy import ResourceValidationArgs

from tests.policies.deploy.support import REGISTRY, check_stack
from tests.policies.support import Res, _opts, _wire, urn

ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"
TEMPLATE = "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate"
RELEASE, JOB = "kubernetes:helm.sh/v3:Release", "kubernetes:batch/v1:Job"
STRATEGY = "aws:appconfig/deploymentStrategy:DeploymentStrategy"
ENVIRONMENT = "aws:appconfig/environment:Environment"
AWAITED = {"pulumi.com/waitFor": "jsonpath={.status.phase}=Healthy", "pulumi.com/timeoutSeconds": "1260"}


def _argo(install_crds: bool = True) -> Res:
    return Res(RELEASE, "care-prod-eks-argo-rollouts", {"chart": "argo-rollouts", "version": "2.41.1",
                                                        "values": {"installCRDs": install_crds}})


def _rollout(annotations: dict[str, str] | None = None, depends: tuple[Res, ...] = ()) -> Res:
    return Res(ROLLOUT, "care-prod-nlfhir-rollout", {"metadata": {"name": "nlfhir", "annotations": annotations
                                                                  if annotations is not None else AWAITED}},
               depends=depends)


def test_rollouts_after_the_crds() -> None:
    argo = _argo()
    template = Res(TEMPLATE, "care-prod-nlfhir-analysis", {"metadata": {"name": "nlfhir-slo"}}, depends=(argo,))
    assert check_stack("argo-rollouts-crds-first", [argo, _rollout(depends=(argo,)), template]) == []
    assert check_stack("argo-rollouts-crds-first", [argo, _rollout()]) == [(
        "does not depend on the argo-rollouts release (care-prod-eks-argo-rollouts): Pulumi may create the Rollout "
        "before its CRD exists. Pass the cluster's addons_ready as the app's wait_for.", "care-prod-nlfhir-rollout")]
    without_crds = _argo(install_crds=False)
    assert check_stack("argo-rollouts-crds-first", [without_crds, _rollout(depends=(without_crds,))]) == [(
        "is an Argo Rollout, but no argo-rollouts Helm release in the stack installs its CRD: the API server rejects "
        "it (no matches for kind). Keep the argo-rollouts add-on (components/eks/helm_addons.py) with installCRDs "
        "true.", "care-prod-nlfhir-rollout")]


def test_releases_are_awaited() -> None:
    assert check_stack("app-release-awaited", [_rollout()]) == []
    job = Res(JOB, "care-prod-nlfhir-predeploy", {"metadata": {"annotations": {"pulumi.com/skipAwait": "true"}}})
    assert check_stack("app-release-awaited", [_rollout({}), job]) == [
        ("has no pulumi.com/waitFor: pulumi-kubernetes has no built-in readiness check for a Rollout, so pulumi up "
         "would not wait for it. Set pulumi.com/waitFor: jsonpath={.status.phase}=Healthy "
         "(components/app_service/rollout.py).", "care-prod-nlfhir-rollout"),
        ("has no pulumi.com/timeoutSeconds: an aborted (Degraded) Rollout would hold pulumi up for the provider's "
         "default wait. Set it from the rollout's progress deadline and analysis runs.", "care-prod-nlfhir-rollout"),
        ("sets pulumi.com/skipAwait: pulumi up would report success for a release that never becomes ready (or a "
         "migration that failed). Remove the annotation.", "care-prod-nlfhir-predeploy"),
    ]


def _check(type_: str, props: dict[str, Any]) -> list[str]:
    messages: list[str] = []
    args = ResourceValidationArgs(type_, _wire(props), urn(type_, "res"), "res", _opts(False), None, {})
    REGISTRY["appconfig-api-bounds"].policy.validate(args, lambda message, _urn=None: messages.append(message))
    return messages


def test_appconfig_strategy_within_the_api_bounds() -> None:
    linear = {"name": "care-prod-nlfhir-linear-20", "deploymentDurationInMinutes": 30, "finalBakeTimeInMinutes": 10,
              "growthFactor": 20, "growthType": "LINEAR", "replicateTo": "NONE"}
    assert _check(STRATEGY, linear) == []
    bad = {**linear, "deploymentDurationInMinutes": 1500, "growthFactor": 0.5, "growthType": "STEP",
           "name": "x" * 65}
    assert _check(STRATEGY, bad) == [
        "name is 65 characters; CreateDeploymentStrategy accepts 1 to 64 (the AWS API rejects it). Change "
        "apps.<app>.featureFlags in Pulumi.<stack>.yaml.",
        "deploymentDurationInMinutes is 1500; CreateDeploymentStrategy accepts 0 to 1440 (the AWS API rejects it). "
        "Change apps.<app>.featureFlags in Pulumi.<stack>.yaml.",
        "growthFactor is 0.5; CreateDeploymentStrategy accepts 1 to 100 (the AWS API rejects it). Change "
        "apps.<app>.featureFlags in Pulumi.<stack>.yaml.",
        "growthType is 'STEP'; CreateDeploymentStrategy accepts LINEAR | EXPONENTIAL (the AWS API rejects it). Change "
        "apps.<app>.featureFlags in Pulumi.<stack>.yaml.",
    ]


def test_appconfig_environment_monitors_at_most_five() -> None:
    monitors = [{"alarmArn": f"arn:aws:cloudwatch:us-east-2:333333333333:alarm:a{i}"} for i in range(6)]
    assert _check(ENVIRONMENT, {"name": "prod", "monitors": monitors[:5]}) == []
    assert _check(ENVIRONMENT, {"name": "prod", "monitors": monitors}) == [
        "monitors has 6 entries; CreateEnvironment accepts at most 5 (the AWS API rejects it). Change "
        "apps.<app>.featureFlags in Pulumi.<stack>.yaml."]

"""Releases a ``pulumi up`` can apply and wait for: Argo Rollouts' CRDs before any Rollout, app workloads
whose readiness Pulumi awaits (a bad release fails the update instead of passing or hanging), and AWS
AppConfig inputs within the AppConfig API's bounds (read from botocore's AppConfig service model, which
AWS generates from the API; fail closed when it cannot be read).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

from deploy_common import (
    HELM_RELEASE,
    Report,
    Resource,
    Settings,
    as_list,
    has_unknown,
    is_unknown,
    of_type,
    policies_of,
    resource_policy,
    stack_policy,
)

ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"
ANALYSIS_TEMPLATE = "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"
APPCONFIG_ENVIRONMENT = "aws:appconfig/environment:Environment"
APPCONFIG_STRATEGY = "aws:appconfig/deploymentStrategy:DeploymentStrategy"
APPCONFIG_PROFILE = "aws:appconfig/configurationProfile:ConfigurationProfile"
APPCONFIG_APPLICATION = "aws:appconfig/application:Application"

CRD_SOURCE = "https://argo-rollouts.readthedocs.io/en/stable/installation/"
AWAIT_SOURCE = "https://www.pulumi.com/blog/improved-kubernetes-await-logic/"
APPCONFIG_SOURCE = "https://docs.aws.amazon.com/appconfig/2019-10-09/APIReference/API_CreateDeploymentStrategy.html"

#: The Pulumi input of each AppConfig resource type -> (botocore operation, member) that bounds it.
APPCONFIG_INPUTS: dict[str, dict[str, tuple[str, str]]] = {
    APPCONFIG_STRATEGY: {
        "name": ("CreateDeploymentStrategy", "Name"),
        "deploymentDurationInMinutes": ("CreateDeploymentStrategy", "DeploymentDurationInMinutes"),
        "finalBakeTimeInMinutes": ("CreateDeploymentStrategy", "FinalBakeTimeInMinutes"),
        "growthFactor": ("CreateDeploymentStrategy", "GrowthFactor"),
        "growthType": ("CreateDeploymentStrategy", "GrowthType"),
        "replicateTo": ("CreateDeploymentStrategy", "ReplicateTo"),
    },
    APPCONFIG_ENVIRONMENT: {"name": ("CreateEnvironment", "Name"), "monitors": ("CreateEnvironment", "Monitors")},
    APPCONFIG_PROFILE: {"name": ("CreateConfigurationProfile", "Name"),
                        "validators": ("CreateConfigurationProfile", "Validators")},
    APPCONFIG_APPLICATION: {"name": ("CreateApplication", "Name")},
}


def _argo_releases(resources: list[Resource]) -> list[Resource]:
    return [r for r in of_type(resources, HELM_RELEASE) if r.get("chart") == "argo-rollouts"]


@stack_policy(
    "argo-rollouts-crds-first", concern="ordering", source=CRD_SOURCE, types=(ROLLOUT, ANALYSIS_TEMPLATE, HELM_RELEASE),
    description="Every Argo Rollout and AnalysisTemplate depends on the argo-rollouts Helm release that installs "
                "their CRDs (installCRDs true).",
)
def argo_rollouts_crds_first(resources: list[Resource], report: Report, _: Settings) -> None:
    releases = _argo_releases(resources)
    installing = [r for r in releases if (r.get("values") or {}).get("installCRDs") is not False]
    for resource in of_type(resources, ROLLOUT, ANALYSIS_TEMPLATE):
        kind = resource.type.rsplit(":", 1)[1]
        if not installing:
            report(f"is an Argo {kind}, but no argo-rollouts Helm release in the stack installs its CRD: the API "
                   "server rejects it (no matches for kind). Keep the argo-rollouts add-on (components/eks/"
                   "helm_addons.py) with installCRDs true.", resource.urn)
        elif not any(r.urn in resource.dependencies for r in installing):
            report(f"does not depend on the argo-rollouts release ({installing[0].name}): Pulumi may create the "
                   f"{kind} before its CRD exists. Pass the cluster's addons_ready as the app's wait_for.",
                   resource.urn)


def _annotations(resource: Resource) -> dict[str, Any]:
    annotations = resource.get("metadata.annotations")
    return annotations if isinstance(annotations, dict) else {}


@stack_policy(
    "app-release-awaited", concern="kubernetes", source=AWAIT_SOURCE, types=(DEPLOYMENT, ROLLOUT, JOB),
    description="pulumi up waits for every Deployment, Rollout and Job (no pulumi.com/skipAwait); a Rollout is "
                "awaited to Healthy with a timeout, so a release that never becomes ready fails the update.",
)
def app_release_awaited(resources: list[Resource], report: Report, _: Settings) -> None:
    for resource in of_type(resources, DEPLOYMENT, ROLLOUT, JOB):
        annotations = _annotations(resource)
        if str(annotations.get("pulumi.com/skipAwait", "")).lower() == "true":
            report("sets pulumi.com/skipAwait: pulumi up would report success for a release that never becomes "
                   "ready (or a migration that failed). Remove the annotation.", resource.urn)
        if resource.type == ROLLOUT:
            if not annotations.get("pulumi.com/waitFor"):
                report("has no pulumi.com/waitFor: pulumi-kubernetes has no built-in readiness check for a Rollout, "
                       "so pulumi up would not wait for it. Set pulumi.com/waitFor: jsonpath={.status.phase}=Healthy "
                       "(components/app_service/rollout.py).", resource.urn)
            if not annotations.get("pulumi.com/timeoutSeconds"):
                report("has no pulumi.com/timeoutSeconds: an aborted (Degraded) Rollout would hold pulumi up for the "
                       "provider's default wait. Set it from the rollout's progress deadline and analysis runs.",
                       resource.urn)


@cache
def _appconfig_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("appconfig")


def _bound_problems(operation: str, member: str, value: Any) -> Iterator[str]:
    shape = _appconfig_model().operation_model(operation).input_shape.members[member]
    meta, kind = shape.metadata, shape.type_name
    if kind == "list":
        size = len(as_list(value))
        if "max" in meta and size > meta["max"]:
            yield f"has {size} entries; {operation} accepts at most {meta['max']}"
        return
    if kind == "string":
        if "enum" in shape.metadata or getattr(shape, "enum", None):
            allowed = list(getattr(shape, "enum", None) or meta["enum"])
            if value not in allowed:
                yield f"is {value!r}; {operation} accepts {' | '.join(allowed)}"
        elif isinstance(value, str) and not meta.get("min", 0) <= len(value) <= meta.get("max", len(value)):
            yield f"is {len(value)} characters; {operation} accepts {meta.get('min', 0)} to {meta['max']}"
        return
    if isinstance(value, (int, float)) and not meta.get("min", value) <= value <= meta.get("max", value):
        yield f"is {value:g}; {operation} accepts {meta['min']:g} to {meta['max']:g}"


@resource_policy(
    "appconfig-api-bounds", concern="crosscheck", source=APPCONFIG_SOURCE, types=tuple(APPCONFIG_INPUTS),
    description="AppConfig applications, environments, profiles and deployment strategies are within the AppConfig "
                "API's bounds (durations 0-1440 min, growth 1-100 %, at most 5 alarm monitors, name lengths).",
)
def appconfig_api_bounds(resource: Resource, report: Report, _: Settings) -> None:
    try:
        _appconfig_model()
    except Exception as error:  # fail closed: a check that cannot run is a failure
        report(f"the AppConfig API bounds could not be read from botocore ({error}); install botocore "
               "(policies/deploy/requirements.txt).")
        return
    for prop, (operation, member) in APPCONFIG_INPUTS[resource.type].items():
        value = resource.get(prop)
        if value is None or is_unknown(value) or has_unknown(value):
            continue
        for problem in _bound_problems(operation, member, value):
            report(f"{prop} {problem} (the AWS API rejects it). Change apps.<app>.featureFlags in "
                   "Pulumi.<stack>.yaml.")


POLICIES = policies_of(__name__)

"""Progressive delivery with Argo Rollouts: a Rollout in place of the Deployment (``rollout: blueGreen | canary``).

- **blueGreen:** the new version starts behind the preview Service (``<app>-preview``); the SLO analysis
  runs before the switch (``prePromotionAnalysis``: the service meets its SLO, so a switch is safe) and
  after it (``postPromotionAnalysis``: the new version, now taking the traffic, meets it). The old
  ReplicaSet stays up until the post-promotion analysis is over (``scaleDownDelaySeconds``), so an
  aborted promotion switches the active Service straight back to running pods.
  https://argo-rollouts.readthedocs.io/en/stable/features/bluegreen/
- **canary:** the weights of ``canaryWeights`` (by pod count: no traffic router), each followed by an
  analysis step; a failed analysis aborts and scales the canary away.
  https://argo-rollouts.readthedocs.io/en/stable/features/canary/

Both keep the Deployment's rolling guarantees (no unavailable pod, surge from config, the same pod
template) and abort a rollout that makes no progress (``progressDeadlineAbort``). ``pulumi up`` waits
for the Rollout's ``status.phase`` to be ``Healthy`` (pulumi-kubernetes' ``pulumi.com/waitFor``, 4.18 and
later, which pyproject.toml requires; https://www.pulumi.com/blog/improved-kubernetes-await-logic/)
for at most :func:`await_seconds`, so an
aborted (``Degraded``) rollout fails the update instead of passing or hanging.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.app_service.analysis import ROLLOUTS_API, template_name
from components.app_service.config import AppConfig
from components.app_service.spec import AppSpec
from components.app_service.workload import AWAIT_MARGIN_SECONDS, int_or_str, pod_template, workload_annotations
from components.common import child_opts

WAIT_FOR_ANNOTATION = "pulumi.com/waitFor"
#: A Rollout is done when its phase is Healthy (Progressing, Paused and Degraded are not).
WAIT_FOR_HEALTHY = "jsonpath={.status.phase}=Healthy"


def preview_service_name(app: str) -> str:
    return f"{app}-preview"


def analysis_runs(config: AppConfig) -> int:
    """How many analysis runs one release goes through (2 for blue-green, one per weight for canary)."""
    return 2 if config.rollout == "blueGreen" else len(config.canary_weights)


def await_seconds(config: AppConfig) -> int:
    """The most a healthy release can take: the progress deadline, every analysis run, and a margin."""
    return config.progress_deadline_seconds + analysis_runs(config) * config.analysis.duration_seconds \
        + AWAIT_MARGIN_SECONDS


def _analysis(app: str) -> dict[str, object]:
    return {"templates": [{"templateName": template_name(app)}]}


def strategy(spec: AppSpec) -> dict[str, object]:
    c, app = spec.config, spec.app
    if c.rollout == "blueGreen":
        return {"blueGreen": {
            "activeService": app,
            "previewService": preview_service_name(app),
            "autoPromotionEnabled": True,
            "prePromotionAnalysis": _analysis(app),
            "postPromotionAnalysis": _analysis(app),
            # The old version keeps running through the post-promotion analysis, so an abort switches back.
            "scaleDownDelaySeconds": c.analysis.duration_seconds + AWAIT_MARGIN_SECONDS,
        }}
    steps: list[dict[str, object]] = []
    for weight in c.canary_weights:
        steps += [{"setWeight": weight}, {"analysis": _analysis(app)}]
    return {"canary": {"maxUnavailable": 0, "maxSurge": int_or_str(c.max_surge), "steps": steps}}


def create_rollout(parent: pulumi.Resource, spec: AppSpec,
                   depends_on: Sequence[pulumi.Resource]) -> k8s.apiextensions.CustomResource:
    """The Rollout, after ``depends_on`` (identity, secrets, the pre-deploy Job, its Services and AnalysisTemplate)."""
    c = spec.config
    annotations = {**workload_annotations(spec, await_seconds(c)), WAIT_FOR_ANNOTATION: WAIT_FOR_HEALTHY}
    return k8s.apiextensions.CustomResource(
        f"{spec.name}-rollout",
        api_version=ROLLOUTS_API,
        kind="Rollout",
        metadata=spec.metadata(annotations=annotations),
        spec={
            # No replicas: the HPA owns the count (its scaleTargetRef is this Rollout).
            "selector": k8s.meta.v1.LabelSelectorArgs(match_labels=spec.selector),
            "template": pod_template(spec),
            "minReadySeconds": c.min_ready_seconds,
            "revisionHistoryLimit": 5,
            "progressDeadlineSeconds": c.progress_deadline_seconds,
            "progressDeadlineAbort": True,
            "strategy": strategy(spec),
        },
        opts=child_opts(parent, depends_on=list(depends_on)),
    )

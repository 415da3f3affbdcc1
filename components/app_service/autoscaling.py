"""The app's scaling and disruption budget: an HPA on CPU (and memory) and a PodDisruptionBudget."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.app_service.analysis import ROLLOUTS_API
from components.app_service.spec import AppSpec
from components.common import child_opts


def _utilization(resource: str, percent: int) -> k8s.autoscaling.v2.MetricSpecArgs:
    return k8s.autoscaling.v2.MetricSpecArgs(
        type="Resource", resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
            name=resource, target=k8s.autoscaling.v2.MetricTargetArgs(type="Utilization",
                                                                      average_utilization=percent)))


def scale_target(spec: AppSpec) -> k8s.autoscaling.v2.CrossVersionObjectReferenceArgs:
    """The workload the HPA scales: the Deployment, or the Argo Rollout replacing it (it has a scale subresource)."""
    if spec.config.rollout == "rolling":
        return k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(api_version="apps/v1", kind="Deployment",
                                                                  name=spec.app)
    return k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(api_version=ROLLOUTS_API, kind="Rollout", name=spec.app)


def create_hpa(parent: pulumi.Resource, spec: AppSpec,
               workload: pulumi.Resource) -> k8s.autoscaling.v2.HorizontalPodAutoscaler:
    """Between minReplicas and maxReplicas on utilization, scaling down only after 5 quiet minutes."""
    c = spec.config
    metrics = [_utilization("cpu", c.cpu_target_percent)]
    if c.memory_target_percent is not None:
        metrics.append(_utilization("memory", c.memory_target_percent))
    return k8s.autoscaling.v2.HorizontalPodAutoscaler(
        f"{spec.name}-hpa",
        metadata=spec.metadata(),
        spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
            scale_target_ref=scale_target(spec),
            min_replicas=c.min_replicas,
            max_replicas=c.max_replicas,
            metrics=metrics,
            behavior=k8s.autoscaling.v2.HorizontalPodAutoscalerBehaviorArgs(
                scale_down=k8s.autoscaling.v2.HPAScalingRulesArgs(stabilization_window_seconds=300)),
        ),
        opts=child_opts(parent, depends_on=[workload]),
    )


def create_pdb(spec: AppSpec, opts: pulumi.ResourceOptions) -> k8s.policy.v1.PodDisruptionBudget:
    """At most one pod down for voluntary disruptions; unhealthy pods may always be evicted.

    The selector is the app's label, which every version's pods carry (a Rollout adds only its
    ``rollouts-pod-template-hash``), so the budget covers blue and green, stable and canary alike."""
    return k8s.policy.v1.PodDisruptionBudget(
        f"{spec.name}-pdb",
        metadata=spec.metadata(),
        spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
            max_unavailable=1,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=spec.selector),
            unhealthy_pod_eviction_policy="AlwaysAllow",
        ),
        opts=opts,
    )

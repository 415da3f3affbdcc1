"""The SLO analysis of a release: an Argo Rollouts AnalysisTemplate per app, read from Prometheus.

The template queries the SLO recording rules the observability stack generates (one series per
service, labelled ``service="<app>"``) and compares them with the app's thresholds
(``apps.<app>.analysis``). A measurement fails when the SLO is breached **or when there is no
sample** (fail closed: a version that cannot prove its SLO does not take the traffic); more than
``failureLimit`` failed measurements, or ``consecutiveErrorLimit`` queries Prometheus could not
answer, fail the run, and a failed run aborts the Rollout: the stable version keeps (or gets back)
all the traffic.

Argo Rollouts' Prometheus provider and its conditions (``result`` is the query's vector, read with
``result[0]``; expressions are expr-lang):
https://argo-rollouts.readthedocs.io/en/stable/analysis/prometheus/ and
https://argo-rollouts.readthedocs.io/en/stable/features/analysis/ (failureLimit, consecutiveErrorLimit).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.app_service.config import AnalysisConfig
from components.app_service.spec import AppSpec

#: The Argo Rollouts API (the CRDs installed by the ``argo-rollouts`` chart, components/eks/helm_addons.py).
ROLLOUTS_API = "argoproj.io/v1alpha1"

#: The Prometheus of kube-prometheus-stack (the ``prometheus-operated`` Service the operator creates).
PROMETHEUS_ADDRESS = "http://prometheus-operated.monitoring.svc:9090"

#: The SLO recording rules (the names the SLO config of the observability stack records), by metric.
ERROR_RATIO_RULE = "service:request_errors:ratio_rate5m"
P99_LATENCY_RULE = "service:request_latency_seconds:p99_5m"

#: Queries Prometheus could not answer in a row before the run errors (and the rollout aborts).
CONSECUTIVE_ERROR_LIMIT = 2


def template_name(app: str) -> str:
    return f"{app}-slo"


def _metric(name: str, rule: str, app: str, threshold: float, analysis: AnalysisConfig) -> dict[str, object]:
    return {
        "name": name,
        "interval": f"{analysis.interval_seconds}s",
        "count": analysis.count,
        "failureLimit": analysis.failure_limit,
        "consecutiveErrorLimit": CONSECUTIVE_ERROR_LIMIT,
        # No sample is a failure, never a pass (fail closed).
        "successCondition": f"len(result) > 0 && result[0] <= {threshold!r}",
        "failureCondition": f"len(result) == 0 || result[0] > {threshold!r}",
        "provider": {"prometheus": {"address": PROMETHEUS_ADDRESS, "query": f'{rule}{{service="{app}"}}'}},
    }


def analysis_spec(app: str, analysis: AnalysisConfig) -> dict[str, object]:
    """The AnalysisTemplate's spec: the error ratio and the p99 latency against the app's SLO."""
    return {"metrics": [
        _metric("error-ratio", ERROR_RATIO_RULE, app, analysis.max_error_ratio, analysis),
        _metric("p99-latency", P99_LATENCY_RULE, app, analysis.max_p99_latency_seconds, analysis),
    ]}


def create_analysis_template(spec: AppSpec, opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        f"{spec.name}-analysis",
        api_version=ROLLOUTS_API,
        kind="AnalysisTemplate",
        metadata=spec.metadata(template_name(spec.app)),
        spec=analysis_spec(spec.app, spec.config.analysis),
        opts=opts,
    )

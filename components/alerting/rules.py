"""Prometheus rules generated from the SLO spec: SLI recording rules, multi-window multi-burn-rate alerts,
latency and saturation alerts per service, and the cluster's infrastructure alerts.

Burn-rate alerts follow the Google SRE workbook, "Alerting on SLOs", recommendation 6 (multiwindow,
multi-burn-rate; https://sre.google/workbook/alerting-on-slos/): an alert fires when the error ratio over
both a long and a short window exceeds ``factor x budget``. For a 30-day SLO, 14.4x over 1 h spends 2 % of the
budget; 6x over 6 h spends 5 %; 3x over 1 d spends 10 %; 1x over 3 d spends 10 %. A tier whose threshold
would be 100 % or more (a large budget, e.g. the p50 latency objective's 50 %) can never fire and is left out.

Every alert carries a ``severity`` label (P1..P4, which Alertmanager routes on), a ``scope`` label (``service``,
``workload`` or ``cluster``, which the inhibitions use) and a ``runbook_url`` annotation to
``docs/runbooks/alerts/<alert>.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.alerting.config import AlertingConfig, ServiceSlo, le_matcher

#: The SLI windows that recording rules cover.
WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


@dataclass(frozen=True)
class BurnTier:
    suffix: str       # alert-name suffix
    severity: str
    factor: float
    long: str
    short: str


BURN_TIERS: tuple[BurnTier, ...] = (
    BurnTier("Critical", "P1", 14.4, "1h", "5m"),
    BurnTier("High", "P2", 6, "6h", "30m"),
    BurnTier("Moderate", "P3", 3, "1d", "2h"),
    BurnTier("Slow", "P4", 1, "3d", "6h"),
)

#: The quantiles recorded over 5 minutes for every service that serves requests (dashboards, Argo Rollouts).
RECORDED_QUANTILES: tuple[float, ...] = (50, 95, 99)

ERRORS = "service:request_errors:ratio_rate"
LATENCY_SLOW = "service:request_latency_slow:ratio_rate"
RATIO_BAD = "service:sli_bad_events:ratio_rate"
CPU = "service:container_cpu_usage:ratio_limit5m"
MEMORY = "service:container_memory_working_set:ratio_limit"
BUDGET_REMAINING = "service:error_budget_remaining:ratio"


def quantile_record(percentile: float) -> str:
    """``service:request_latency_seconds:p99_5m`` for 99."""
    return "service:request_latency_seconds:p" + f"{percentile:g}".replace(".", "_") + "_5m"


def product_of(service: str) -> str:
    """The product a service belongs to (``prm-api`` -> ``prm``): the PagerDuty service its pages go to (oncall/)."""
    return service.split("-", 1)[0]


def _sel(*matchers: str) -> str:
    return "{" + ",".join(m for m in matchers if m) + "}"


def _fmt(value: float) -> str:
    return f"{value:.10g}"


class _ServiceRules:
    """The recording and alerting rules of one service."""

    def __init__(self, config: AlertingConfig, service: str, namespace: str, slo: ServiceSlo) -> None:
        self.config, self.service, self.namespace, self.slo = config, service, namespace, slo
        self.base = (f'namespace="{namespace}"', f'service="{service}"')
        self.by = "sum by (namespace, service)"

    def _ratio_of_bad(self, bad: str, total: str, window: str) -> str:
        """bad/total over the window; 0 (with the service's labels) when no bad series exists yet."""
        bad_rate, total_rate = f"{self.by} (rate({bad}[{window}]))", f"{self.by} (rate({total}[{window}]))"
        return f"({bad_rate} or {total_rate} * 0) / {total_rate}"

    def recording(self) -> list[dict[str, Any]]:
        slo, m = self.slo, self.slo.metrics
        rules: list[dict[str, Any]] = []
        if slo.serves_requests:
            total = m.requests_total + _sel(*self.base)
            errors = m.requests_total + _sel(*self.base, m.error_matchers)
            rules += [{"record": ERRORS + w, "expr": self._ratio_of_bad(errors, total, w)} for w in WINDOWS]
            bucket, count = f"{m.duration_histogram}_bucket", f"{m.duration_histogram}_count"
            percentiles = sorted({*RECORDED_QUANTILES, *(o.percentile for o in slo.latency)})
            rules += [{"record": quantile_record(p),
                       "expr": f"histogram_quantile({_fmt(p / 100)}, sum by (namespace, service, le) "
                               f"(rate({bucket}{_sel(*self.base)}[5m])))"} for p in percentiles]
            for objective in slo.latency:
                fast = bucket + _sel(*self.base, le_matcher(objective.threshold_seconds))
                rules += [{"record": LATENCY_SLOW + w, "labels": {"slo": objective.name},
                           "expr": f"1 - {self.by} (rate({fast}[{w}])) / "
                                   f"{self.by} (rate({count}{_sel(*self.base)}[{w}]))"} for w in WINDOWS]
            assert slo.availability is not None
            rules.append({"record": BUDGET_REMAINING, "labels": {"slo": "availability"},
                          "expr": f"1 - avg_over_time({ERRORS}1h{_sel(*self.base)}[{slo.availability.window_days}d]) "
                                  f"/ {_fmt(slo.availability.budget)}"})
        for ratio in slo.ratios:
            total = ratio.metric + _sel(*self.base)
            good = ratio.metric + _sel(*self.base, ratio.good_matchers)
            rules += [{"record": RATIO_BAD + w, "labels": {"slo": ratio.name},
                       "expr": f"1 - ({self.by} (rate({good}[{w}])) or {self.by} (rate({total}[{w}])) * 0) / "
                               f"{self.by} (rate({total}[{w}]))"} for w in WINDOWS]
        workload = (f'namespace="{self.namespace}"', f'container="{self.service}"')
        cpu_limit = "kube_pod_container_resource_limits" + _sel(*workload, 'resource="cpu"')
        mem_limit = "kube_pod_container_resource_limits" + _sel(*workload, 'resource="memory"')
        rules += [
            {"record": CPU,
             "expr": f"sum by (namespace) (rate(container_cpu_usage_seconds_total{_sel(*workload)}[5m])) / "
                     f"sum by (namespace) ({cpu_limit})"},
            {"record": MEMORY,
             "expr": f"sum by (namespace) (container_memory_working_set_bytes{_sel(*workload)}) / "
                     f"sum by (namespace) ({mem_limit})"},
        ]
        # The service label on every rule: the output has it anyway (from the selector, or set here for the
        # saturation ratios), and it keeps each service's rules distinct for promtool's duplicate-rule lint.
        return [{"record": r["record"], "expr": r["expr"], "labels": {**r.get("labels", {}), "service": self.service}}
                for r in rules]

    def _alert(self, name: str, expr: str, severity: str, summary: str, description: str, *,
               for_: str | None = None, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
        rule: dict[str, Any] = {"alert": name, "expr": expr}
        if for_:
            rule["for"] = for_
        rule["labels"] = {"severity": severity, "scope": "service", "service": self.service,
                          "product": product_of(self.service), **(labels or {})}
        rule["annotations"] = {"summary": summary, "description": description,
                               "runbook_url": self.config.runbook_url(name)}
        return rule

    def _burn_alerts(self, family: str, record: str, matchers: tuple[str, ...], budget: float, slo_label: str,
                     what: str) -> list[dict[str, Any]]:
        alerts = []
        for tier in BURN_TIERS:
            threshold = tier.factor * budget
            if threshold >= 1:
                continue  # can never fire: the ratio is at most 1
            sel = _sel(*self.base, *matchers)
            expr = (f"{record}{tier.long}{sel} > {_fmt(threshold)}\n"
                    f"and\n{record}{tier.short}{sel} > {_fmt(threshold)}")
            alerts.append(self._alert(
                f"{family}{tier.suffix}", expr, tier.severity,
                f"{self.service}: {what} is burning the error budget {tier.factor:g}x too fast",
                f"{what} of {self.service} over {tier.long} and {tier.short} is above {_fmt(threshold * 100)} % "
                f"({tier.factor:g} x the {_fmt(budget * 100)} % budget); now {{{{ $value | humanizePercentage }}}} "
                f"over {tier.long}.",
                labels={"slo": slo_label}))
        return alerts

    def alerts(self) -> list[dict[str, Any]]:
        slo, alerts = self.slo, []
        if slo.availability is not None:
            alerts += self._burn_alerts("ErrorBudgetBurn", ERRORS, (), slo.availability.budget, "availability",
                                        "the 5xx error ratio")
        for objective in slo.latency:
            alerts += self._burn_alerts("LatencyBudgetBurn", LATENCY_SLOW, (f'slo="{objective.name}"',),
                                        objective.budget, objective.name,
                                        f"the share of requests slower than {objective.threshold_seconds:g} s "
                                        f"({objective.name} objective)")
        for ratio in slo.ratios:
            alerts += self._burn_alerts("QualityBudgetBurn", RATIO_BAD, (f'slo="{ratio.name}"',),
                                        round(1 - ratio.target_percent / 100, 10), ratio.name,
                                        f"the share of failed {ratio.name} events")
        sat, sel = slo.saturation, _sel(f'service="{self.service}"')
        alerts += [
            self._alert("ServiceCpuSaturation", f"{CPU}{sel} > {_fmt(sat.cpu_percent / 100)}", "P3",
                        f"{self.service}: CPU above {sat.cpu_percent:g} % of its limits",
                        f"CPU use of {self.service} has been above {sat.cpu_percent:g} % of its limits for "
                        f"{sat.for_minutes} minutes (now {{{{ $value | humanizePercentage }}}}).",
                        for_=f"{sat.for_minutes}m"),
            self._alert("ServiceMemorySaturation", f"{MEMORY}{sel} > {_fmt(sat.memory_percent / 100)}", "P3",
                        f"{self.service}: memory above {sat.memory_percent:g} % of its limits",
                        f"The working set of {self.service} has been above {sat.memory_percent:g} % of its memory "
                        f"limits for {sat.for_minutes} minutes (now {{{{ $value | humanizePercentage }}}}).",
                        for_=f"{sat.for_minutes}m"),
        ]
        return alerts


def _infra_alert(config: AlertingConfig, name: str, expr: str, severity: str, scope: str, for_: str | None,
                 summary: str, description: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if for_:
        rule["for"] = for_
    rule["labels"] = {"severity": severity, "scope": scope}
    rule["annotations"] = {"summary": summary, "description": description, "runbook_url": config.runbook_url(name)}
    return rule


def infrastructure_alerts(config: AlertingConfig) -> list[dict[str, Any]]:
    """Cluster and workload alerts on kube-state-metrics and kubelet metrics (kube-prometheus-stack scrapes both)."""
    ready = 'kube_node_status_condition{condition="Ready",status="true"}'
    return [
        _infra_alert(config, "ClusterOutage",
                     f"count({ready} == 0) / count({ready}) >= 0.5", "P1", "cluster", "5m",
                     "Half or more of the cluster's nodes are not Ready",
                     "{{ $value | humanizePercentage }} of the nodes are not Ready: a cluster-wide outage. "
                     "Per-service alerts are inhibited while this fires."),
        _infra_alert(config, "KubeNodeNotReady", f"{ready} == 0", "P3", "cluster", "15m",
                     "Node {{ $labels.node }} is not Ready",
                     "Node {{ $labels.node }} has not been Ready for 15 minutes."),
        _infra_alert(config, "KubePodCrashLooping",
                     'max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"}[5m]) >= 1',
                     "P3", "workload", "15m",
                     "{{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) is crash-looping",
                     "Container {{ $labels.container }} of pod {{ $labels.namespace }}/{{ $labels.pod }} has been "
                     "in CrashLoopBackOff for 15 minutes."),
        _infra_alert(config, "KubeContainerOOMKilled",
                     "(kube_pod_container_status_restarts_total - kube_pod_container_status_restarts_total offset 10m"
                     " >= 1)\nand ignoring (reason)\n"
                     'min_over_time(kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}[10m]) == 1',
                     "P3", "workload", None,
                     "{{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) was OOM-killed",
                     "Container {{ $labels.container }} of pod {{ $labels.namespace }}/{{ $labels.pod }} restarted "
                     "in the last 10 minutes after the kernel killed it for exceeding its memory limit."),
        _infra_alert(config, "KubePersistentVolumeFillingUp",
                     "kubelet_volume_stats_available_bytes / kubelet_volume_stats_capacity_bytes < 0.10\n"
                     "and kubelet_volume_stats_used_bytes > 0",
                     "P2", "workload", "5m",
                     "PVC {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is over 90 % full",
                     "Only {{ $value | humanizePercentage }} of PVC {{ $labels.namespace }}/"
                     "{{ $labels.persistentvolumeclaim }} is free."),
        _infra_alert(config, "KubeHpaMaxedOut",
                     "kube_horizontalpodautoscaler_status_current_replicas\n"
                     "== kube_horizontalpodautoscaler_spec_max_replicas",
                     "P3", "workload", "15m",
                     "HPA {{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} is at its maximum",
                     "HPA {{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} has run at its maximum "
                     "replicas for 15 minutes: the service cannot scale out further."),
    ]


def rule_groups(config: AlertingConfig, namespaces: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    """The PrometheusRule objects' ``spec.groups``, by object name (``slo-<service>``, ``platform-infrastructure``).

    ``namespaces`` maps each service of ``config.services`` to the Kubernetes namespace it runs in.
    """
    objects: dict[str, list[dict[str, Any]]] = {}
    for service, slo in sorted(config.services.items()):
        rules = _ServiceRules(config, service, namespaces[service], slo)
        objects[f"slo-{service}"] = [
            {"name": f"slo-{service}-sli", "rules": rules.recording()},
            {"name": f"slo-{service}-alerts", "rules": rules.alerts()},
        ]
    objects["platform-infrastructure"] = [{"name": "platform-infrastructure", "rules": infrastructure_alerts(config)}]
    return objects


def all_rules(objects: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [rule for groups in objects.values() for group in groups for rule in group["rules"]]


def alert_names(objects: Mapping[str, list[dict[str, Any]]]) -> set[str]:
    return {rule["alert"] for rule in all_rules(objects) if "alert" in rule}


def recorded_names(objects: Mapping[str, list[dict[str, Any]]]) -> set[str]:
    return {rule["record"] for rule in all_rules(objects) if "record" in rule}

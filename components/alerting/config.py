"""The alerting config (``care-platform:alerting``): SLOs as data, one typed spec per service, and the receivers.

Defaults are the seeds' numbers (EPIC-024's SLO framework, Epic 5 for NL-FHIR): availability 99.9 % over 30 days
(its error budget, 0.1 %, is the seed's error-rate objective), API latency p50 100 ms and p99 500 ms, CPU under
70 % and memory under 80 % of the container limits; NL-FHIR p95 under 2 s and FHIR validation success >= 95 %.
Metric names are the ones prometheus-fastapi-instrumentator exposes (``http_requests_total{status}``, the
``http_request_duration_seconds`` histogram, whose default buckets are 0.1, 0.5 and 1 s).
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from components.alerting.cloudwatch import CloudWatchThresholds
from components.common import ConfigModel
from components.problems import ProblemCollector


def _open_percent(value: float) -> float:
    if not 0 < value < 100:
        raise ValueError("must be a percentage strictly between 0 and 100, like 99.9")
    return value


#: A percentage objective or percentile: strictly between 0 and 100 (100 % leaves no error budget at all).
OpenPercent = Annotated[float, AfterValidator(_open_percent)]

_METRIC = r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"
_MATCHERS = r'^[a-zA-Z_][a-zA-Z0-9_]*(=|!=|=~|!~)"[^"]*"(, *[a-zA-Z_][a-zA-Z0-9_]*(=|!=|=~|!~)"[^"]*")*$'
_SLUG = r"^[a-z][a-z0-9-]{0,39}$"


class AvailabilityObjective(ConfigModel):
    """Successful (non-5xx) requests / all requests, over ``windowDays``."""

    target_percent: OpenPercent = 99.9
    window_days: int = Field(default=30, ge=7, le=90)

    @property
    def budget(self) -> float:
        return round(1 - self.target_percent / 100, 10)


class LatencyObjective(ConfigModel):
    """``percentile`` % of requests complete within ``thresholdSeconds`` (read from the histogram's ``le`` bucket)."""

    percentile: OpenPercent
    threshold_seconds: float = Field(gt=0)

    @property
    def name(self) -> str:
        """``p99``, ``p95``, ``p99_9``: the objective's label value and recording-rule suffix."""
        return "p" + f"{self.percentile:g}".replace(".", "_")

    @property
    def budget(self) -> float:
        return round(1 - self.percentile / 100, 10)


class RatioObjective(ConfigModel):
    """A business SLI: good events / all events of one counter (e.g. FHIR validations that succeeded)."""

    name: str = Field(pattern=_SLUG)
    metric: str = Field(pattern=_METRIC, description="a counter, e.g. fhir_validations_total")
    good_matchers: str = Field(pattern=_MATCHERS, description='label matchers of a good event, e.g. result="success"')
    target_percent: OpenPercent


class SaturationObjective(ConfigModel):
    """Usage as a share of the container limits (cAdvisor over kube-state-metrics)."""

    cpu_percent: OpenPercent = 70
    memory_percent: OpenPercent = 80
    for_minutes: int = Field(default=15, ge=1, le=120)


class MetricNames(ConfigModel):
    """What the app exposes (prometheus-fastapi-instrumentator's names and default buckets)."""

    requests_total: str = Field(default="http_requests_total", pattern=_METRIC)
    error_matchers: str = Field(default='status=~"5.."', pattern=_MATCHERS)
    duration_histogram: str = Field(default="http_request_duration_seconds", pattern=_METRIC)
    histogram_buckets: tuple[float, ...] = Field(default=(0.1, 0.5, 1.0), min_length=1)


class ServiceSlo(ConfigModel):
    """One service's SLOs. ``availability: null`` for a service that serves no requests (a queue consumer)."""

    availability: AvailabilityObjective | None = AvailabilityObjective()
    latency: tuple[LatencyObjective, ...] = (LatencyObjective(percentile=50, threshold_seconds=0.1),
                                             LatencyObjective(percentile=99, threshold_seconds=0.5))
    ratios: tuple[RatioObjective, ...] = ()
    saturation: SaturationObjective = SaturationObjective()
    metrics: MetricNames = MetricNames()

    @property
    def serves_requests(self) -> bool:
        return self.availability is not None

    @model_validator(mode="after")
    def _buckets_match(self) -> ServiceSlo:
        problems = ProblemCollector()
        buckets = self.metrics.histogram_buckets
        for index, objective in enumerate(self.latency):
            threshold = objective.threshold_seconds
            if not any(math.isclose(threshold, b) for b in buckets):
                problems.add(("latency", index, "thresholdSeconds"), threshold,
                             f"no bucket of metrics.histogramBuckets {list(buckets)} has le={threshold:g}: "
                             "the SLI counts requests at or below a bucket boundary; add it to the app's "
                             "histogram buckets and to metrics.histogramBuckets")
        names = [o.name for o in self.latency]
        for index, name in enumerate(names):
            if names.index(name) != index:
                problems.add(("latency", index, "percentile"), self.latency[index].percentile,
                             f"{name} is given twice: one objective per percentile")
        if self.latency and self.availability is None:
            problems.add(("latency",), [o.name for o in self.latency],
                         "a latency objective needs request metrics: the service has availability: null")
        slugs = [r.name for r in self.ratios]
        for index, slug in enumerate(slugs):
            if slugs.index(slug) != index:
                problems.add(("ratios", index, "name"), slug, "is given twice: SLO names must be unique per service")
        problems.raise_if_any()
        return self


def _default_services() -> dict[str, ServiceSlo]:
    return {
        "nlfhir": ServiceSlo(
            latency=(LatencyObjective(percentile=95, threshold_seconds=2.0),),
            ratios=(RatioObjective(name="fhir-validation", metric="fhir_validations_total",
                                   good_matchers='result="success"', target_percent=95),),
            metrics=MetricNames(histogram_buckets=(0.1, 0.5, 1.0, 2.0, 5.0)),
        ),
        "prm-api": ServiceSlo(),
        "prm-worker": ServiceSlo(availability=None, latency=()),
    }


class AlertingConfig(ConfigModel):
    """SLOs per service (keyed by the app's name), the receivers, and where the runbooks are published."""

    #: The ticket/chat receiver of P3 and P4 alerts: an Alertmanager webhook (a ticketing or chat bridge).
    ticket_webhook_url: str = Field(pattern=r"^https?://[^\s]+$")
    #: Where docs/runbooks/alerts/ is browsable: every alert's runbook_url is ``<base>/<alert>.md``.
    runbook_base_url: str = Field(pattern=r"^https://[^\s]+[^/]$")
    #: Namespace of Alertmanager (kube-prometheus-stack) and of the SLO dashboard ConfigMap.
    namespace: str = Field(default="monitoring", pattern=r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
    services: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,40}$")], ServiceSlo] = Field(
        default_factory=_default_services)
    #: Thresholds of the CloudWatch alarms on the AWS-managed services.
    cloudwatch: CloudWatchThresholds = CloudWatchThresholds()

    def runbook_url(self, alert: str) -> str:
        return f"{self.runbook_base_url}/{alert}.md"


def le_matcher(seconds: float) -> str:
    """A matcher for the ``le`` label of a bucket boundary, whichever way the exporter printed it (``1`` or ``1.0``;
    Python's client writes ``1.0``, ``0.5``; Prometheus 3 normalises classic-histogram ``le`` values to floats)."""
    short, python = f"{seconds:g}", repr(float(seconds))
    forms = sorted({short, python})
    return 'le=~"' + "|".join(re.escape(f).replace("\\", "\\\\") for f in forms) + '"'

"""care-platform:alerting: the seeds' SLOs by default, and one line per impossible SLO."""

from __future__ import annotations

from typing import Any

import pytest

import config
from components.alerting.config import AlertingConfig, LatencyObjective, le_matcher
from tests.helpers import stack_raw, with_overrides


def _lines(overrides: dict[str, Any]) -> list[str]:
    with pytest.raises(config.ConfigError) as info:
        config.validate("prod", with_overrides(stack_raw("prod"), overrides))
    return info.value.lines


def test_defaults_are_the_seeds_numbers():
    alerting = config.validate("prod", stack_raw("prod")).alerting
    nlfhir, prm, worker = (alerting.services[s] for s in ("nlfhir", "prm-api", "prm-worker"))
    assert prm.availability is not None and nlfhir.availability is not None
    assert (prm.availability.target_percent, prm.availability.window_days, prm.availability.budget) == (99.9, 30, 0.001)
    assert [(o.name, o.threshold_seconds) for o in prm.latency] == [("p50", 0.1), ("p99", 0.5)]
    assert (prm.saturation.cpu_percent, prm.saturation.memory_percent) == (70, 80)
    assert [(o.name, o.threshold_seconds) for o in nlfhir.latency] == [("p95", 2.0)]
    assert [(r.name, r.metric, r.good_matchers, r.target_percent) for r in nlfhir.ratios] == [
        ("fhir-validation", "fhir_validations_total", 'result="success"', 95)]
    assert (prm.metrics.requests_total, prm.metrics.duration_histogram, prm.metrics.histogram_buckets) == (
        "http_requests_total", "http_request_duration_seconds", (0.1, 0.5, 1.0))
    assert (worker.availability, worker.latency) == (None, ())
    assert alerting.runbook_url("ClusterOutage") == (
        "https://github.com/care-platform/care-platform/blob/main/docs/runbooks/alerts/ClusterOutage.md")


@pytest.mark.parametrize("overrides, lines", [
    ({"alerting.services": {"prm-api": {"availability": {"targetPercent": 100}}}},
     ["prod: alerting.services.prm-api.availability.targetPercent: 100: must be a percentage strictly between 0 "
      "and 100, like 99.9"]),
    ({"alerting.services": {"prm-api": {"availability": {"targetPercent": 0}}}},
     ["prod: alerting.services.prm-api.availability.targetPercent: 0: must be a percentage strictly between 0 "
      "and 100, like 99.9"]),
    ({"alerting.services": {"prm-api": {"latency": [{"percentile": 99, "thresholdSeconds": 0.3}]}}},
     ["prod: alerting.services.prm-api.latency.0.thresholdSeconds: 0.3: no bucket of metrics.histogramBuckets "
      "[0.1, 0.5, 1.0] has le=0.3: the SLI counts requests at or below a bucket boundary; add it to the app's "
      "histogram buckets and to metrics.histogramBuckets"]),
    ({"alerting.services": {"nlfhir": {"latency": [{"percentile": 95, "thresholdSeconds": 2}]}}},
     ["prod: alerting.services.nlfhir.latency.0.thresholdSeconds: 2.0: no bucket of metrics.histogramBuckets "
      "[0.1, 0.5, 1.0] has le=2: the SLI counts requests at or below a bucket boundary; add it to the app's "
      "histogram buckets and to metrics.histogramBuckets"]),
    ({"alerting.services": {"prm-api": {"latency": [{"percentile": 99, "thresholdSeconds": 0.5},
                                                    {"percentile": 99, "thresholdSeconds": 1}]}}},
     ["prod: alerting.services.prm-api.latency.1.percentile: 99.0: p99 is given twice: one objective per percentile"]),
    ({"alerting.services": {"prm-worker": {"availability": None}}},
     ["prod: alerting.services.prm-worker.latency: [\"p50\", \"p99\"]: a latency objective needs request metrics: "
      "the service has availability: null"]),
    ({"alerting.services": {"billing": {}}},
     ["prod: alerting.services.billing: 'billing': not an app of this stack; SLOs are kept for nlfhir, prm-api, "
      "prm-worker"]),
    ({"alerting.ticketWebhookUrl": "slack"},
     ["prod: alerting.ticketWebhookUrl: 'slack': must be an http(s) URL like "
      "http://alert-tickets.monitoring.svc:8080/alertmanager"]),
    ({"alerting.runbookBaseUrl": "https://example.com/runbooks/"},
     ["prod: alerting.runbookBaseUrl: 'https://example.com/runbooks/': must be an https URL without a trailing "
      "slash"]),
])
def test_impossible_slos_one_line_each(overrides, lines):
    assert _lines(overrides) == lines


def test_le_matcher_accepts_both_spellings():
    assert le_matcher(0.5) == 'le=~"0\\\\.5"'
    assert le_matcher(1) == 'le=~"1|1\\\\.0"'
    assert le_matcher(2.0) == 'le=~"2|2\\\\.0"'
    assert LatencyObjective(percentile=99.9, threshold_seconds=1).name == "p99_9"
    assert AlertingConfig.model_fields["namespace"].default == "monitoring"

"""The observability stack (issue #12, in-cluster half): see ``stack.py``."""

from components.monitoring.scrape import PodTarget
from components.monitoring.stack import ObservabilityStack
from components.monitoring.values import NAMESPACE, OTLP_ENDPOINT, PROMETHEUS_URL, tracing_environment

__all__ = ["NAMESPACE", "OTLP_ENDPOINT", "PROMETHEUS_URL", "ObservabilityStack", "PodTarget", "tracing_environment"]

"""Alerting: SLOs as data, PrometheusRules and the Alertmanager routing generated from them, CloudWatch alarms
for the AWS-managed services, and the runbooks every alert links to (docs/runbooks/alerts/)."""

from components.alerting.config import AlertingConfig, ServiceSlo

__all__ = ["AlertingConfig", "ServiceSlo"]

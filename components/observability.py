"""Monitoring and alerting (a later issue builds the component)."""

from __future__ import annotations

from components.common import ConfigModel, LogRetentionDays


class ObservabilityConfig(ConfigModel):
    log_retention_days: LogRetentionDays = 365

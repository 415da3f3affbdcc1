"""Cost guardrails: the stack's monthly budget, cost allocation tags and cost anomaly detection, alerting on the
primary alert topic (its policy lets AWS Budgets and Cost Anomaly Detection publish)."""

from __future__ import annotations

from components.budgets import CostGuardrails
from tiers.context import Providers, Stack
from tiers.notifications import Notifications


def cost_tier(stack: Stack, providers: Providers, alerts: Notifications) -> CostGuardrails:
    return CostGuardrails(f"{stack.prefix}-cost", stack.cfg.budget, account_id=stack.account_id,
                          alert_topic_arn=alerts.primary.arn, tag_keys=sorted(stack.tags), tags=stack.tags,
                          opts=providers.in_primary)

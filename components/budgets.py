"""Cost guardrails of one stack (one AWS account per environment): a monthly AWS Budget with notifications at
75 %, 90 % and 100 % of actual spend and 100 % of forecast, to the encrypted alert topic and the config's
e-mails; cost allocation by the standard tag keys; and a Cost Anomaly Detection monitor with subscriptions.

AWS constraints this component relies on (the deploy stage checks them too, policies/deploy/deploy_budgets.py):
- a budget has at most 5 notifications (CloudFormation's AWS::Budgets::Budget, "A budget can have up to five
  notifications"; the Budgets API reference says ten: the stricter number is kept), each with at most one SNS
  topic and 10 e-mail subscribers:
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-budgets-budget.html
  https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_NotificationWithSubscribers.html
- an anomaly subscription sends to SNS only at frequency IMMEDIATE and to e-mail only DAILY or WEEKLY, so the topic
  and the e-mails are two subscriptions; the threshold is a ThresholdExpression (``Threshold`` is deprecated):
  https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_AnomalySubscription.html
- a cost allocation tag key can be activated only from the payer (management) account, and only once it appears in
  billing data (up to 24 hours after first use: hashicorp/terraform-provider-aws#29068, "empty result"): hence
  ``activateCostAllocationTags``, on by default, to be turned off in a member account (README: Cost).
Budgets and Cost Explorer are global APIs; the topic may be in any region of the account.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal

import pulumi
import pulumi_aws as aws
from pydantic import Field, model_validator

from components.common import ConfigModel, child_opts, tags_for
from components.problems import ProblemCollector

#: AWS's limits (see the module docstring for the sources).
MAX_NOTIFICATIONS = 5
MAX_EMAIL_SUBSCRIBERS = 10
#: Epic 5: "Budget alerts at 75%, 90%, 100% thresholds" (of actual spend); 100 % of forecast warns a month early.
REQUIRED_ACTUAL_THRESHOLDS = (75, 90, 100)
REQUIRED_FORECAST_THRESHOLDS = (100,)

_EMAIL = r"^[A-Za-z0-9.!#$%&'*+=?^_`{|}~-]+@[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$"  # AnomalySubscription's own pattern


class BudgetConfig(ConfigModel):
    """``care-platform:budget``: the stack's monthly cost budget and who hears about it."""

    monthly_limit_usd: Decimal = Field(gt=0, max_digits=12, decimal_places=2,
                                       description="at least the stack's offline estimate (python -m offline cost)")
    emails: tuple[str, ...] = Field(min_length=1, max_length=MAX_EMAIL_SUBSCRIBERS)
    actual_thresholds: tuple[int, ...] = REQUIRED_ACTUAL_THRESHOLDS
    forecast_thresholds: tuple[int, ...] = REQUIRED_FORECAST_THRESHOLDS
    anomaly_threshold_usd: int = Field(default=100, gt=0, description="total impact of an anomaly that alerts")
    activate_cost_allocation_tags: bool = True

    @model_validator(mode="after")
    def _limits(self) -> BudgetConfig:
        problems = ProblemCollector()
        for index, email in enumerate(self.emails):
            if not re.fullmatch(_EMAIL, email):
                problems.add(("emails", index), email, "must be an e-mail address")
        for key, values in (("actualThresholds", self.actual_thresholds),
                            ("forecastThresholds", self.forecast_thresholds)):
            bad = [v for v in values if not 0 < v <= 1000]
            if bad or len(set(values)) != len(values):
                problems.add(key, list(values), "must be distinct percentages of the budget, each in 1..1000")
        count = len(self.actual_thresholds) + len(self.forecast_thresholds)
        if count > MAX_NOTIFICATIONS:
            problems.add("actualThresholds", list(self.actual_thresholds),
                         f"with forecastThresholds makes {count} notifications; AWS Budgets allows "
                         f"{MAX_NOTIFICATIONS} per budget")
        problems.raise_if_any()
        return self


def anomaly_threshold(usd: int) -> aws.costexplorer.AnomalySubscriptionThresholdExpressionArgs:
    """Anomalies whose total impact is at least ``usd`` dollars."""
    return aws.costexplorer.AnomalySubscriptionThresholdExpressionArgs(
        dimension=aws.costexplorer.AnomalySubscriptionThresholdExpressionDimensionArgs(
            key="ANOMALY_TOTAL_IMPACT_ABSOLUTE", match_options=["GREATER_THAN_OR_EQUAL"], values=[str(usd)]))


class CostGuardrails(pulumi.ComponentResource):
    """The stack's budget, cost allocation tags and cost anomaly detection."""

    budget: aws.budgets.Budget

    def __init__(self, name: str, config: BudgetConfig, *, account_id: str, alert_topic_arn: pulumi.Input[str],
                 tag_keys: Sequence[str], tags: Mapping[str, str],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("care:cost:CostGuardrails", name, None, opts)
        child = child_opts(self)
        emails = list(config.emails)

        def notification(kind: str, threshold: int) -> aws.budgets.BudgetNotificationArgs:
            return aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN", notification_type=kind, threshold=threshold,
                threshold_type="PERCENTAGE", subscriber_email_addresses=emails,
                subscriber_sns_topic_arns=[alert_topic_arn])

        self.budget = aws.budgets.Budget(
            f"{name}-monthly", name=f"{name}-monthly-cost", account_id=account_id, budget_type="COST",
            time_unit="MONTHLY", limit_amount=f"{config.monthly_limit_usd:.2f}", limit_unit="USD",
            notifications=[*(notification("ACTUAL", t) for t in config.actual_thresholds),
                           *(notification("FORECASTED", t) for t in config.forecast_thresholds)],
            tags=tags_for(tags, f"{name}-monthly-cost"), opts=child)
        self.tags = [aws.costexplorer.CostAllocationTag(f"{name}-tag-{key.lower()}", tag_key=key, status="Active",
                                                        opts=child)
                     for key in (tag_keys if config.activate_cost_allocation_tags else ())]
        self.monitor = aws.costexplorer.AnomalyMonitor(
            f"{name}-anomaly-monitor", name=f"{name}-services", monitor_type="DIMENSIONAL",
            monitor_dimension="SERVICE", tags=tags_for(tags, f"{name}-anomaly-monitor"), opts=child)
        threshold = anomaly_threshold(config.anomaly_threshold_usd)
        self.topic_subscription = aws.costexplorer.AnomalySubscription(
            f"{name}-anomaly-alerts", name=f"{name}-anomalies-immediate", frequency="IMMEDIATE",
            account_id=account_id, monitor_arn_lists=[self.monitor.arn],
            subscribers=[aws.costexplorer.AnomalySubscriptionSubscriberArgs(type="SNS", address=alert_topic_arn)],
            threshold_expression=threshold, tags=tags_for(tags, f"{name}-anomaly-alerts"), opts=child)
        self.email_subscription = aws.costexplorer.AnomalySubscription(
            f"{name}-anomaly-digest", name=f"{name}-anomalies-daily", frequency="DAILY", account_id=account_id,
            monitor_arn_lists=[self.monitor.arn],
            subscribers=[aws.costexplorer.AnomalySubscriptionSubscriberArgs(type="EMAIL", address=email)
                         for email in emails],
            threshold_expression=threshold, tags=tags_for(tags, f"{name}-anomaly-digest"), opts=child)
        self.register_outputs({"budgetName": self.budget.name, "anomalyMonitorArn": self.monitor.arn,
                               "thresholds": json.dumps({"actual": list(config.actual_thresholds),
                                                         "forecasted": list(config.forecast_thresholds)})})

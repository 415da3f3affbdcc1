"""Cost guardrails (issue #14): the monthly budget at 75/90/100 % actual and 100 % forecast to the alert topic and
the e-mails, cost allocation tags for the standard keys, and cost anomaly detection (SNS immediate, e-mail daily)."""

from __future__ import annotations

import pytest

from components.budgets import BudgetConfig, CostGuardrails
from config import ConfigError, validate
from tests.helpers import PROD_TAGS, render, stack_config, stack_raw, untagged, with_overrides

TOPIC = "arn:aws:sns:us-east-2:333333333333:care-prod-alerts"
ACCOUNT = "333333333333"
NAME = "care-prod-cost"
EMAILS = ["platform-team@care.example", "finops@care.example"]


def _render(config: BudgetConfig):
    def program() -> None:
        CostGuardrails(NAME, config, account_id=ACCOUNT, alert_topic_arn=TOPIC, tag_keys=sorted(PROD_TAGS),
                       tags=PROD_TAGS)

    return render(program)


@pytest.fixture(scope="module")
def prod():
    return _render(stack_config("prod").budget)


def test_children(prod):
    component = prod.of_type("care:cost:CostGuardrails")[0]
    assert sorted(r.type for r in prod.resources if r.parent == component.urn) == sorted([
        "aws:budgets/budget:Budget", "aws:costexplorer/anomalyMonitor:AnomalyMonitor",
        *["aws:costexplorer/anomalySubscription:AnomalySubscription"] * 2,
        *["aws:costexplorer/costAllocationTag:CostAllocationTag"] * 6])
    assert untagged(prod, PROD_TAGS) == []


def test_budget_notifications(prod):
    budget = prod.named(f"{NAME}-monthly")
    inputs = budget.inputs
    assert (inputs["name"], inputs["accountId"], inputs["budgetType"], inputs["timeUnit"], inputs["limitAmount"],
            inputs["limitUnit"]) == (f"{NAME}-monthly-cost", ACCOUNT, "COST", "MONTHLY", "10000.00", "USD")
    assert [(n["notificationType"], n["threshold"], n["thresholdType"], n["comparisonOperator"])
            for n in inputs["notifications"]] == [
        ("ACTUAL", 75, "PERCENTAGE", "GREATER_THAN"), ("ACTUAL", 90, "PERCENTAGE", "GREATER_THAN"),
        ("ACTUAL", 100, "PERCENTAGE", "GREATER_THAN"), ("FORECASTED", 100, "PERCENTAGE", "GREATER_THAN")]
    for notification in inputs["notifications"]:
        assert notification["subscriberSnsTopicArns"] == [TOPIC]
        assert notification["subscriberEmailAddresses"] == EMAILS


def test_cost_allocation_tags_are_the_standard_keys(prod):
    tags = prod.of_type("aws:costexplorer/costAllocationTag:CostAllocationTag")
    assert sorted((t.inputs["tagKey"], t.inputs["status"]) for t in tags) == sorted(
        (key, "Active") for key in PROD_TAGS)
    off = _render(stack_config("prod", budget__activateCostAllocationTags=False).budget)
    assert off.of_type("aws:costexplorer/costAllocationTag:CostAllocationTag") == []


def test_anomaly_monitor_and_subscriptions(prod):
    monitor = prod.named(f"{NAME}-anomaly-monitor")
    assert (monitor.inputs["monitorType"], monitor.inputs["monitorDimension"]) == ("DIMENSIONAL", "SERVICE")
    immediate = prod.named(f"{NAME}-anomaly-alerts").inputs
    daily = prod.named(f"{NAME}-anomaly-digest").inputs
    threshold = {"dimension": {"key": "ANOMALY_TOTAL_IMPACT_ABSOLUTE", "matchOptions": ["GREATER_THAN_OR_EQUAL"],
                               "values": ["200"]}}
    assert (immediate["frequency"], immediate["subscribers"], immediate["thresholdExpression"]) == (
        "IMMEDIATE", [{"type": "SNS", "address": TOPIC}], threshold)
    assert (daily["frequency"], daily["subscribers"], daily["thresholdExpression"]) == (
        "DAILY", [{"type": "EMAIL", "address": e} for e in EMAILS], threshold)
    # the mock engine's ARN of the monitor: both subscriptions watch that one monitor
    assert immediate["monitorArnLists"] == daily["monitorArnLists"]
    assert [arn.rsplit(":", 1)[-1] for arn in daily["monitorArnLists"]] == [f"anomalymonitor/{NAME}-anomaly-monitor"]


@pytest.mark.parametrize(("overrides", "line"), [
    ({"budget.forecastThresholds": [100, 110, 120]},
     "prod: budget.actualThresholds: [75, 90, 100]: with forecastThresholds makes 6 notifications; AWS Budgets "
     "allows 5 per budget"),
    ({"budget.emails": ["not-an-address"]}, "prod: budget.emails.0: 'not-an-address': must be an e-mail address"),
    ({"budget.actualThresholds": [75, 75, 100]},
     "prod: budget.actualThresholds: [75, 75, 100]: must be distinct percentages of the budget, each in 1..1000"),
])
def test_bad_budget_config_is_one_line(overrides, line):
    with pytest.raises(ConfigError) as caught:
        validate("prod", with_overrides(stack_raw("prod"), overrides))
    assert line in caught.value.lines


def test_eleven_emails_are_refused():
    raw = with_overrides(stack_raw("prod"), {"budget.emails": [f"a{i}@care.example" for i in range(11)]})
    with pytest.raises(ConfigError) as caught:
        validate("prod", raw)
    assert [line for line in caught.value.lines if line.startswith("prod: budget.emails")] != []

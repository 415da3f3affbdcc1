"""Cost controls: every stack carries a monthly AWS cost budget that alerts at 75 %, 90 % and 100 % of actual
spend and at 100 % of forecast (Epic 5's "Budget alerts at 75%, 90%, 100% thresholds"; issue #14).

Filed under logging, HIPAA 164.308(a)(1)(ii)(D) information system activity review: spend alerts and cost
anomalies are how a hijacked account (crypto-mining with stolen credentials, a runaway copy of PHI out of the
region) shows up when nothing else notices it.
"""

from __future__ import annotations

from typing import Any

from common import (
    Report,
    Resource,
    Settings,
    as_int,
    as_list,
    is_unknown,
    of_type,
    policies_of,
    required_flag,
    stack_policy,
)

ACTIVITY_REVIEW = "164.308(a)(1)(ii)(D)"
BUDGET = "aws:budgets/budget:Budget"

#: (notificationType, threshold in % of the budget) every cost budget must alert at.
REQUIRED_NOTIFICATIONS: tuple[tuple[str, int], ...] = (("ACTUAL", 75), ("ACTUAL", 90), ("ACTUAL", 100),
                                                       ("FORECASTED", 100))


def _alerts(notification: Any) -> tuple[str, int] | None:
    """(type, threshold) of a percentage notification that reaches somebody (an SNS topic or an e-mail)."""
    if notification.get("thresholdType", "PERCENTAGE") != "PERCENTAGE":
        return None
    subscribers = [*as_list(notification.get("subscriberSnsTopicArns")),
                   *as_list(notification.get("subscriberEmailAddresses"))]
    if not subscribers:
        return None
    threshold = as_int(notification.get("threshold"))
    kind = notification.get("notificationType")
    return (kind, threshold) if isinstance(kind, str) and threshold is not None else None


def cost_budget_alerts(resources: list[Resource], report: Report, cfg: Settings) -> None:
    if not cfg["required"]:
        return
    budgets = [b for b in of_type(resources, BUDGET)
               if b.get("budgetType") == "COST" and b.get("timeUnit") == "MONTHLY"]
    if not budgets:
        report("the stack has no monthly COST budget (aws.budgets.Budget): spend could run away unnoticed. Set "
               "care-platform:budget in Pulumi.<stack>.yaml (the cost tier creates it).")
        return
    for budget in budgets:
        notifications = budget.get("notifications")
        if is_unknown(notifications):
            continue
        present = {_alerts(n) for n in as_list(notifications)}
        missing = [f"{kind} {threshold} %" for kind, threshold in REQUIRED_NOTIFICATIONS
                   if (kind, threshold) not in present]
        if missing:
            report(f"notifies no subscriber at {', '.join(missing)}: the budget must alert at 75 %, 90 % and 100 % "
                   "of actual spend and 100 % of forecast. Set budget.actualThresholds: [75, 90, 100] and "
                   "budget.forecastThresholds: [100] in Pulumi.<stack>.yaml.", budget.urn)


stack_policy(
    "cost-budget-alerts", concern="logging", citation=ACTIVITY_REVIEW, types=(BUDGET,),
    config=required_flag(True, "a monthly cost budget alerting at 75/90/100 % actual and 100 % forecast"),
    description="A monthly cost budget alerts subscribers at 75, 90 and 100 % of actual and 100 % of forecast spend.",
)(cost_budget_alerts)


POLICIES = policies_of(__name__)

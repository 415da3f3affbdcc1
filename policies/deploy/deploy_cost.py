"""AWS Budgets and Cost Anomaly Detection limits a `pulumi up` would hit (issue #14's cost guardrails).

- A budget has at most 5 notifications (AWS::Budgets::Budget: "A budget can have up to five notifications"; the
  Budgets API reference's Notification page says ten, so the stricter CloudFormation number is enforced), and a
  notification has 1 to 11 subscribers: at most one SNS topic and at most 10 e-mail addresses
  (API_budgets_NotificationWithSubscribers: "one SNS subscriber and up to 10 email subscribers").
- An anomaly subscription notifies SNS subscribers only at frequency IMMEDIATE and e-mail subscribers only DAILY or
  WEEKLY (API_AnomalySubscription, Frequency), and takes its threshold as a ThresholdExpression: ``Threshold`` is
  deprecated and cannot be combined with it.
"""

from __future__ import annotations

from deploy_common import Report, Resource, Settings, as_list, is_unknown, of_type, policies_of, stack_policy

BUDGET = "aws:budgets/budget:Budget"
ANOMALY_SUBSCRIPTION = "aws:costexplorer/anomalySubscription:AnomalySubscription"
BUDGET_SOURCE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-budgets-budget.html"
#: also https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_NotificationWithSubscribers.html
ANOMALY_SOURCE = "https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_AnomalySubscription.html"

MAX_NOTIFICATIONS = 5
MAX_SNS_SUBSCRIBERS = 1
MAX_EMAIL_SUBSCRIBERS = 10
FIX = "see care-platform:budget in Pulumi.<stack>.yaml (components/budgets.py)"


@stack_policy(
    "budget-notification-limits", concern="limits", source=BUDGET_SOURCE, types=(BUDGET,),
    description="A budget has at most 5 notifications, each with 1 SNS topic at most, 10 e-mails at most and a "
                "subscriber.",
)
def budget_notification_limits(resources: list[Resource], report: Report, _: Settings) -> None:
    for budget in of_type(resources, BUDGET):
        notifications = budget.get("notifications")
        if is_unknown(notifications):
            continue
        notifications = as_list(notifications)
        if len(notifications) > MAX_NOTIFICATIONS:
            report(f"has {len(notifications)} notifications: AWS Budgets accepts at most {MAX_NOTIFICATIONS} per "
                   f"budget; {FIX}.", budget.urn)
        for index, notification in enumerate(notifications):
            topics = as_list(notification.get("subscriberSnsTopicArns"))
            emails = as_list(notification.get("subscriberEmailAddresses"))
            threshold = notification.get("threshold")
            if isinstance(threshold, float) and threshold.is_integer():
                threshold = int(threshold)  # the wire sends numbers as floats
            where = f"notification {index} ({notification.get('notificationType')} {threshold})"
            if len(topics) > MAX_SNS_SUBSCRIBERS:
                report(f"{where} has {len(topics)} SNS topics: a notification takes at most {MAX_SNS_SUBSCRIBERS}; "
                       f"{FIX}.", budget.urn)
            if len(emails) > MAX_EMAIL_SUBSCRIBERS:
                report(f"{where} has {len(emails)} e-mail subscribers: a notification takes at most "
                       f"{MAX_EMAIL_SUBSCRIBERS}; {FIX}.", budget.urn)
            if not topics and not emails:
                report(f"{where} has no subscriber: AWS Budgets requires at least one; {FIX}.", budget.urn)


@stack_policy(
    "anomaly-subscription-delivery", concern="limits", source=ANOMALY_SOURCE, types=(ANOMALY_SUBSCRIPTION,),
    description="An anomaly subscription sends to SNS only IMMEDIATE and to e-mail only DAILY or WEEKLY, with a "
                "ThresholdExpression.",
)
def anomaly_subscription_delivery(resources: list[Resource], report: Report, _: Settings) -> None:
    for subscription in of_type(resources, ANOMALY_SUBSCRIPTION):
        frequency, subscribers = subscription.get("frequency"), subscription.get("subscribers")
        if is_unknown(frequency) or is_unknown(subscribers):
            continue
        kinds = sorted({str(s.get("type")) for s in as_list(subscribers)})
        if "SNS" in kinds and frequency != "IMMEDIATE":
            report(f"sends to SNS at frequency {frequency}: Cost Anomaly Detection notifies SNS topics only "
                   "IMMEDIATE; use a separate IMMEDIATE subscription for the topic (components/budgets.py).",
                   subscription.urn)
        if "EMAIL" in kinds and frequency == "IMMEDIATE":
            report("sends e-mail at frequency IMMEDIATE: Cost Anomaly Detection e-mails only DAILY or WEEKLY "
                   "summaries; use a separate DAILY subscription for the e-mails (components/budgets.py).",
                   subscription.urn)
        if subscription.get("threshold") is not None:
            report("sets the deprecated threshold: use thresholdExpression (ANOMALY_TOTAL_IMPACT_ABSOLUTE) instead; "
                   "the API refuses both together.", subscription.urn)
        elif subscription.get("thresholdExpression") is None:
            report("has no thresholdExpression: the API requires a threshold for every subscription.",
                   subscription.urn)


POLICIES = policies_of(__name__)

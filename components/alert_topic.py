"""The alert topic: one SNS topic per region that CloudWatch alarms, EventBridge rules, AWS Budgets and
Cost Anomaly Detection publish to, encrypted with the region's "alerts" key.

Encrypted with a customer key, a topic only receives from an AWS service when both grant it:
- the key policy lets the service principal use the key (components/encryption.py, "AlertPublishers");
- the topic policy lets it ``sns:Publish``, here limited to this account (confused-deputy prevention):
  https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
  https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions
Subscriptions (PagerDuty, e-mail) belong to whoever routes the alerts (the alerting tier).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from components.common import child_opts, tags_for
from components.encryption import ALERT_PUBLISHERS


def topic_policy(topic_arn: str, *, account_id: str) -> dict[str, Any]:
    """Publishing by the account's own alarms, rules, budgets and anomaly monitors; nobody else's."""
    return {
        "Version": "2012-10-17",
        "Id": "care-platform-alerts",
        "Statement": [
            {
                "Sid": "AwsServicesOfThisAccountPublish",
                "Effect": "Allow",
                "Principal": {"Service": list(ALERT_PUBLISHERS)},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


class AlertTopic(pulumi.ComponentResource):
    """An SNS topic encrypted with a customer key, that the account's AWS services may publish alerts to."""

    arn: pulumi.Output[str]

    def __init__(self, name: str, *, kms_key_arn: pulumi.Input[str], account_id: str,
                 tags: Mapping[str, str], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("care:observability:AlertTopic", name, None, opts)
        self.topic = aws.sns.Topic(
            name,
            aws.sns.TopicArgs(name=name, kms_master_key_id=kms_key_arn, tags=tags_for(tags, name)),
            child_opts(self),
        )
        self.policy = aws.sns.TopicPolicy(
            f"{name}-policy",
            aws.sns.TopicPolicyArgs(
                arn=self.topic.arn,
                policy=self.topic.arn.apply(lambda arn: json.dumps(topic_policy(arn, account_id=account_id))),
            ),
            child_opts(self),
        )
        self.arn = self.topic.arn
        self.register_outputs({"arn": self.arn})

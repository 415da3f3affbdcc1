"""The alert topic: encrypted with the alerts key, publishable by this account's AWS services only."""

from __future__ import annotations

import json

from components.alert_topic import AlertTopic
from tests.helpers import PROD_TAGS, render

ACCOUNT = "333333333333"
KEY = "arn:aws:kms:us-east-2:333333333333:key/alerts"


def test_topic_is_encrypted_and_only_this_accounts_services_publish_over_tls() -> None:
    plan = render(lambda: AlertTopic("care-test-alerts", kms_key_arn=KEY, account_id=ACCOUNT, tags=PROD_TAGS))
    topic = next(r.inputs for r in plan.of_type("aws:sns/topic:Topic"))
    assert topic["name"] == "care-test-alerts"
    assert topic["kmsMasterKeyId"] == KEY
    assert topic["tags"]["Name"] == "care-test-alerts"
    policy = json.loads(plan.named("care-test-alerts-policy").inputs["policy"])
    arn = plan.named("care-test-alerts-policy").inputs["arn"]
    assert policy["Statement"] == [
        {"Sid": "AwsServicesOfThisAccountPublish", "Effect": "Allow",
         "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com", "budgets.amazonaws.com",
                                   "costalerts.amazonaws.com"]},
         "Action": "sns:Publish", "Resource": arn,
         "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}},
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish",
         "Resource": arn, "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]

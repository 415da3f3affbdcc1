"""Alert topics: one in the primary region (alarms, EventBridge rules, budgets) and one in the edge region
(us-east-1: CloudFront's alarms, whose SNS action must be in the alarm's region)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.alert_topic import AlertTopic
from tiers.context import Providers, Stack
from tiers.security import Keys


@dataclass(frozen=True)
class Notifications:
    primary: AlertTopic
    edge: AlertTopic


def notifications_tier(stack: Stack, providers: Providers, keys: Keys) -> Notifications:
    def topic(suffix: str, key_arn: pulumi.Input[str], opts: pulumi.ResourceOptions) -> AlertTopic:
        return AlertTopic(f"{stack.prefix}-{suffix}", kms_key_arn=key_arn, account_id=stack.account_id,
                          tags=stack.tags, opts=opts)

    return Notifications(primary=topic("alerts", keys.arn("alerts"), providers.in_primary),
                         edge=topic("edge-alerts", keys.edge_arn("alerts"), providers.in_edge))

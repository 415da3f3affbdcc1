"""WAF for the edge: a web ACL (CLOUDFRONT scope in us-east-1, or REGIONAL for the ALBs) and its logging.

Rules, in order: AWS managed rule groups (IP reputation, optionally the anonymous IP list, Common,
KnownBadInputs, SQLi), then a rate-based rule per client IP. Every rule and the ACL publish CloudWatch
metrics and sampled requests. Logs go to a CloudWatch log group whose name starts with ``aws-waf-logs-``
("the log group name must start with aws-waf-logs-",
https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html), encrypted with a customer
key of that log group's region, and the ``authorization`` and ``cookie`` headers are redacted: request
logs of a PHI API must never hold credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.common import tags_for

waf = aws.wafv2

#: The AWS managed rule groups every ACL runs (name -> metric suffix), in priority order.
#: https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-list.html
MANAGED_RULE_GROUPS: tuple[str, ...] = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)
ANONYMOUS_IP_LIST = "AWSManagedRulesAnonymousIpList"

#: Headers WAF must never write to its logs.
REDACTED_HEADERS: tuple[str, ...] = ("authorization", "cookie")

Scope = Literal["CLOUDFRONT", "REGIONAL"]


def _visibility(metric: str) -> waf.WebAclRuleVisibilityConfigArgs:
    return waf.WebAclRuleVisibilityConfigArgs(cloudwatch_metrics_enabled=True, metric_name=metric,
                                              sampled_requests_enabled=True)


def web_acl_rules(metric_prefix: str, *, rate_limit: int, anonymous_ip_list: bool) -> list[waf.WebAclRuleArgs]:
    """The managed rule groups (their own actions: ``overrideAction: none``) and the per-IP rate rule (block)."""
    groups = list(MANAGED_RULE_GROUPS)
    if anonymous_ip_list:
        groups.insert(1, ANONYMOUS_IP_LIST)
    rules = [
        waf.WebAclRuleArgs(
            name=group, priority=priority,
            override_action=waf.WebAclRuleOverrideActionArgs(none=waf.WebAclRuleOverrideActionNoneArgs()),
            statement=waf.WebAclRuleStatementArgs(managed_rule_group_statement=(
                waf.WebAclRuleStatementManagedRuleGroupStatementArgs(name=group, vendor_name="AWS"))),
            visibility_config=_visibility(f"{metric_prefix}-{group}"),
        )
        for priority, group in enumerate(groups)
    ]
    rules.append(waf.WebAclRuleArgs(
        name="RatePerClientIp", priority=len(groups),
        action=waf.WebAclRuleActionArgs(block=waf.WebAclRuleActionBlockArgs()),
        statement=waf.WebAclRuleStatementArgs(rate_based_statement=waf.WebAclRuleStatementRateBasedStatementArgs(
            limit=rate_limit, aggregate_key_type="IP", evaluation_window_sec=300)),
        visibility_config=_visibility(f"{metric_prefix}-RatePerClientIp"),
    ))
    return rules


class WafAcl:
    """One web ACL with its encrypted ``aws-waf-logs-`` log group and a redacting logging configuration."""

    def __init__(self, name: str, scope: Scope, *, log_group_name: str, rate_limit: int, anonymous_ip_list: bool,
                 kms_key_arn: pulumi.Input[str], log_retention_days: int, tags: Mapping[str, str],
                 opts: pulumi.ResourceOptions) -> None:
        if not log_group_name.startswith("aws-waf-logs-"):
            raise ValueError(f"{name}: WAF logs only to log groups named aws-waf-logs-*, not {log_group_name!r}")
        self.acl = waf.WebAcl(
            name,
            waf.WebAclArgs(
                name=name, scope=scope, description=f"{name}: managed rules and a per-IP rate limit",
                default_action=waf.WebAclDefaultActionArgs(allow=waf.WebAclDefaultActionAllowArgs()),
                rules=web_acl_rules(name, rate_limit=rate_limit, anonymous_ip_list=anonymous_ip_list),
                visibility_config=waf.WebAclVisibilityConfigArgs(
                    cloudwatch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True),
                tags=tags_for(tags, name),
            ),
            opts,
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            aws.cloudwatch.LogGroupArgs(name=log_group_name, retention_in_days=log_retention_days,
                                        kms_key_id=kms_key_arn, tags=tags_for(tags, log_group_name)),
            opts,
        )
        self.logging = waf.WebAclLoggingConfiguration(
            f"{name}-logging",
            waf.WebAclLoggingConfigurationArgs(
                resource_arn=self.acl.arn,
                log_destination_configs=[self.log_group.arn],
                redacted_fields=[waf.WebAclLoggingConfigurationRedactedFieldArgs(
                    single_header=waf.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(name=header))
                    for header in REDACTED_HEADERS],
            ),
            opts,
        )
        self.arn = self.acl.arn

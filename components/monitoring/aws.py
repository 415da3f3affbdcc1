"""The AWS side of the observability stack: Loki's and Tempo's buckets, the IRSA policies, Grafana's login.

Buckets are ``SecureBucket``s like the stack's others (SSE-KMS with the storage key, versioned, public
access blocked, TLS only, access-logged, backed up: logs and traces can hold PHI), kept in S3 Standard
(Loki and Tempo read them back) and expired by lifecycle after the stack's retention. Each IRSA role may
use only its own bucket, and the storage key only through S3. Grafana's role reads CloudWatch metrics
(the data source's documented read actions,
https://grafana.com/docs/grafana/latest/datasources/aws-cloudwatch/#configure-aws-authentication) and
nothing else; its admin login is a generated password in Secrets Manager that External Secrets
Operator syncs into the ``grafana-admin`` Secret (never a chart default, never in a ConfigMap).
"""

from __future__ import annotations

import json
from typing import Any

import pulumi


def bucket_policy(bucket_arn: str, kms_key_arn: str, region: str) -> str:
    """Read and write one bucket's objects, list it, and use the storage key only through S3."""
    statements: list[dict[str, Any]] = [
        {"Sid": "ListBucket", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
         "Resource": bucket_arn},
        {"Sid": "Objects", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectTagging",
                    "s3:PutObjectTagging"],
         "Resource": f"{bucket_arn}/*"},
        {"Sid": "KeyThroughS3", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": kms_key_arn, "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}},
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def scoped_bucket_policy(bucket_arn: pulumi.Input[str], kms_key_arn: pulumi.Input[str],
                         region: str) -> pulumi.Output[str]:
    return pulumi.Output.all(bucket_arn, kms_key_arn).apply(lambda a: bucket_policy(a[0], a[1], region))


#: What Grafana's CloudWatch data source calls (metrics, alarms, resource tags, regions): no logs, no writes.
CLOUDWATCH_READ_ACTIONS = (
    "cloudwatch:DescribeAlarmsForMetric", "cloudwatch:DescribeAlarmHistory", "cloudwatch:DescribeAlarms",
    "cloudwatch:ListMetrics", "cloudwatch:GetMetricData", "cloudwatch:GetInsightRuleReport",
    "ec2:DescribeRegions", "tag:GetResources",
)


def grafana_policy() -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "CloudWatchMetricsRead", "Effect": "Allow", "Action": list(CLOUDWATCH_READ_ACTIONS), "Resource": "*"},
    ]})

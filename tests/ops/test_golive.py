"""golive with mixed results: moto for CloudWatch, SNS, GuardDuty and Budgets; Stubber for the Tagging API,
RDS, AWS Backup jobs (not in moto), CloudFront and CloudTrail (to keep moto's slow RDS/EC2/S3 backends out)."""

from __future__ import annotations

import json
from pathlib import Path

from ops.cli import main
from ops.golive import ITEMS, checklist_markdown
from ops.records import write_record
from tests.ops.awsfakes import ACCOUNT, PRIMARY, Aws, ScriptedClock, run, utc

ROOT = Path(__file__).resolve().parents[2]
DBS = {db: f"arn:aws:rds:{PRIMARY}:{ACCOUNT}:db:care-prod-{db}" for db in ("prm", "nlfhir")}


def live_account(aws: Aws) -> None:
    tagging = aws.stub("resourcegroupstaggingapi")
    tagging.add_response("get_resources", {"ResourceTagMappingList": [{"ResourceARN": arn} for arn in DBS.values()]},
                         {"TagFilters": [{"Key": "Project", "Values": ["care-platform"]},
                                         {"Key": "Environment", "Values": ["prod"]},
                                         {"Key": "Backup", "Values": ["true"]}],
                          "ResourceTypeFilters": ["rds:db", "s3", "ec2:volume"]})
    rds = aws.stub("rds")
    rds.add_response("describe_db_instances", {"DBInstances": [{"MultiAZ": True, "DeletionProtection": True}]},
                     {"DBInstanceIdentifier": "care-prod-prm"})
    rds.add_response("describe_db_instances", {"DBInstances": [{"MultiAZ": False, "DeletionProtection": True}]},
                     {"DBInstanceIdentifier": "care-prod-nlfhir"})
    backup = aws.stub("backup")
    backup.add_response("list_backup_jobs", {"BackupJobs": [
        {"State": "COMPLETED", "CreationDate": utc(5), "CompletionDate": utc(5, 40)}]},
        {"ByResourceArn": DBS["nlfhir"], "ByBackupVaultName": "care-prod-backup-vault"})
    backup.add_response("list_backup_jobs", {"BackupJobs": [
        {"State": "COMPLETED", "CreationDate": utc(5, day=1), "CompletionDate": utc(5, 30, day=1)},
        {"State": "FAILED", "CreationDate": utc(5)}]},
        {"ByResourceArn": DBS["prm"], "ByBackupVaultName": "care-prod-backup-vault"})
    cloudfront = aws.stub("cloudfront", "us-east-1")
    distribution = f"arn:aws:cloudfront::{ACCOUNT}:distribution/E2CDN0123"
    cloudfront.add_response("list_distributions", {"DistributionList": {
        "Marker": "", "MaxItems": 100, "IsTruncated": False, "Quantity": 1,
        "Items": [{"Id": "E2CDN0123", "ARN": distribution, "WebACLId": "", "Status": "Deployed",
                   "LastModifiedTime": utc(9), "DomainName": "d111111abcdef8.cloudfront.net",
                   "Aliases": {"Quantity": 0},
                   "Origins": {"Quantity": 1, "Items": [{"Id": "app", "DomainName": "app.example"}]},
                   "DefaultCacheBehavior": {"TargetOriginId": "app", "ViewerProtocolPolicy": "redirect-to-https"},
                   "CacheBehaviors": {"Quantity": 0}, "CustomErrorResponses": {"Quantity": 0}, "Comment": "",
                   "PriceClass": "PriceClass_100", "Enabled": True, "ViewerCertificate": {},
                   "Restrictions": {"GeoRestriction": {"RestrictionType": "none", "Quantity": 0}},
                   "HttpVersion": "http2", "IsIPV6Enabled": True, "Staging": False}]}}, {})
    cloudfront.add_response("list_tags_for_resource", {"Tags": {"Items": [
        {"Key": "Project", "Value": "care-platform"}, {"Key": "Environment", "Value": "prod"}]}},
        {"Resource": distribution})
    cloudtrail = aws.stub("cloudtrail")
    trail = f"arn:aws:cloudtrail:{PRIMARY}:{ACCOUNT}:trail/care-prod-audit"
    cloudtrail.add_response("describe_trails", {"trailList": [
        {"Name": "care-prod-audit", "TrailARN": trail, "IsMultiRegionTrail": True}]}, {"includeShadowTrails": True})
    cloudtrail.add_response("get_trail_status", {"IsLogging": True}, {"Name": trail})

    cloudwatch = aws.raw("cloudwatch")
    for name in ("care-prod-api-5xx", "care-prod-prm-cpu"):
        cloudwatch.put_metric_alarm(AlarmName=name, MetricName="m", Namespace="care", Statistic="Average", Period=60,
                                    EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
    cloudwatch.set_alarm_state(AlarmName="care-prod-prm-cpu", StateValue="ALARM", StateReason="CPU above 80%")
    sns = aws.raw("sns")
    topic = sns.create_topic(Name="care-prod-alerts")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="https", Endpoint="https://events.pagerduty.com/integration/abc/enqueue")
    aws.raw("guardduty").create_detector(Enable=True)
    aws.raw("budgets", "us-east-1").create_budget(AccountId=ACCOUNT, Budget={
        "BudgetName": "care-prod-monthly", "BudgetLimit": {"Amount": "2000", "Unit": "USD"},
        "TimeUnit": "MONTHLY", "BudgetType": "COST"})


def test_golive_with_mixed_results(aws: Aws, tmp_path: Path) -> None:
    live_account(aws)
    drills = tmp_path / "drills"
    write_record(drills, {"kind": "dr-drill", "drillId": "drill-20261018090000", "stack": "prod", "scenario": "pitr",
                          "target": "prm", "startedAt": "2026-10-18T17:00:00+00:00", "rtoSeconds": 1260.0,
                          "rpoSeconds": 300.0, "recoverySeconds": None, "result": "pass"}, "# drill\n")
    checklist = tmp_path / "checklist.md"

    result = run(aws, "golive", "--stack", "prod", "--json", "--drills-dir", str(drills), "--checklist",
                 str(checklist), clock=ScriptedClock(utc(17), utc(17), utc(17)))

    aws.assert_all_used()
    assert result.code == 1
    checks = {c["resource"]: (c["status"], c["detail"]) for c in json.loads(result.out)["checks"]}
    assert checks == {
        "rds-ha": ("fail", "care-prod-nlfhir is not Multi-AZ"),
        "backups": ("fail", "care-prod-prm: last success 1d 11h 30m 00s ago (limit 1d 06h 00m 00s); "
                            "care-prod-prm: latest job FAILED"),
        "db-failover": ("fail", f"no failover-drill record for prod in {drills}"),
        "waf": ("fail", "no WAF web ACL on E2CDN0123"),
        "alarms": ("fail", "in ALARM: care-prod-prm-cpu"),
        "pagerduty": ("pass", checks["pagerduty"][1]),
        "cloudtrail": ("pass", "multi-region trail logging: care-prod-audit"),
        "guardduty": ("pass", checks["guardduty"][1]),
        "dr-drill": ("pass", "2026-10-18-170000-prod-dr-drill-pitr-prm.md: RTO 21m 00s, RPO 5m 00s"),
        "dr-drill-launch": ("fail", "2026-10-18-170000-prod-dr-drill-pitr-prm.md is 45d 00h 00m 00s old "
                                    "(limit 30d 00h 00m 00s)"),
        "budgets": ("pass", "1 budget(s): care-prod-monthly"),
    }
    assert checks["pagerduty"][1].startswith("confirmed: arn:aws:sns:us-east-2:333333333333:care-prod-alerts:")
    assert checks["guardduty"][1].endswith("enabled in us-east-2")
    lines = checklist.read_text().splitlines()
    assert "- [x] CloudTrail logging in every region *machine* `cloudtrail`: multi-region trail logging: " \
           "care-prod-audit" in lines
    assert "- [ ] WAF rules active on the CDN distribution *machine* `waf`: no WAF web ACL on E2CDN0123" in lines
    assert "- [ ] Support team trained" in lines
    assert "- [ ] Launch communication sent" in lines


def test_committed_checklist_is_the_generated_one() -> None:
    assert (ROOT / "docs" / "go-live-checklist.md").read_text() == checklist_markdown(), \
        "docs/go-live-checklist.md is stale: run `python -m ops checklist --write`"


def test_checklist_template_leaves_every_item_open() -> None:
    text = checklist_markdown()
    assert text.count("- [ ]") == len(ITEMS)
    assert "- [x]" not in text
    assert main(["checklist"], stdout=None) == 0

"""The pricing table (``offline/pricing.yaml``), typed: prices per region, stated assumptions, app rules, free types.

Every number is a ``Decimal`` (read from the YAML text, never through a float) so the estimate's arithmetic is
exact to the cent. A malformed table is one ``PricingError`` line naming the key and what is wrong.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PRICING_PATH = Path(__file__).resolve().parent / "pricing.yaml"

Price = Decimal


class PricingError(Exception):
    """The pricing table is unreadable or malformed (one line)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Eks(_Model):
    cluster_hour: Price = Field(alias="clusterHour")


class Ec2(_Model):
    instance_hour: dict[str, Price] = Field(alias="instanceHour")
    vcpus: dict[str, int]


class Ebs(_Model):
    gp3_gb_month: Price = Field(alias="gp3GbMonth")
    gp2_gb_month: Price = Field(alias="gp2GbMonth")


class Vpc(_Model):
    nat_gateway_hour: Price = Field(alias="natGatewayHour")
    nat_gateway_gb: Price = Field(alias="natGatewayGb")
    public_ipv4_hour: Price = Field(alias="publicIpv4Hour")


class PrivateLink(_Model):
    interface_endpoint_az_hour: Price = Field(alias="interfaceEndpointAzHour")
    interface_endpoint_gb: Price = Field(alias="interfaceEndpointGb")


class Rds(_Model):
    instance_hour: dict[str, Price] = Field(alias="instanceHour")
    multi_az_factor: Price = Field(alias="multiAzFactor")
    gp3_gb_month: Price = Field(alias="gp3GbMonth")
    gp2_gb_month: Price = Field(alias="gp2GbMonth")
    backup_gb_month: Price = Field(alias="backupGbMonth")
    cross_region_transfer_gb: Price = Field(alias="crossRegionTransferGb")


class ElastiCache(_Model):
    node_hour: dict[str, Price] = Field(alias="nodeHour")


class Msk(_Model):
    broker_hour: dict[str, Price] = Field(alias="brokerHour")
    storage_gb_month: Price = Field(alias="storageGbMonth")


class Kms(_Model):
    key_month: Price = Field(alias="keyMonth")
    requests_per_10k: Price = Field(alias="requestsPer10k")


class SecretsManager(_Model):
    secret_month: Price = Field(alias="secretMonth")
    api_calls_per_10k: Price = Field(alias="apiCallsPer10k")


class CloudWatch(_Model):
    log_ingestion_gb: Price = Field(alias="logIngestionGb")
    log_storage_gb_month: Price = Field(alias="logStorageGbMonth")
    alarm_month: Price = Field(alias="alarmMonth")
    dashboard_month: Price = Field(alias="dashboardMonth")


class S3(_Model):
    standard_gb_month: Price = Field(alias="standardGbMonth")


class Elb(_Model):
    alb_hour: Price = Field(alias="albHour")
    alb_lcu_hour: Price = Field(alias="albLcuHour")
    nlb_hour: Price = Field(alias="nlbHour")
    nlb_nlcu_hour: Price = Field(alias="nlbNlcuHour")


class CloudFront(_Model):
    data_out_gb: Price = Field(alias="dataOutGb")
    https_requests_per_10k: Price = Field(alias="httpsRequestsPer10k")


class Waf(_Model):
    web_acl_month: Price = Field(alias="webAclMonth")
    rule_month: Price = Field(alias="ruleMonth")
    requests_per_million: Price = Field(alias="requestsPerMillion")


class Shield(_Model):
    advanced_month: Price = Field(alias="advancedMonth")


class Sns(_Model):
    publishes_per_million: Price = Field(alias="publishesPerMillion")


class Route53(_Model):
    hosted_zone_month: Price = Field(alias="hostedZoneMonth")


class CloudTrail(_Model):
    data_events_per_100k: Price = Field(alias="dataEventsPer100k")


class Config(_Model):
    configuration_item: Price = Field(alias="configurationItem")
    rule_evaluation: Price = Field(alias="ruleEvaluation")
    conformance_pack_evaluation: Price = Field(alias="conformancePackEvaluation")


class GuardDuty(_Model):
    cloudtrail_events_per_million: Price = Field(alias="cloudtrailEventsPerMillion")
    flow_dns_gb: Price = Field(alias="flowDnsGb")
    s3_data_events_per_million: Price = Field(alias="s3DataEventsPerMillion")
    eks_audit_events_per_million: Price = Field(alias="eksAuditEventsPerMillion")
    runtime_vcpu_month: Price = Field(alias="runtimeVcpuMonth")


class SecurityHub(_Model):
    security_check: Price = Field(alias="securityCheck")


class PriceSet(_Model):
    eks: Eks
    ec2: Ec2
    ebs: Ebs
    vpc: Vpc
    privatelink: PrivateLink
    rds: Rds
    elasticache: ElastiCache
    msk: Msk
    kms: Kms
    secrets_manager: SecretsManager = Field(alias="secretsManager")
    cloudwatch: CloudWatch
    s3: S3
    elb: Elb
    cloudfront: CloudFront
    waf: Waf
    shield: Shield
    sns: Sns
    route53: Route53
    cloudtrail: CloudTrail
    config: Config
    guardduty: GuardDuty
    security_hub: SecurityHub = Field(alias="securityHub")


class Assumptions(_Model):
    """Traffic and volumes the plan cannot tell; every one is printed in cost.md."""

    nat_gateway_gb_per_month: Price = Field(alias="natGatewayGbPerMonth", ge=0)
    interface_endpoint_gb_per_month: Price = Field(alias="interfaceEndpointGbPerMonth", ge=0)
    log_ingestion_gb_per_month: Price = Field(alias="logIngestionGbPerMonth", ge=0)
    log_stored_gb_per_group: Price = Field(alias="logStoredGbPerGroup", ge=0)
    s3_gb_per_bucket: Price = Field(alias="s3GbPerBucket", ge=0)
    rds_backup_gb_per_allocated_gb: Price = Field(alias="rdsBackupGbPerAllocatedGb", ge=0)
    dr_backup_gb_per_allocated_gb: Price = Field(alias="drBackupGbPerAllocatedGb", ge=0)
    kms_requests_per_key_per_month: Price = Field(alias="kmsRequestsPerKeyPerMonth", ge=0)
    secrets_api_calls_per_secret_per_month: Price = Field(alias="secretsApiCallsPerSecretPerMonth", ge=0)
    cloudfront_gb_out_per_month: Price = Field(alias="cloudfrontGbOutPerMonth", ge=0)
    cloudfront_requests_per_month: Price = Field(alias="cloudfrontRequestsPerMonth", ge=0)
    alb_lcus_per_hour: Price = Field(alias="albLcusPerHour", ge=0)
    nlb_nlcus_per_hour: Price = Field(alias="nlbNlcusPerHour", ge=0)
    sns_publishes_per_topic_per_month: Price = Field(alias="snsPublishesPerTopicPerMonth", ge=0)
    cloudtrail_data_events_per_month: Price = Field(alias="cloudtrailDataEventsPerMonth", ge=0)
    config_items_per_month: Price = Field(alias="configItemsPerMonth", ge=0)
    config_rule_evaluations_per_month: Price = Field(alias="configRuleEvaluationsPerMonth", ge=0)
    conformance_pack_evaluations_per_month: Price = Field(alias="conformancePackEvaluationsPerMonth", ge=0)
    guardduty_cloudtrail_events_per_month: Price = Field(alias="guarddutyCloudtrailEventsPerMonth", ge=0)
    guardduty_flow_dns_gb_per_month: Price = Field(alias="guarddutyFlowDnsGbPerMonth", ge=0)
    guardduty_s3_data_events_per_month: Price = Field(alias="guarddutyS3DataEventsPerMonth", ge=0)
    guardduty_eks_audit_events_per_month: Price = Field(alias="guarddutyEksAuditEventsPerMonth", ge=0)
    security_hub_checks_per_month: Price = Field(alias="securityHubChecksPerMonth", ge=0)

    def rows(self) -> list[tuple[str, Decimal]]:
        """(YAML key, value) in declaration order, for cost.md."""
        return [(str(info.alias), getattr(self, name)) for name, info in type(self).model_fields.items()]


class PricingTable(_Model):
    recorded: datetime.date
    refresh_by: datetime.date = Field(alias="refreshBy")
    hours_per_month: Price = Field(alias="hoursPerMonth", gt=0)
    regions: dict[str, str]
    price_sets: dict[str, PriceSet] = Field(alias="priceSets")
    assumptions: dict[str, dict[str, Any]]
    applications: dict[str, list[str]]
    free: dict[str, str]

    @field_validator("assumptions")
    @classmethod
    def _has_default(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        if "default" not in value:
            raise ValueError("needs a `default` block")
        Assumptions.model_validate(value["default"])
        return value

    def prices(self, region: str) -> PriceSet | None:
        set_name = self.regions.get(region)
        return self.price_sets.get(set_name) if set_name else None

    def assumptions_for(self, stack: str) -> Assumptions:
        merged = {**self.assumptions["default"], **self.assumptions.get(stack, {})}
        return Assumptions.model_validate(merged)


def _decimal_loader() -> type[yaml.SafeLoader]:
    """A safe loader that reads every YAML float as a ``Decimal`` (``0.0456`` stays exactly 0.0456)."""

    class Loader(yaml.SafeLoader):
        pass

    def construct_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
        return Decimal(str(loader.construct_scalar(node)))  # type: ignore[arg-type]

    Loader.add_constructor("tag:yaml.org,2002:float", construct_decimal)
    return Loader


def load_pricing(path: Path = PRICING_PATH) -> PricingTable:
    try:
        data = yaml.load(path.read_text(), Loader=_decimal_loader())  # noqa: S506 (a SafeLoader subclass)
    except OSError as exc:
        raise PricingError(f"cannot read the pricing table {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise PricingError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    try:
        table = PricingTable.model_validate(data)
        for stack in table.assumptions:
            table.assumptions_for(stack)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PricingError(f"{path}: {where}: {first['msg']} ({exc.error_count()} problem(s))") from None
    unknown = sorted(set(table.regions.values()) - set(table.price_sets))
    if unknown:
        raise PricingError(f"{path}: regions name price set(s) not in priceSets: {', '.join(unknown)}")
    return table

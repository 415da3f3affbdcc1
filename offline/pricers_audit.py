"""Pricers of the account's audit baseline (CloudTrail, AWS Config, GuardDuty, Security Hub): usage-priced
services, each line from a stated volume under ``assumptions:`` in offline/pricing.yaml."""

from __future__ import annotations

from decimal import Decimal

from offline.engine import Registration
from offline.pricers import Context, Item, Unpriceable, fmt, number, rate_of

MILLION = Decimal(1_000_000)


def _has_data_events(r: Registration) -> bool:
    selectors = [*(r.inputs.get("eventSelectors") or []), *(r.inputs.get("advancedEventSelectors") or [])]
    return any(s.get("dataResources") or any(f.get("field") == "eventCategory" and "Data" in (f.get("equals") or [])
                                             for f in s.get("fieldSelectors") or [])
               for s in selectors)


def cloudtrail_trail(r: Registration, c: Context) -> list[Item]:
    items: list[Item] = [("management events, first copy: no charge", Decimal(0))]
    if _has_data_events(r):
        price, events = c.prices(r).cloudtrail.data_events_per_100k, c.assumptions.cloudtrail_data_events_per_month
        items.append((f"{fmt(events)} data events (assumed) / 100k x {fmt(price)}", events / 100_000 * price))
    return items


def config_recorder(r: Registration, c: Context) -> list[Item]:
    price, items = c.prices(r).config.configuration_item, c.assumptions.config_items_per_month
    return [(f"{fmt(items)} configuration items (assumed) x {fmt(price)}", items * price)]


def config_rule(r: Registration, c: Context) -> list[Item]:
    price, count = c.prices(r).config.rule_evaluation, c.assumptions.config_rule_evaluations_per_month
    return [(f"{fmt(count)} rule evaluations (assumed) x {fmt(price)}", count * price)]


def conformance_pack(r: Registration, c: Context) -> list[Item]:
    price, count = c.prices(r).config.conformance_pack_evaluation, c.assumptions.conformance_pack_evaluations_per_month
    return [(f"{fmt(count)} conformance pack evaluations (assumed) x {fmt(price)}", count * price)]


def guardduty_detector(r: Registration, c: Context) -> list[Item]:
    gd, a = c.prices(r).guardduty, c.assumptions
    return [(f"{fmt(a.guardduty_cloudtrail_events_per_month)} CloudTrail events analysed (assumed) / 1M x "
             f"{fmt(gd.cloudtrail_events_per_million)}",
             a.guardduty_cloudtrail_events_per_month / MILLION * gd.cloudtrail_events_per_million),
            (f"{fmt(a.guardduty_flow_dns_gb_per_month)} GB flow and DNS logs analysed (assumed) x "
             f"{fmt(gd.flow_dns_gb)}",
             a.guardduty_flow_dns_gb_per_month * gd.flow_dns_gb)]


def _node_vcpus(c: Context, r: Registration) -> Decimal:
    prices, total = c.prices(r), Decimal(0)
    for group in c.plan.of_type("aws:eks/nodeGroup:NodeGroup"):
        itype = (group.inputs.get("instanceTypes") or ["?"])[0]
        desired = number((group.inputs.get("scalingConfig") or {}).get("desiredSize"), "desiredSize")
        total += desired * Decimal(int(rate_of({k: Decimal(v) for k, v in prices.ec2.vcpus.items()}, itype,
                                            "vCPU count of EC2 instance type")))
    return total


def guardduty_feature(r: Registration, c: Context) -> list[Item]:
    """Protection plans priced by volume; a feature that is off costs nothing; others are unpriced (never 0)."""
    name, status = r.inputs.get("name"), r.inputs.get("status", "ENABLED")
    if status != "ENABLED":
        return [(f"{name} {status}: no charge", Decimal(0))]
    gd, a = c.prices(r).guardduty, c.assumptions
    if name == "S3_DATA_EVENTS":
        return [(f"{fmt(a.guardduty_s3_data_events_per_month)} S3 data events (assumed) / 1M x "
                 f"{fmt(gd.s3_data_events_per_million)}",
                 a.guardduty_s3_data_events_per_month / MILLION * gd.s3_data_events_per_million)]
    if name == "EKS_AUDIT_LOGS":
        return [(f"{fmt(a.guardduty_eks_audit_events_per_month)} EKS audit events (assumed) / 1M x "
                 f"{fmt(gd.eks_audit_events_per_million)}",
                 a.guardduty_eks_audit_events_per_month / MILLION * gd.eks_audit_events_per_million)]
    if name in ("RUNTIME_MONITORING", "EKS_RUNTIME_MONITORING"):
        vcpus = _node_vcpus(c, r)
        return [(f"runtime monitoring {fmt(vcpus)} node vCPUs (desired) x {fmt(gd.runtime_vcpu_month)}",
                 vcpus * gd.runtime_vcpu_month)]
    raise Unpriceable(f"GuardDuty feature {name} has no price in offline/pricing.yaml (guardduty:)")


def security_hub(r: Registration, c: Context) -> list[Item]:
    price, checks = c.prices(r).security_hub.security_check, c.assumptions.security_hub_checks_per_month
    return [(f"{fmt(checks)} security checks (assumed) x {fmt(price)}", checks * price)]


AUDIT_PRICERS = {
    "aws:cloudtrail/trail:Trail": cloudtrail_trail,
    "aws:cfg/recorder:Recorder": config_recorder,
    "aws:cfg/rule:Rule": config_rule,
    "aws:cfg/conformancePack:ConformancePack": conformance_pack,
    "aws:guardduty/detector:Detector": guardduty_detector,
    "aws:guardduty/detectorFeature:DetectorFeature": guardduty_feature,
    "aws:securityhub/account:Account": security_hub,
}

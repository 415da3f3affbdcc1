"""The pricers: one function per resource type, turning a rendered resource into cost lines (description with the
arithmetic written out, exact monthly amount) from the pricing table's prices and the stack's stated assumptions.

A pricer raises ``Unpriceable`` with one line when it cannot price a resource (an instance class, region or
option the table does not know): the estimate lists it as unpriced, never as zero.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from offline.engine import Plan, Registration
from offline.pricing import Assumptions, PriceSet, PricingTable


class Unpriceable(Exception):
    """The pricer cannot price this resource (unknown class, region or option): the reason, one line."""


@dataclass
class Context:
    plan: Plan
    table: PricingTable
    assumptions: Assumptions
    hours: Decimal
    regions: dict[str, str]           # provider reference -> region
    primary_region: str
    carried: set[str] = field(default_factory=set)  # once-per-stack charges already carried (Shield Advanced)

    def region_of(self, resource: Registration) -> str:
        if resource.type.startswith("kubernetes:"):
            return self.primary_region
        return self.regions.get(resource.provider, self.primary_region)

    def prices(self, resource: Registration) -> PriceSet:
        region = self.region_of(resource)
        prices = self.table.prices(region)
        if prices is None:
            raise Unpriceable(f"no prices for region {region} in offline/pricing.yaml (regions:)")
        return prices

    def find(self, type_: str, **inputs: str) -> Registration | None:
        for resource in self.plan.of_type(type_):
            if all(resource.inputs.get(k) == v for k, v in inputs.items()):
                return resource
        return None


Item = tuple[str, Decimal]
Pricer = Callable[[Registration, Context], list[Item]]


def rate_of(rates: dict[str, Decimal], key: str, what: str) -> Decimal:
    if key not in rates:
        raise Unpriceable(f"{what} {key} is not in offline/pricing.yaml")
    return rates[key]


def number(value: object, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Unpriceable(f"{what} is not a number in the plan ({value!r})")
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise Unpriceable(f"{what} is not a number in the plan ({value!r})") from None


def fmt(value: Decimal) -> str:
    return f"{value.normalize():f}"


# --- compute -------------------------------------------------------------------------------------------------

def eks_cluster(r: Registration, c: Context) -> list[Item]:
    rate = c.prices(r).eks.cluster_hour
    return [(f"control plane {fmt(c.hours)} h x {fmt(rate)}", c.hours * rate)]


def eks_node_group(r: Registration, c: Context) -> list[Item]:
    p = c.prices(r)
    if r.inputs.get("capacityType", "ON_DEMAND") != "ON_DEMAND":
        raise Unpriceable(f"capacityType {r.inputs.get('capacityType')}: only on-demand is priced")
    itype = (r.inputs.get("instanceTypes") or ["?"])[0]
    desired = number((r.inputs.get("scalingConfig") or {}).get("desiredSize"), "scalingConfig.desiredSize")
    rate = rate_of(p.ec2.instance_hour, itype, "EC2 instance type")
    items = [(f"{fmt(desired)} x {itype} (desired) x {fmt(c.hours)} h x {fmt(rate)}", desired * c.hours * rate)]
    lt_id = (r.inputs.get("launchTemplate") or {}).get("id")
    template = next((t for t in c.plan.of_type("aws:ec2/launchTemplate:LaunchTemplate") if t.id == lt_id), None)
    if template is None:
        size, vtype = Decimal(20), "gp2"  # EKS managed node groups' default root volume without a launch template
    else:
        ebs = ((template.inputs.get("blockDeviceMappings") or [{}])[0]).get("ebs") or {}
        size, vtype = number(ebs.get("volumeSize"), "launch template volumeSize"), ebs.get("volumeType", "gp2")
    gb_rate = {"gp3": p.ebs.gp3_gb_month, "gp2": p.ebs.gp2_gb_month}.get(vtype)
    if gb_rate is None:
        raise Unpriceable(f"root volume type {vtype} is not in offline/pricing.yaml")
    items.append((f"{fmt(desired)} x {fmt(size)} GB {vtype} root volume x {fmt(gb_rate)}", desired * size * gb_rate))
    return items


# --- network -------------------------------------------------------------------------------------------------

def nat_gateway(r: Registration, c: Context) -> list[Item]:
    vpc, gb = c.prices(r).vpc, c.assumptions.nat_gateway_gb_per_month
    return [(f"{fmt(c.hours)} h x {fmt(vpc.nat_gateway_hour)}", c.hours * vpc.nat_gateway_hour),
            (f"{fmt(gb)} GB processed (assumed) x {fmt(vpc.nat_gateway_gb)}", gb * vpc.nat_gateway_gb)]


def elastic_ip(r: Registration, c: Context) -> list[Item]:
    rate = c.prices(r).vpc.public_ipv4_hour
    return [(f"public IPv4 {fmt(c.hours)} h x {fmt(rate)}", c.hours * rate)]


def vpc_endpoint(r: Registration, c: Context) -> list[Item]:
    kind = r.inputs.get("vpcEndpointType", "Gateway")
    if kind == "Gateway":
        return [("gateway endpoint: no charge", Decimal(0))]
    if kind != "Interface":
        raise Unpriceable(f"vpcEndpointType {kind} is not priced")
    link, gb = c.prices(r).privatelink, c.assumptions.interface_endpoint_gb_per_month
    azs = Decimal(len(r.inputs.get("subnetIds") or []))
    return [(f"{fmt(azs)} AZ x {fmt(c.hours)} h x {fmt(link.interface_endpoint_az_hour)}",
             azs * c.hours * link.interface_endpoint_az_hour),
            (f"{fmt(gb)} GB processed (assumed) x {fmt(link.interface_endpoint_gb)}",
             gb * link.interface_endpoint_gb)]


# --- data ----------------------------------------------------------------------------------------------------

def _rds_storage_rate(r: Registration, p: PriceSet) -> tuple[str, Decimal]:
    stype = r.inputs.get("storageType") or "gp2"
    rate = {"gp3": p.rds.gp3_gb_month, "gp2": p.rds.gp2_gb_month}.get(stype)
    if rate is None:
        raise Unpriceable(f"RDS storage type {stype} is not in offline/pricing.yaml")
    return stype, rate


def _rds_allocated(c: Context, identifier: str) -> Decimal:
    source = c.find("aws:rds/instance:Instance", identifier=identifier)
    if source is None:
        raise Unpriceable(f"source database {identifier} is not in the plan")
    return number(source.inputs.get("allocatedStorage"), f"{identifier} allocatedStorage")


def rds_instance(r: Registration, c: Context) -> list[Item]:
    p = c.prices(r)
    iclass = str(r.inputs.get("instanceClass"))
    rate = rate_of(p.rds.instance_hour, iclass, "RDS instance class")
    multi = bool(r.inputs.get("multiAz"))
    factor = p.rds.multi_az_factor if multi else Decimal(1)
    source = r.inputs.get("replicateSourceDb")
    role = f"read replica of {source}" if source else ("Multi-AZ" if multi else "Single-AZ")
    allocated = (_rds_allocated(c, str(source)) if source
                 else number(r.inputs.get("allocatedStorage"), "allocatedStorage"))
    stype, gb_rate = _rds_storage_rate(r, p)
    az = f" x {fmt(factor)}" if multi else ""
    items = [(f"{iclass} {role}: {fmt(c.hours)} h x {fmt(rate)}{az}", c.hours * rate * factor),
             (f"{fmt(allocated)} GB {stype} x {fmt(gb_rate)}{az}", allocated * gb_rate * factor)]
    retention = r.inputs.get("backupRetentionPeriod") or 0
    if not source and retention:
        billable = max(Decimal(0), c.assumptions.rds_backup_gb_per_allocated_gb - 1) * allocated
        items.append((f"backups {fmt(billable)} GB beyond the free {fmt(allocated)} GB (assumed "
                      f"{fmt(c.assumptions.rds_backup_gb_per_allocated_gb)} x allocated) x "
                      f"{fmt(p.rds.backup_gb_month)}", billable * p.rds.backup_gb_month))
    return items


def rds_backup_replication(r: Registration, c: Context) -> list[Item]:
    p = c.prices(r)
    arn = str(r.inputs.get("sourceDbInstanceArn", ""))
    identifier = arn.rsplit(":db:", 1)[-1]
    stored = c.assumptions.dr_backup_gb_per_allocated_gb * _rds_allocated(c, identifier)
    return [(f"{fmt(stored)} GB replicated backups (assumed) x {fmt(p.rds.backup_gb_month)}",
             stored * p.rds.backup_gb_month),
            (f"{fmt(stored)} GB cross-region transfer a month (assumed) x {fmt(p.rds.cross_region_transfer_gb)}",
             stored * p.rds.cross_region_transfer_gb)]


def elasticache_group(r: Registration, c: Context) -> list[Item]:
    p = c.prices(r)
    ntype = str(r.inputs.get("nodeType"))
    rate = rate_of(p.elasticache.node_hour, ntype, "ElastiCache node type")
    if r.inputs.get("numNodeGroups") is not None:
        shards = number(r.inputs.get("numNodeGroups"), "numNodeGroups")
        nodes = shards * (1 + number(r.inputs.get("replicasPerNodeGroup") or 0, "replicasPerNodeGroup"))
    else:
        nodes = number(r.inputs.get("numCacheClusters") or 1, "numCacheClusters")
    return [(f"{fmt(nodes)} x {ntype} x {fmt(c.hours)} h x {fmt(rate)}", nodes * c.hours * rate)]


def msk_cluster(r: Registration, c: Context) -> list[Item]:
    p = c.prices(r)
    info = r.inputs.get("brokerNodeGroupInfo") or {}
    itype = str(info.get("instanceType"))
    rate = rate_of(p.msk.broker_hour, itype, "MSK broker type")
    brokers = number(r.inputs.get("numberOfBrokerNodes"), "numberOfBrokerNodes")
    size = number(((info.get("storageInfo") or {}).get("ebsStorageInfo") or {}).get("volumeSize"), "volumeSize")
    return [(f"{fmt(brokers)} x {itype} x {fmt(c.hours)} h x {fmt(rate)}", brokers * c.hours * rate),
            (f"{fmt(brokers)} x {fmt(size)} GB broker storage x {fmt(p.msk.storage_gb_month)}",
             brokers * size * p.msk.storage_gb_month)]


def s3_bucket(r: Registration, c: Context) -> list[Item]:
    rate, gb = c.prices(r).s3.standard_gb_month, c.assumptions.s3_gb_per_bucket
    return [(f"{fmt(gb)} GB Standard (assumed) x {fmt(rate)}", gb * rate)]


_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(Gi|Ti|Mi)$")
_GIB_PER_UNIT = {"Gi": Decimal(1), "Ti": Decimal(1024), "Mi": Decimal(1) / Decimal(1024)}  # EBS bills GiB-months


def k8s_volume_claim(r: Registration, c: Context) -> list[Item]:
    request = str((((r.inputs.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage"))
    match = _QUANTITY.match(request)
    if not match:
        raise Unpriceable(f"storage request {request!r} is not a quantity like 50Gi")
    size = Decimal(match.group(1)) * _GIB_PER_UNIT[match.group(2)]
    rate = c.prices(r).ebs.gp3_gb_month
    return [(f"{fmt(size)} GB EBS gp3 volume x {fmt(rate)}", size * rate)]


# --- security, observability ---------------------------------------------------------------------------------

def kms_key(r: Registration, c: Context) -> list[Item]:
    kms, calls = c.prices(r).kms, c.assumptions.kms_requests_per_key_per_month
    return [(f"key-month x {fmt(kms.key_month)}", kms.key_month),
            (f"{fmt(calls)} requests (assumed) / 10k x {fmt(kms.requests_per_10k)}",
             calls / 10_000 * kms.requests_per_10k)]


def secret(r: Registration, c: Context) -> list[Item]:
    sm, calls = c.prices(r).secrets_manager, c.assumptions.secrets_api_calls_per_secret_per_month
    return [(f"secret-month x {fmt(sm.secret_month)}", sm.secret_month),
            (f"{fmt(calls)} API calls (assumed) / 10k x {fmt(sm.api_calls_per_10k)}",
             calls / 10_000 * sm.api_calls_per_10k)]


def log_group(r: Registration, c: Context) -> list[Item]:
    cw, a = c.prices(r).cloudwatch, c.assumptions
    return [(f"{fmt(a.log_ingestion_gb_per_month)} GB ingested (assumed) x {fmt(cw.log_ingestion_gb)}",
             a.log_ingestion_gb_per_month * cw.log_ingestion_gb),
            (f"{fmt(a.log_stored_gb_per_group)} GB stored (assumed) x {fmt(cw.log_storage_gb_month)}",
             a.log_stored_gb_per_group * cw.log_storage_gb_month)]


def metric_alarm(r: Registration, c: Context) -> list[Item]:
    rate = c.prices(r).cloudwatch.alarm_month
    if number(r.inputs.get("period") or 60, "period") < 60:
        raise Unpriceable("high-resolution alarms (period < 60 s) are not in offline/pricing.yaml")
    return [(f"standard alarm x {fmt(rate)}", rate)]


def dashboard(r: Registration, c: Context) -> list[Item]:
    rate = c.prices(r).cloudwatch.dashboard_month
    return [(f"dashboard x {fmt(rate)}", rate)]


def sns_topic(r: Registration, c: Context) -> list[Item]:
    rate, count = c.prices(r).sns.publishes_per_million, c.assumptions.sns_publishes_per_topic_per_month
    return [(f"{fmt(count)} publishes (assumed) / 1M x {fmt(rate)}", count / 1_000_000 * rate)]


def hosted_zone(r: Registration, c: Context) -> list[Item]:
    rate = c.prices(r).route53.hosted_zone_month
    return [(f"hosted zone x {fmt(rate)}", rate)]


# --- load balancers and edge ---------------------------------------------------------------------------------

def _alb(c: Context, r: Registration, what: str) -> list[Item]:
    elb, lcus = c.prices(r).elb, c.assumptions.alb_lcus_per_hour
    return [(f"{what}: {fmt(c.hours)} h x {fmt(elb.alb_hour)}", c.hours * elb.alb_hour),
            (f"{fmt(lcus)} LCU (assumed) x {fmt(c.hours)} h x {fmt(elb.alb_lcu_hour)}",
             lcus * c.hours * elb.alb_lcu_hour)]


def _nlb(c: Context, r: Registration, what: str) -> list[Item]:
    elb, nlcus = c.prices(r).elb, c.assumptions.nlb_nlcus_per_hour
    return [(f"{what}: {fmt(c.hours)} h x {fmt(elb.nlb_hour)}", c.hours * elb.nlb_hour),
            (f"{fmt(nlcus)} NLCU (assumed) x {fmt(c.hours)} h x {fmt(elb.nlb_nlcu_hour)}",
             nlcus * c.hours * elb.nlb_nlcu_hour)]


def load_balancer(r: Registration, c: Context) -> list[Item]:
    kind = r.inputs.get("loadBalancerType", "application")
    if kind == "application":
        return _alb(c, r, "Application Load Balancer")
    if kind == "network":
        return _nlb(c, r, "Network Load Balancer")
    raise Unpriceable(f"loadBalancerType {kind} is not priced")


def k8s_service(r: Registration, c: Context) -> list[Item]:
    if (r.inputs.get("spec") or {}).get("type") != "LoadBalancer":
        return [("ClusterIP/headless Service: no charge", Decimal(0))]
    return _nlb(c, r, "Network Load Balancer (AWS Load Balancer Controller)")


def k8s_ingress(r: Registration, c: Context) -> list[Item]:
    annotations = (r.inputs.get("metadata") or {}).get("annotations") or {}
    group = annotations.get("alb.ingress.kubernetes.io/group.name")
    if group:
        if f"alb-group:{group}" in c.carried:
            return [(f"shares the ALB of IngressGroup {group}", Decimal(0))]
        c.carried.add(f"alb-group:{group}")
        return _alb(c, r, f"Application Load Balancer (IngressGroup {group})")
    return _alb(c, r, "Application Load Balancer (AWS Load Balancer Controller)")


def cloudfront_distribution(r: Registration, c: Context) -> list[Item]:
    cf, a = c.prices(r).cloudfront, c.assumptions
    return [(f"{fmt(a.cloudfront_gb_out_per_month)} GB out (assumed) x {fmt(cf.data_out_gb)}",
             a.cloudfront_gb_out_per_month * cf.data_out_gb),
            (f"{fmt(a.cloudfront_requests_per_month)} HTTPS requests (assumed) / 10k x "
             f"{fmt(cf.https_requests_per_10k)}",
             a.cloudfront_requests_per_month / 10_000 * cf.https_requests_per_10k)]


def waf_web_acl(r: Registration, c: Context) -> list[Item]:
    waf, requests = c.prices(r).waf, c.assumptions.cloudfront_requests_per_month
    rules = Decimal(len(r.inputs.get("rules") or []))
    return [(f"web ACL x {fmt(waf.web_acl_month)}", waf.web_acl_month),
            (f"{fmt(rules)} rules x {fmt(waf.rule_month)}", rules * waf.rule_month),
            (f"{fmt(requests)} requests (assumed, as CloudFront) / 1M x {fmt(waf.requests_per_million)}",
             requests / 1_000_000 * waf.requests_per_million)]


def shield(r: Registration, c: Context) -> list[Item]:
    """Shield Advanced is one monthly fee per organization: carried by the subscription if the plan has one,
    else by the first protection (by URN); every other protection costs nothing more."""
    subscription = c.plan.of_type("aws:shield/subscription:Subscription")
    carrier = (subscription or sorted(c.plan.of_type("aws:shield/protection:Protection"), key=lambda x: x.urn))[0]
    if r.urn != carrier.urn:
        return [("covered by the Shield Advanced subscription", Decimal(0))]
    rate = c.prices(r).shield.advanced_month
    return [(f"Shield Advanced subscription (per organization) x {fmt(rate)}", rate)]


PRICERS: dict[str, Pricer] = {
    "aws:eks/cluster:Cluster": eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": eks_node_group,
    "aws:ec2/natGateway:NatGateway": nat_gateway,
    "aws:ec2/eip:Eip": elastic_ip,
    "aws:ec2/vpcEndpoint:VpcEndpoint": vpc_endpoint,
    "aws:rds/instance:Instance": rds_instance,
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": rds_backup_replication,
    "aws:elasticache/replicationGroup:ReplicationGroup": elasticache_group,
    "aws:msk/cluster:Cluster": msk_cluster,
    "aws:s3/bucket:Bucket": s3_bucket,
    "aws:s3/bucketV2:BucketV2": s3_bucket,
    "kubernetes:core/v1:PersistentVolumeClaim": k8s_volume_claim,
    "aws:kms/key:Key": kms_key,
    "aws:secretsmanager/secret:Secret": secret,
    "aws:cloudwatch/logGroup:LogGroup": log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": metric_alarm,
    "aws:cloudwatch/dashboard:Dashboard": dashboard,
    "aws:sns/topic:Topic": sns_topic,
    "aws:route53/zone:Zone": hosted_zone,
    "aws:lb/loadBalancer:LoadBalancer": load_balancer,
    "aws:alb/loadBalancer:LoadBalancer": load_balancer,
    "kubernetes:core/v1:Service": k8s_service,
    "kubernetes:networking.k8s.io/v1:Ingress": k8s_ingress,
    "aws:cloudfront/distribution:Distribution": cloudfront_distribution,
    "aws:wafv2/webAcl:WebAcl": waf_web_acl,
    "aws:shield/protection:Protection": shield,
    "aws:shield/subscription:Subscription": shield,
}

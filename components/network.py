"""The VPC: three subnet tiers across the configured AZs, NAT, flow logs and VPC endpoints."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from typing import Literal

import pulumi
import pulumi_aws as aws
from pydantic import Field, field_validator, model_validator

from components.common import (
    ConfigModel,
    LogRetentionDays,
    child_opts,
    managed_role_policy,
    service_role_trust,
    tags_for,
)
from components.dns_firewall import DnsFirewall, DnsFirewallConfig
from components.network_acl import database_network_acl
from components.problems import ProblemCollector

Tier = Literal["public", "private", "database"]
TIERS: tuple[Tier, ...] = ("public", "private", "database")


class SubnetTierConfig(ConfigModel):
    """Subnet ``firstIndex + i`` (for AZ ``i``) of the VPC CIDR split into ``/prefixLength`` blocks."""

    prefix_length: int = Field(ge=17, le=28)
    first_index: int = Field(ge=0)


class SubnetTiersConfig(ConfigModel):
    public: SubnetTierConfig
    private: SubnetTierConfig
    database: SubnetTierConfig


class FlowLogConfig(ConfigModel):
    retention_days: LogRetentionDays = 365
    traffic_type: Literal["ALL", "ACCEPT", "REJECT"] = "ALL"
    max_aggregation_interval: Literal[60, 600] = 60


class NetworkConfig(ConfigModel):
    vpc_cidr: ipaddress.IPv4Network
    availability_zones: tuple[str, ...] = Field(min_length=1, max_length=6)
    az_count: int = Field(ge=1, le=6)
    nat_gateways: Literal["perAz", "single"] = "perAz"
    tiers: SubnetTiersConfig
    flow_logs: FlowLogConfig = FlowLogConfig()
    s3_gateway_endpoint: bool = True
    interface_endpoints: tuple[str, ...] = ("ecr.api", "ecr.dkr", "sts", "logs")
    #: Route 53 Resolver DNS Firewall (components/dns_firewall.py): allow-listed domains only.
    dns_firewall: DnsFirewallConfig = DnsFirewallConfig()

    @field_validator("vpc_cidr", mode="before")
    @classmethod
    def _strict_cidr(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                ipaddress.IPv4Network(value, strict=True)
            except ValueError as exc:
                raise ValueError(f"must be an IPv4 network in CIDR form like 10.20.0.0/16 ({exc})") from None
        return value

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc_size(cls, value: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if not 16 <= value.prefixlen <= 20:
            raise ValueError("the VPC prefix length must be between /16 and /20 (AWS allows /16../28; "
                             "three tiers over several AZs need at least a /20)")
        if not value.is_private:
            raise ValueError("must be a private (RFC 1918) range")
        return value

    @model_validator(mode="after")
    def _layout(self) -> NetworkConfig:
        problems = ProblemCollector()
        azs = self.availability_zones
        if len(set(azs)) != len(azs):
            problems.add("availabilityZones", list(azs), "each AZ may be listed once")
        if self.az_count > len(azs):
            problems.add("azCount", self.az_count,
                         f"at most the {len(azs)} AZs listed in network.availabilityZones ({', '.join(azs)})")
            problems.raise_if_any()  # the subnet layout cannot be judged for AZs that do not exist
        blocks: dict[Tier, list[ipaddress.IPv4Network]] = {}
        for tier in TIERS:
            spec: SubnetTierConfig = getattr(self.tiers, tier)
            if spec.prefix_length <= self.vpc_cidr.prefixlen:
                problems.add(("tiers", tier, "prefixLength"), spec.prefix_length,
                             f"must be longer than the VPC's /{self.vpc_cidr.prefixlen}")
                continue
            available = 2 ** (spec.prefix_length - self.vpc_cidr.prefixlen)
            needed = spec.first_index + self.az_count
            if needed > available:
                problems.add(("tiers", tier, "firstIndex"), spec.first_index,
                             f"{self.az_count} /{spec.prefix_length} subnets from index {spec.first_index} do not "
                             f"fit in {self.vpc_cidr} (it holds {available}; firstIndex at most "
                             f"{available - self.az_count})")
                continue
            blocks[tier] = self._cidrs(spec)
        for i, first in enumerate(TIERS):
            for second in TIERS[i + 1:]:
                clashes = [b for b in blocks.get(second, []) if any(a.overlaps(b) for a in blocks.get(first, []))]
                if clashes:
                    problems.add(("tiers", second), [str(b) for b in clashes],
                                 f"overlap the {first} subnets {[str(a) for a in blocks[first]]}; choose a "
                                 "firstIndex/prefixLength that keeps the tiers apart")
        problems.raise_if_any()
        return self

    def _cidrs(self, spec: SubnetTierConfig) -> list[ipaddress.IPv4Network]:
        size = 2 ** (32 - spec.prefix_length)
        base = int(self.vpc_cidr.network_address)
        return [
            ipaddress.IPv4Network((base + (spec.first_index + i) * size, spec.prefix_length))
            for i in range(self.az_count)
        ]

    @property
    def zones(self) -> tuple[str, ...]:
        return self.availability_zones[: self.az_count]

    def subnet_cidrs(self, tier: Tier) -> list[str]:
        """The tier's CIDRs, one per AZ in ``zones`` order: the same config always yields the same list."""
        return [str(net) for net in self._cidrs(getattr(self.tiers, tier))]


#: Interface endpoints whose resources are this account's own: callers and resources both of this account.
_OWN_RESOURCES = ("secretsmanager", "kms", "logs")


def s3_endpoint_policy(prefix: str, region: str, account_id: str) -> str:
    """The S3 gateway endpoint reaches this stack's buckets (``<prefix>-*-<account>``, this account's) and ECR's
    image-layer bucket only ("Minimum Amazon S3 bucket permissions for Amazon ECR":
    arn:aws:s3:::prod-<region>-starport-layer-bucket/*,
    https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html#ecr-setting-up-s3-gateway)."""
    buckets = f"arn:aws:s3:::{prefix}-*-{account_id}"
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "ThisStacksBuckets", "Effect": "Allow", "Principal": "*", "Action": "s3:*",
         "Resource": [buckets, f"{buckets}/*"],
         "Condition": {"StringEquals": {"aws:PrincipalAccount": account_id, "aws:ResourceAccount": account_id}}},
        {"Sid": "EcrImageLayers", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::prod-{region}-starport-layer-bucket/*"},
    ]})


def interface_endpoint_policy(service: str, account_id: str) -> str:
    """Only this account's principals (and, for Secrets Manager, KMS and Logs, only this account's resources:
    ECR images of EKS add-ons live in AWS's accounts). STS also admits AssumeRoleWithWebIdentity into this
    account's roles: IRSA's call carries no principal (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html,
    aws:PrincipalAccount / aws:ResourceAccount in https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html)."""
    condition = {"aws:PrincipalAccount": account_id}
    if service in _OWN_RESOURCES:
        condition["aws:ResourceAccount"] = account_id
    statements: list[dict[str, object]] = [
        {"Sid": "ThisAccountOnly", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*",
         "Condition": {"StringEquals": condition}}]
    if service == "sts":
        statements.append({"Sid": "IrsaWebIdentity", "Effect": "Allow", "Principal": "*",
                           "Action": "sts:AssumeRoleWithWebIdentity",
                           "Resource": f"arn:aws:iam::{account_id}:role/*"})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


_SUBNET_ROLE_TAGS: dict[Tier, dict[str, str]] = {
    # AWS Load Balancer Controller subnet auto-discovery.
    "public": {"kubernetes.io/role/elb": "1"},
    "private": {"kubernetes.io/role/internal-elb": "1"},
    "database": {},
}


class Network(pulumi.ComponentResource):
    """A VPC with public, private and database subnets in every configured AZ.

    The database tier has no route out of the VPC; private subnets leave through NAT; flow logs
    for all traffic go to a KMS-encrypted log group.
    """

    vpc_id: pulumi.Output[str]
    subnet_ids: dict[Tier, list[pulumi.Output[str]]]

    def __init__(
        self,
        name: str,
        config: NetworkConfig,
        *,
        region: str,
        account_id: str,
        logs_kms_key_arn: pulumi.Input[str],
        database_ports: Sequence[tuple[int, int, str]] = (),
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``database_ports``: the stores' TCP port ranges the private tier may reach in the database subnets
        (their network ACL, components/network_acl.py); empty, the database subnets admit only each other."""
        super().__init__("care:network:Network", name, None, opts)
        child = child_opts(self)
        zones = config.zones

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            aws.ec2.VpcArgs(
                cidr_block=str(config.vpc_cidr),
                enable_dns_hostnames=True,
                enable_dns_support=True,
                tags=tags_for(tags, f"{name}-vpc"),
            ),
            child,
        )
        self.vpc_id = self.vpc.id

        # Strip the default security group of every rule: nothing may use it by accident.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            aws.ec2.DefaultSecurityGroupArgs(
                vpc_id=self.vpc.id, ingress=[], egress=[], tags=tags_for(tags, f"{name}-default-sg-locked"),
            ),
            child,
        )

        self.subnets: dict[Tier, list[aws.ec2.Subnet]] = {}
        for tier in TIERS:
            self.subnets[tier] = [
                aws.ec2.Subnet(
                    f"{name}-{tier}-{az}",
                    aws.ec2.SubnetArgs(
                        vpc_id=self.vpc.id,
                        availability_zone=az,
                        cidr_block=cidr,
                        map_public_ip_on_launch=False,
                        tags=tags_for(tags, f"{name}-{tier}-{az}", Tier=tier, **_SUBNET_ROLE_TAGS[tier]),
                    ),
                    child,
                )
                for az, cidr in zip(zones, config.subnet_cidrs(tier), strict=True)
            ]
        self.subnet_ids = {tier: [s.id for s in subnets] for tier, subnets in self.subnets.items()}

        igw = aws.ec2.InternetGateway(
            f"{name}-igw",
            aws.ec2.InternetGatewayArgs(vpc_id=self.vpc.id, tags=tags_for(tags, f"{name}-igw")),
            child,
        )
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            aws.ec2.RouteTableArgs(
                vpc_id=self.vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
                tags=tags_for(tags, f"{name}-public-rt", Tier="public"),
            ),
            child,
        )
        self._associate(name, "public", zones, public_rt, child)

        nat_zones = zones if config.nat_gateways == "perAz" else zones[:1]
        nats: list[aws.ec2.NatGateway] = []
        for az, subnet in zip(nat_zones, self.subnets["public"], strict=False):
            eip = aws.ec2.Eip(
                f"{name}-nat-eip-{az}",
                aws.ec2.EipArgs(domain="vpc", tags=tags_for(tags, f"{name}-nat-eip-{az}")),
                child,
            )
            nats.append(aws.ec2.NatGateway(
                f"{name}-nat-{az}",
                aws.ec2.NatGatewayArgs(
                    allocation_id=eip.id, subnet_id=subnet.id, connectivity_type="public",
                    tags=tags_for(tags, f"{name}-nat-{az}"),
                ),
                pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            ))
        self.nat_gateway_count = len(nats)

        self.private_route_tables: list[aws.ec2.RouteTable] = []
        for index, az in enumerate(zones):
            nat = nats[index] if config.nat_gateways == "perAz" else nats[0]
            rt = aws.ec2.RouteTable(
                f"{name}-private-rt-{az}",
                aws.ec2.RouteTableArgs(
                    vpc_id=self.vpc.id,
                    routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                    tags=tags_for(tags, f"{name}-private-rt-{az}", Tier="private"),
                ),
                child,
            )
            self.private_route_tables.append(rt)
            aws.ec2.RouteTableAssociation(
                f"{name}-private-rta-{az}",
                aws.ec2.RouteTableAssociationArgs(subnet_id=self.subnets["private"][index].id, route_table_id=rt.id),
                child,
            )

        # The database tier keeps only the implicit local route: no internet, no NAT.
        database_rt = aws.ec2.RouteTable(
            f"{name}-database-rt",
            aws.ec2.RouteTableArgs(vpc_id=self.vpc.id, routes=[], tags=tags_for(tags, f"{name}-database-rt",
                                                                                 Tier="database")),
            child,
        )
        self._associate(name, "database", zones, database_rt, child)
        self.database_acl = database_network_acl(
            f"{name}-database-acl", vpc_id=self.vpc.id, subnet_ids=self.subnet_ids["database"],
            database_cidrs=config.subnet_cidrs("database"), private_cidrs=config.subnet_cidrs("private"),
            store_ports=database_ports, tags=tags, opts=child)

        # Attached to every EKS node: the one source the data tier (RDS, Redis, MSK) admits.
        self.workload_security_group = aws.ec2.SecurityGroup(
            f"{name}-workload-sg",
            aws.ec2.SecurityGroupArgs(
                vpc_id=self.vpc.id,
                description="EKS worker nodes: the clients the data tier admits",
                egress=[aws.ec2.SecurityGroupEgressArgs(
                    protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"],
                    description="Nodes reach AWS APIs, registries and the data tier",
                )],
                tags=tags_for(tags, f"{name}-workload-sg"),
            ),
            child,
        )
        self.workload_security_group_id = self.workload_security_group.id

        self._flow_logs(name, config, account_id=account_id, kms_key_arn=logs_kms_key_arn, tags=tags)
        self.dns_firewall = (DnsFirewall(f"{name}-dns-firewall", config.dns_firewall, vpc_id=self.vpc.id, tags=tags,
                                         opts=child) if config.dns_firewall.enabled else None)
        self._endpoints(name, config, region=region, account_id=account_id, tags=tags)

        self.register_outputs({
            "vpcId": self.vpc_id,
            "publicSubnetIds": self.subnet_ids["public"],
            "privateSubnetIds": self.subnet_ids["private"],
            "databaseSubnetIds": self.subnet_ids["database"],
            "flowLogGroupName": self.flow_log_group.name,
            "workloadSecurityGroupId": self.workload_security_group_id,
        })

    def _associate(self, name: str, tier: Tier, zones: tuple[str, ...], table: aws.ec2.RouteTable,
                   child: pulumi.ResourceOptions) -> None:
        for az, subnet in zip(zones, self.subnets[tier], strict=True):
            aws.ec2.RouteTableAssociation(
                f"{name}-{tier}-rta-{az}",
                aws.ec2.RouteTableAssociationArgs(subnet_id=subnet.id, route_table_id=table.id),
                child,
            )

    def _flow_logs(self, name: str, config: NetworkConfig, *, account_id: str, kms_key_arn: pulumi.Input[str],
                   tags: Mapping[str, str]) -> None:
        child = child_opts(self)
        self.flow_log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            aws.cloudwatch.LogGroupArgs(
                name=f"/aws/vpc/{name}/flow-logs",
                retention_in_days=config.flow_logs.retention_days,
                kms_key_id=kms_key_arn,
                tags=tags_for(tags, f"{name}-flow-logs"),
            ),
            child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            aws.iam.RoleArgs(
                description="Lets VPC Flow Logs deliver to its CloudWatch log group",
                assume_role_policy=service_role_trust("vpc-flow-logs.amazonaws.com", source_account=account_id),
                tags=tags_for(tags, f"{name}-flow-logs-role"),
            ),
            child,
        )
        managed_role_policy(
            f"{name}-flow-logs-policy",
            aws.iam.RolePolicyArgs(
                role=role.id,
                policy=self.flow_log_group.arn.apply(lambda arn: json.dumps({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                        "Resource": [arn, f"{arn}:*"],
                    }],
                })),
            ),
            child,
            tags=tags,
        )
        self.flow_log = aws.ec2.FlowLog(
            f"{name}-flow-log",
            aws.ec2.FlowLogArgs(
                vpc_id=self.vpc.id,
                traffic_type=config.flow_logs.traffic_type,
                log_destination_type="cloud-watch-logs",
                log_destination=self.flow_log_group.arn,
                iam_role_arn=role.arn,
                max_aggregation_interval=config.flow_logs.max_aggregation_interval,
                tags=tags_for(tags, f"{name}-flow-log"),
            ),
            child,
        )

    def _endpoints(self, name: str, config: NetworkConfig, *, region: str, account_id: str,
                   tags: Mapping[str, str]) -> None:
        child = child_opts(self)
        self.s3_endpoint_id: pulumi.Output[str] | None = None
        if config.s3_gateway_endpoint:
            self.s3_endpoint = aws.ec2.VpcEndpoint(
                f"{name}-vpce-s3",
                aws.ec2.VpcEndpointArgs(
                    vpc_id=self.vpc.id,
                    service_name=f"com.amazonaws.{region}.s3",
                    vpc_endpoint_type="Gateway",
                    route_table_ids=[rt.id for rt in self.private_route_tables],
                    policy=s3_endpoint_policy(name, region, account_id),
                    tags=tags_for(tags, f"{name}-vpce-s3"),
                ),
                child,
            )
            self.s3_endpoint_id = self.s3_endpoint.id
        self.endpoint_security_group_id: pulumi.Output[str] | None = None
        if not config.interface_endpoints:
            return
        # No inline rules (the provider removes AWS's default allow-all egress on create): HTTPS is admitted by
        # separate rules from the nodes' group here and from each pod security group (components/pod_network.py),
        # which an inline rule list would delete (https://www.pulumi.com/registry/packages/aws/api-docs/ec2/securitygroup/).
        sg = aws.ec2.SecurityGroup(
            f"{name}-vpce-sg",
            aws.ec2.SecurityGroupArgs(
                vpc_id=self.vpc.id,
                description="HTTPS to the AWS API interface endpoints from the nodes and the pod security groups",
                tags=tags_for(tags, f"{name}-vpce-sg"),
            ),
            child,
        )
        self.endpoint_security_group_id = sg.id
        # Nodes (kubelet's image pulls, the add-ons' IRSA calls) and every pod without a security group of its own:
        # those pods use the node's ENIs and so its groups (https://docs.aws.amazon.com/eks/latest/userguide/security-groups-for-pods.html).
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-vpce-from-nodes",
            aws.vpc.SecurityGroupIngressRuleArgs(
                security_group_id=sg.id, ip_protocol="tcp", from_port=443, to_port=443,
                referenced_security_group_id=self.workload_security_group.id,
                description="HTTPS from the EKS nodes (and pods without their own security group)",
                tags=tags_for(tags, f"{name}-vpce-from-nodes")),
            child,
        )
        for service in config.interface_endpoints:
            aws.ec2.VpcEndpoint(
                f"{name}-vpce-{service.replace('.', '-')}",
                aws.ec2.VpcEndpointArgs(
                    vpc_id=self.vpc.id,
                    service_name=f"com.amazonaws.{region}.{service}",
                    vpc_endpoint_type="Interface",
                    private_dns_enabled=True,
                    subnet_ids=self.subnet_ids["private"],
                    security_group_ids=[sg.id],
                    policy=interface_endpoint_policy(service, account_id),
                    tags=tags_for(tags, f"{name}-vpce-{service}"),
                ),
                child,
            )

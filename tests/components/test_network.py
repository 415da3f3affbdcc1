"""The Network component, rendered in isolation under the mock engine, asserted exactly."""

from __future__ import annotations

import json

import pytest

from components.network import Network
from tests.helpers import PROD_TAGS, render, stack_config, untagged

LOGS_KEY = "arn:aws:kms:us-east-2:333333333333:key/logs-key"
PROD_AZS = ["us-east-2a", "us-east-2b", "us-east-2c"]


def _render(stack: str, database_ports=(), **overrides):  # type: ignore[no-untyped-def]
    cfg = stack_config(stack, **overrides)

    def build() -> None:
        Network("care-test", cfg.network, region=cfg.regions.primary, account_id=cfg.environment.account_id,
                logs_kms_key_arn=LOGS_KEY, database_ports=database_ports, tags=PROD_TAGS)

    return render(build)


@pytest.fixture(scope="module")
def prod():  # type: ignore[no-untyped-def]
    return _render("prod")


@pytest.fixture(scope="module")
def dev():  # type: ignore[no-untyped-def]
    return _render("dev")


def _by_name(plan, type_):  # type: ignore[no-untyped-def]
    return {r.name: r for r in plan.of_type(type_)}


def test_three_subnet_tiers_per_az_with_deterministic_cidrs(prod) -> None:  # type: ignore[no-untyped-def]
    subnets = _by_name(prod, "aws:ec2/subnet:Subnet")
    expected = {
        **{f"care-test-private-{az}": cidr for az, cidr in zip(PROD_AZS, ["10.30.0.0/19", "10.30.32.0/19",
                                                                          "10.30.64.0/19"], strict=True)},
        **{f"care-test-public-{az}": f"10.30.{96 + i}.0/24" for i, az in enumerate(PROD_AZS)},
        **{f"care-test-database-{az}": f"10.30.{112 + i}.0/24" for i, az in enumerate(PROD_AZS)},
    }
    assert {name: s.inputs["cidrBlock"] for name, s in subnets.items()} == expected
    for name, subnet in subnets.items():
        assert subnet.inputs["availabilityZone"] == name.rsplit("-", 3)[-3] + "-" + "-".join(name.rsplit("-", 2)[-2:])
        assert subnet.inputs["mapPublicIpOnLaunch"] is False


def test_subnets_carry_the_load_balancer_discovery_tags(prod) -> None:  # type: ignore[no-untyped-def]
    subnets = _by_name(prod, "aws:ec2/subnet:Subnet")
    assert subnets["care-test-public-us-east-2a"].inputs["tags"]["kubernetes.io/role/elb"] == "1"
    assert subnets["care-test-private-us-east-2b"].inputs["tags"]["kubernetes.io/role/internal-elb"] == "1"
    database_tags = subnets["care-test-database-us-east-2c"].inputs["tags"]
    assert not any(k.startswith("kubernetes.io/") for k in database_tags)
    assert database_tags["Tier"] == "database"


def _route_targets(route_table) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(r["cidrBlock"], r.get("gatewayId") or r.get("natGatewayId")) for r in route_table.inputs["routes"]]


def test_routes_per_tier_and_no_internet_route_from_the_database_tier(prod) -> None:  # type: ignore[no-untyped-def]
    tables = _by_name(prod, "aws:ec2/routeTable:RouteTable")
    igw = prod.named("care-test-igw").id
    nats = {r.name: r.id for r in prod.of_type("aws:ec2/natGateway:NatGateway")}
    assert _route_targets(tables["care-test-public-rt"]) == [("0.0.0.0/0", igw)]
    for az in PROD_AZS:
        assert _route_targets(tables[f"care-test-private-rt-{az}"]) == [("0.0.0.0/0", nats[f"care-test-nat-{az}"])]
    assert tables["care-test-database-rt"].inputs["routes"] == []
    associations = {r.name: r.inputs for r in prod.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")}
    database_rt = tables["care-test-database-rt"].id
    subnets = _by_name(prod, "aws:ec2/subnet:Subnet")
    for az in PROD_AZS:
        assert associations[f"care-test-database-rta-{az}"] == {
            "subnetId": subnets[f"care-test-database-{az}"].id, "routeTableId": database_rt}
    assert len(associations) == 9


def test_nat_gateway_per_az_in_prod(prod) -> None:  # type: ignore[no-untyped-def]
    nats = prod.of_type("aws:ec2/natGateway:NatGateway")
    public = {s.id: s.inputs["availabilityZone"] for s in prod.of_type("aws:ec2/subnet:Subnet")
              if s.name.startswith("care-test-public-")}
    assert sorted(public[n.inputs["subnetId"]] for n in nats) == PROD_AZS
    assert len(prod.of_type("aws:ec2/eip:Eip")) == 3


def test_single_nat_gateway_in_dev_serves_every_private_subnet(dev) -> None:  # type: ignore[no-untyped-def]
    nats = dev.of_type("aws:ec2/natGateway:NatGateway")
    assert [n.name for n in nats] == ["care-test-nat-us-east-2a"]
    private_tables = [t for t in dev.of_type("aws:ec2/routeTable:RouteTable") if "-private-rt-" in t.name]
    assert len(private_tables) == 2
    assert {t.inputs["routes"][0]["natGatewayId"] for t in private_tables} == {nats[0].id}
    assert len(dev.of_type("aws:ec2/subnet:Subnet")) == 6


def test_flow_logs_capture_all_traffic_into_an_encrypted_log_group(prod) -> None:  # type: ignore[no-untyped-def]
    group = prod.named("care-test-flow-logs")
    assert group.inputs["kmsKeyId"] == LOGS_KEY
    assert group.inputs["retentionInDays"] == 365
    flow = prod.named("care-test-flow-log").inputs
    assert flow["trafficType"] == "ALL"
    assert flow["logDestinationType"] == "cloud-watch-logs"
    assert flow["logDestination"] == "arn:aws:logs:us-east-2:123456789012:log-group:/aws/vpc/care-test/flow-logs"
    assert flow["vpcId"] == prod.named("care-test-vpc").id
    role = prod.named("care-test-flow-logs-role").inputs
    trust = json.loads(role["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "333333333333"}}
    policy = json.loads(prod.named("care-test-flow-logs-policy").inputs["policy"])["Statement"][0]
    assert policy["Resource"][0] == flow["logDestination"]


def test_flow_log_retention_comes_from_config() -> None:
    plan = _render("dev", network__flowLogs={"retentionDays": 14})
    assert plan.named("care-test-flow-logs").inputs["retentionInDays"] == 14


def test_default_security_group_is_stripped(prod) -> None:  # type: ignore[no-untyped-def]
    default_sg = prod.named("care-test-default-sg").inputs
    assert default_sg["ingress"] == [] and default_sg["egress"] == []


def test_vpc_endpoints(prod) -> None:  # type: ignore[no-untyped-def]
    endpoints = _by_name(prod, "aws:ec2/vpcEndpoint:VpcEndpoint")
    s3 = endpoints.pop("care-test-vpce-s3").inputs
    private_tables = sorted(t.id for t in prod.of_type("aws:ec2/routeTable:RouteTable") if "-private-rt-" in t.name)
    assert (s3["serviceName"], s3["vpcEndpointType"]) == ("com.amazonaws.us-east-2.s3", "Gateway")
    assert sorted(s3["routeTableIds"]) == private_tables
    assert sorted(e.inputs["serviceName"].removeprefix("com.amazonaws.us-east-2.") for e in endpoints.values()) == [
        "autoscaling", "ec2", "ecr.api", "ecr.dkr", "elasticloadbalancing", "kms", "logs", "secretsmanager", "sts"]
    sg = prod.named("care-test-vpce-sg")
    for endpoint in endpoints.values():
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert endpoint.inputs["securityGroupIds"] == [sg.id]
    # No address range: the nodes' group here, each pod group from PodSecurityGroups (test_pod_network.py).
    assert "ingress" not in sg.inputs and "egress" not in sg.inputs
    rules = [(r.name, r.inputs["securityGroupId"], r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"],
              r.inputs["referencedSecurityGroupId"], r.inputs.get("cidrIpv4"))
             for r in prod.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")]
    assert rules == [("care-test-vpce-from-nodes", sg.id, "tcp", 443, 443, prod.named("care-test-workload-sg").id,
                      None)]


PROD_PRIVATE = ["10.30.0.0/19", "10.30.32.0/19", "10.30.64.0/19"]
PROD_DATABASE = ["10.30.112.0/24", "10.30.113.0/24", "10.30.114.0/24"]


def _rules(acl, direction):  # type: ignore[no-untyped-def]
    return [(r["ruleNo"], r["action"], r["protocol"], r["cidrBlock"], r["fromPort"], r["toPort"])
            for r in acl.inputs[direction]]


def test_database_subnets_admit_the_private_tier_on_the_store_ports_only() -> None:
    plan = _render("prod", database_ports=[(5432, 5432, "PostgreSQL prm"), (5432, 5432, "PostgreSQL nlfhir"),
                                           (6379, 6379, "Redis"), (9098, 9098, "Kafka IAM"),
                                           (11001, 11002, "exporters")])
    (acl,) = plan.of_type("aws:ec2/networkAcl:NetworkAcl")
    database = sorted(s.id for s in plan.of_type("aws:ec2/subnet:Subnet") if "-database-" in s.name)
    assert (acl.name, sorted(acl.inputs["subnetIds"]), acl.inputs["vpcId"]) == (
        "care-test-database-acl", database, plan.named("care-test-vpc").id)
    assert acl.inputs["tags"] == {"Name": "care-test-database-acl", **PROD_TAGS, "Tier": "database"}
    # Replication among the database subnets of different AZs (the ACL filters it), then the stores' ports from
    # each private subnet, PostgreSQL once for both databases.
    assert _rules(acl, "ingress") == [
        *[(100 + i, "allow", "-1", cidr, 0, 0) for i, cidr in enumerate(PROD_DATABASE)],
        *[(200 + 10 * p + c, "allow", "tcp", cidr, low, high)
          for p, (low, high) in enumerate([(5432, 5432), (6379, 6379), (9098, 9098), (11001, 11002)])
          for c, cidr in enumerate(PROD_PRIVATE)],
    ]
    # Stateless: the replies go back to the private tier's ephemeral ports; nothing else leaves.
    assert _rules(acl, "egress") == [
        *[(100 + i, "allow", "-1", cidr, 0, 0) for i, cidr in enumerate(PROD_DATABASE)],
        *[(200 + c, "allow", "tcp", cidr, 1024, 65535) for c, cidr in enumerate(PROD_PRIVATE)],
    ]


def test_database_acl_without_store_ports_admits_only_the_database_subnets(dev) -> None:  # type: ignore[no-untyped-def]
    (acl,) = dev.of_type("aws:ec2/networkAcl:NetworkAcl")
    assert _rules(acl, "ingress") == [(100, "allow", "-1", "10.10.48.0/24", 0, 0),
                                      (101, "allow", "-1", "10.10.49.0/24", 0, 0)]
    assert [r["protocol"] for r in acl.inputs["egress"]] == ["-1", "-1", "tcp", "tcp"]  # the replies still go out


def test_database_acl_refuses_more_rules_than_the_quota() -> None:
    ports = [(p, p, "x") for p in range(6000, 6006)]  # 3 database + 6 x 3 private = 21 inbound rules
    with pytest.raises(Exception, match="care-test-database-acl: 21 inbound rules exceed the 20 a network ACL"):
        _render("prod", database_ports=ports)


def test_endpoints_can_be_turned_off() -> None:
    plan = _render("dev", network__interfaceEndpoints=[], network__s3GatewayEndpoint=False)
    assert plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") == []
    assert [r.name for r in plan.of_type("aws:ec2/securityGroup:SecurityGroup")] == ["care-test-workload-sg"]


def test_every_taggable_resource_has_the_standard_tags(prod, dev) -> None:  # type: ignore[no-untyped-def]
    assert untagged(prod, PROD_TAGS) == []
    assert untagged(dev, PROD_TAGS) == []
    assert prod.named("care-test-vpc").inputs["tags"] == {"Name": "care-test-vpc", **PROD_TAGS}


def test_children_are_parented_to_the_component(prod) -> None:  # type: ignore[no-untyped-def]
    component = prod.of_type("care:network:Network")[0]
    assert component.urn == "urn:pulumi:test::care-platform::pulumi:pulumi:Stack$care:network:Network::care-test"
    firewall = prod.of_type("care:network:DnsFirewall")[0]
    children = [r for r in prod.resources if r is not component and r.parent != firewall.urn]
    assert {r.parent for r in children} == {component.urn}
    # vpc, default sg, 9 subnets, igw, public rt, 3 eips, 3 nats, 3 private rts, 9 associations,
    # database rt, workload sg, log group, role, managed policy + attachment, flow log, s3 + 9 interface endpoints,
    # endpoint sg and its rule from the nodes, the database ACL, the DNS Firewall component
    assert len(children) == 1 + 1 + 9 + 1 + 1 + 3 + 3 + 3 + 9 + 1 + 1 + 5 + 10 + 2 + 1 + 1
    # its children: 2 domain lists, rule group, 2 rules, VPC association, fail-closed config
    assert len([r for r in prod.resources if r.parent == firewall.urn]) == 7


def test_dns_firewall_allows_the_list_then_blocks_everything_and_fails_closed() -> None:
    from components.dns_firewall import BASE_DOMAINS, DnsFirewall, DnsFirewallConfig

    def program() -> None:
        DnsFirewall("fw", DnsFirewallConfig(allowed_domains=("api.partner.example",)), vpc_id="vpc-1", tags=PROD_TAGS)

    plan = render(program)
    lists = {r.name: r.inputs["domains"] for r in plan.of_type(
        "aws:route53/resolverFirewallDomainList:ResolverFirewallDomainList")}
    assert lists == {"fw-allowed": sorted({*BASE_DOMAINS, "api.partner.example"}), "fw-everything": ["*"]}
    rules = sorted((r.inputs["priority"], r.inputs["action"], r.inputs.get("blockResponse")) for r in plan.of_type(
        "aws:route53/resolverFirewallRule:ResolverFirewallRule"))
    assert rules == [(100, "ALLOW", None), (200, "BLOCK", "NODATA")]
    association = plan.named("fw-vpc").inputs
    assert (association["vpcId"], association["priority"], association["mutationProtection"]) == (
        "vpc-1", 500, "ENABLED")
    assert plan.named("fw-fail-closed").inputs == {"resourceId": "vpc-1", "firewallFailOpen": "DISABLED"}


def test_dns_firewall_refuses_a_malformed_domain() -> None:
    from components.dns_firewall import DnsFirewallConfig

    with pytest.raises(ValueError, match=r"not domain names .*\['http://x.example'\]"):
        DnsFirewallConfig(allowed_domains=("http://x.example",))

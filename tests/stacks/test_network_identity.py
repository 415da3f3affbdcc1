"""Security groups for Pods on the rendered prod plan: each store admits exactly the workloads bound to it."""

from __future__ import annotations

import json

import pytest

from offline.engine import Plan, Registration
from tests.helpers import rendered_stack

SG = "aws:ec2/securityGroup:SecurityGroup"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SGP = "kubernetes:vpcresources.k8s.aws/v1beta1:SecurityGroupPolicy"


@pytest.fixture(scope="module")
def prod() -> Plan:
    return rendered_stack("prod")


def by_name(plan: Plan, type_: str) -> dict[str, Registration]:
    return {r.name: r for r in plan.resources if r.type == type_}


def names(plan: Plan, urns: list[str]) -> list[str]:
    named = {r.urn: r.name for r in plan.resources}
    return sorted(named[u] for u in urns)


def test_every_store_admits_exactly_the_workloads_bound_to_it(prod: Plan) -> None:
    groups = by_name(prod, SG)
    admitted = {
        name: [(rule["fromPort"], rule["toPort"], rule["description"], len(rule["securityGroups"]))
               for rule in groups[name].inputs["ingress"]]
        for name in ("care-prod-prm-sg", "care-prod-nlfhir-sg", "care-prod-redis-sg", "care-prod-kafka-sg")
    }
    assert admitted == {
        "care-prod-prm-sg": [(5432, 5432, "PostgreSQL from clients", 2)],
        "care-prod-nlfhir-sg": [(5432, 5432, "PostgreSQL from clients", 2)],
        "care-prod-redis-sg": [(6379, 6379, "Redis (TLS) from clients", 2)],
        "care-prod-kafka-sg": [(9098, 9098, "Kafka IAM auth from clients", 1),
                               (11001, 11002, "Prometheus JMX and node exporters", 1)],
    }
    sources = {name: names(prod, groups[name].property_dependencies["ingress"]) for name in admitted}
    assert sources == {
        "care-prod-prm-sg": ["care-prod-pods-bootstrap-prm-sg", "care-prod-pods-prm-api-sg"],
        "care-prod-nlfhir-sg": ["care-prod-pods-bootstrap-nlfhir-sg", "care-prod-pods-nlfhir-sg"],
        "care-prod-redis-sg": ["care-prod-pods-prm-api-sg", "care-prod-pods-prm-worker-sg"],
        "care-prod-kafka-sg": ["care-prod-pods-prm-worker-sg", "care-prod-pods-prometheus-sg"],
    }
    # The exporters' rule names Prometheus's group, the client rule the worker's: same order as the rules.
    ids = {r.name: r for r in prod.resources if r.type == SG}
    kafka = groups["care-prod-kafka-sg"].inputs["ingress"]
    assert kafka[0]["securityGroups"] != kafka[1]["securityGroups"]
    assert "care-prod-workload-sg" in ids  # still on the nodes, admitted by no store


def test_chromadb_admits_only_nlfhir_on_its_port(prod: Plan) -> None:
    rules = [r for r in by_name(prod, INGRESS).values()
             if names(prod, r.property_dependencies.get("securityGroupId", [])) == ["care-prod-pods-chromadb-sg"]]
    summary = sorted((names(prod, r.property_dependencies.get("referencedSecurityGroupId", [])),
                      r.inputs["fromPort"], r.inputs["toPort"]) for r in rules)
    assert summary == [(["care-prod-eks-cluster"], 0, 65535), (["care-prod-pods-nlfhir-sg"], 8000, 8000)]


def test_each_client_reaches_its_stores_on_their_ports_only(prod: Plan) -> None:
    egress = by_name(prod, EGRESS)
    to_stores = sorted(
        (names(prod, r.property_dependencies["securityGroupId"])[0], r.inputs["fromPort"], r.inputs["toPort"],
         r.inputs["description"])
        for r in egress.values() if "-pods-" in r.name and not r.name.endswith(("-to-vpce", "-scrape"))
        and "-to-nodes-" not in r.name)
    assert to_stores == [
        ("care-prod-pods-bootstrap-nlfhir-sg", 5432, 5432, "PostgreSQL (nlfhir_db)"),
        ("care-prod-pods-bootstrap-prm-sg", 5432, 5432, "PostgreSQL (prm_db)"),
        ("care-prod-pods-nlfhir-sg", 5432, 5432, "PostgreSQL (nlfhir_db)"),
        ("care-prod-pods-nlfhir-sg", 8000, 8000, "ChromaDB HTTP (chromadb)"),
        ("care-prod-pods-prm-api-sg", 5432, 5432, "PostgreSQL (prm_db)"),
        ("care-prod-pods-prm-api-sg", 6379, 6379, "Redis (TLS) (redis)"),
        ("care-prod-pods-prm-worker-sg", 6379, 6379, "Redis (TLS) (redis)"),
        ("care-prod-pods-prm-worker-sg", 9098, 9098, "Kafka IAM auth from clients (kafka)"),
        ("care-prod-pods-prometheus-sg", 11001, 11002, "MSK JMX and node exporters (kafka-exporters)"),
    ]
    assert egress["care-prod-pods-prometheus-scrape"].inputs["cidrIpv4"] == "10.30.0.0/16"


def test_pods_reach_dns_and_istiod_on_the_nodes_and_nothing_else_there(prod: Plan) -> None:
    to_nodes = sorted((r.name.split("-to-nodes-")[1], r.inputs["ipProtocol"], r.inputs["fromPort"])
                      for r in by_name(prod, EGRESS).values() if "care-prod-eks-nlfhir-to-nodes-" in r.name)
    assert to_nodes == [("tcp15012", "tcp", 15012), ("tcp53", "tcp", 53), ("udp53", "udp", 53)]
    from_pods = [r for r in by_name(prod, INGRESS).values() if r.name.startswith("care-prod-eks-nodes-from-")]
    assert len(from_pods) == 6 * 3 + 1  # six workloads x (udp53, tcp53, 15012) + Prometheus's scrape rule


def test_each_workload_gets_its_group_by_a_security_group_policy(prod: Plan) -> None:
    policies = {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r.inputs["spec"]["podSelector"]
                for r in by_name(prod, SGP).values()}
    assert policies == {
        ("nlfhir", "nlfhir"): {"matchLabels": {"app.kubernetes.io/name": "nlfhir"}},
        ("prm", "prm-api"): {"matchLabels": {"app.kubernetes.io/name": "prm-api"}},
        ("prm", "prm-worker"): {"matchLabels": {"app.kubernetes.io/name": "prm-worker"}},
        ("db-bootstrap", "bootstrap-prm"): {"matchLabels": {"app.kubernetes.io/name": "bootstrap-prm"}},
        ("db-bootstrap", "bootstrap-nlfhir"): {"matchLabels": {"app.kubernetes.io/name": "bootstrap-nlfhir"}},
        ("nlfhir", "chromadb"): {"matchLabels": {"app.kubernetes.io/name": "chromadb"}},
        ("monitoring", "prometheus"): {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    }
    # A policy applies to pods scheduled after it: every Deployment (or Argo Rollout) waits for its app's policy.
    deployments = _workloads(prod)
    sgps = {r.name: r.urn for r in by_name(prod, SGP).values()}
    for app in ("nlfhir", "prm-api", "prm-worker"):
        assert sgps[f"care-prod-{app}-sgp"] in deployments[app].dependencies, app


def test_the_cni_and_the_cluster_role_enable_security_groups_for_pods(prod: Plan) -> None:
    cni = next(r for r in prod.resources if r.type == "aws:eks/addon:Addon" and r.inputs["addonName"] == "vpc-cni")
    assert json.loads(cni.inputs["configurationValues"]) == {
        "enableNetworkPolicy": "true",
        "env": {"ENABLE_POD_ENI": "true", "POD_SECURITY_GROUP_ENFORCING_MODE": "standard"}}
    attachments = sorted(r.inputs["policyArn"] for r in prod.resources
                         if r.type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
                         and r.name in ("care-prod-eks-cluster-policy", "care-prod-eks-vpc-resource-controller"))
    assert attachments == ["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
                           "arn:aws:iam::aws:policy/AmazonEKSVPCResourceController"]


NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
DATABASE = ["10.30.112.0/24", "10.30.113.0/24", "10.30.114.0/24"]
PRIVATE = ["10.30.0.0/19", "10.30.32.0/19", "10.30.64.0/19"]


def _egress(plan: Plan, name: str) -> list[tuple[list[int], list[object]]]:
    spec = by_name(plan, NETPOL)[name].inputs["spec"]
    assert spec["policyTypes"] == ["Egress"]
    return [([p["port"] for p in rule["ports"]],
             [peer["ipBlock"]["cidr"] if "ipBlock" in peer else
              (peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
               peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]) for peer in rule["to"]])
            for rule in spec["egress"]]


def test_every_workload_namespace_denies_egress_but_dns_and_istiod(prod: Plan) -> None:
    policies = by_name(prod, NETPOL)
    for ns in ("db-bootstrap", "nlfhir", "prm"):
        deny = policies[f"care-prod-eks-ns-{ns}-default-deny-egress"].inputs
        assert deny["metadata"] == {"name": "default-deny-egress", "namespace": ns}
        assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Egress"]}
        allow = policies[f"care-prod-eks-ns-{ns}-allow-dns-and-istiod"].inputs["spec"]
        assert allow["podSelector"] == {}
        assert [([(p["protocol"], p["port"]) for p in r["ports"]],
                 r["to"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
                 r["to"][0]["podSelector"]["matchLabels"]) for r in allow["egress"]] == [
            ([("UDP", 53), ("TCP", 53)], "kube-system", {"k8s-app": "kube-dns"}),
            ([("TCP", 15012)], "istio-system", {"app": "istiod"}),
        ]


def test_each_workload_reaches_its_bound_stores_and_the_endpoints_only(prod: Plan) -> None:
    assert _egress(prod, "care-prod-prm-api-egress") == [([5432], DATABASE), ([6379], DATABASE), ([443], PRIVATE)]
    assert _egress(prod, "care-prod-prm-worker-egress") == [([6379], DATABASE), ([9098], DATABASE), ([443], PRIVATE)]
    assert _egress(prod, "care-prod-nlfhir-egress") == [
        ([5432], DATABASE), ([8000], [("nlfhir", "chromadb")]), ([443], PRIVATE)]
    assert _egress(prod, "care-prod-bootstrap-prm-egress") == [([5432], DATABASE), ([443], PRIVATE)]
    # No rule anywhere reaches the instance metadata service.
    assert all("169.254." not in json.dumps(r.inputs) or "except" in json.dumps(r.inputs)
               for r in by_name(prod, NETPOL).values())
    # Each workload starts only once its egress allow-list exists (default deny would otherwise cut it off).
    egress = by_name(prod, NETPOL)["care-prod-prm-api-egress"]
    assert egress.urn in _workloads(prod)["prm-api"].dependencies


def _workloads(plan: Plan) -> dict[str, Registration]:
    """Each app's workload by app name: its Deployment, or the Argo Rollout that replaces it (blue-green, canary)."""
    found = {}
    for r in plan.resources:
        for suffix in ("-deployment", "-rollout"):
            if r.type in ("kubernetes:apps/v1:Deployment", "kubernetes:argoproj.io/v1alpha1:Rollout") \
                    and r.name.endswith(suffix):
                found[r.name.removeprefix(f"care-{plan.stack}-").removesuffix(suffix)] = r
    return found


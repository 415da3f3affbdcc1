"""PodSecurityGroups in isolation: one group per identity, its tags, and only the egress its bindings give it."""

from __future__ import annotations

import pytest

from components.pod_network import Identity, PodSecurityGroups
from tests.helpers import PROD_TAGS, render

API = Identity("prm-api", "prm", {"app.kubernetes.io/name": "prm-api"}, ("prm_db", "redis"))
CHROMA = Identity("chromadb", "nlfhir", {"app.kubernetes.io/name": "chromadb"}, serves=("chromadb",))
PROMETHEUS = Identity("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"}, ("kafka-exporters",),
                      scrapes_vpc=True)
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def build(identities=(API, CHROMA, PROMETHEUS)):  # type: ignore[no-untyped-def]
    def program() -> None:
        pods = PodSecurityGroups("p", list(identities), vpc_id="vpc-1", vpc_cidr="10.30.0.0/16",
                                 endpoint_security_group_id="sg-vpce", tags=PROD_TAGS)
        pods.admit("prm_db", "sg-db", [(5432, 5432, "PostgreSQL")])
        pods.admit("redis", "sg-redis", [(6379, 6379, "Redis")])
    return render(program)


def test_one_group_per_identity_tagged_with_its_bindings() -> None:
    plan = build()
    tags = {r.name: {k: v for k, v in r.inputs["tags"].items() if k.startswith("care.platform/")}
            for r in plan.of_type("aws:ec2/securityGroup:SecurityGroup")}
    assert tags == {
        "p-prm-api-sg": {"care.platform/identity": "prm-api", "care.platform/stores": "prm_db redis"},
        "p-chromadb-sg": {"care.platform/identity": "chromadb", "care.platform/stores": "",
                          "care.platform/store": "chromadb"},
        "p-prometheus-sg": {"care.platform/identity": "prometheus", "care.platform/stores": "kafka-exporters"},
    }
    assert all("ingress" not in r.inputs and "egress" not in r.inputs
               for r in plan.of_type("aws:ec2/securityGroup:SecurityGroup"))  # rules are separate resources only


def test_egress_only_to_the_endpoints_and_the_bound_stores() -> None:
    plan = build()
    egress = sorted((r.name, r.inputs["fromPort"], r.inputs["toPort"], r.inputs.get("referencedSecurityGroupId"),
                     r.inputs.get("cidrIpv4")) for r in plan.of_type(EGRESS))
    assert egress == [
        ("p-chromadb-to-vpce", 443, 443, "sg-vpce", None),
        ("p-prm-api-to-prm-db-5432", 5432, 5432, "sg-db", None),
        ("p-prm-api-to-redis-6379", 6379, 6379, "sg-redis", None),
        ("p-prm-api-to-vpce", 443, 443, "sg-vpce", None),
        ("p-prometheus-scrape", 0, 65535, None, "10.30.0.0/16"),
        ("p-prometheus-to-vpce", 443, 443, "sg-vpce", None),
    ]
    # Prometheus scrapes the apps' sidecar metrics port, never a store's own group; the endpoints' group admits
    # each pod group by name, on 443 only.
    ingress = sorted((r.name, r.inputs["securityGroupId"], r.inputs["fromPort"], r.inputs["toPort"],
                      r.inputs["referencedSecurityGroupId"]) for r in plan.of_type(INGRESS))
    ids = {r.name: r.id for r in plan.of_type("aws:ec2/securityGroup:SecurityGroup")}
    assert ingress == [
        ("p-prm-api-from-prometheus", ids["p-prm-api-sg"], 15020, 15020, ids["p-prometheus-sg"]),
        ("p-vpce-from-chromadb", "sg-vpce", 443, 443, ids["p-chromadb-sg"]),
        ("p-vpce-from-prm-api", "sg-vpce", 443, 443, ids["p-prm-api-sg"]),
        ("p-vpce-from-prometheus", "sg-vpce", 443, 443, ids["p-prometheus-sg"]),
    ]


def test_a_store_nobody_is_bound_to_and_a_duplicate_identity_are_refused() -> None:
    def unbound() -> None:
        PodSecurityGroups("p", [API], vpc_id="v", vpc_cidr="10.0.0.0/16", endpoint_security_group_id=None,
                          tags=PROD_TAGS).clients_of("kafka")

    with pytest.raises(Exception, match="p: no workload is bound to store 'kafka'"):
        render(unbound)

    def duplicate() -> None:
        PodSecurityGroups("p", [API, API], vpc_id="v", vpc_cidr="10.0.0.0/16", endpoint_security_group_id=None,
                          tags=PROD_TAGS)

    with pytest.raises(Exception, match=r"p: an identity is listed twice: \['prm-api', 'prm-api'\]"):
        render(duplicate)

"""Load balancers on the rendered prod plan: what the controller may open, and what the cluster admits."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest

from offline.engine import Plan
from tests.helpers import rendered_stack, stack_config

VAP = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"


@pytest.fixture(scope="module")
def prod() -> Plan:
    return rendered_stack("prod")


def test_the_controller_opens_only_its_own_groups_and_the_published_apps_pods(prod: Plan) -> None:
    groups = {r.name: r.id for r in prod.of_type("aws:ec2/securityGroup:SecurityGroup")}
    policy = prod.named("care-prod-eks-alb-controller-irsa-policy").inputs["policy"]
    statements = (json.loads(policy) if isinstance(policy, str) else policy["@json"])["Statement"]
    opened = [s["Resource"] for s in statements if "ec2:AuthorizeSecurityGroupIngress" in s["Action"]]
    # The groups it tagged itself (this cluster's name), then the two published apps' pod groups by ARN:
    # never the PRM worker's, ChromaDB's, a store's or the nodes'.
    assert opened == ["arn:aws:ec2:us-east-2:333333333333:security-group/*", sorted(
        f"arn:aws:ec2:us-east-2:333333333333:security-group/{groups[f'care-prod-pods-{app}-sg']}"
        for app in ("nlfhir", "prm-api"))]
    tagged = next(s for s in statements if s["Resource"] == opened[0] and "Condition" in s
                  and "ec2:AuthorizeSecurityGroupIngress" in s["Action"])
    assert tagged["Condition"] == {"StringEquals": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "care-prod-eks"}}
    assert prod.named("care-prod-eks-cluster").inputs["name"] == "care-prod-eks"


def test_only_the_published_ingresses_may_be_internet_facing(prod: Plan) -> None:
    (policy,) = (r for r in prod.of_type(VAP) if r.inputs["metadata"]["name"] == "care-load-balancer-exposure")
    ingress_rule = policy.inputs["spec"]["validations"][2]["expression"]
    assert "in ['nlfhir/nlfhir', 'prm/prm-api'] ||" in ingress_rule
    published = sorted(f"{r.inputs['metadata']['namespace']}/{r.inputs['metadata']['name']}"
                       for r in prod.of_type("kubernetes:networking.k8s.io/v1:Ingress")
                       if r.inputs["metadata"]["annotations"]["alb.ingress.kubernetes.io/scheme"] == "internet-facing")
    assert published == ["nlfhir/nlfhir", "prm/prm-api"]
    services = [r for r in prod.of_type("kubernetes:core/v1:Service") if r.inputs["spec"].get("type") == "LoadBalancer"]
    assert services == []


def test_the_apps_wait_for_both_admission_policies(prod: Plan) -> None:
    bindings = {r.urn for r in prod.of_type(
        "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding")}
    assert len(bindings) == 2
    for app in ("nlfhir", "prm-api", "prm-worker"):
        secret_store = next(r for r in prod.resources if r.type.endswith(":SecretStore")
                            and r.name.startswith(f"care-prod-{app}-"))
        assert bindings <= set(secret_store.dependencies), app


def test_the_admission_objects_match_the_clusters_kubernetes_schema(prod: Plan) -> None:
    """Strict schema validation (unknown fields refused) at the cluster's own Kubernetes version."""
    version = stack_config("prod").eks.version
    objects = [r for r in prod.resources if r.type.startswith("kubernetes:admissionregistration.k8s.io/v1:")]
    assert sorted(r.inputs["kind"] for r in objects) == [
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding", "ValidatingAdmissionPolicyBinding"]
    for r in objects:
        assert kubernetes_validate.validate(r.inputs, version, strict=True) == version, r.name
    # A misspelled field fails (the check can fail).
    binding = next(r.inputs for r in objects if r.inputs["kind"] == "ValidatingAdmissionPolicyBinding")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate({**binding, "spec": {**binding["spec"], "validationAction": ["Deny"]}},
                                     version, strict=True)

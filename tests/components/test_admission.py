"""The cluster's admission policies (components/eks/admission.py): the CEL text exactly, then its behaviour.

The expressions are evaluated offline with cel-python (a CEL implementation of the spec the API server's
cel-go implements) on sample admission requests: what a tenant could try, and what the platform itself does.
"""

from __future__ import annotations

from typing import Any

import celpy
import pytest

from components.eks.admission import (
    ESO_CONTROLLER,
    deployer_username_prefix,
    exposure_validations,
    secrets_validations,
)

PUBLISHED = ["nlfhir/nlfhir", "prm/prm-api"]
DEPLOYER_ROLE = "arn:aws:iam::333333333333:role/care-platform-deployer"
DEPLOYER = "arn:aws:sts::333333333333:assumed-role/care-platform-deployer/pulumi-1733190000"
NLB = "service.k8s.aws/nlb"
SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme"
INTERNAL = "service.beta.kubernetes.io/aws-load-balancer-internal"
ALB_SCHEME = "alb.ingress.kubernetes.io/scheme"

_ENV = celpy.Environment()


def _allowed(expressions: list[str], request: dict[str, Any], obj: dict[str, Any] | None) -> bool:
    """Whether every validation holds (the API server admits the request only then)."""
    activation = {"request": celpy.json_to_cel(request), "object": celpy.json_to_cel(obj)}
    results = [_ENV.program(_ENV.compile(e)).evaluate(activation) for e in expressions]
    assert all(isinstance(r, celpy.celtypes.BoolType) for r in results), results
    return all(bool(r) for r in results)


def _exposure(kind: str, namespace: str, name: str, *, spec: dict[str, Any],
              annotations: dict[str, str] | None = None) -> bool:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations is not None:
        metadata["annotations"] = annotations
    request = {"kind": {"group": "", "version": "v1", "kind": kind}, "namespace": namespace, "name": name,
               "operation": "CREATE", "userInfo": {"username": DEPLOYER}}
    return _allowed([v.expression for v in exposure_validations(PUBLISHED)], request,
                    {"metadata": metadata, "spec": spec})


def test_exposure_expressions_exactly() -> None:
    service, scheme, ingress = (v.expression for v in exposure_validations(PUBLISHED))
    not_lb = "request.kind.kind != 'Service' || !has(object.spec.type) || object.spec.type != 'LoadBalancer'"
    assert service == f"{not_lb} || (has(object.spec.loadBalancerClass) && object.spec.loadBalancerClass == '{NLB}')"
    assert scheme == (
        f"{not_lb} || ((!has(object.metadata.annotations) || !('{SCHEME}' in object.metadata.annotations) || "
        f"object.metadata.annotations['{SCHEME}'] == 'internal') && (!has(object.metadata.annotations) || "
        f"!('{INTERNAL}' in object.metadata.annotations) || object.metadata.annotations['{INTERNAL}'] == 'true'))")
    # The exception: namespace (from the request, not the object) and exact name, from the stack's config.
    assert ingress == (
        "!(request.kind.kind == 'Ingress') || request.namespace + '/' + object.metadata.name in "
        "['nlfhir/nlfhir', 'prm/prm-api'] || (!has(object.metadata.annotations) || "
        f"!('{ALB_SCHEME}' in object.metadata.annotations) || object.metadata.annotations['{ALB_SCHEME}'] == "
        "'internal')")


@pytest.mark.parametrize(("spec", "annotations", "allowed"), [
    ({"type": "ClusterIP"}, None, True),                                   # the apps' Services
    ({}, None, True),                                                      # no type: ClusterIP
    ({"type": "LoadBalancer", "loadBalancerClass": NLB}, None, True),      # the controller's default: internal
    ({"type": "LoadBalancer", "loadBalancerClass": NLB}, {SCHEME: "internal"}, True),
    ({"type": "LoadBalancer", "loadBalancerClass": NLB}, {SCHEME: "internet-facing"}, False),
    ({"type": "LoadBalancer", "loadBalancerClass": NLB}, {INTERNAL: "false"}, False),  # the deprecated way
    ({"type": "LoadBalancer", "loadBalancerClass": NLB}, {INTERNAL: "true"}, True),
    ({"type": "LoadBalancer"}, None, False),                               # not claimed: the legacy provider's
    ({"type": "LoadBalancer", "loadBalancerClass": "example.com/other"}, {SCHEME: "internal"}, False),
    ({"type": "NodePort"}, {SCHEME: "internet-facing"}, True),             # no load balancer at all
])
def test_services(spec: dict[str, Any], annotations: dict[str, str] | None, allowed: bool) -> None:
    assert _exposure("Service", "apps", "tenant", spec=spec, annotations=annotations) is allowed


@pytest.mark.parametrize(("namespace", "name", "annotations", "allowed"), [
    ("nlfhir", "nlfhir", {ALB_SCHEME: "internet-facing"}, True),           # a published API
    ("prm", "prm-api", {ALB_SCHEME: "internet-facing"}, True),
    ("prm", "prm-worker", {ALB_SCHEME: "internet-facing"}, False),         # the right namespace, not published
    ("nlfhir", "prm-api", {ALB_SCHEME: "internet-facing"}, False),         # the right name, wrong namespace
    # An annotation anyone can set grants nothing.
    ("prm", "tenant", {ALB_SCHEME: "internet-facing", "care.platform/published": "true"}, False),
    ("prm", "tenant", {ALB_SCHEME: "internal"}, True),
    ("prm", "tenant", {}, True),                                           # the controller's default: internal
    ("prm", "tenant", None, True),
])
def test_ingresses(namespace: str, name: str, annotations: dict[str, str] | None, allowed: bool) -> None:
    spec = {"ingressClassName": "alb"}
    assert _exposure("Ingress", namespace, name, spec=spec, annotations=annotations) is allowed


def test_a_stack_without_published_apps_admits_no_internet_facing_ingress() -> None:
    (ingress,) = [v.expression for v in exposure_validations([])][2:]
    request = {"kind": {"kind": "Ingress"}, "namespace": "nlfhir", "operation": "CREATE"}
    obj = {"metadata": {"name": "nlfhir", "annotations": {ALB_SCHEME: "internet-facing"}}, "spec": {}}
    assert _allowed([ingress], request, obj) is False


def test_deployer_username_is_the_assumed_role_session_without_the_role_path() -> None:
    assert deployer_username_prefix(DEPLOYER_ROLE) == "arn:aws:sts::333333333333:assumed-role/care-platform-deployer/"
    assert deployer_username_prefix("arn:aws:iam::333333333333:role/ci/deploy/care-deployer") == (
        "arn:aws:sts::333333333333:assumed-role/care-deployer/")
    with pytest.raises(ValueError, match="not an IAM role ARN"):
        deployer_username_prefix("arn:aws:sts::333333333333:assumed-role/care-platform-deployer/x")


def test_secrets_expression_exactly() -> None:
    (validation,) = secrets_validations(DEPLOYER_ROLE)
    assert validation.expression == (
        "request.userInfo.username.startsWith('arn:aws:sts::333333333333:assumed-role/care-platform-deployer/') || "
        "(request.userInfo.username == 'system:serviceaccount:external-secrets:external-secrets' && "
        "(request.operation == 'UPDATE' || request.resource.resource == 'externalsecrets')) || "
        "(request.operation == 'DELETE' && request.userInfo.username in "
        "['system:serviceaccount:kube-system:namespace-controller', "
        "'system:serviceaccount:kube-system:generic-garbage-collector'])")


@pytest.mark.parametrize(("username", "operation", "resource", "allowed"), [
    (DEPLOYER, "CREATE", "secretstores", True),                            # Pulumi
    (DEPLOYER, "DELETE", "externalsecrets", True),
    ("arn:aws:sts::333333333333:assumed-role/care-platform-deployer-2/x", "CREATE", "secretstores", False),
    ("arn:aws:sts::444444444444:assumed-role/care-platform-deployer/x", "CREATE", "secretstores", False),
    ("arn:aws:sts::333333333333:assumed-role/platform-admin/alice", "CREATE", "secretstores", False),
    ("system:serviceaccount:prm:prm-api", "CREATE", "secretstores", False),  # the app's own service account
    ("system:serviceaccount:prm:default", "UPDATE", "externalsecrets", False),
    ("system:serviceaccount:prm:default", "CREATE", "pushsecrets", False),
    ("system:serviceaccount:prm:default", "CREATE", "clustersecretstores", False),
    (ESO_CONTROLLER, "UPDATE", "secretstores", True),                       # finalizers
    (ESO_CONTROLLER, "CREATE", "externalsecrets", True),                    # a ClusterExternalSecret's children
    (ESO_CONTROLLER, "CREATE", "secretstores", False),
    (ESO_CONTROLLER, "DELETE", "clustersecretstores", False),
    ("system:serviceaccount:kube-system:namespace-controller", "DELETE", "secretstores", True),
    ("system:serviceaccount:kube-system:generic-garbage-collector", "DELETE", "externalsecrets", True),
    ("system:serviceaccount:kube-system:generic-garbage-collector", "CREATE", "externalsecrets", False),
])
def test_secrets_writers(username: str, operation: str, resource: str, allowed: bool) -> None:
    (validation,) = secrets_validations(DEPLOYER_ROLE)
    request = {"operation": operation, "namespace": "prm", "userInfo": {"username": username, "groups": []},
               "resource": {"group": "external-secrets.io", "version": "v1", "resource": resource}}
    assert _allowed([validation.expression], request, None if operation == "DELETE" else {"metadata": {}}) is allowed


"""Istio authorization: who may call an app, by mesh identity (``security.istio.io/v1`` AuthorizationPolicy).

Every app namespace denies all requests to its meshed workloads by default (``allow_nothing``: an ALLOW
policy with an empty spec, "allow-nothing" in https://istio.io/latest/docs/reference/config/security/authorization-policy/),
and each app's own ALLOW policy (``create_authorization_policy``) names what may reach its port:

- its callers (``allowFrom``), by principal ``cluster.local/ns/<namespace>/sa/<app>``: the SPIFFE identity of
  their service account, which Istio's STRICT mTLS proves;
- with an Ingress, the ALB's subnets by ``ipBlocks`` (the ALB speaks plain HTTP to the pod's port, which the
  app's PeerAuthentication makes PERMISSIVE, so those requests carry no principal; ``ipBlocks`` match the
  packet's source address, the ALB's node with target type ip).

Two paths need no rule because Envoy, where AuthorizationPolicy is enforced, never sees them: kubelet's HTTP
probes are rewritten by the injector to the sidecar agent's port 15021, which forwards them to the app
(https://istio.io/latest/docs/ops/configuration/mesh/app-health-check/), and Prometheus scrapes the agent's
merged metrics port 15020, which serves the app's metrics it fetched itself
(https://istio.io/latest/docs/ops/integrations/prometheus/#option-1-metrics-merging); both ports belong to the
agent and are excluded from inbound capture ("Ports used by Istio",
https://istio.io/latest/docs/ops/deployment/application-requirements/#ports-used-by-istio).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.app_service.spec import AppSpec

AUTHORIZATION_API = "security.istio.io/v1"
#: The mesh's trust domain (istiod's default; meshConfig.trustDomain is not set, components/eks/helm_addons.py).
TRUST_DOMAIN = "cluster.local"
#: The name of each app namespace's deny-all policy.
ALLOW_NOTHING = "allow-nothing"


def principal(namespace: str, service_account: str) -> str:
    """The mesh identity of a service account as AuthorizationPolicy ``principals`` name it."""
    return f"{TRUST_DOMAIN}/ns/{namespace}/sa/{service_account}"


def caller_principals(spec: AppSpec) -> list[str]:
    """The principals of the app's ``allowFrom`` callers (an app's service account is named after the app)."""
    principals = []
    for source in spec.config.allow_from:
        source_ns, _, source_app = source.rpartition("/")
        principals.append(principal(source_ns or spec.namespace, source_app))
    return principals


def authorization_rules(spec: AppSpec, load_balancer_cidrs: Sequence[str]) -> list[dict[str, object]]:
    """The ALLOW rules of the app's port: named callers by principal, the ALB's subnets by address."""
    to = [{"operation": {"ports": [str(spec.config.port)]}}]
    rules: list[dict[str, object]] = []
    principals = caller_principals(spec)
    if principals:
        rules.append({"from": [{"source": {"principals": principals}}], "to": to})
    if load_balancer_cidrs:
        rules.append({"from": [{"source": {"ipBlocks": list(load_balancer_cidrs)}}], "to": to})
    return rules


def create_authorization_policy(spec: AppSpec, load_balancer_cidrs: Sequence[str],
                                opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    """The app's ALLOW policy (with no rule it matches nothing: the namespace's deny-all then holds)."""
    return k8s.apiextensions.CustomResource(
        f"{spec.name}-authz",
        api_version=AUTHORIZATION_API,
        kind="AuthorizationPolicy",
        metadata=spec.metadata(),
        spec={"selector": {"matchLabels": spec.selector}, "action": "ALLOW",
              "rules": authorization_rules(spec, load_balancer_cidrs)},
        opts=opts,
    )


def allow_nothing(name: str, namespaces: Mapping[str, pulumi.Resource],
                  opts: pulumi.ResourceOptions) -> dict[str, k8s.apiextensions.CustomResource]:
    """Per namespace: an ALLOW policy with an empty spec, which denies every request to its meshed workloads
    that no other ALLOW policy admits. Give it, through ``opts``, a dependency on the namespace's ALLOW policies:
    created before them, it would cut live traffic during an update."""
    return {
        ns: k8s.apiextensions.CustomResource(
            f"{name}-ns-{ns}-allow-nothing",
            api_version=AUTHORIZATION_API,
            kind="AuthorizationPolicy",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ALLOW_NOTHING, namespace=ns),
            spec={},
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace])),
        )
        for ns, namespace in namespaces.items()
    }

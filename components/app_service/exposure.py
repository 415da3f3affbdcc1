"""How the app is reached: its Service, its NetworkPolicy, and optionally an HTTPS-only ALB Ingress.

Pods run in the Istio mesh with STRICT mTLS. The ALB speaks plain HTTP to the pod (TLS ends at the
ALB), so an app with an Ingress gets a PeerAuthentication that makes its port PERMISSIVE, and its
NetworkPolicy admits that port only from the load balancer's subnets (and from the named apps).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.app_service.config import DEFAULT_SSL_POLICY, AppIngressConfig
from components.app_service.spec import AppSpec
from components.scraping import prometheus_ingress_rule

net = k8s.networking.v1

#: The header CloudFront adds to every origin request; the ALB forwards only requests carrying its secret value.
ORIGIN_VERIFY_HEADER = "X-Origin-Verify"


@dataclass(frozen=True)
class Publication:
    """What the edge gives a published app (components/edge.py): its ALB behind CloudFront and WAF.

    ``host`` is the origin name CloudFront connects to (``<app>.origin.<domain>``, on the regional
    certificate); ``origin_secret`` the value of ``X-Origin-Verify`` that only CloudFront sends.
    """

    host: str
    certificate_arn: pulumi.Input[str]
    waf_acl_arn: pulumi.Input[str]
    security_group_id: pulumi.Input[str]
    origin_secret: pulumi.Input[str]
    shield_advanced: bool = False


def create_service(spec: AppSpec, opts: pulumi.ResourceOptions, *,
                   preview: bool = False) -> k8s.core.v1.Service | None:
    """A ClusterIP Service on port 80 to the pods' ``http`` port (none for a worker without callers).

    ``preview``: blue-green's preview Service (``<app>-preview``). Argo Rollouts adds the
    ``rollouts-pod-template-hash`` of the active (or preview) version to either Service's selector.
    """
    if not spec.config.service:
        return None
    return k8s.core.v1.Service(
        f"{spec.name}-preview-service" if preview else f"{spec.name}-service",
        metadata=spec.metadata(f"{spec.app}-preview" if preview else None),
        spec=k8s.core.v1.ServiceSpecArgs(
            type="ClusterIP",
            selector=spec.selector,
            ports=[k8s.core.v1.ServicePortArgs(name="http", port=80, target_port="http", protocol="TCP",
                                               app_protocol="http")],
        ),
        opts=opts,
    )


def _ingress_rules(spec: AppSpec, load_balancer_cidrs: Mapping[str, Sequence[str]],
                   scheme: str | None) -> list[net.NetworkPolicyIngressRuleArgs]:
    c, ns = spec.config, spec.namespace
    port = [net.NetworkPolicyPortArgs(port=c.port, protocol="TCP")]
    rules: list[net.NetworkPolicyIngressRuleArgs] = []
    if c.allow_from:
        peers = []
        for source in c.allow_from:
            source_ns, _, source_app = source.rpartition("/")
            peers.append(net.NetworkPolicyPeerArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app.kubernetes.io/name": source_app}),
                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                    match_labels={"kubernetes.io/metadata.name": source_ns or ns}),
            ))
        rules.append(net.NetworkPolicyIngressRuleArgs(from_=peers, ports=port))
    if scheme is not None:
        # ALB targets are pod IPs; the ALB's nodes sit in the public subnets (internet-facing) or the
        # private ones (internal), so those ranges are the only source admitted besides named apps.
        cidrs = load_balancer_cidrs.get(scheme)
        if not cidrs:
            raise ValueError(f"{spec.name}: an {scheme} Ingress needs load_balancer_cidrs"
                             f"[{scheme!r}] (the ALB's subnets) for its NetworkPolicy")
        rules.append(net.NetworkPolicyIngressRuleArgs(
            from_=[net.NetworkPolicyPeerArgs(ip_block=net.IPBlockArgs(cidr=cidr)) for cidr in cidrs],
            ports=port,
        ))
    if c.metrics is not None:
        rules.append(prometheus_ingress_rule())  # Istio's merged metrics endpoint (components/scraping.py)
    return rules


def create_network_policy(spec: AppSpec, load_balancer_cidrs: Mapping[str, Sequence[str]],
                          opts: pulumi.ResourceOptions, scheme: str | None = None) -> net.NetworkPolicy:
    """Ingress to the app's port only from ``allowFrom`` apps and, with an Ingress, the ALB's subnets."""
    return net.NetworkPolicy(
        f"{spec.name}-netpol",
        metadata=spec.metadata(),
        spec=net.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=spec.selector),
            policy_types=["Ingress"],
            ingress=_ingress_rules(spec, load_balancer_cidrs, scheme),
        ),
        opts=opts,
    )


@dataclass(frozen=True)
class _Alb:
    """The ALB settings of an Ingress, from the app's config or the edge's publication."""

    scheme: str
    certificate_arn: pulumi.Input[str]
    ssl_policy: str
    waf_acl_arn: pulumi.Input[str] | None


def _alb_annotations(spec: AppSpec, alb: _Alb,
                     access_logs_bucket: pulumi.Input[str] | None) -> dict[str, pulumi.Input[str]]:
    attributes: list[pulumi.Input[str]] = ["routing.http.drop_invalid_header_fields.enabled=true"]
    if access_logs_bucket is not None:
        attributes.append(pulumi.Output.concat("access_logs.s3.enabled=true,access_logs.s3.bucket=",
                                               access_logs_bucket, f",access_logs.s3.prefix=alb/{spec.app}"))
    annotations: dict[str, pulumi.Input[str]] = {
        "alb.ingress.kubernetes.io/scheme": alb.scheme,
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/listen-ports": json.dumps([{"HTTPS": 443}]),
        "alb.ingress.kubernetes.io/certificate-arn": alb.certificate_arn,
        "alb.ingress.kubernetes.io/ssl-policy": alb.ssl_policy,
        "alb.ingress.kubernetes.io/backend-protocol": "HTTP",
        "alb.ingress.kubernetes.io/healthcheck-path": spec.config.health_check_path,
        "alb.ingress.kubernetes.io/load-balancer-attributes": pulumi.Output.all(*attributes).apply(",".join),
        "alb.ingress.kubernetes.io/tags": ",".join(f"{k}={v}" for k, v in sorted(spec.tags.items())
                                                   if re.fullmatch(r"[\w.:/@+=-]+", f"{k}{v}")),
    }
    if alb.waf_acl_arn:
        annotations["alb.ingress.kubernetes.io/wafv2-acl-arn"] = alb.waf_acl_arn
    return annotations


def _published_annotations(spec: AppSpec, publication: Publication,
                           access_logs_bucket: pulumi.Input[str] | None) -> dict[str, pulumi.Input[str]]:
    """The config Ingress's annotations, plus what publishing behind CloudFront adds.

    Annotation names and values as the AWS Load Balancer Controller documents them
    (https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/):
    ``security-groups`` replaces the controller's own frontend group (which would admit 0.0.0.0/0) with
    the edge's group that admits only CloudFront's origin-facing prefix list, so the controller must
    then be told to keep managing the backend rules (``manage-backend-security-group-rules``); the
    ``conditions.<service>`` annotation makes the rule forward only requests with the origin secret
    header (anything else gets the listener's default 404).
    """
    annotations = _alb_annotations(spec, _Alb("internet-facing", publication.certificate_arn, DEFAULT_SSL_POLICY,
                                              publication.waf_acl_arn), access_logs_bucket)
    condition: pulumi.Output[str] = pulumi.Output.secret(publication.origin_secret).apply(
        lambda secret: json.dumps([{"field": "http-header",
                                    "httpHeaderConfig": {"httpHeaderName": ORIGIN_VERIFY_HEADER, "values": [secret]}}]))
    annotations.update({
        "alb.ingress.kubernetes.io/security-groups": publication.security_group_id,
        "alb.ingress.kubernetes.io/manage-backend-security-group-rules": "true",
        f"alb.ingress.kubernetes.io/conditions.{spec.app}": condition,
    })
    if publication.shield_advanced:
        annotations["alb.ingress.kubernetes.io/shield-advanced-protection"] = "true"
    return annotations


def create_ingress(spec: AppSpec, ingress: AppIngressConfig | Publication, *,
                   access_logs_bucket: pulumi.Input[str] | None, service: k8s.core.v1.Service | None,
                   opts: pulumi.ResourceOptions) -> tuple[net.Ingress, k8s.apiextensions.CustomResource]:
    """The ALB Ingress (HTTPS only, the given certificate, TLS policy and WAF) and its mTLS exception.

    ``ingress`` is either the app's own ``ingress`` config or the edge's ``Publication`` of it.
    """
    backend = net.IngressBackendArgs(service=net.IngressServiceBackendArgs(
        name=spec.app, port=net.ServiceBackendPortArgs(name="http")))
    annotations = (_published_annotations(spec, ingress, access_logs_bucket) if isinstance(ingress, Publication)
                   else _alb_annotations(spec, _Alb(ingress.scheme, ingress.certificate_arn, ingress.ssl_policy,
                                                     ingress.waf_acl_arn), access_logs_bucket))
    resource = net.Ingress(
        f"{spec.name}-ingress",
        metadata=spec.metadata(annotations=annotations),
        spec=net.IngressSpecArgs(
            ingress_class_name="alb",
            rules=[net.IngressRuleArgs(host=ingress.host, http=net.HTTPIngressRuleValueArgs(
                paths=[net.HTTPIngressPathArgs(path="/", path_type="Prefix", backend=backend)]))],
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[service] if service else [])),
    )
    # The ALB speaks plain HTTP to the pod (TLS ends at the ALB), so the app's port accepts
    # non-mTLS traffic; the NetworkPolicy admits it only from the load balancer's subnets.
    peer_authentication = k8s.apiextensions.CustomResource(
        f"{spec.name}-alb-mtls-exception",
        api_version="security.istio.io/v1",
        kind="PeerAuthentication",
        metadata=spec.metadata(),
        spec={"selector": {"matchLabels": spec.selector}, "mtls": {"mode": "STRICT"},
              "portLevelMtls": {str(spec.config.port): {"mode": "PERMISSIVE"}}},
        opts=opts,
    )
    return resource, peer_authentication

"""Encryption in transit: HIPAA 164.312(e)(1) transmission security, 164.312(e)(2)(ii) encryption."""

from __future__ import annotations

import re
from typing import Any

from common import (
    CACHE_RG,
    CLOUDFRONT,
    K8S_INGRESS,
    LISTENERS,
    MSK,
    RDS_INSTANCE,
    RDS_PARAMETER_GROUP,
    Report,
    Resource,
    Settings,
    as_int,
    as_list,
    is_false,
    is_true,
    is_unknown,
    policies_of,
    resource_policy,
)

TRANSIT = "164.312(e)(2)(ii)"
TRANSMISSION = "164.312(e)(1)"


def elasticache_transit_encryption(r: Resource, report: Report, _: Settings) -> None:
    enabled = r.get("transitEncryptionEnabled")
    if not is_unknown(enabled) and not is_true(enabled):
        report("transitEncryptionEnabled is not true: Redis traffic carries PHI and must use TLS. "
               "Set transitEncryptionEnabled=True (with an AUTH token or RBAC) in components/cache.py.")
        return
    mode = r.get("transitEncryptionMode")
    if mode is not None and not is_unknown(mode) and mode != "required":
        report(f"transitEncryptionMode is {mode!r}: plaintext clients are still accepted. "
               "Set transitEncryptionMode='required'.")


resource_policy(
    "elasticache-transit-encryption", concern="transit", citation=TRANSIT, types=(CACHE_RG,),
    description="ElastiCache requires TLS for every client connection.",
)(elasticache_transit_encryption)


def msk_tls_client_broker(r: Resource, report: Report, _: Settings) -> None:
    value = r.get("encryptionInfo.encryptionInTransit.clientBroker")
    if value is None or is_unknown(value):
        return  # absent means MSK's default, TLS
    if value != "TLS":
        report(f"encryptionInfo.encryptionInTransit.clientBroker is {value!r}: clients could send PHI in plaintext. "
               "Set clientBroker='TLS' in components/streaming.py.")


resource_policy(
    "msk-tls-client-broker", concern="transit", citation=TRANSIT, types=(MSK,),
    description="MSK accepts only TLS connections from clients.",
)(msk_tls_client_broker)


def msk_tls_in_cluster(r: Resource, report: Report, _: Settings) -> None:
    value = r.get("encryptionInfo.encryptionInTransit.inCluster")
    if is_false(value):
        report("encryptionInfo.encryptionInTransit.inCluster is false: broker-to-broker replication would be "
               "plaintext. Set inCluster=True (the default) in components/streaming.py.")


resource_policy(
    "msk-tls-in-cluster", concern="transit", citation=TRANSIT, types=(MSK,),
    description="MSK brokers replicate to each other over TLS.",
)(msk_tls_in_cluster)


def _is_postgres(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("postgres", "aurora-postgresql"))


def rds_force_ssl(r: Resource, report: Report, _: Settings) -> None:
    if r.type == RDS_PARAMETER_GROUP:
        family = r.get("family")
        if not _is_postgres(family):
            return
        parameters = as_list(r.get("parameters"))
        if is_unknown(parameters):
            return
        values = {p.get("name"): p.get("value") for p in parameters if isinstance(p, dict)}
        value = values.get("rds.force_ssl")
        if is_unknown(value):
            return
        if as_int(value) != 1:
            shown = "not set" if value is None else f"{value!r}"
            report(f"rds.force_ssl is {shown} in parameter group family {family}: PostgreSQL must refuse "
                   "plaintext connections. Add the parameter {name: 'rds.force_ssl', value: '1'}.")
        return
    engine = r.get("engine")
    if engine is not None and (is_unknown(engine) or not _is_postgres(engine)):
        return  # replicas inherit the engine; other engines have their own TLS switch
    group = r.get("parameterGroupName")
    if is_unknown(group):
        return
    if not group or str(group).startswith("default."):
        shown = "not set" if not group else f"{group!r}"
        report(f"parameterGroupName is {shown}: the default parameter group cannot set rds.force_ssl=1. "
               "Attach the component's custom parameter group (replicas included).")


resource_policy(
    "rds-force-ssl", concern="transit", citation=TRANSIT, types=(RDS_PARAMETER_GROUP, RDS_INSTANCE),
    description="PostgreSQL refuses non-TLS connections (rds.force_ssl=1 in a custom parameter group).",
)(rds_force_ssl)


_HTTPS_VIEWER = ("https-only", "redirect-to-https")


def cloudfront_viewer_https(r: Resource, report: Report, _: Settings) -> None:
    behaviors = [("defaultCacheBehavior", r.get("defaultCacheBehavior"))]
    ordered = as_list(r.get("orderedCacheBehaviors"))
    if not is_unknown(ordered):
        behaviors += [(f"orderedCacheBehaviors[{b.get('pathPattern', i)}]", b) for i, b in enumerate(ordered)
                      if isinstance(b, dict)]
    for label, behavior in behaviors:
        if not isinstance(behavior, dict):
            continue
        policy = behavior.get("viewerProtocolPolicy")
        if policy is None or is_unknown(policy) or policy in _HTTPS_VIEWER:
            continue
        report(f"{label}.viewerProtocolPolicy is {policy!r}: viewers could reach PHI over HTTP. "
               "Set viewerProtocolPolicy='redirect-to-https' in components/edge.py.")


resource_policy(
    "cloudfront-viewer-https", concern="transit", citation=TRANSIT, types=(CLOUDFRONT,),
    description="CloudFront serves viewers over HTTPS only (https-only or redirect-to-https on every behavior).",
)(cloudfront_viewer_https)


#: CloudFront viewer security policies at least as strict as TLSv1.2_2021 (TLS 1.2+, the 2021 ciphers):
#: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/secure-connections-supported-viewer-protocols-ciphers.html
def _tls12_2021_or_newer(version: str) -> bool:
    match = re.fullmatch(r"TLSv1\.([23])_(\d{4})", version)
    return match is not None and (match.group(1) == "3" or int(match.group(2)) >= 2021)


def cloudfront_tls12(r: Resource, report: Report, _: Settings) -> None:
    cert = r.get("viewerCertificate")
    if cert is None or is_unknown(cert):
        return
    if is_true(cert.get("cloudfrontDefaultCertificate")):
        report("viewerCertificate.cloudfrontDefaultCertificate is true: the *.cloudfront.net certificate allows "
               "TLS 1.0. Use the ACM certificate (us-east-1) with minimumProtocolVersion='TLSv1.2_2021'.")
        return
    version = cert.get("minimumProtocolVersion")
    if is_unknown(version):
        return
    if not isinstance(version, str) or not _tls12_2021_or_newer(version):
        shown = "not set (TLSv1)" if version is None else f"{version!r}"
        report(f"viewerCertificate.minimumProtocolVersion is {shown}: viewers must use TLS 1.2 with the 2021 "
               "ciphers or newer. Set minimumProtocolVersion='TLSv1.2_2021'.")


resource_policy(
    "cloudfront-tls12", concern="transit", citation=TRANSMISSION, types=(CLOUDFRONT,),
    description="CloudFront negotiates TLS 1.2 or newer with viewers (a custom certificate, TLSv1.2_2021 or newer).",
)(cloudfront_tls12)


def cloudfront_origin_https(r: Resource, report: Report, _: Settings) -> None:
    origins = as_list(r.get("origins"))
    if is_unknown(origins):
        return
    for origin in origins:
        if not isinstance(origin, dict):
            continue
        custom = origin.get("customOriginConfig")
        if not isinstance(custom, dict):
            continue  # S3 origins with origin access control always use HTTPS
        label = origin.get("originId", "?")
        policy = custom.get("originProtocolPolicy")
        if not is_unknown(policy) and policy != "https-only":
            report(f"origin {label}: originProtocolPolicy is {policy!r}: the edge-to-origin hop would carry PHI "
                   "in plaintext. Set originProtocolPolicy='https-only'.")
        protocols = as_list(custom.get("originSslProtocols"))
        if not is_unknown(protocols):
            weak = sorted(p for p in protocols if isinstance(p, str) and not p.startswith("TLSv1.2"))
            if weak:
                report(f"origin {label}: originSslProtocols allows {', '.join(weak)}: only TLS 1.2 may be used. "
                       "Set originSslProtocols=['TLSv1.2'].")


resource_policy(
    "cloudfront-origin-https", concern="transit", citation=TRANSIT, types=(CLOUDFRONT,),
    description="CloudFront reaches custom origins over HTTPS with TLS 1.2 only.",
)(cloudfront_origin_https)


_TLS12_POLICY_MARKERS = ("TLS13", "TLS-1-2", "FS-1-2", "TLS12")


def lb_listener_https(r: Resource, report: Report, _: Settings) -> None:
    protocol = r.get("protocol")
    if is_unknown(protocol):
        return
    if protocol in ("HTTPS", "TLS"):
        policy = r.get("sslPolicy")
        if is_unknown(policy):
            return
        if not isinstance(policy, str) or not any(m in policy for m in _TLS12_POLICY_MARKERS):
            shown = "not set (ELBSecurityPolicy-2016-08 allows TLS 1.0)" if policy is None else f"{policy!r}"
            report(f"sslPolicy is {shown}: listeners must negotiate TLS 1.2 or newer. "
                   "Set sslPolicy='ELBSecurityPolicy-TLS13-1-2-2021-06'.")
        return
    actions = as_list(r.get("defaultActions"))
    if is_unknown(actions):
        return
    redirects = [a for a in actions if isinstance(a, dict) and a.get("type") == "redirect"
                 and (a.get("redirect") or {}).get("protocol") == "HTTPS"]
    if protocol == "HTTP" and actions and len(redirects) == len(actions):
        return
    report(f"protocol is {protocol!r} and the listener does not only redirect to HTTPS: PHI would cross the "
           "network in plaintext. Use protocol='HTTPS' with an ACM certificate, or make every default action "
           "a redirect to HTTPS (status HTTP_301).")


resource_policy(
    "lb-listener-https", concern="transit", citation=TRANSIT, types=LISTENERS,
    description="Load balancer listeners use HTTPS/TLS with a TLS 1.2+ policy (HTTP only to redirect to HTTPS).",
)(lb_listener_https)


#: ALB security policies allowing TLS 1.2 and 1.3 only (or 1.3 only), ELBSecurityPolicy-TLS13-1-2-2021-06 or newer:
#: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html
_ALB_TLS_POLICY = re.compile(r"ELBSecurityPolicy-TLS13-1-[23]-.*20\d\d-\d\d")
ALB_ANNOTATION = "alb.ingress.kubernetes.io/"


def alb_ingress(r: Resource) -> dict[str, Any] | None:
    """An ALB Ingress's annotations (None for another Ingress class or unknown metadata)."""
    annotations = r.get("metadata.annotations")
    if r.get("spec.ingressClassName") != "alb" or not isinstance(annotations, dict):
        return None
    return annotations


def alb_ingress_tls(r: Resource, report: Report, _: Settings) -> None:
    annotations = alb_ingress(r)
    if annotations is None:
        return
    policy = annotations.get(f"{ALB_ANNOTATION}ssl-policy")
    if is_unknown(policy):
        return
    if not isinstance(policy, str) or not _ALB_TLS_POLICY.fullmatch(policy):
        shown = "not set (the controller's default ELBSecurityPolicy-2016-08 allows TLS 1.0)" if policy is None \
            else f"{policy!r}"
        report(f"annotation {ALB_ANNOTATION}ssl-policy is {shown}: the ALB must negotiate TLS 1.2 or newer. "
               "Set it to 'ELBSecurityPolicy-TLS13-1-2-2021-06' (components/app_service/exposure.py).")


resource_policy(
    "alb-ingress-tls", concern="transit", citation=TRANSMISSION, types=(K8S_INGRESS,),
    description="ALB Ingresses use an SSL policy of TLS 1.2+ (ELBSecurityPolicy-TLS13-1-2-2021-06 or newer).",
)(alb_ingress_tls)


POLICIES = policies_of(__name__)

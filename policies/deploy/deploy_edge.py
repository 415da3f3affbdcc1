"""The edge's AWS constraints: where CloudFront's certificate, web ACL and log delivery must live, what WAF logs to,
what Origin Access Control can front, and which annotations the pinned AWS Load Balancer Controller reads."""

from __future__ import annotations

import json
import re
from typing import Any

from deploy_common import (
    Report,
    Resource,
    Settings,
    is_unknown,
    of_type,
    policies_of,
    region_of,
    stack_policy,
)

CLOUDFRONT = "aws:cloudfront/distribution:Distribution"
CERTIFICATE = "aws:acm/certificate:Certificate"
CERTIFICATE_VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WEB_ACL_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
LOG_DELIVERY_SOURCE = "aws:cloudwatch/logDeliverySource:LogDeliverySource"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
EDGE_REGION = "us-east-1"

CERT_SOURCE = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html"
WAF_SCOPE_SOURCE = "https://docs.aws.amazon.com/waf/latest/APIReference/API_CreateWebACL.html"
WAF_LOG_SOURCE = "https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html"
OAC_SOURCE = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html"
LOGGING_V2_SOURCE = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging.html"
ANNOTATIONS_SOURCE = ("https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/"
                      "annotations/")

_ARN_REGION = re.compile(r"^arn:aws[\w-]*:[a-z0-9-]+:([a-z0-9-]*):")


def _arn_region(value: Any) -> str | None:
    match = _ARN_REGION.match(value) if isinstance(value, str) else None
    return match.group(1) if match else None


@stack_policy(
    "cloudfront-certificate-us-east-1", concern="reachability", source=CERT_SOURCE,
    types=(CLOUDFRONT, CERTIFICATE, CERTIFICATE_VALIDATION),
    description="A CloudFront distribution's ACM certificate is in us-east-1 (the only region CloudFront reads).",
)
def cloudfront_certificate_region(resources: list[Resource], report: Report, _: Settings) -> None:
    certificates = [*of_type(resources, CERTIFICATE), *of_type(resources, CERTIFICATE_VALIDATION)]
    for dist in of_type(resources, CLOUDFRONT):
        arn = dist.get("viewerCertificate.acmCertificateArn")
        regions = {_arn_region(arn)} if _arn_region(arn) else {
            region_of(c) for c in certificates if c.urn in dist.property_dependencies.get("viewerCertificate", [])}
        wrong = sorted(r for r in regions if r and r != EDGE_REGION)
        if wrong:
            report(f"viewerCertificate.acmCertificateArn is a certificate in {', '.join(wrong)}: CloudFront only uses "
                   "ACM certificates requested in us-east-1. Request it with the edge provider "
                   "(components/edge.py).", dist.urn)


@stack_policy(
    "waf-cloudfront-scope-us-east-1", concern="reachability", source=WAF_SCOPE_SOURCE, types=(WEB_ACL,),
    description="A CLOUDFRONT-scope web ACL is created in us-east-1 (the API rejects the scope elsewhere).",
)
def waf_cloudfront_scope(resources: list[Resource], report: Report, _: Settings) -> None:
    for acl in of_type(resources, WEB_ACL):
        region = region_of(acl)
        if acl.get("scope") == "CLOUDFRONT" and region and region != EDGE_REGION:
            report(f"has scope CLOUDFRONT in {region}: WAF creates CloudFront web ACLs only in us-east-1. Create it "
                   "with the edge provider (components/edge.py).", acl.urn)


@stack_policy(
    "waf-log-destination", concern="naming", source=WAF_LOG_SOURCE, types=(WEB_ACL_LOGGING, LOG_GROUP, WEB_ACL),
    description="WAF logs go to a log group named aws-waf-logs-* in the web ACL's own region.",
)
def waf_log_destination(resources: list[Resource], report: Report, _: Settings) -> None:
    groups, acls = list(of_type(resources, LOG_GROUP)), list(of_type(resources, WEB_ACL))
    for config in of_type(resources, WEB_ACL_LOGGING):
        linked = [g for g in groups if g.urn in config.property_dependencies.get("logDestinationConfigs", [])]
        names = [g.get("name") for g in linked] or [
            d.rsplit(":log-group:", 1)[-1] for d in config.get("logDestinationConfigs") or []
            if isinstance(d, str) and ":log-group:" in d]
        for name in names:
            if isinstance(name, str) and not is_unknown(name) and not name.startswith("aws-waf-logs-"):
                report(f"logs to the log group {name!r}: WAF delivers only to log groups whose name starts with "
                       "'aws-waf-logs-' (components/edge_waf.py).", config.urn)
        acl = next((a for a in acls if a.urn in config.property_dependencies.get("resourceArn", [])), None)
        acl_region = region_of(acl) if acl else _arn_region(config.get("resourceArn"))
        for group in linked:
            if acl_region and region_of(group) and region_of(group) != acl_region:
                report(f"logs the web ACL of {acl_region} to a log group in {region_of(group)}: the log group must be "
                       "in the web ACL's region (us-east-1 for CloudFront).", config.urn)


_S3_REST = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\.s3(\.[a-z0-9-]+)?\.amazonaws\.com$")


@stack_policy(
    "cloudfront-oac-s3-rest", concern="reachability", source=OAC_SOURCE, types=(CLOUDFRONT,),
    description="Origin Access Control fronts S3 REST endpoints only (not website endpoints or custom origins).",
)
def cloudfront_oac_s3_rest(resources: list[Resource], report: Report, _: Settings) -> None:
    for dist in of_type(resources, CLOUDFRONT):
        origins = dist.get("origins")
        for origin in origins if isinstance(origins, list) else []:
            if not isinstance(origin, dict) or not origin.get("originAccessControlId"):
                continue
            domain = origin.get("domainName")
            if is_unknown(domain) or not isinstance(domain, str):
                continue
            if origin.get("customOriginConfig") or not _S3_REST.fullmatch(domain):
                report(f"origin {origin.get('originId', '?')}: originAccessControlId on {domain!r}, which is not an S3 "
                       "REST endpoint (<bucket>.s3.<region>.amazonaws.com): OAC signs S3 REST requests only (a "
                       "website endpoint or custom origin cannot use it). Use the bucket's "
                       "bucketRegionalDomainName.", dist.urn)


@stack_policy(
    "cloudfront-log-delivery-us-east-1", concern="reachability", source=LOGGING_V2_SOURCE,
    types=(LOG_DELIVERY_SOURCE, CLOUDFRONT),
    description="CloudFront's standard logging v2 delivery source is created in us-east-1.",
)
def cloudfront_log_delivery_region(resources: list[Resource], report: Report, _: Settings) -> None:
    dists = list(of_type(resources, CLOUDFRONT))
    for source in of_type(resources, LOG_DELIVERY_SOURCE):
        arn = source.get("resourceArn")
        of_cdn = (isinstance(arn, str) and ":cloudfront::" in arn) or any(
            d.urn in source.property_dependencies.get("resourceArn", []) for d in dists)
        region = region_of(source)
        if of_cdn and region and region != EDGE_REGION:
            report(f"is a CloudFront delivery source in {region}: CloudFront log delivery is configured in us-east-1 "
                   "only. Create it with the edge provider (components/edge.py).", source.urn)


#: Ingress annotations the AWS Load Balancer Controller (v2.17, chart 1.17) reads; a misspelt one is ignored
#: silently, so an unknown name is an error. (``conditions.<name>`` and ``actions.<name>`` take a suffix.)
KNOWN_ANNOTATIONS = frozenset({
    "group.name", "group.order", "load-balancer-name", "ip-address-type", "scheme", "subnets", "security-groups",
    "manage-backend-security-group-rules", "customer-owned-ipv4-pool", "load-balancer-attributes", "listen-ports",
    "ssl-redirect", "inbound-cidrs", "security-group-prefix-lists", "certificate-arn", "ssl-policy", "target-type",
    "backend-protocol", "backend-protocol-version", "target-group-attributes", "healthcheck-port",
    "healthcheck-protocol", "healthcheck-path", "healthcheck-interval-seconds", "healthcheck-timeout-seconds",
    "healthy-threshold-count", "unhealthy-threshold-count", "success-codes", "target-node-labels", "tags",
    "wafv2-acl-arn", "wafv2-acl-name", "waf-acl-id", "shield-advanced-protection", "auth-type", "auth-idp-cognito",
    "auth-idp-oidc", "auth-on-unauthenticated-request", "auth-scope", "auth-session-cookie", "auth-session-timeout",
    "mutual-authentication", "listener-attributes", "minimum-load-balancer-capacity", "frontend-nlb-scheme",
    "enable-frontend-nlb", "ipam-ipv4-pool-id",
})
_PREFIXED = ("conditions.", "actions.", "listener-attributes.", "transforms.")
_SSL_POLICY = re.compile(r"^ELBSecurityPolicy-[\w-]+$")


@stack_policy(
    "alb-ingress-annotations", concern="kubernetes", source=ANNOTATIONS_SOURCE, types=(INGRESS,),
    description="ALB Ingress annotations are ones the pinned Load Balancer Controller reads, with valid values.",
)
def alb_ingress_annotations(resources: list[Resource], report: Report, _: Settings) -> None:
    for ingress in of_type(resources, INGRESS):
        annotations = ingress.get("metadata.annotations")
        if ingress.get("spec.ingressClassName") == "alb" and isinstance(annotations, dict):
            _check_annotations(annotations, lambda message, urn=ingress.urn: report(message, urn))


def _check_annotations(annotations: dict[str, Any], report: Any) -> None:
    prefix = "alb.ingress.kubernetes.io/"
    ours = {k.removeprefix(prefix): v for k, v in annotations.items() if k.startswith(prefix)}
    for key in sorted(ours):
        if key not in KNOWN_ANNOTATIONS and not key.startswith(_PREFIXED):
            report(f"annotation {prefix}{key} is not one the AWS Load Balancer Controller reads: it would be ignored "
                   "silently. See the controller's annotation list.")
    for key in ("listen-ports", *[k for k in ours if k.startswith("conditions.")]):
        value = ours.get(key)
        if isinstance(value, str) and not is_unknown(value) and value != "[secret]":
            try:
                json.loads(value)
            except ValueError:
                report(f"annotation {prefix}{key} is not valid JSON: the controller rejects the Ingress.")
    policy = ours.get("ssl-policy")
    if isinstance(policy, str) and not is_unknown(policy) and not _SSL_POLICY.fullmatch(policy):
        report(f"annotation {prefix}ssl-policy {policy!r} is not an ELB predefined security policy name.")
    if ours.get("security-groups") and ours.get("manage-backend-security-group-rules") != "true":
        report(f"annotation {prefix}security-groups replaces the controller's security group, so the targets admit "
               f"nothing from the ALB unless {prefix}manage-backend-security-group-rules is 'true'.")


POLICIES = policies_of(__name__)

"""The Edge component (CloudFront, WAF, certificates, Shield), rendered under the mock engine, asserted exactly."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest

import config
from components.edge import CACHING_DISABLED, CACHING_OPTIMIZED, Edge, EdgeConfig
from tests.helpers import DELETE, PROD_TAGS, render, stack_config, stack_raw, untagged, with_overrides

ACCOUNT = "333333333333"
NAME = "care-prod-edge"
ASSETS = f"care-prod-static-assets-{ACCOUNT}.s3.us-east-2.amazonaws.com"
ALB = "k8s-nlfhir-nlfhir-0123456789-42.us-east-2.elb.amazonaws.com"
EDGE_LOGS_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/edge-logs"
LOGS_KEY = f"arn:aws:kms:us-east-2:{ACCOUNT}:key/logs"


def _render(config: EdgeConfig, *, route: bool = True):  # type: ignore[no-untyped-def]
    published = {}

    def program() -> None:
        primary = aws.Provider("aws-primary", region="us-east-2", allowed_account_ids=[ACCOUNT])
        edge_provider = aws.Provider("aws-edge", region="us-east-1", allowed_account_ids=[ACCOUNT])
        edge = Edge(NAME, config, origins=["nlfhir", "prm-api"], static_assets_domain=ASSETS, vpc_id="vpc-1",
                    vpc_cidr="10.30.0.0/16", logs_kms_key_arn=LOGS_KEY, edge_logs_kms_key_arn=EDGE_LOGS_KEY,
                    log_retention_days=365, edge_provider=edge_provider, tags=PROD_TAGS,
                    opts=pulumi.ResourceOptions(provider=primary))
        published["edge"] = edge
        if route:
            edge.route_origins({"nlfhir": ALB})

    plan = render(program)
    return plan, published["edge"]


@pytest.fixture(scope="module")
def prod():  # type: ignore[no-untyped-def]
    return _render(stack_config("prod").edge)[0]


@pytest.fixture(scope="module")
def no_zone():  # type: ignore[no-untyped-def]
    config = stack_config("prod").edge.model_copy(update={"hosted_zone_id": None, "shield_advanced": False})
    return _render(config)[0]


def test_children_regions_and_tags(prod) -> None:  # type: ignore[no-untyped-def]
    edge = prod.of_type("care:edge:Edge")[0]
    children = [r for r in prod.resources if r.parent == edge.urn]
    at_edge = sorted(r.name for r in children if "aws-edge" in r.provider)
    assert at_edge == sorted([
        f"{NAME}-cdn", f"{NAME}-cdn-cert", f"{NAME}-cdn-cert-validation", f"{NAME}-cdn-log-delivery",
        f"{NAME}-cdn-log-destination", f"{NAME}-cdn-log-source", f"{NAME}-cdn-logs", f"{NAME}-cdn-waf",
        f"{NAME}-cdn-waf-logging", f"{NAME}-cdn-waf-logs", f"{NAME}-oac", f"{NAME}-security-headers",
        f"{NAME}-shield-cdn", f"{NAME}-shield-group", f"{NAME}-shield-subscription"])
    regional = sorted(r.name for r in children if "aws-primary" in r.provider)
    assert regional == sorted([
        f"{NAME}-alb-sg", f"{NAME}-alb-waf", f"{NAME}-alb-waf-logging", f"{NAME}-alb-waf-logs", f"{NAME}-alias-a",
        f"{NAME}-alias-aaaa", f"{NAME}-cdn-cert-validation-record", f"{NAME}-origin-cert",
        f"{NAME}-origin-cert-validation", f"{NAME}-origin-cert-validation-record", f"{NAME}-origin-nlfhir"])
    assert [r.name for r in children if r.type.startswith("random:")] == [f"{NAME}-origin-secret"]
    assert len(children) == len(at_edge) + len(regional) + 1
    assert untagged(prod, PROD_TAGS) == []


def test_certificates_dns_validated_in_the_right_regions(prod) -> None:  # type: ignore[no-untyped-def]
    cdn, origin = prod.named(f"{NAME}-cdn-cert"), prod.named(f"{NAME}-origin-cert")
    assert "aws-edge" in cdn.provider and "aws-primary" in origin.provider
    for cert, domain in ((cdn, "care.example"), (origin, "*.origin.care.example")):
        assert cert.inputs["domainName"] == domain
        assert cert.inputs["validationMethod"] == "DNS"
        assert cert.inputs["keyAlgorithm"] == "RSA_2048"
        assert cert.inputs["options"] == {"certificateTransparencyLoggingPreference": "ENABLED"}
    record = prod.named(f"{NAME}-cdn-cert-validation-record")
    validation = prod.named(f"{NAME}-cdn-cert-validation").inputs
    assert validation["validationRecordFqdns"] == [record.inputs["name"].rstrip(".")]
    assert record.inputs["zoneId"] == "Z0123456789ABCDEFGHIJ" and record.inputs["type"] == "CNAME"
    assert record.inputs["ttl"] == 300 and record.inputs["name"].endswith(".care.example.")
    assert record.inputs["records"][0].endswith(".acm-validations.aws.")


def test_distribution_tls_http3_ipv6_price_class_and_acl(prod) -> None:  # type: ignore[no-untyped-def]
    dist = prod.named(f"{NAME}-cdn").inputs
    acl = prod.named(f"{NAME}-cdn-waf")
    assert dist["webAclId"].startswith(f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/{NAME}-cdn-waf/")
    assert acl.inputs["scope"] == "CLOUDFRONT"
    assert dist["viewerCertificate"]["minimumProtocolVersion"] == "TLSv1.2_2021"
    assert dist["viewerCertificate"]["sslSupportMethod"] == "sni-only"
    assert dist["viewerCertificate"]["acmCertificateArn"].startswith(f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/")
    assert (dist["httpVersion"], dist["isIpv6Enabled"], dist["priceClass"]) == ("http2and3", True, "PriceClass_100")
    assert dist["aliases"] == ["care.example"] and dist["enabled"] is True
    assert dist["restrictions"] == {"geoRestriction": {"locations": [], "restrictionType": "none"}}
    assert dist["customErrorResponses"] == [{"errorCachingMinTtl": 0, "errorCode": c} for c in (500, 502, 503, 504)]
    assert "loggingConfig" not in dist  # logging v2: no bucket ACLs


def test_static_assets_through_oac_and_apis_uncached(prod) -> None:  # type: ignore[no-untyped-def]
    dist = prod.named(f"{NAME}-cdn").inputs
    oac = prod.named(f"{NAME}-oac").inputs
    assert oac == {"name": f"{NAME}-static-assets", "description": "SigV4 to the static-assets bucket",
                   "originAccessControlOriginType": "s3", "signingBehavior": "always", "signingProtocol": "sigv4"}
    assets = dist["origins"][0]
    assert assets["domainName"] == ASSETS and assets["originId"] == "static-assets"
    assert assets["originAccessControlId"] and "s3OriginConfig" not in assets
    for origin, app in zip(dist["origins"][1:], ("nlfhir", "prm-api"), strict=True):
        assert origin["domainName"] == f"{app}.origin.care.example" and origin["originId"] == app
        assert origin["customOriginConfig"] == {"httpPort": 80, "httpsPort": 443, "originProtocolPolicy": "https-only",
                                                "originSslProtocols": ["TLSv1.2"], "originReadTimeout": 30,
                                                "originKeepaliveTimeout": 5}
        assert [h["name"] for h in origin["customHeaders"]] == ["X-Origin-Verify"]
    default = dist["defaultCacheBehavior"]
    headers = default["responseHeadersPolicyId"]
    assert {k: v for k, v in default.items() if k != "responseHeadersPolicyId"} == {
        "targetOriginId": "static-assets", "viewerProtocolPolicy": "redirect-to-https",
        "allowedMethods": ["GET", "HEAD"], "cachedMethods": ["GET", "HEAD"], "cachePolicyId": CACHING_OPTIMIZED,
        "compress": True}
    assert [b["pathPattern"] for b in dist["orderedCacheBehaviors"]] == ["/nlfhir/*", "/prm-api/*"]
    for behavior in dist["orderedCacheBehaviors"]:
        assert behavior["cachePolicyId"] == CACHING_DISABLED
        assert behavior["originRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # AllViewerExceptHostHeader
        assert behavior["viewerProtocolPolicy"] == "redirect-to-https" and behavior["compress"] is True
        assert behavior["responseHeadersPolicyId"] == headers
        assert behavior["allowedMethods"] == ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]


def test_security_headers(prod) -> None:  # type: ignore[no-untyped-def]
    policy = prod.named(f"{NAME}-security-headers").inputs["securityHeadersConfig"]
    assert policy["strictTransportSecurity"] == {"accessControlMaxAgeSec": 63_072_000, "includeSubdomains": True,
                                                 "override": True}
    assert policy["contentTypeOptions"] == {"override": True}
    assert policy["frameOptions"] == {"frameOption": "DENY", "override": True}
    assert policy["referrerPolicy"] == {"referrerPolicy": "strict-origin-when-cross-origin", "override": True}
    assert policy["contentSecurityPolicy"]["contentSecurityPolicy"].startswith("default-src 'self'; ")


def test_waf_rules_logging_and_redaction(prod) -> None:  # type: ignore[no-untyped-def]
    for acl_name, scope, region, key in ((f"{NAME}-cdn-waf", "CLOUDFRONT", "us-east-1", EDGE_LOGS_KEY),
                                         (f"{NAME}-alb-waf", "REGIONAL", "us-east-2", LOGS_KEY)):
        acl = prod.named(acl_name).inputs
        assert acl["scope"] == scope and acl["defaultAction"] == {"allow": {}}
        assert [(r["name"], r["priority"]) for r in acl["rules"]] == [
            ("AWSManagedRulesAmazonIpReputationList", 0), ("AWSManagedRulesCommonRuleSet", 1),
            ("AWSManagedRulesKnownBadInputsRuleSet", 2), ("AWSManagedRulesSQLiRuleSet", 3), ("RatePerClientIp", 4)]
        for rule in acl["rules"][:4]:
            assert rule["overrideAction"] == {"none": {}}
            assert rule["statement"] == {"managedRuleGroupStatement": {"name": rule["name"], "vendorName": "AWS"}}
        rate = acl["rules"][4]
        assert rate["action"] == {"block": {}}
        assert rate["statement"] == {"rateBasedStatement": {"limit": 2000, "aggregateKeyType": "IP",
                                                            "evaluationWindowSec": 300}}
        assert all(r["visibilityConfig"] == {"cloudwatchMetricsEnabled": True, "metricName": f"{acl_name}-{r['name']}",
                                             "sampledRequestsEnabled": True} for r in acl["rules"])
        group = prod.named(f"{acl_name}-logs").inputs
        assert group["name"] == f"aws-waf-logs-{acl_name.removesuffix('-waf')}"
        assert (group["kmsKeyId"], group["retentionInDays"]) == (key, 365)
        logging = prod.named(f"{acl_name}-logging").inputs
        assert logging["logDestinationConfigs"] == [f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{group['name']}"]
        assert logging["redactedFields"] == [{"singleHeader": {"name": "authorization"}},
                                             {"singleHeader": {"name": "cookie"}}]


def test_anonymous_ip_list_is_opt_in_and_rate_limit_from_config() -> None:
    config = stack_config("prod").edge.model_copy(update={"anonymous_ip_list": True, "waf_rate_limit": 500,
                                                          "shield_advanced": False})
    plan, _ = _render(config, route=False)
    rules = plan.named(f"{NAME}-alb-waf").inputs["rules"]
    assert [r["name"] for r in rules][:2] == ["AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesAnonymousIpList"]
    assert rules[-1]["statement"]["rateBasedStatement"]["limit"] == 500


def test_alb_security_group_admits_only_cloudfront(prod) -> None:  # type: ignore[no-untyped-def]
    sg = prod.named(f"{NAME}-alb-sg").inputs
    assert sg["ingress"] == [{"protocol": "tcp", "fromPort": 443, "toPort": 443,
                              "prefixListIds": [sg["ingress"][0]["prefixListIds"][0]],
                              "description": "HTTPS from CloudFront (origin-facing prefix list)"}]
    assert sg["ingress"][0]["prefixListIds"][0].startswith("pl-")
    assert "cidrBlocks" not in sg["ingress"][0] and "ipv6CidrBlocks" not in sg["ingress"][0]
    assert sg["egress"] == [{"protocol": "tcp", "fromPort": 1024, "toPort": 65535, "cidrBlocks": ["10.30.0.0/16"],
                             "description": "To the app pods (target type ip) in the VPC"}]


def test_cloudfront_access_logs_v2_to_an_encrypted_group(prod) -> None:  # type: ignore[no-untyped-def]
    group = prod.named(f"{NAME}-cdn-logs").inputs
    assert (group["name"], group["kmsKeyId"], group["retentionInDays"]) == (
        f"/aws/cloudfront/{NAME}", EDGE_LOGS_KEY, 365)
    source = prod.named(f"{NAME}-cdn-log-source").inputs
    assert (source["name"], source["logType"]) == (f"{NAME}-cdn", "ACCESS_LOGS")
    assert source["resourceArn"].startswith(f"arn:aws:cloudfront::{ACCOUNT}:distribution/")
    destination = prod.named(f"{NAME}-cdn-log-destination").inputs
    assert destination["deliveryDestinationType"] == "CWL" and destination["outputFormat"] == "json"
    assert destination["deliveryDestinationConfiguration"] == {
        "destinationResourceArn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/cloudfront/{NAME}"}
    delivery = prod.named(f"{NAME}-cdn-log-delivery").inputs
    assert delivery["deliverySourceName"] == f"{NAME}-cdn"
    assert delivery["deliveryDestinationArn"] == (
        f"arn:aws:logs:us-east-1:{ACCOUNT}:delivery-destination:{NAME}-cdn-logs")


def test_route53_aliases_and_origin_records_with_a_zone(prod) -> None:  # type: ignore[no-untyped-def]
    for kind in ("a", "aaaa"):
        record = prod.named(f"{NAME}-alias-{kind}").inputs
        assert record["name"] == "care.example" and record["type"] == kind.upper()
        assert record["aliases"] == [{"name": record["aliases"][0]["name"], "zoneId": "Z2FDTNDATAQYW2",
                                      "evaluateTargetHealth": False}]
        assert record["aliases"][0]["name"].endswith(".cloudfront.net")
    origin = prod.named(f"{NAME}-origin-nlfhir").inputs
    assert origin == {"zoneId": "Z0123456789ABCDEFGHIJ", "name": "nlfhir.origin.care.example", "type": "CNAME",
                      "ttl": 300, "records": [ALB]}


def test_shield_advanced_protects_the_distribution_and_groups(prod) -> None:  # type: ignore[no-untyped-def]
    assert prod.named(f"{NAME}-shield-subscription").inputs == {"autoRenew": "ENABLED", "skipDestroy": True}
    protection = prod.named(f"{NAME}-shield-cdn").inputs
    assert protection["name"] == f"{NAME}-cdn"
    assert protection["resourceArn"].startswith(f"arn:aws:cloudfront::{ACCOUNT}:distribution/")
    group = prod.named(f"{NAME}-shield-group").inputs
    assert (group["protectionGroupId"], group["aggregation"], group["pattern"]) == (NAME, "MAX", "ALL")


def test_without_a_zone_no_records_and_no_shield(no_zone) -> None:  # type: ignore[no-untyped-def]
    assert no_zone.of_type("aws:route53/record:Record") == []
    assert [r for r in no_zone.resources if r.type.startswith("aws:shield/")] == []
    validation = no_zone.named(f"{NAME}-cdn-cert-validation")
    assert "validationRecordFqdns" not in validation.inputs


def test_geo_restriction_from_config() -> None:
    config = stack_config("prod", edge__geoRestriction={"type": "whitelist", "locations": ["US", "CA"]}).edge
    plan, _ = _render(config.model_copy(update={"shield_advanced": False}), route=False)
    assert plan.named(f"{NAME}-cdn").inputs["restrictions"] == {
        "geoRestriction": {"restrictionType": "whitelist", "locations": ["US", "CA"]}}


def test_publication_and_route_errors() -> None:
    config = stack_config("prod").edge.model_copy(update={"shield_advanced": False})
    _, edge = _render(config, route=False)
    publication = edge.publication("nlfhir")
    assert (publication.host, publication.shield_advanced) == ("nlfhir.origin.care.example", False)
    with pytest.raises(ValueError, match=r"^care-prod-edge: 'prm-worker' is not one of the edge's origins "
                                         r"\['nlfhir', 'prm-api'\]$"):
        edge.publication("prm-worker")
    with pytest.raises(ValueError, match=r"^care-prod-edge: the edge is disabled \(edge.enabled: false\) or has "
                                         r"no edge.domain$"):
        _render(EdgeConfig(enabled=False), route=False)


def test_the_origin_secret_is_a_secret_in_the_plan(prod) -> None:  # type: ignore[no-untyped-def]
    dist = json.loads(prod.to_json())
    cdn = next(r for r in dist["resources"] if r["name"] == f"{NAME}-cdn")
    assert cdn["inputs"]["origins"][1]["customHeaders"] == [{"name": "X-Origin-Verify", "value": "[secret]"}]


def _errors(stack: str = "prod", **overrides: object) -> list[str]:
    raw = with_overrides(stack_raw(stack), {k.replace("__", "."): v for k, v in overrides.items()})
    with pytest.raises(config.ConfigError) as info:
        config.validate(stack, raw)
    return info.value.lines


def test_config_errors_one_line_each() -> None:
    assert _errors(edge__domain="Care_Example", edge__wafRateLimit=5, edge__contentSecurityPolicy="  ",
                   edge__geoRestriction={"type": "whitelist", "locations": ["US", "XX", "uk"]}) == [
        "prod: edge.domain: 'Care_Example': must be a valid DNS name (lowercase labels of letters, digits and "
        "hyphens, like care.example.com)",
        "prod: edge.wafRateLimit: 5: must be between 10 and 2,000,000,000 requests per 5 minutes (WAF's "
        "RateBasedStatement limit)",
        "prod: edge.contentSecurityPolicy: '  ': must not be empty: give a Content-Security-Policy such as "
        "\"default-src 'self'\"",
        "prod: edge.geoRestriction.locations: [\"US\", \"XX\", \"uk\"]: unknown ISO 3166-1 alpha-2 country "
        "code(s) 'XX', 'uk' (CloudFront takes two uppercase letters, like US or DE)",
    ]
    assert _errors(edge__wafRateLimit=2_000_000_001)[0].startswith("prod: edge.wafRateLimit: 2000000001: must be")


def test_shield_advanced_needs_the_edge_and_enabled_needs_a_domain() -> None:
    assert _errors(edge__enabled=False) == [
        "prod: edge.shieldAdvanced: true: needs edge.enabled: true (there is no distribution or public ALB to protect)"]
    assert _errors("dev", edge__domain=DELETE) == [
        "dev: edge.domain: null: is required when edge.enabled is true (the certificates' name)"]


def test_dev_may_disable_the_edge() -> None:
    raw = with_overrides(stack_raw("dev"), {"edge.enabled": False, "edge.domain": DELETE})
    cfg = config.validate("dev", raw)
    assert (cfg.edge.enabled, cfg.edge.domain, cfg.edge.shield_advanced) == (False, None, False)
    assert cfg.apps.nlfhir.published and cfg.apps.prm_api.published and not cfg.apps.prm_worker.published

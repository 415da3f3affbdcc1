# ruff: noqa: E501  (the expected messages are asserted verbatim)
"""Deploy-stage rules of the edge: each rejected input with its exact message, and an accepted one."""

from __future__ import annotations

from tests.policies.deploy.support import check_stack
from tests.policies.support import ACCOUNT, PRIMARY, Res, U

CF, CERT = "aws:cloudfront/distribution:Distribution", "aws:acm/certificate:Certificate"
ACL, ACL_LOG = "aws:wafv2/webAcl:WebAcl", "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
GROUP, SOURCE = "aws:cloudwatch/logGroup:LogGroup", "aws:cloudwatch/logDeliverySource:LogDeliverySource"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
EDGE = "us-east-1"
ASSETS = f"care-prod-static-assets-{ACCOUNT}.s3.us-east-2.amazonaws.com"


def dist(cert: object = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/1", assets: str = ASSETS, **extra: object) -> Res:
    origins = [{"originId": "static-assets", "domainName": assets, "originAccessControlId": "E1OAC"},
               {"originId": "nlfhir", "domainName": "nlfhir.origin.care.example",
                "customOriginConfig": {"originProtocolPolicy": "https-only"}}]
    return Res(CF, "care-prod-edge-cdn", {"viewerCertificate": {"acmCertificateArn": cert}, "origins": origins},
               region=EDGE, **extra)  # type: ignore[arg-type]


def test_cloudfront_certificate_must_be_in_us_east_1() -> None:
    assert check_stack("cloudfront-certificate-us-east-1", [dist()]) == []
    wrong = [("viewerCertificate.acmCertificateArn is a certificate in us-east-2: CloudFront only uses ACM certificates requested in us-east-1. Request it with the edge provider (components/edge.py).", "care-prod-edge-cdn")]
    assert check_stack("cloudfront-certificate-us-east-1", [dist(f"arn:aws:acm:us-east-2:{ACCOUNT}:certificate/1")]) == wrong
    cert = Res(CERT, "care-prod-edge-cdn-cert", {"domainName": "care.example"}, region=PRIMARY)
    linked = dist(U, property_depends={"viewerCertificate": (cert,)})
    assert check_stack("cloudfront-certificate-us-east-1", [cert, linked]) == wrong
    cert.region = EDGE
    assert check_stack("cloudfront-certificate-us-east-1", [cert, linked]) == []


def test_cloudfront_scope_web_acls_only_in_us_east_1() -> None:
    acl = Res(ACL, "care-prod-edge-cdn-waf", {"scope": "CLOUDFRONT"}, region=PRIMARY)
    assert check_stack("waf-cloudfront-scope-us-east-1", [acl]) == [
        ("has scope CLOUDFRONT in us-east-2: WAF creates CloudFront web ACLs only in us-east-1. Create it with the edge provider (components/edge.py).", "care-prod-edge-cdn-waf")]
    acl.region = EDGE
    regional = Res(ACL, "care-prod-edge-alb-waf", {"scope": "REGIONAL"}, region=PRIMARY)
    assert check_stack("waf-cloudfront-scope-us-east-1", [acl, regional]) == []


def test_waf_logs_to_aws_waf_logs_groups_in_the_acl_region() -> None:
    acl = Res(ACL, "care-prod-edge-cdn-waf", {"scope": "CLOUDFRONT"}, region=EDGE)
    group = Res(GROUP, "care-prod-edge-cdn-waf-logs", {"name": "aws-waf-logs-care-prod-edge-cdn"}, region=EDGE)
    config = Res(ACL_LOG, "care-prod-edge-cdn-waf-logging", {"resourceArn": U, "logDestinationConfigs": [U]},
                 property_depends={"resourceArn": (acl,), "logDestinationConfigs": (group,)}, region=EDGE)
    assert check_stack("waf-log-destination", [acl, group, config]) == []
    group.props = {"name": "/care/waf"}
    group.region = PRIMARY
    assert check_stack("waf-log-destination", [acl, group, config]) == [
        ("logs to the log group '/care/waf': WAF delivers only to log groups whose name starts with 'aws-waf-logs-' (components/edge_waf.py).", "care-prod-edge-cdn-waf-logging"),
        ("logs the web ACL of us-east-1 to a log group in us-east-2: the log group must be in the web ACL's region (us-east-1 for CloudFront).", "care-prod-edge-cdn-waf-logging")]
    by_value = Res(ACL_LOG, "by-value", {"resourceArn": f"arn:aws:wafv2:us-east-2:{ACCOUNT}:regional/webacl/a/1",
                                         "logDestinationConfigs": [f"arn:aws:logs:us-east-2:{ACCOUNT}:log-group:waf"]})
    assert check_stack("waf-log-destination", [by_value]) == [
        ("logs to the log group 'waf': WAF delivers only to log groups whose name starts with 'aws-waf-logs-' (components/edge_waf.py).", "by-value")]


def test_oac_only_on_s3_rest_endpoints() -> None:
    assert check_stack("cloudfront-oac-s3-rest", [dist()]) == []
    website = "care-prod-static-assets.s3-website.us-east-2.amazonaws.com"
    assert check_stack("cloudfront-oac-s3-rest", [dist(assets=website)]) == [
        (f"origin static-assets: originAccessControlId on '{website}', which is not an S3 REST endpoint (<bucket>.s3.<region>.amazonaws.com): OAC signs S3 REST requests only (a website endpoint or custom origin cannot use it). Use the bucket's bucketRegionalDomainName.", "care-prod-edge-cdn")]


def test_cloudfront_log_delivery_in_us_east_1() -> None:
    cdn = dist()
    source = Res(SOURCE, "care-prod-edge-cdn-log-source", {"logType": "ACCESS_LOGS", "resourceArn": U},
                 property_depends={"resourceArn": (cdn,)}, region=PRIMARY)
    assert check_stack("cloudfront-log-delivery-us-east-1", [cdn, source]) == [
        ("is a CloudFront delivery source in us-east-2: CloudFront log delivery is configured in us-east-1 only. Create it with the edge provider (components/edge.py).", "care-prod-edge-cdn-log-source")]
    source.region = EDGE
    assert check_stack("cloudfront-log-delivery-us-east-1", [cdn, source]) == []


def ingress(**annotations: str) -> Res:
    base = {"scheme": "internet-facing", "listen-ports": '[{"HTTPS": 443}]',
            "ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06", "security-groups": "sg-1",
            "manage-backend-security-group-rules": "true", "conditions.nlfhir": "[secret]"}
    base.update(annotations)
    return Res(INGRESS, "care-prod-nlfhir-ingress", {"metadata": {"annotations": {
        f"alb.ingress.kubernetes.io/{k}": v for k, v in base.items()}}, "spec": {"ingressClassName": "alb"}})


def test_alb_annotations_known_to_the_controller_with_valid_values() -> None:
    assert check_stack("alb-ingress-annotations", [ingress()]) == []
    assert check_stack("alb-ingress-annotations", [ingress(**{
        "wafv2-acl": "arn", "listen-ports": "[{HTTPS: 443}]", "ssl-policy": "TLS13",
        "manage-backend-security-group-rules": "false"})]) == [
        ("annotation alb.ingress.kubernetes.io/wafv2-acl is not one the AWS Load Balancer Controller reads: it would be ignored silently. See the controller's annotation list.", "care-prod-nlfhir-ingress"),
        ("annotation alb.ingress.kubernetes.io/listen-ports is not valid JSON: the controller rejects the Ingress.", "care-prod-nlfhir-ingress"),
        ("annotation alb.ingress.kubernetes.io/ssl-policy 'TLS13' is not an ELB predefined security policy name.", "care-prod-nlfhir-ingress"),
        ("annotation alb.ingress.kubernetes.io/security-groups replaces the controller's security group, so the targets admit nothing from the ALB unless alb.ingress.kubernetes.io/manage-backend-security-group-rules is 'true'.", "care-prod-nlfhir-ingress")]

"""The edge: CloudFront in front of the static-assets bucket and the published APIs, WAF, Shield, certificates.

A request from the internet reaches a published API only as
viewer --TLS 1.2+--> CloudFront (+ WAF, CLOUDFRONT scope) --HTTPS, TLS 1.2, secret header--> the app's ALB
(+ WAF, REGIONAL; security group admitting only CloudFront's origin-facing prefix list) --> the pods.
Static assets come from S3 only through CloudFront (Origin Access Control, SigV4; the bucket policy
grants s3:GetObject to this distribution alone). Sources for every choice are cited where it is made.

Why the origins have names of their own (``<app>.origin.<domain>``): CloudFront checks an HTTPS
origin's certificate against the origin's domain name ("the domain name in the origin certificate must
match the domain name of the origin", https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-https-cloudfront-to-custom-origin.html);
the ALB's own ``*.elb.amazonaws.com`` name is on no certificate we can hold. So the regional
certificate is ``*.origin.<domain>``, the ALB's Ingress answers that host, and a CNAME points the name
at the ALB (``route_origins``, after the apps exist). That also lets the edge be built before the apps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.app_service.exposure import ORIGIN_VERIFY_HEADER, Publication
from components.common import child_opts, tags_for
from components.edge_config import EdgeConfig, GeoRestrictionConfig
from components.edge_waf import WafAcl

__all__ = ["Edge", "EdgeConfig", "GeoRestrictionConfig"]

cf = aws.cloudfront

#: AWS managed policies, by their documented IDs
#: (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html,
#: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-origin-request-policies.html).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"

#: CloudFront's origin-facing managed prefix list (one per region, same name everywhere).
#: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/LocationsOfEdgeServers.html
CLOUDFRONT_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"
#: The hosted zone of every CloudFront alias target (Route 53 AliasTarget.HostedZoneId).
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"
#: Viewers: TLS 1.2 with the 2021 cipher suites or newer
#: (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/secure-connections-supported-viewer-protocols-ciphers.html).
MINIMUM_PROTOCOL_VERSION = "TLSv1.2_2021"
HSTS_MAX_AGE_SECONDS = 63_072_000  # two years
#: 5xx answers are never cached (ErrorCachingMinTTL 0): a brief origin error must not outlive itself.
UNCACHED_ERRORS = (500, 502, 503, 504)
SHIELD_ADVANCED_COST = ("AWS Shield Advanced costs USD 3,000 a month per organization with a one-year "
                        "commitment, plus data transfer out usage fees")
STATIC_ORIGIN = "static-assets"


class Edge(pulumi.ComponentResource):
    """Certificates, WAF, the CloudFront distribution, the ALBs' security group, logs and Shield for one stack.

    Regional children (the ALBs' certificate, security group and web ACL, Route 53 records) use the
    provider in ``opts`` (the primary region); CloudFront's certificate and web ACL, its logs and the
    Shield resources use ``edge_provider`` (us-east-1, where CloudFront requires them).
    ``origins`` names the published apps (their ``app_name``): each is reached at ``/<app>/*``.
    """

    distribution: cf.Distribution
    regional_acl_arn: pulumi.Output[str]
    cloudfront_acl_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        config: EdgeConfig,
        *,
        origins: Sequence[str],
        static_assets_domain: pulumi.Input[str],
        vpc_id: pulumi.Input[str],
        vpc_cidr: str,
        logs_kms_key_arn: pulumi.Input[str],
        edge_logs_kms_key_arn: pulumi.Input[str],
        log_retention_days: int,
        edge_provider: pulumi.ProviderResource,
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("care:edge:Edge", name, None, opts)
        if not config.enabled or config.domain is None:
            raise ValueError(f"{name}: the edge is disabled (edge.enabled: false) or has no edge.domain")
        self.config, self.domain, self.origins = config, config.domain, tuple(origins)
        self._tags, self._name = tags, name
        regional, at_edge = child_opts(self), child_opts(self, provider=edge_provider)
        self._regional, self._at_edge = regional, at_edge

        self.origin_secret = random.RandomPassword(f"{name}-origin-secret", length=48, special=False,
                                                   opts=child_opts(self))
        # Secret in state and in every input it reaches (the CloudFront header, the ALB rule condition).
        self._origin_secret: pulumi.Output[str] = self.origin_secret.result.apply(pulumi.Output.secret)
        self.cdn_certificate, self.cdn_validation = self._certificate(f"{name}-cdn-cert", self.domain, at_edge)
        self.origin_certificate, self.origin_validation = self._certificate(
            f"{name}-origin-cert", f"*.origin.{self.domain}", regional)

        waf_settings: dict[str, Any] = {"rate_limit": config.waf_rate_limit,
                                        "anonymous_ip_list": config.anonymous_ip_list,
                                        "log_retention_days": log_retention_days, "tags": tags}
        self.cdn_waf = WafAcl(f"{name}-cdn-waf", "CLOUDFRONT", log_group_name=f"aws-waf-logs-{name}-cdn",
                              kms_key_arn=edge_logs_kms_key_arn, opts=at_edge, **waf_settings)
        self.alb_waf = WafAcl(f"{name}-alb-waf", "REGIONAL", log_group_name=f"aws-waf-logs-{name}-alb",
                              kms_key_arn=logs_kms_key_arn, opts=regional, **waf_settings)
        self.cloudfront_acl_arn, self.regional_acl_arn = self.cdn_waf.arn, self.alb_waf.arn
        self.alb_security_group = self._alb_security_group(vpc_id, vpc_cidr)

        self.distribution = self._distribution(static_assets_domain)
        self._access_logs(edge_logs_kms_key_arn, log_retention_days)
        self.records: list[aws.route53.Record] = self._alias_records()
        self._shield()

        self.urls = {app: f"https://{self.domain}/{app}/" for app in self.origins}
        self.urls["staticAssets"] = f"https://{self.domain}/"
        self.dns_records: pulumi.Output[list[dict[str, str]]] | None = None
        if config.hosted_zone_id is None:
            pulumi.log.warn(f"edge.hostedZoneId is not set: create the DNS records of the stack output "
                            f"'edge.dnsRecords' yourself (the ACM validation CNAMEs first: `pulumi up` waits up to "
                            f"75 minutes for the certificates of {self.domain} and *.origin.{self.domain} to be "
                            "issued; see README, 'Edge: DNS validation')", resource=self)
            self.dns_records = self._validation_records()
        self.register_outputs({
            "distributionId": self.distribution.id, "distributionDomain": self.distribution.domain_name,
            "cloudfrontAclArn": self.cloudfront_acl_arn, "regionalAclArn": self.regional_acl_arn,
        })

    # -- certificates ------------------------------------------------------------------------------
    def _certificate(self, name: str, domain: str,
                     opts: pulumi.ResourceOptions) -> tuple[aws.acm.Certificate, aws.acm.CertificateValidation]:
        """An ACM certificate validated by DNS (never email), and its validation (which waits for issuance)."""
        cert = aws.acm.Certificate(
            name,
            aws.acm.CertificateArgs(
                domain_name=domain, validation_method="DNS", key_algorithm="RSA_2048",
                options=aws.acm.CertificateOptionsArgs(certificate_transparency_logging_preference="ENABLED"),
                tags=tags_for(self._tags, domain),
            ),
            opts,
        )
        fqdns: list[pulumi.Input[str]] = []
        if self.config.hosted_zone_id is not None:
            option = cert.domain_validation_options.apply(lambda options: options[0])
            record = aws.route53.Record(
                f"{name}-validation-record",
                aws.route53.RecordArgs(zone_id=self.config.hosted_zone_id, name=option.resource_record_name,
                                       type=option.resource_record_type, records=[option.resource_record_value],
                                       ttl=300, allow_overwrite=True),
                self._regional,
            )
            fqdns.append(record.fqdn)
        return cert, aws.acm.CertificateValidation(
            f"{name}-validation",
            aws.acm.CertificateValidationArgs(certificate_arn=cert.arn, validation_record_fqdns=fqdns or None),
            opts,
        )

    def _validation_records(self) -> pulumi.Output[list[dict[str, str]]]:
        def field(option: Any, snake: str, camel: str) -> str:
            # Output.all hands nested output types over as plain dicts (keys as the provider sends them).
            if isinstance(option, dict):
                return str(option.get(snake, option.get(camel)))
            return str(getattr(option, snake))

        def records(*options: Any) -> list[dict[str, str]]:
            return [{"name": field(o, "resource_record_name", "resourceRecordName"),
                     "type": field(o, "resource_record_type", "resourceRecordType"),
                     "value": field(o, "resource_record_value", "resourceRecordValue")}
                    for group in options for o in group]

        certificates = (self.cdn_certificate, self.origin_certificate)
        return pulumi.Output.all(*[c.domain_validation_options for c in certificates]).apply(lambda o: records(*o))

    # -- the ALBs' security group ------------------------------------------------------------------
    def _alb_security_group(self, vpc_id: pulumi.Input[str], vpc_cidr: str) -> aws.ec2.SecurityGroup:
        """HTTPS only from CloudFront's origin-facing prefix list; out only to the pods in the VPC.

        The prefix list counts as its weight (55 entries) against the rules-per-group quota (60), so the
        group holds that one inbound rule (https://docs.aws.amazon.com/vpc/latest/userguide/working-with-aws-managed-prefix-lists.html).
        """
        prefix_list = aws.ec2.get_managed_prefix_list_output(
            name=CLOUDFRONT_PREFIX_LIST, opts=pulumi.InvokeOutputOptions(parent=self))
        name = f"{self._name}-alb-sg"
        return aws.ec2.SecurityGroup(
            name,
            aws.ec2.SecurityGroupArgs(
                vpc_id=vpc_id, description="Published ALBs: HTTPS from CloudFront origin-facing only",
                ingress=[aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=443, to_port=443, prefix_list_ids=[prefix_list.id],
                    description="HTTPS from CloudFront (origin-facing prefix list)")],
                egress=[aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp", from_port=1024, to_port=65535, cidr_blocks=[vpc_cidr],
                    description="To the app pods (target type ip) in the VPC")],
                tags=tags_for(self._tags, name),
            ),
            self._regional,
        )

    # -- CloudFront --------------------------------------------------------------------------------
    def _distribution(self, static_assets_domain: pulumi.Input[str]) -> cf.Distribution:
        name, config = self._name, self.config
        self.origin_access_control = cf.OriginAccessControl(
            f"{name}-oac",
            cf.OriginAccessControlArgs(name=f"{name}-static-assets", description="SigV4 to the static-assets bucket",
                                       origin_access_control_origin_type="s3", signing_behavior="always",
                                       signing_protocol="sigv4"),
            self._at_edge,
        )
        self.response_headers_policy = cf.ResponseHeadersPolicy(
            f"{name}-security-headers",
            cf.ResponseHeadersPolicyArgs(
                name=f"{name}-security-headers", comment="HSTS, nosniff, frame DENY, strict referrer, CSP",
                security_headers_config=cf.ResponseHeadersPolicySecurityHeadersConfigArgs(
                    strict_transport_security=cf.ResponseHeadersPolicySecurityHeadersConfigStrictTransportSecurityArgs(
                        access_control_max_age_sec=HSTS_MAX_AGE_SECONDS, include_subdomains=True, override=True),
                    content_type_options=cf.ResponseHeadersPolicySecurityHeadersConfigContentTypeOptionsArgs(
                        override=True),
                    frame_options=cf.ResponseHeadersPolicySecurityHeadersConfigFrameOptionsArgs(
                        frame_option="DENY", override=True),
                    referrer_policy=cf.ResponseHeadersPolicySecurityHeadersConfigReferrerPolicyArgs(
                        referrer_policy="strict-origin-when-cross-origin", override=True),
                    content_security_policy=cf.ResponseHeadersPolicySecurityHeadersConfigContentSecurityPolicyArgs(
                        content_security_policy=config.content_security_policy, override=True),
                ),
            ),
            self._at_edge,
        )
        headers = self.response_headers_policy.id
        origins = [cf.DistributionOriginArgs(domain_name=static_assets_domain, origin_id=STATIC_ORIGIN,
                                             origin_access_control_id=self.origin_access_control.id)]
        origins += [cf.DistributionOriginArgs(
            domain_name=f"{app}.origin.{self.domain}", origin_id=app,
            custom_origin_config=cf.DistributionOriginCustomOriginConfigArgs(
                http_port=80, https_port=443, origin_protocol_policy="https-only", origin_ssl_protocols=["TLSv1.2"],
                origin_read_timeout=30, origin_keepalive_timeout=5),
            custom_headers=[cf.DistributionOriginCustomHeaderArgs(name=ORIGIN_VERIFY_HEADER,
                                                                  value=self._origin_secret)],
        ) for app in self.origins]
        apis = [cf.DistributionOrderedCacheBehaviorArgs(
            path_pattern=f"/{app}/*", target_origin_id=app, viewer_protocol_policy="redirect-to-https",
            allowed_methods=["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
            cached_methods=["GET", "HEAD"], cache_policy_id=CACHING_DISABLED,
            origin_request_policy_id=ALL_VIEWER_EXCEPT_HOST_HEADER, response_headers_policy_id=headers,
            compress=True,
        ) for app in self.origins]
        geo = config.geo_restriction
        return cf.Distribution(
            f"{name}-cdn",
            cf.DistributionArgs(
                enabled=True, comment=f"{name}: static assets and published APIs", aliases=[self.domain],
                default_root_object="index.html", http_version="http2and3", is_ipv6_enabled=True,
                price_class=config.price_class, web_acl_id=self.cloudfront_acl_arn, origins=origins,
                default_cache_behavior=cf.DistributionDefaultCacheBehaviorArgs(
                    target_origin_id=STATIC_ORIGIN, viewer_protocol_policy="redirect-to-https",
                    allowed_methods=["GET", "HEAD"], cached_methods=["GET", "HEAD"],
                    cache_policy_id=CACHING_OPTIMIZED, response_headers_policy_id=headers, compress=True),
                ordered_cache_behaviors=apis,
                custom_error_responses=[cf.DistributionCustomErrorResponseArgs(
                    error_code=code, error_caching_min_ttl=0) for code in UNCACHED_ERRORS],
                restrictions=cf.DistributionRestrictionsArgs(geo_restriction=cf.DistributionRestrictionsGeoRestrictionArgs(
                    restriction_type=geo.type if geo else "none", locations=list(geo.locations) if geo else [])),
                viewer_certificate=cf.DistributionViewerCertificateArgs(
                    acm_certificate_arn=self.cdn_validation.certificate_arn, ssl_support_method="sni-only",
                    minimum_protocol_version=MINIMUM_PROTOCOL_VERSION),
                tags=tags_for(self._tags, f"{name}-cdn"),
            ),
            self._at_edge,
        )

    def _access_logs(self, kms_key_arn: pulumi.Input[str], retention_days: int) -> None:
        """CloudFront standard logging v2 to an encrypted log group in us-east-1: no bucket ACLs needed.

        The legacy logging (loggingConfig) writes to S3 through the bucket ACL, which BucketOwnerEnforced
        disables; v2 delivers through CloudWatch Logs vended-log delivery, whose CloudFront source must be
        in us-east-1 (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging.html).
        """
        name = self._name
        group_name = f"/aws/cloudfront/{name}"
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-cdn-logs",
            aws.cloudwatch.LogGroupArgs(name=group_name, retention_in_days=retention_days, kms_key_id=kms_key_arn,
                                        tags=tags_for(self._tags, group_name)),
            self._at_edge,
        )
        self.log_source = aws.cloudwatch.LogDeliverySource(
            f"{name}-cdn-log-source",
            aws.cloudwatch.LogDeliverySourceArgs(name=f"{name}-cdn", log_type="ACCESS_LOGS",
                                                 resource_arn=self.distribution.arn,
                                                 tags=tags_for(self._tags, f"{name}-cdn")),
            self._at_edge,
        )
        self.log_destination = aws.cloudwatch.LogDeliveryDestination(
            f"{name}-cdn-log-destination",
            aws.cloudwatch.LogDeliveryDestinationArgs(
                name=f"{name}-cdn-logs", delivery_destination_type="CWL", output_format="json",
                delivery_destination_configuration=(
                    aws.cloudwatch.LogDeliveryDestinationDeliveryDestinationConfigurationArgs(
                        destination_resource_arn=self.log_group.arn)),
                tags=tags_for(self._tags, f"{name}-cdn-logs")),
            self._at_edge,
        )
        self.log_delivery = aws.cloudwatch.LogDelivery(
            f"{name}-cdn-log-delivery",
            aws.cloudwatch.LogDeliveryArgs(delivery_source_name=self.log_source.name,
                                           delivery_destination_arn=self.log_destination.arn,
                                           tags=tags_for(self._tags, f"{name}-cdn-log-delivery")),
            self._at_edge,
        )

    # -- DNS ---------------------------------------------------------------------------------------
    def _alias_records(self) -> list[aws.route53.Record]:
        """``<domain>`` A and AAAA aliases to the distribution (only with edge.hostedZoneId)."""
        zone = self.config.hosted_zone_id
        if zone is None:
            return []
        return [aws.route53.Record(
            f"{self._name}-alias-{kind.lower()}",
            aws.route53.RecordArgs(zone_id=zone, name=self.domain, type=kind, aliases=[aws.route53.RecordAliasArgs(
                name=self.distribution.domain_name, zone_id=CLOUDFRONT_ZONE_ID, evaluate_target_health=False)]),
            self._regional,
        ) for kind in ("A", "AAAA")]

    def route_origins(self, hostnames: Mapping[str, pulumi.Input[str]]) -> pulumi.Output[list[dict[str, str]]]:
        """Point ``<app>.origin.<domain>`` at each published app's ALB (its Ingress's hostname).

        With edge.hostedZoneId, CNAME records are created; either way the records are returned so the
        stack can export the ones to create by hand.
        """
        unknown = sorted(set(hostnames) - set(self.origins))
        if unknown:
            raise ValueError(f"{self._name}: no origin for {', '.join(unknown)}; the origins are {list(self.origins)}")
        for app, target in sorted(hostnames.items()):
            if self.config.hosted_zone_id is not None:
                self.records.append(aws.route53.Record(
                    f"{self._name}-origin-{app}",
                    aws.route53.RecordArgs(zone_id=self.config.hosted_zone_id, name=f"{app}.origin.{self.domain}",
                                           type="CNAME", ttl=300, records=[target]),
                    self._regional,
                ))
        return pulumi.Output.all(*[hostnames[app] for app in sorted(hostnames)]).apply(lambda targets: [
            {"name": f"{app}.origin.{self.domain}", "type": "CNAME", "value": target}
            for app, target in zip(sorted(hostnames), targets, strict=True)])

    # -- Shield ------------------------------------------------------------------------------------
    def _shield(self) -> None:
        """Shield Standard is always on; Advanced (opt-in) protects the distribution, the ALBs and a group.

        The ALBs are created by the Load Balancer Controller, which protects them itself
        (``shield-advanced-protection`` on the Ingress, see ``publication``).
        """
        self.shield_protection: aws.shield.Protection | None = None
        if not self.config.shield_advanced:
            return
        pulumi.log.warn(f"edge.shieldAdvanced is on: {SHIELD_ADVANCED_COST}.", resource=self)
        subscription = aws.shield.Subscription(
            f"{self._name}-shield-subscription", aws.shield.SubscriptionArgs(auto_renew="ENABLED", skip_destroy=True),
            pulumi.ResourceOptions.merge(self._at_edge, pulumi.ResourceOptions(retain_on_delete=True)))
        self.shield_protection = aws.shield.Protection(
            f"{self._name}-shield-cdn",
            aws.shield.ProtectionArgs(name=f"{self._name}-cdn", resource_arn=self.distribution.arn,
                                      tags=tags_for(self._tags, f"{self._name}-cdn")),
            pulumi.ResourceOptions.merge(self._at_edge, pulumi.ResourceOptions(depends_on=[subscription])))
        aws.shield.ProtectionGroup(
            f"{self._name}-shield-group",
            # MAX: "useful for resources that don't share traffic ... CloudFront distributions and origin
            # resources for CloudFront distributions" (https://docs.aws.amazon.com/waf/latest/developerguide/manage-protection-group.html).
            aws.shield.ProtectionGroupArgs(protection_group_id=self._name, aggregation="MAX", pattern="ALL",
                                           tags=tags_for(self._tags, self._name)),
            pulumi.ResourceOptions.merge(self._at_edge, pulumi.ResourceOptions(depends_on=[self.shield_protection])))

    # -- what the apps get -------------------------------------------------------------------------
    def publication(self, app: str) -> Publication:
        """The Ingress settings of a published app: origin host, regional certificate and ACL, the ALB group."""
        if app not in self.origins:
            raise ValueError(f"{self._name}: {app!r} is not one of the edge's origins {list(self.origins)}")
        return Publication(host=f"{app}.origin.{self.domain}",
                           certificate_arn=self.origin_validation.certificate_arn,
                           waf_acl_arn=self.regional_acl_arn, security_group_id=self.alb_security_group.id,
                           origin_secret=self._origin_secret, shield_advanced=self.config.shield_advanced)

"""The edge's configuration (``edge`` in the stack file): CloudFront, WAF, Shield and the HTTPS ingress."""

from __future__ import annotations

import re
from typing import Literal

import pycountry
from pydantic import Field, field_validator, model_validator

from components.common import ConfigModel
from components.problems import ProblemCollector

#: A fully qualified DNS name (lowercase labels, at least two, a letter TLD; 253 characters at most).
DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")

#: AWS WAF RateBasedStatement.Limit: "Valid Range: Minimum value of 10. Maximum value of 2000000000."
#: https://docs.aws.amazon.com/waf/latest/APIReference/API_RateBasedStatement.html
WAF_RATE_LIMIT_MIN, WAF_RATE_LIMIT_MAX = 10, 2_000_000_000

#: The Content-Security-Policy CloudFront adds to every response unless config gives another one.
DEFAULT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
               "object-src 'none'; upgrade-insecure-requests")


class GeoRestrictionConfig(ConfigModel):
    """CloudFront geo restriction: serve only (``whitelist``) or never (``blacklist``) these ISO 3166-1 countries."""

    type: Literal["whitelist", "blacklist"]
    locations: tuple[str, ...] = Field(min_length=1)

    @field_validator("locations")
    @classmethod
    def _iso_countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [code for code in value if not re.fullmatch(r"[A-Z]{2}", code)
                   or pycountry.countries.get(alpha_2=code) is None]
        if unknown:
            raise ValueError(f"unknown ISO 3166-1 alpha-2 country code(s) {', '.join(map(repr, unknown))} "
                             "(CloudFront takes two uppercase letters, like US or DE)")
        return value


class EdgeConfig(ConfigModel):
    """CloudFront in front of the static-assets bucket and the published APIs, WAF on both, optional Shield Advanced.

    ``enabled: false`` (dev may) creates no edge at all: then no ALB is internet-facing and the published
    apps have no Ingress.
    """

    enabled: bool = True
    #: The stack's public name: CloudFront serves https://<domain>/ (assets) and /<app>/ (published APIs);
    #: the ALBs answer as <app>.origin.<domain> (the regional certificate's *.origin.<domain>).
    domain: str | None = None
    #: Route 53 public hosted zone of ``domain``: when set, the certificate validation records, the alias
    #: records and the origin records are created; when not, they are exported for you to create.
    hosted_zone_id: str | None = Field(default=None, pattern=r"^Z[A-Z0-9]{1,31}$")
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = "PriceClass_100"
    #: Requests per client IP per 5-minute window before WAF blocks that IP.
    waf_rate_limit: int = 2000
    #: AWS's Anonymous IP list (VPNs, Tor, hosting providers): off by default (clinicians use VPNs).
    anonymous_ip_list: bool = False
    content_security_policy: str = DEFAULT_CSP
    geo_restriction: GeoRestrictionConfig | None = None
    #: USD 3,000 a month per organization, one-year commitment, plus data transfer: an explicit opt-in.
    shield_advanced: bool = False

    @field_validator("domain")
    @classmethod
    def _dns_name(cls, value: str | None) -> str | None:
        if value is not None and not DNS_NAME.fullmatch(value):
            raise ValueError("must be a valid DNS name (lowercase labels of letters, digits and hyphens, "
                             "like care.example.com)")
        return value

    @field_validator("waf_rate_limit")
    @classmethod
    def _rate_limit(cls, value: int) -> int:
        if not WAF_RATE_LIMIT_MIN <= value <= WAF_RATE_LIMIT_MAX:
            raise ValueError(f"must be between {WAF_RATE_LIMIT_MIN} and {WAF_RATE_LIMIT_MAX:,} requests per "
                             "5 minutes (WAF's RateBasedStatement limit)")
        return value

    @field_validator("content_security_policy")
    @classmethod
    def _csp(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty: give a Content-Security-Policy such as \"default-src 'self'\"")
        return value

    @model_validator(mode="after")
    def _enabled_needs(self) -> EdgeConfig:
        problems = ProblemCollector()
        if self.enabled and self.domain is None:
            problems.add("domain", None, "is required when edge.enabled is true (the certificates' name)")
        if self.shield_advanced and not self.enabled:
            problems.add("shieldAdvanced", True, "needs edge.enabled: true (there is no distribution or public ALB "
                                                 "to protect)")
        problems.raise_if_any()
        return self

"""The edge tier: CloudFront, WAF, Shield and the certificates in front of the published apps.

Built before the data tier and the apps: the static-assets bucket's policy names the distribution, and
each published app's Ingress takes the regional certificate, web ACL, ALB security group and origin
secret from it (``publication``). After the apps, ``publish`` points each origin name at its ALB and
exports what a user needs. With ``edge.enabled: false`` there is no edge and no published Ingress.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components.app_service import AppConfig
from components.app_service.exposure import Publication
from components.edge import Edge
from components.network import Network
from components.storage import Storage
from config import StackConfig
from tiers.context import Providers, Stack
from tiers.security import Keys


def app_configs(cfg: StackConfig) -> dict[str, AppConfig]:
    """Every app's config by its ``app_name`` (the name of its Kubernetes objects)."""
    return {"nlfhir": cfg.apps.nlfhir, "prm-api": cfg.apps.prm_api, "prm-worker": cfg.apps.prm_worker}


@dataclass(frozen=True)
class EdgeTier:
    edge: Edge | None

    def publication(self, app_name: str, config: AppConfig) -> Publication | None:
        """A published app's Ingress settings; None for an unpublished app or with the edge disabled."""
        return self.edge.publication(app_name) if self.edge is not None and config.published else None

    @property
    def distribution_arn(self) -> pulumi.Output[str] | None:
        return self.edge.distribution.arn if self.edge is not None else None


def edge_tier(stack: Stack, providers: Providers, keys: Keys, network: Network) -> EdgeTier:
    cfg = stack.cfg
    if not cfg.edge.enabled:
        return EdgeTier(None)
    bucket = Storage.bucket_name_for(stack.prefix, "static-assets", stack.account_id)
    return EdgeTier(Edge(
        f"{stack.prefix}-edge", cfg.edge,
        origins=[name for name, app in app_configs(cfg).items() if app.published],
        static_assets_domain=f"{bucket}.s3.{stack.region}.amazonaws.com",  # the bucket's regional domain name
        vpc_id=network.vpc_id, vpc_cidr=str(cfg.network.vpc_cidr),
        logs_kms_key_arn=keys.arn("logs"), edge_logs_kms_key_arn=keys.edge_arn("logs"),
        log_retention_days=cfg.observability.log_retention_days, edge_provider=providers.edge,
        tags=stack.tags, opts=providers.in_primary,
    ))


def _alb_hostname(status: object) -> str:
    """The ALB's DNS name from an Ingress status (the provider waits for it during `pulumi up`)."""
    ingress = getattr(getattr(status, "load_balancer", None), "ingress", None) or []
    hostname = getattr(ingress[0], "hostname", None) if ingress else None
    return hostname or "(the ALB's DNS name, once the Load Balancer Controller created it)"


def publish(edge: EdgeTier, ingresses: Mapping[str, pulumi.Output[object] | None]) -> None:
    """Point the origin names at the ALBs (``ingresses``: app name -> Ingress status) and export the edge."""
    if edge.edge is None:
        pulumi.export("edge", {"enabled": False})
        return
    e = edge.edge
    hostnames = {app: status.apply(_alb_hostname) for app, status in ingresses.items() if status is not None}
    origin_records = e.route_origins(hostnames)
    records = (pulumi.Output.all(e.dns_records, origin_records).apply(lambda r: [*r[0], *r[1]])
               if e.dns_records is not None else None)
    pulumi.export("edge", {
        "enabled": True, "distributionId": e.distribution.id, "distributionDomain": e.distribution.domain_name,
        "urls": e.urls, "cloudfrontAclArn": e.cloudfront_acl_arn, "regionalAclArn": e.regional_acl_arn,
        "dnsRecords": records,  # null when edge.hostedZoneId is set: the records are created in Route 53
    })

"""KMS: one customer-managed key per data domain in the primary region, and DR-region keys for copies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.encryption import EDGE_DOMAINS, PRIMARY_DOMAINS, Domain, KeyRing
from tiers.context import Providers, Stack


@dataclass(frozen=True)
class Keys:
    primary: KeyRing
    dr: KeyRing
    edge: KeyRing

    def arn(self, domain: Domain) -> pulumi.Output[str]:
        """The primary region's key of one data domain."""
        return self.primary.arn(domain)

    def dr_arn(self, domain: Domain) -> pulumi.Output[str]:
        """The DR region's key of one data domain."""
        return self.dr.arn(domain)

    def edge_arn(self, domain: Domain) -> pulumi.Output[str]:
        """The edge region's (us-east-1) key of one domain: logs or alerts."""
        return self.edge.arn(domain)


def key_rings(stack: Stack, providers: Providers) -> Keys:
    cfg = stack.cfg

    def ring(name: str, domains: Sequence[Domain], region: str, provider: aws.Provider) -> KeyRing:
        return KeyRing(name, cfg.encryption, domains=domains, region=region, account_id=stack.account_id,
                       alias_prefix=f"care-platform/{cfg.environment.name}", protect=cfg.protection.protect,
                       tags=stack.tags, opts=pulumi.ResourceOptions(provider=provider))

    return Keys(primary=ring(f"{stack.prefix}-kms", PRIMARY_DOMAINS, cfg.regions.primary, providers.primary),
                dr=ring(f"{stack.prefix}-dr-kms", cfg.encryption.dr_domains, cfg.regions.dr, providers.dr),
                edge=ring(f"{stack.prefix}-edge-kms", EDGE_DOMAINS, cfg.regions.edge, providers.edge))

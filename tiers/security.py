"""KMS: one customer-managed key per data domain in the primary region, and DR-region keys for copies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.eks.iam import EBS_CSI, irsa_role_arn_pattern
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
    """The deployer alone may PutKeyPolicy; the EBS CSI driver's role (components/eks/cluster.py) is exempt from
    the EBS key's deny of direct use, by the pattern of its name: the key exists before the role (no cycle)."""
    cfg = stack.cfg
    csi_role = irsa_role_arn_pattern(stack.account_id, stack.cluster_name, EBS_CSI)

    def ring(name: str, domains: Sequence[Domain], region: str, provider: aws.Provider) -> KeyRing:
        return KeyRing(name, cfg.encryption, domains=domains, region=region, account_id=stack.account_id,
                       alias_prefix=f"care-platform/{cfg.environment.name}",
                       policy_admin_arns=[cfg.eks.deployer_role_arn], direct_callers={"ebs": [csi_role]},
                       protect=cfg.protection.protect, tags=stack.tags, opts=pulumi.ResourceOptions(provider=provider))

    return Keys(primary=ring(f"{stack.prefix}-kms", PRIMARY_DOMAINS, cfg.regions.primary, providers.primary),
                dr=ring(f"{stack.prefix}-dr-kms", cfg.encryption.dr_domains, cfg.regions.dr, providers.dr),
                edge=ring(f"{stack.prefix}-edge-kms", EDGE_DOMAINS, cfg.regions.edge, providers.edge))

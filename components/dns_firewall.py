"""Route 53 Resolver DNS Firewall on the VPC: resolve the allow-listed domains, block every other name.

Names leave the cluster through the VPC resolver (CoreDNS forwards everything outside cluster.local to it),
so a pod that could still reach the internet through NAT cannot resolve a destination that is not on the
list. Two rules in one rule group: ALLOW the configured domains (priority 100), then BLOCK ``*`` with NODATA
(priority 200); the VPC association is mutation-protected and the VPC's firewall fails closed
(``firewall_fail_open = DISABLED``). https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resolver-dns-firewall.html
(rule actions, ``*`` wildcard domain lists; association priority between 100 and 9900, exclusive).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws
from pydantic import field_validator

from components.common import ConfigModel, child_opts, tags_for

_DOMAIN = re.compile(r"^(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\.?$")

#: What every cluster resolves: AWS APIs and endpoints, EC2 internal host names, the image registries the
#: add-on charts pull from (EKS add-ons from ECR, Istio from docker.io, registry.k8s.io redirects to pkg.dev).
BASE_DOMAINS: tuple[str, ...] = (
    "amazonaws.com", "*.amazonaws.com", "*.compute.internal", "*.amazonaws.com.cn",
    "public.ecr.aws", "*.public.ecr.aws", "registry.k8s.io", "*.pkg.dev", "quay.io", "*.quay.io",
    "docker.io", "*.docker.io", "ghcr.io", "*.githubusercontent.com",
)


class DnsFirewallConfig(ConfigModel):
    """``network.dnsFirewall``: off is allowed (dev); the pack makes it mandatory in staging and prod."""

    enabled: bool = True
    #: Domains the workloads may resolve besides BASE_DOMAINS (``*.`` for every subdomain).
    allowed_domains: tuple[str, ...] = ()

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [d for d in value if not _DOMAIN.match(d)]
        if bad:
            raise ValueError(f"not domain names (a name like api.example.com, or *.example.com): {bad}")
        return value

    @property
    def domains(self) -> list[str]:
        return sorted(set(BASE_DOMAINS) | set(self.allowed_domains))


ASSOCIATION_PRIORITY = 500


class DnsFirewall(pulumi.ComponentResource):
    """The allow-list, the block-all rule, their rule group and its association with the VPC."""

    def __init__(self, name: str, config: DnsFirewallConfig, *, vpc_id: pulumi.Input[str], tags: Mapping[str, str],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("care:network:DnsFirewall", name, None, opts)
        child = child_opts(self)
        allowed = aws.route53.ResolverFirewallDomainList(
            f"{name}-allowed", aws.route53.ResolverFirewallDomainListArgs(
                name=f"{name}-allowed", domains=config.domains, tags=tags_for(tags, f"{name}-allowed")), child)
        everything = aws.route53.ResolverFirewallDomainList(
            f"{name}-everything", aws.route53.ResolverFirewallDomainListArgs(
                name=f"{name}-everything", domains=["*"], tags=tags_for(tags, f"{name}-everything")), child)
        group = aws.route53.ResolverFirewallRuleGroup(
            f"{name}-rules", aws.route53.ResolverFirewallRuleGroupArgs(
                name=f"{name}-rules", tags=tags_for(tags, f"{name}-rules")), child)
        rules = [
            aws.route53.ResolverFirewallRule(
                f"{name}-allow", aws.route53.ResolverFirewallRuleArgs(
                    name=f"{name}-allow", action="ALLOW", firewall_domain_list_id=allowed.id,
                    firewall_rule_group_id=group.id, priority=100), child),
            aws.route53.ResolverFirewallRule(
                f"{name}-block-rest", aws.route53.ResolverFirewallRuleArgs(
                    name=f"{name}-block-rest", action="BLOCK", block_response="NODATA",
                    firewall_domain_list_id=everything.id, firewall_rule_group_id=group.id, priority=200), child),
        ]
        aws.route53.ResolverFirewallRuleGroupAssociation(
            f"{name}-vpc", aws.route53.ResolverFirewallRuleGroupAssociationArgs(
                name=f"{name}-vpc", firewall_rule_group_id=group.id, vpc_id=vpc_id, priority=ASSOCIATION_PRIORITY,
                mutation_protection="ENABLED", tags=tags_for(tags, f"{name}-vpc")),
            pulumi.ResourceOptions(parent=self, depends_on=rules))
        aws.route53.ResolverFirewallConfig(
            f"{name}-fail-closed", aws.route53.ResolverFirewallConfigArgs(
                resource_id=vpc_id, firewall_fail_open="DISABLED"), child)
        self.register_outputs({"ruleGroupId": group.id})

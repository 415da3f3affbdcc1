"""What every tier reads: the stack's validated settings, and the explicit providers (rule 9)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from config import Settings, StackConfig


@dataclass(frozen=True)
class Stack:
    """One stack's configuration and the names and tags derived from it."""

    settings: Settings

    @property
    def cfg(self) -> StackConfig:
        return self.settings.config

    @property
    def prefix(self) -> str:
        """The prefix of every component's logical name: ``care-<env>``."""
        return f"care-{self.cfg.environment.name}"

    @property
    def cluster_name(self) -> str:
        """The EKS cluster's name (and component name): the key ring names its add-on roles before it exists."""
        return f"{self.prefix}-eks"

    @property
    def tags(self) -> dict[str, str]:
        return self.cfg.standard_tags

    @property
    def account_id(self) -> str:
        return self.cfg.environment.account_id

    @property
    def region(self) -> str:
        """The primary region."""
        return self.cfg.regions.primary


def aws_provider(name: str, region: str, account_id: str) -> aws.Provider:
    """An AWS provider pinned to one region and to this environment's account only."""
    return aws.Provider(name, aws.ProviderArgs(region=region, allowed_account_ids=[account_id]))


@dataclass(frozen=True)
class Providers:
    """One AWS provider per region: primary, DR, and edge (CloudFront certificates and WAF live in us-east-1)."""

    primary: aws.Provider
    dr: aws.Provider
    edge: aws.Provider

    @classmethod
    def create(cls, stack: Stack) -> Providers:
        regions, account = stack.cfg.regions, stack.account_id
        return cls(primary=aws_provider("aws-primary", regions.primary, account),
                   dr=aws_provider("aws-dr", regions.dr, account),
                   edge=aws_provider("aws-edge", regions.edge, account))

    @property
    def in_primary(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(provider=self.primary)

    @property
    def in_edge(self) -> pulumi.ResourceOptions:
        """us-east-1: CloudFront certificates, CLOUDFRONT-scope web ACLs, CloudFront's alarms and their topic."""
        return pulumi.ResourceOptions(provider=self.edge)

"""Delivery: the CI identity in AWS (GitHub Actions OIDC provider, the stack's preview and deploy roles).

Only when the stack file has ``care-platform:ciAccess``; the roles' names (``care-<env>-ci-preview``,
``care-<env>-ci-deploy``) are the ones .github/workflows/ assume (tests/delivery/test_workflows.py).
"""

from __future__ import annotations

from components.ci_access import CiAccess
from tiers.context import Providers, Stack


def delivery_tier(stack: Stack, providers: Providers) -> CiAccess | None:
    cfg = stack.cfg
    if cfg.ci_access is None:
        return None
    return CiAccess(f"{stack.prefix}-ci", cfg.ci_access, environment=cfg.environment.name,
                    deployer_role_arn=cfg.eks.deployer_role_arn, tags=stack.tags, opts=providers.in_primary)

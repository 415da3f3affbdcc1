"""Run one deploy-stage policy the way the analyzer does, on realistic wire inputs.

``policies/deploy`` goes on ``sys.path`` as the engine puts it (its modules are prefixed ``deploy_`` so they
never shadow the HIPAA pack's, which the sibling tests import by bare name too).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tests.policies.support import Res, _opts, _wire, urn  # noqa: F401  (Res and urn re-exported)

DEPLOY_DIR = Path(__file__).resolve().parents[3] / "policies" / "deploy"
if str(DEPLOY_DIR) not in sys.path:
    sys.path.insert(0, str(DEPLOY_DIR))

import deploy_access  # noqa: E402,F401  (importing registers the policies)
import deploy_cfnlint  # noqa: E402,F401
import deploy_ordering  # noqa: E402,F401
import deploy_versions  # noqa: E402,F401
import deploy_workloads  # noqa: E402,F401
from deploy_common import REGISTRY  # noqa: E402
from pulumi_policy import PolicyProviderResource, PolicyResource, StackValidationArgs  # noqa: E402

TODAY = {"asOf": "2026-12-02"}


def check_stack(policy: str, resources: list[Res], *, config: dict[str, Any] | None = None
                ) -> list[tuple[str, str | None]]:
    """(message, resource name) for every violation the deploy policy reports over the stack."""
    info = REGISTRY[policy]
    built = {}
    for r in resources:
        provider = (PolicyProviderResource("pulumi:providers:aws", _wire({"region": r.region}), "urn:p", "aws")
                    if r.region else None)
        built[r.urn] = PolicyResource(r.type, _wire(r.props), r.urn, r.name, _opts(r.protect), provider,
                                      None, [], {})
    for r in resources:
        built[r.urn].dependencies = [built[d.urn] for d in r.depends]
        built[r.urn].property_dependencies = {k: [built[d.urn] for d in v] for k, v in r.property_depends.items()}
    names = {r.urn: r.name for r in resources}
    found: list[tuple[str, str | None]] = []
    args = StackValidationArgs(list(built.values()), config if config is not None else TODAY)
    info.policy.validate(args, lambda message, u=None: found.append((message, names.get(u) if u else None)))
    return found

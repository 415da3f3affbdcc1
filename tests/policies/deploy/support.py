"""Run one deploy-stage policy the way the analyzer does, on realistic wire inputs.

``policies/deploy`` goes on ``sys.path`` as the engine puts it (its modules are prefixed ``deploy_`` so they
never shadow the HIPAA pack's, which the sibling tests import by bare name too).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tests.policies.support import Res, _wire, urn, validate_stack  # noqa: F401  (Res, _wire, urn re-exported)

DEPLOY_DIR = Path(__file__).resolve().parents[3] / "policies" / "deploy"
if str(DEPLOY_DIR) not in sys.path:
    sys.path.insert(0, str(DEPLOY_DIR))

import deploy_access  # noqa: E402,F401  (importing registers the policies)
import deploy_audit  # noqa: E402,F401
import deploy_cfnlint  # noqa: E402,F401
import deploy_cost  # noqa: E402,F401
import deploy_edge  # noqa: E402,F401
import deploy_ordering  # noqa: E402,F401
import deploy_releases  # noqa: E402,F401
import deploy_versions  # noqa: E402,F401
import deploy_workloads  # noqa: E402,F401
from deploy_common import REGISTRY  # noqa: E402

TODAY = {"asOf": "2026-12-02"}


def check_stack(policy: str, resources: list[Res], *, config: dict[str, Any] | None = None
                ) -> list[tuple[str, str | None]]:
    """(message, resource name) for every violation the deploy policy reports over the stack."""
    return validate_stack(REGISTRY[policy].policy, resources, config if config is not None else TODAY)

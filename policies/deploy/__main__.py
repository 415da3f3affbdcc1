"""The care-platform deploy-stage pack: AWS API constraints and version lifecycles a `pulumi up` would hit.

Run beside the HIPAA pack: ``pulumi preview --policy-pack policies --policy-pack-config
policies/config/<stack>.json --policy-pack policies/deploy --policy-pack-config
policies/deploy/config/<stack>.json``. Constructing the PolicyPack starts the analyzer's gRPC server.
"""

import deploy_access
import deploy_audit
import deploy_cfnlint
import deploy_cost
import deploy_edge
import deploy_ordering
import deploy_releases
import deploy_versions
import deploy_workloads
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="care-platform-deploy",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        *deploy_versions.POLICIES,
        *deploy_access.POLICIES,
        *deploy_ordering.POLICIES,
        *deploy_audit.POLICIES,
        *deploy_workloads.POLICIES,
        *deploy_cost.POLICIES,
        *deploy_releases.POLICIES,
        *deploy_edge.POLICIES,
        *deploy_cfnlint.POLICIES,
    ],
    description="Deploy stage: AWS API constraints, version lifecycles and a cfn-lint cross-check.",
)

"""The care-platform CrossGuard policy pack: assembles the PolicyPack from the concern modules.

Run by Pulumi (``pulumi preview --policy-pack policies``) or by ``offline`` exactly as the Python
language host runs it: working directory ``policies/``, so the sibling modules import at top level.
Constructing the PolicyPack starts the analyzer's gRPC server and blocks; nothing else may do it.
"""

import audit_logging
import availability
import backup
import baseline
import conformance_rules
import cost_controls
import encryption
import exposure
import k8s_workloads
import network_access
import stack
import tags
import transit
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="care-platform-hipaa",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        *encryption.POLICIES,
        *transit.POLICIES,
        *availability.POLICIES,
        *backup.POLICIES,
        *exposure.POLICIES,
        *network_access.POLICIES,
        *audit_logging.POLICIES,
        *k8s_workloads.POLICIES,
        *tags.POLICIES,
        *stack.POLICIES,
        *cost_controls.POLICIES,
        *baseline.POLICIES,
        *conformance_rules.POLICIES,
    ],
    description="HIPAA Security Rule guardrails for the care platform (PRM + NL-FHIR) on AWS and EKS.",
)

"""EKS managed add-ons (vpc-cni, kube-proxy, CoreDNS, the EBS CSI driver).

Versions are pinned in ``eks.addons`` (``EksAddonsConfig``); conflicts with what EKS installed are
overwritten, so the managed add-on is the only copy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.common import tags_for

#: The VPC CNI's configuration: enforce Kubernetes NetworkPolicy (the app service and ChromaDB rely on it), and
#: security groups for Pods (``ENABLE_POD_ENI``; components/pod_network.py) in ``standard`` enforcing mode:
#: kubelet probes reach branch-ENI pods without disabling TCP early demux, NetworkPolicy still applies to those
#: pods, and traffic leaving the VPC is translated to the node and governed by the node's groups
#: (https://docs.aws.amazon.com/eks/latest/userguide/security-groups-pods-deployment.html; the add-on's
#: ``env`` block: ``aws eks describe-addon-configuration --addon-name vpc-cni``).
VPC_CNI_CONFIGURATION = json.dumps({
    "enableNetworkPolicy": "true",
    "env": {"ENABLE_POD_ENI": "true", "POD_SECURITY_GROUP_ENFORCING_MODE": "standard"},
})


def eks_addon(parent: pulumi.Resource, name: str, addon: str, version: str, *, cluster_name: pulumi.Input[str],
              tags: Mapping[str, str], service_account_role_arn: pulumi.Input[str] | None = None,
              configuration_values: str | None = None,
              depends_on: Sequence[pulumi.Resource] = ()) -> aws.eks.Addon:
    """One managed add-on at an exact ``vX.Y.Z-eksbuild.N`` version."""
    return aws.eks.Addon(
        f"{name}-addon-{addon}",
        aws.eks.AddonArgs(
            cluster_name=cluster_name,
            addon_name=addon,
            addon_version=version,
            service_account_role_arn=service_account_role_arn,
            configuration_values=configuration_values,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=tags_for(tags, f"{name}-addon-{addon}"),
        ),
        pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )

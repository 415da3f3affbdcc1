"""The cluster's kubeconfig (a secret Output) and the ``kubernetes.Provider`` built from it.

Every Kubernetes object of the cluster (StorageClass, namespaces, Helm releases) goes through this
one provider, with the options ``k8s_opts`` gives.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.common import child_opts

#: Options for a Kubernetes child of the cluster: ``k8s_opts`` bound to the cluster and its provider.
K8sOpts = Callable[..., pulumi.ResourceOptions]


def kubeconfig_document(cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    """A kubeconfig that authenticates with ``aws eks get-token`` (no long-lived credentials)."""
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [{"name": cluster_name, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"],
        }}}],
    })


def kubeconfig(cluster: aws.eks.Cluster, region: str) -> pulumi.Output[str]:
    """The cluster's kubeconfig as a secret Output."""
    return pulumi.Output.secret(pulumi.Output.all(
        cluster.name, cluster.endpoint, cluster.certificate_authority.data,
    ).apply(lambda a: kubeconfig_document(a[0], a[1], a[2], region)))


def kubernetes_provider(parent: pulumi.Resource, name: str, *, kubeconfig: pulumi.Input[str],
                        depends_on: Sequence[pulumi.Resource]) -> k8s.Provider:
    """The provider every Kubernetes object of the cluster uses (server-side apply)."""
    return k8s.Provider(
        f"{name}-k8s",
        k8s.ProviderArgs(kubeconfig=kubeconfig, enable_server_side_apply=True),
        pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )


def k8s_opts(parent: pulumi.Resource, provider: k8s.Provider, **kwargs: Any) -> pulumi.ResourceOptions:
    """Options for a Kubernetes child of the cluster: parented to it, through its provider."""
    return child_opts(parent, provider=provider, **kwargs)

"""Stakater Reloader: pods restart (rolling, within their PodDisruptionBudget) when their Secret changes.

Why Reloader and not a checksum annotation: the apps' secrets are synced into Kubernetes by External
Secrets from AWS Secrets Manager, inside the cluster. Pulumi never sees the values, so a checksum it
computes could not change when a secret is rotated; Reloader watches the Secret itself and patches the
workloads that name it (``secret.reloader.stakater.com/reload`` on the Deployment, set by
components/app_service.py). The ``annotations`` strategy marks the pod template with an annotation
instead of adding environment variables, so the Deployment's spec that Pulumi manages stays as
declared (server-side apply leaves the other manager's field alone).

Chart: https://artifacthub.io/packages/helm/stakater/reloader (values:
https://docs.stakater.com/reloader/1.4/reference/helm-values.html).
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field

from components.common import ConfigModel, child_opts
from components.eks import POOL_LABEL

REPOSITORY = "https://stakater.github.io/stakater-charts"


class ReloaderConfig(ConfigModel):
    #: Pinned chart version (chart 2.2.x ships Reloader 1.4.x).
    chart_version: str = Field(default="2.2.11", pattern=r"^2\.\d+\.\d+$")
    namespace: str = Field(default="reloader", pattern=r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


def reloader_values() -> dict[str, object]:
    return {"reloader": {
        "reloadStrategy": "annotations",
        # Only workloads that name their Secret are restarted; Jobs run once and are never restarted.
        "autoReloadAll": False,
        "ignoreJobs": True,
        "ignoreCronJobs": True,
        "ignoreConfigMaps": True,
        "readOnlyRootFileSystem": True,
        # Apps released with Argo Rollouts (rollout: blueGreen | canary) carry the annotation on their Rollout.
        "isArgoRollouts": True,
        "deployment": {
            "nodeSelector": {POOL_LABEL: "app"},
            "resources": {"requests": {"cpu": "10m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
            "containerSecurityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                         "capabilities": {"drop": ["ALL"]}},
        },
    }}


class Reloader(pulumi.ComponentResource):
    """The Reloader Helm release (one per cluster), after the cluster's add-ons."""

    def __init__(self, name: str, config: ReloaderConfig, *, wait_for: Sequence[pulumi.Resource],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("care:compute:Reloader", name, None, opts)
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            k8s.helm.v3.ReleaseArgs(
                name="reloader",
                chart="reloader",
                version=config.chart_version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=REPOSITORY),
                namespace=config.namespace,
                create_namespace=True,
                values=reloader_values(),
                atomic=True,
                cleanup_on_fail=True,
                max_history=10,
            ),
            child_opts(self, depends_on=list(wait_for)),
        )
        self.register_outputs({"release": self.release.name})

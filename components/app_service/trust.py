"""The RDS CA bundle in the app's pods: a ConfigMap mounted read-only at ``RDS_CA_DIR`` (bindings.py), so that
``DATABASE_SSLMODE=verify-full`` can verify the database's server certificate (components/rds_ca.py).

Only an app bound to a database with a bundle gets it; its Deployment or Rollout, pre-deploy Job and CronJobs
mount it (they share ``workload.container`` and ``workload.pod_spec``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.app_service.bindings import RDS_CA_DIR, RDS_CA_PATH, Binding, PostgresBinding
from components.app_service.spec import AppSpec

VOLUME = "rds-ca"


def bundle_of(name: str, bindings: Sequence[Binding]) -> str | None:
    """The one CA bundle of the app's database bindings (None without one; two different ones are refused)."""
    bundles = {b.ca_bundle for b in bindings if isinstance(b, PostgresBinding) and b.ca_bundle}
    if len(bundles) > 1:
        raise ValueError(f"{name}: database bindings with different CA bundles; pass one bundle to all")
    return next(iter(bundles), None)


def config_map_name(spec: AppSpec) -> str:
    return f"{spec.app}-rds-ca"


def create_config_map(spec: AppSpec, opts: pulumi.ResourceOptions) -> k8s.core.v1.ConfigMap | None:
    if spec.rds_ca_bundle is None:
        return None
    return k8s.core.v1.ConfigMap(
        f"{spec.name}-rds-ca",
        metadata=spec.metadata(config_map_name(spec)),
        data={RDS_CA_PATH.rsplit("/", 1)[1]: spec.rds_ca_bundle},
        opts=opts,
    )


def volumes(spec: AppSpec) -> list[k8s.core.v1.VolumeArgs]:
    if spec.rds_ca_bundle is None:
        return []
    return [k8s.core.v1.VolumeArgs(name=VOLUME, config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
        name=config_map_name(spec)))]


def volume_mounts(spec: AppSpec) -> list[k8s.core.v1.VolumeMountArgs]:
    if spec.rds_ca_bundle is None:
        return []
    return [k8s.core.v1.VolumeMountArgs(name=VOLUME, mount_path=RDS_CA_DIR, read_only=True)]

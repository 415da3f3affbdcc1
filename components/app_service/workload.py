"""The workload: the Deployment, and the container and pod spec it shares with the app's Jobs.

Zero-downtime rolling updates (no unavailable pod, surge from config), startup/readiness/liveness
probes on the health path, a preStop pause, equal requests and limits, a hardened security context
(non-root, read-only root filesystem, no privilege escalation, all capabilities dropped,
RuntimeDefault seccomp), a size-limited ``/tmp``, the node pool's selector (and toleration for a
tainted pool) and spread over zones and hosts.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.app_service import trust
from components.app_service.spec import AppSpec
from components.common import child_opts
from components.eks import POOL_LABEL, TAINTED_POOLS
from components.scraping import scrape_annotations

#: Stakater Reloader's annotation: restart the workload when one of the named Secrets changes
#: (https://github.com/stakater/Reloader#how-to-use-reloader).
RELOAD_ANNOTATION = "secret.reloader.stakater.com/reload"


def int_or_str(value: str) -> int | str:
    return value if value.endswith("%") else int(value)


def container(spec: AppSpec, *, probes: bool, command: Sequence[str] | None = None) -> k8s.core.v1.ContainerArgs:
    """The app's container: with probes and a port for the Deployment, with ``command`` for a Job."""
    c = spec.config
    http_get = k8s.core.v1.HTTPGetActionArgs(path=c.health_check_path, port="http")
    return k8s.core.v1.ContainerArgs(
        name=spec.app,
        image=c.image,
        image_pull_policy="IfNotPresent",
        command=list(command) if command else None,
        ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=c.port, protocol="TCP")]
        if probes else None,
        env=spec.env,
        resources=k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": c.cpu, "memory": c.memory},
            limits={"cpu": c.cpu, "memory": c.memory},
        ),
        startup_probe=k8s.core.v1.ProbeArgs(http_get=http_get, period_seconds=5, failure_threshold=60,
                                            timeout_seconds=3) if probes else None,
        readiness_probe=k8s.core.v1.ProbeArgs(http_get=http_get, period_seconds=10, failure_threshold=3,
                                              timeout_seconds=3) if probes else None,
        liveness_probe=k8s.core.v1.ProbeArgs(http_get=http_get, period_seconds=20, failure_threshold=3,
                                             timeout_seconds=5) if probes else None,
        # Keep serving while the endpoints and load balancers drop this pod, then shut down gracefully.
        lifecycle=k8s.core.v1.LifecycleArgs(pre_stop=k8s.core.v1.LifecycleHandlerArgs(
            sleep=k8s.core.v1.SleepActionArgs(seconds=c.pre_stop_seconds)))
        if probes and c.pre_stop_seconds else None,
        security_context=k8s.core.v1.SecurityContextArgs(
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            run_as_non_root=True,
            privileged=False,
            capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        ),
        volume_mounts=[k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"), *trust.volume_mounts(spec)],
    )


def _spread(spec: AppSpec) -> list[k8s.core.v1.TopologySpreadConstraintArgs]:
    selector = k8s.meta.v1.LabelSelectorArgs(match_labels=spec.selector)
    return [
        k8s.core.v1.TopologySpreadConstraintArgs(max_skew=1, topology_key="topology.kubernetes.io/zone",
                                                 when_unsatisfiable=spec.config.zone_spread, label_selector=selector),
        k8s.core.v1.TopologySpreadConstraintArgs(max_skew=1, topology_key="kubernetes.io/hostname",
                                                 when_unsatisfiable="ScheduleAnyway", label_selector=selector),
    ]


def pod_spec(spec: AppSpec, *, containers: list[k8s.core.v1.ContainerArgs], topology_spread: bool = False,
             restart_policy: str | None = None) -> k8s.core.v1.PodSpecArgs:
    c = spec.config
    return k8s.core.v1.PodSpecArgs(
        service_account_name=spec.app,
        automount_service_account_token=False,
        termination_grace_period_seconds=c.termination_grace_seconds,
        restart_policy=restart_policy,
        security_context=k8s.core.v1.PodSecurityContextArgs(
            run_as_non_root=True,
            run_as_user=c.run_as_user,
            run_as_group=c.run_as_user,
            fs_group=c.run_as_user,
            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
        ),
        node_selector={POOL_LABEL: c.node_pool},
        tolerations=[k8s.core.v1.TolerationArgs(key=POOL_LABEL, operator="Equal", value=c.node_pool,
                                                effect="NoSchedule")] if c.node_pool in TAINTED_POOLS else None,
        topology_spread_constraints=_spread(spec) if topology_spread else None,
        containers=containers,
        volumes=[k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
            size_limit=c.tmp_size)), *trust.volumes(spec)],
    )


#: pulumi-kubernetes' await logic: how long ``pulumi up`` waits for a workload to become ready before it
#: fails the update (https://github.com/pulumi/pulumi-kubernetes/pull/457; the Deployment awaiter also
#: fails as soon as Kubernetes reports ProgressDeadlineExceeded). No app object sets
#: ``pulumi.com/skipAwait`` (the deploy stage refuses it), so an update that never becomes ready fails.
TIMEOUT_ANNOTATION = "pulumi.com/timeoutSeconds"
#: The margin past Kubernetes' own progress deadline, so Kubernetes' verdict (and its message) comes first.
AWAIT_MARGIN_SECONDS = 60


def pod_template(spec: AppSpec) -> k8s.core.v1.PodTemplateSpecArgs:
    """The app's pods (the same for a Deployment and an Argo Rollout)."""
    c = spec.config
    return k8s.core.v1.PodTemplateSpecArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(labels=spec.pod_labels, annotations=scrape_annotations(
            c.metrics.port or c.port, c.metrics.path) if c.metrics is not None else None),
        spec=pod_spec(spec, containers=[container(spec, probes=True)], topology_spread=True),
    )


def workload_annotations(spec: AppSpec, timeout_seconds: int) -> dict[str, str]:
    """Reloader's annotation (when the app has secrets) and the await timeout of ``pulumi up``."""
    annotations = {TIMEOUT_ANNOTATION: str(timeout_seconds)}
    if spec.secrets:
        # Reloader (components/reloader.py) rolls the pods when External Secrets refreshes this
        # Secret after a rotation, so no pod keeps a stale credential.
        annotations[RELOAD_ANNOTATION] = spec.secret_name
    return annotations


def create_deployment(parent: pulumi.Resource, spec: AppSpec,
                      depends_on: Sequence[pulumi.Resource]) -> k8s.apps.v1.Deployment:
    """The Deployment, after ``depends_on`` (the identity, its policies, the secrets, the pre-deploy Job)."""
    c = spec.config
    return k8s.apps.v1.Deployment(
        f"{spec.name}-deployment",
        metadata=spec.metadata(annotations=workload_annotations(
            spec, c.progress_deadline_seconds + AWAIT_MARGIN_SECONDS)),
        spec=k8s.apps.v1.DeploymentSpecArgs(
            # No replicas: the HPA owns the count (between minReplicas and maxReplicas).
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=spec.selector),
            strategy=k8s.apps.v1.DeploymentStrategyArgs(
                type="RollingUpdate",
                rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0,
                                                                       max_surge=int_or_str(c.max_surge)),
            ),
            min_ready_seconds=c.min_ready_seconds,
            revision_history_limit=5,
            progress_deadline_seconds=c.progress_deadline_seconds,
            template=pod_template(spec),
        ),
        opts=child_opts(parent, depends_on=list(depends_on)),
    )

"""The app's Jobs: the pre-deploy Job (migrations) before each rollout, and its CronJobs.

The pre-deploy Job gates the release: the Deployment or Rollout depends on it, and pulumi-kubernetes
waits for a Job to complete and fails the update when the Job fails (its Failed condition; at most
``pulumi.com/timeoutSeconds``, set past the Job's own ``activeDeadlineSeconds``), so a failed
migration stops ``pulumi up`` before the new version starts and the running version is untouched.
``pulumi.com/replaceUnready`` makes the next ``pulumi up`` run a failed Job again (a new Job) instead
of only re-reading its status (https://github.com/pulumi/pulumi-kubernetes/pull/1575).

Jobs run the app's image and container settings without a sidecar (a sidecar would keep a finished
Job's pod alive), so they may call AWS services but not STRICT-mTLS services in the mesh.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.app_service.spec import AppSpec
from components.app_service.workload import AWAIT_MARGIN_SECONDS, TIMEOUT_ANNOTATION, container, pod_spec
from components.common import child_opts


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:8]


def job_template(spec: AppSpec, job_label: str, command: Sequence[str]) -> k8s.core.v1.PodTemplateSpecArgs:
    return k8s.core.v1.PodTemplateSpecArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(labels={
            "app.kubernetes.io/name": job_label, "app.kubernetes.io/part-of": "care-platform",
            # A sidecar would keep the finished Job's pod running.
            "sidecar.istio.io/inject": "false",
        }),
        spec=pod_spec(spec, containers=[container(spec, probes=False, command=command)], restart_policy="Never"),
    )


def create_pre_deploy_job(parent: pulumi.Resource, spec: AppSpec,
                          depends_on: Sequence[pulumi.Resource]) -> k8s.batch.v1.Job | None:
    """The pre-deploy Job: a new name per image and command, so each release runs it once."""
    pre = spec.config.pre_deploy
    if pre is None:
        return None
    return k8s.batch.v1.Job(
        f"{spec.name}-predeploy",
        metadata=spec.metadata(f"{spec.app}-predeploy-{_hash(spec.config.image, *pre.command)}", annotations={
            TIMEOUT_ANNOTATION: str(pre.timeout_seconds + AWAIT_MARGIN_SECONDS),
            "pulumi.com/replaceUnready": "true",
        }),
        spec=k8s.batch.v1.JobSpecArgs(
            backoff_limit=pre.backoff_limit,
            active_deadline_seconds=pre.timeout_seconds,
            template=job_template(spec, f"{spec.app}-predeploy", pre.command),
        ),
        opts=child_opts(parent, depends_on=list(depends_on)),
    )


def create_cron_jobs(parent: pulumi.Resource, spec: AppSpec,
                     depends_on: Sequence[pulumi.Resource]) -> dict[str, k8s.batch.v1.CronJob]:
    """One CronJob per ``cronJobs`` entry, named ``<app>-<name>``."""
    jobs: dict[str, k8s.batch.v1.CronJob] = {}
    for cron in spec.config.cron_jobs:
        jobs[cron.name] = k8s.batch.v1.CronJob(
            f"{spec.name}-cron-{cron.name}",
            metadata=spec.metadata(f"{spec.app}-{cron.name}"),
            spec=k8s.batch.v1.CronJobSpecArgs(
                schedule=cron.schedule,
                time_zone=cron.time_zone,
                concurrency_policy=cron.concurrency_policy,
                starting_deadline_seconds=300,
                successful_jobs_history_limit=3,
                failed_jobs_history_limit=3,
                job_template=k8s.batch.v1.JobTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=spec.labels),
                    spec=k8s.batch.v1.JobSpecArgs(
                        backoff_limit=1,
                        active_deadline_seconds=cron.timeout_seconds,
                        template=job_template(spec, f"{spec.app}-{cron.name}", cron.command),
                    ),
                ),
            ),
            opts=child_opts(parent, depends_on=list(depends_on)),
        )
    return jobs

"""Kubernetes workload hardening: HIPAA 164.312(a)(1) access control, 164.312(c)(1) integrity,
164.308(a)(7)(ii)(C) emergency mode operation.

Checks every pod template the program declares (Deployments, Argo Rollouts, StatefulSets, DaemonSets,
Jobs, CronJobs, Pods). Helm releases render inside the cluster: their pod templates are not visible here, so
for the observability charts the pack checks the values the program gives them (every workload's
requests and limits, Grafana's admin login from a Secret) and lists, in ``HELM_EXCEPTIONS``, what the
charts' pods need that the workload policies would otherwise refuse.
(Named k8s_workloads, not kubernetes, so it does not shadow the pulumi_kubernetes-style import name.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from common import (
    K8S_CRONJOB,
    K8S_DAEMONSET,
    K8S_DEPLOYMENT,
    K8S_NETWORK_POLICY,
    K8S_POD,
    K8S_ROLLOUT,
    K8S_STATEFULSET,
    K8S_WORKLOADS,
    UNKNOWN,
    Report,
    Resource,
    Settings,
    as_int,
    as_list,
    get,
    is_false,
    is_true,
    is_unknown,
    policies_of,
    resource_policy,
)

ACCESS = "164.312(a)(1)"
INTEGRITY = "164.312(c)(1)"
EMERGENCY_MODE = "164.308(a)(7)(ii)(C)"

#: Workloads that keep running (probes make sense for them; Jobs and CronJobs run to completion).
LONG_RUNNING = (K8S_DEPLOYMENT, K8S_ROLLOUT, K8S_STATEFULSET, K8S_DAEMONSET, K8S_POD)


def pod_spec(r: Resource) -> Any:
    """The pod spec of a workload (UNKNOWN when it cannot be known, None when absent)."""
    if r.type == K8S_POD:
        return r.get("spec")
    if r.type == K8S_CRONJOB:
        return r.get("spec.jobTemplate.spec.template.spec")
    return r.get("spec.template.spec")


def containers(r: Resource, *, init: bool = True) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, container) for every known container of the workload's pod spec."""
    spec = pod_spec(r)
    if not isinstance(spec, dict):
        return
    keys = ("containers", "initContainers") if init else ("containers",)
    for key in keys:
        items = as_list(spec.get(key))
        if is_unknown(items):
            continue
        for index, container in enumerate(items):
            if isinstance(container, dict):
                name = container.get("name")
                label = name if isinstance(name, str) else f"#{index}"
                yield (f"init container {label}" if key == "initContainers" else f"container {label}"), container


def _security(container: dict[str, Any], key: str) -> Any:
    context = container.get("securityContext")
    if is_unknown(context):
        return UNKNOWN
    return (context or {}).get(key)


def k8s_resource_limits(r: Resource, report: Report, _: Settings) -> None:
    for label, container in containers(r):
        resources = container.get("resources")
        if is_unknown(resources):
            continue
        missing = []
        for kind in ("requests", "limits"):
            values = (resources or {}).get(kind)
            if is_unknown(values):
                continue
            missing += [f"{kind}.{res}" for res in ("cpu", "memory") if not (values or {}).get(res)]
        if missing:
            report(f"{label}: resources {', '.join(missing)} not set: a container without them can starve its "
                   "neighbours (and be evicted first). Set apps.<app>.cpu and apps.<app>.memory in "
                   "Pulumi.<stack>.yaml (the component sets requests and limits from them).")


resource_policy(
    "k8s-resource-limits", concern="kubernetes", citation=EMERGENCY_MODE, types=K8S_WORKLOADS,
    description="Every container declares CPU and memory requests and limits.",
)(k8s_resource_limits)


def k8s_probes(r: Resource, report: Report, _: Settings) -> None:
    for label, container in containers(r, init=False):
        missing = [p for p in ("livenessProbe", "readinessProbe") if container.get(p) is None]
        if missing:
            report(f"{label}: {' and '.join(missing)} not set: a hung replica would keep receiving traffic and "
                   "never be restarted. Declare both probes (the app's health endpoint) in the component.")


resource_policy(
    "k8s-probes", concern="kubernetes", citation=EMERGENCY_MODE, types=LONG_RUNNING,
    description="Every long-running container has liveness and readiness probes.",
)(k8s_probes)


def _pod_security_context(r: Resource) -> dict[str, Any] | None:
    """The pod-level securityContext ({} when unset); None when there is no pod spec or it is unknown."""
    spec = pod_spec(r)
    if not isinstance(spec, dict):
        return None
    context = spec.get("securityContext")
    if is_unknown(context):
        return None
    return context or {}


def k8s_run_as_non_root(r: Resource, report: Report, _: Settings) -> None:
    pod_context = _pod_security_context(r)
    if pod_context is None:
        return
    for label, container in containers(r):
        non_root = _security(container, "runAsNonRoot")
        user = _security(container, "runAsUser")
        if non_root is None:
            non_root = pod_context.get("runAsNonRoot")
        if user is None:
            user = pod_context.get("runAsUser")
        if is_unknown(non_root) or is_unknown(user):
            continue
        if as_int(user) == 0:
            report(f"{label}: runAsUser is 0: the container would run as root. "
                   "Set securityContext.runAsUser to the image's non-root UID with runAsNonRoot=True.")
        elif not is_true(non_root):
            report(f"{label}: runAsNonRoot is not true (pod or container securityContext): the kubelet would "
                   "start an image whose user is root. Set securityContext.runAsNonRoot=True.")


resource_policy(
    "k8s-run-as-non-root", concern="kubernetes", citation=ACCESS, types=K8S_WORKLOADS,
    description="Containers run as a non-root user (runAsNonRoot true, runAsUser not 0).",
)(k8s_run_as_non_root)


def k8s_no_privilege_escalation(r: Resource, report: Report, _: Settings) -> None:
    for label, container in containers(r):
        value = _security(container, "allowPrivilegeEscalation")
        if not is_unknown(value) and not is_false(value):
            report(f"{label}: securityContext.allowPrivilegeEscalation is not false (Kubernetes defaults to "
                   "true): setuid binaries could gain root. Set allowPrivilegeEscalation=False.")


resource_policy(
    "k8s-no-privilege-escalation", concern="kubernetes", citation=ACCESS, types=K8S_WORKLOADS,
    description="Containers set allowPrivilegeEscalation=false.",
)(k8s_no_privilege_escalation)


def k8s_read_only_root_fs(r: Resource, report: Report, _: Settings) -> None:
    for label, container in containers(r):
        value = _security(container, "readOnlyRootFilesystem")
        if not is_unknown(value) and not is_true(value):
            report(f"{label}: securityContext.readOnlyRootFilesystem is not true: an attacker could alter the "
                   "running image. Set readOnlyRootFilesystem=True and mount an emptyDir for /tmp.")


resource_policy(
    "k8s-read-only-root-fs", concern="kubernetes", citation=INTEGRITY, types=K8S_WORKLOADS,
    description="Containers run with a read-only root filesystem (writable paths are volumes).",
)(k8s_read_only_root_fs)


def k8s_pod_run_as_non_root(r: Resource, report: Report, _: Settings) -> None:
    context = _pod_security_context(r)
    if context is None:
        return
    value = context.get("runAsNonRoot")
    if not is_unknown(value) and not is_true(value):
        shown = "not set" if value is None else f"{value!r}"
        report(f"pod securityContext.runAsNonRoot is {shown}: a container added without its own securityContext "
               "(a sidecar, a debug container) would start as root. Set the pod's securityContext.runAsNonRoot=True.")
    for label, container in containers(r):
        if is_false(_security(container, "runAsNonRoot")):
            report(f"{label}: securityContext.runAsNonRoot is false: the container overrides the pod's setting "
                   "and may run as root. Remove the override or set it to True.")


# The restricted Pod Security Standard requires runAsNonRoot true at pod level or on every container, and no
# container may set it false: https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
resource_policy(
    "k8s-pod-run-as-non-root", concern="kubernetes", citation=ACCESS, types=K8S_WORKLOADS,
    description="Pods set runAsNonRoot true in their own securityContext, and no container overrides it to false.",
)(k8s_pod_run_as_non_root)


_OPEN_CIDRS = ("0.0.0.0/0", "::/0")


def _selector_problem(selector: object) -> str | None:
    """Why a peer's namespaceSelector does not name namespaces (None when it does, or is unknown)."""
    if is_unknown(selector):
        return None
    if selector is None:
        return "has no namespaceSelector (the policy's own namespace, implicitly)"
    if not isinstance(selector, dict) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return "has an empty namespaceSelector (every namespace)"
    return None


def _peer_problem(peer: object) -> str | None:
    if is_unknown(peer) or not isinstance(peer, dict):
        return None
    block = peer.get("ipBlock")
    if block is not None:
        cidr = block.get("cidr") if isinstance(block, dict) else None
        return f"admits ipBlock {cidr} (the internet)" if cidr in _OPEN_CIDRS else None
    return _selector_problem(peer.get("namespaceSelector"))


def k8s_network_policy_sources(r: Resource, report: Report, _: Settings) -> None:
    rules = as_list(r.get("spec.ingress"))
    if is_unknown(rules):
        return
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        peers = as_list(rule.get("from"))
        if is_unknown(peers):
            continue
        if not peers:
            report(f"ingress rule #{index} has no 'from': it admits every pod in every namespace. "
                   "Name the callers (apps.<app>.allowFrom in Pulumi.<stack>.yaml).")
            continue
        for number, peer in enumerate(peers):
            problem = _peer_problem(peer)
            if problem:
                report(f"ingress rule #{index} source #{number} {problem}: name the callers' namespace explicitly "
                       "(namespaceSelector.matchLabels kubernetes.io/metadata.name: <namespace>).")


# NetworkPolicy peers: a podSelector alone selects pods of the policy's namespace, an empty namespaceSelector
# every namespace: https://kubernetes.io/docs/concepts/services-networking/network-policies/#behavior-of-to-and-from-selectors
resource_policy(
    "k8s-network-policy-sources", concern="kubernetes", citation=ACCESS, types=(K8S_NETWORK_POLICY,),
    description="NetworkPolicy ingress names its sources: every peer has an explicit, non-empty namespaceSelector.",
)(k8s_network_policy_sources)

_DANGEROUS_CAPABILITIES = {"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE"}


def k8s_no_privileged(r: Resource, report: Report, _: Settings) -> None:
    spec = pod_spec(r)
    if isinstance(spec, dict):
        shared = [k for k in ("hostNetwork", "hostPID", "hostIPC") if is_true(spec.get(k))]
        if shared:
            report(f"pod spec sets {', '.join(shared)}: the pod would share the node's namespaces. Remove them.")
    for label, container in containers(r):
        if is_true(_security(container, "privileged")):
            report(f"{label}: securityContext.privileged is true: the container would have full access to the "
                   "node. Remove privileged=True.")
        capabilities = _security(container, "capabilities")
        added = as_list(capabilities.get("add")) if isinstance(capabilities, dict) else []
        if not is_unknown(added):
            bad = sorted(c for c in added if isinstance(c, str) and c.upper() in _DANGEROUS_CAPABILITIES)
            if bad:
                report(f"{label}: securityContext.capabilities.add grants {', '.join(bad)}: drop them "
                       "(capabilities.drop=['ALL']).")


resource_policy(
    "k8s-no-privileged", concern="kubernetes", citation=ACCESS, types=K8S_WORKLOADS,
    description="No privileged containers, dangerous capabilities, or host namespaces.",
)(k8s_no_privileged)


def image_problem(image: Any) -> str | None:
    """Why an image reference is not pinned, or None when it is pinned (or unknown)."""
    if is_unknown(image) or not isinstance(image, str):
        return None
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag (it means :latest)"
    tag = last.rsplit(":", 1)[1]
    if tag == "latest":
        return "uses the mutable tag 'latest'"
    return None


def k8s_image_pinned(r: Resource, report: Report, _: Settings) -> None:
    for label, container in containers(r):
        problem = image_problem(container.get("image"))
        if problem:
            report(f"{label}: image {container['image']!r} {problem}: what runs could change without a deploy. "
                   "Pin apps.<app>.image to a version (repo:1.2.3) or a digest (repo@sha256:...) "
                   "in Pulumi.<stack>.yaml.")


resource_policy(
    "k8s-image-pinned", concern="kubernetes", citation=INTEGRITY, types=K8S_WORKLOADS,
    description="Container images are pinned to a version tag or a digest (never untagged or 'latest').",
)(k8s_image_pinned)


HELM_RELEASE = "kubernetes:helm.sh/v3:Release"

#: Where each workload of an observability chart takes its resources, by chart (paths in the chart's values.yaml).
HELM_WORKLOADS: dict[str, dict[str, str]] = {
    "kube-prometheus-stack": {
        "Prometheus": "prometheus.prometheusSpec", "Alertmanager": "alertmanager.alertmanagerSpec",
        "Prometheus Operator": "prometheusOperator", "kube-state-metrics": "kube-state-metrics",
        "node exporter": "prometheus-node-exporter", "Grafana": "grafana", "Grafana sidecars": "grafana.sidecar",
        "config reloader": "prometheusOperator.prometheusConfigReloader",
        "webhook certificate Job": "prometheusOperator.admissionWebhooks.patch",
    },
    "loki": {"Loki": "singleBinary"},
    "tempo": {"Tempo": "tempo"},
    "alloy": {"Alloy": "alloy", "config reloader": "configReloader"},
}

#: Documented exceptions: what a chart's pod needs that the workload policies would refuse, and why.
HELM_EXCEPTIONS: dict[str, str] = {
    "kube-prometheus-stack/prometheus-node-exporter": (
        "hostNetwork, hostPID and read-only hostPath mounts of /proc, /sys and /: the node exporter reports "
        "the node's own CPU, memory, filesystems and network; it runs as nobody (non-root) without privileges"),
    "tempo/tempo": (
        "readOnlyRootFilesystem is left false: the chart's values note that the Tempo image fails with a "
        "read-only root filesystem; the WAL is on its own volume, privilege escalation is off, capabilities dropped"),
    "*/probes": (
        "liveness and readiness probes are the charts' own (each chart declares them on its pods); the pack "
        "cannot see rendered pod templates"),
}


def helm_workload_resources(r: Resource, report: Report, _: Settings) -> None:
    workloads = HELM_WORKLOADS.get(r.get("chart"))  # type: ignore[arg-type]
    values = r.get("values")
    if workloads is None or is_unknown(values):
        return
    for workload, path in workloads.items():
        resources = get(values, f"{path}.resources")
        if is_unknown(resources):
            continue
        missing = [f"{kind}.{res}" for kind in ("requests", "limits") for res in ("cpu", "memory")
                   if not get(resources or {}, f"{kind}.{res}")]
        if missing:
            report(f"{workload} ({path}.resources): {', '.join(missing)} not set: a pod without them can starve "
                   "its neighbours (and be evicted first). Set them in components/monitoring/values.py.")


resource_policy(
    "helm-workload-resources", concern="kubernetes", citation=EMERGENCY_MODE, types=(HELM_RELEASE,),
    description="Every workload of an observability Helm chart is given CPU and memory requests and limits.",
)(helm_workload_resources)


def grafana_admin_from_secret(r: Resource, report: Report, _: Settings) -> None:
    chart, values = r.get("chart"), r.get("values")
    if chart not in ("kube-prometheus-stack", "grafana") or is_unknown(values):
        return
    grafana = get(values, "grafana", {}) if chart == "kube-prometheus-stack" else values
    if is_unknown(grafana) or not isinstance(grafana, dict) or is_false(grafana.get("enabled")):
        return
    if grafana.get("adminPassword") is not None:
        report("adminPassword is set: the Grafana admin password would sit in plain text in the release's values "
               "(the Pulumi state, `helm get values`). Remove it and give admin.existingSecret instead.")
    existing = get(grafana, "admin.existingSecret")
    if not is_unknown(existing) and not existing:
        report("admin.existingSecret is not set: the chart would generate the admin password (or use its default) "
               "and keep it in a Secret nobody rotates. Point it at the Secret External Secrets writes from Secrets "
               "Manager (grafana-admin, components/monitoring/stack.py).")


resource_policy(
    "grafana-admin-from-secret", concern="kubernetes", citation=ACCESS, types=(HELM_RELEASE,),
    description="Grafana's admin login comes from an existing Secret (synced from Secrets Manager), never a "
                "plain-text or chart-generated password.",
)(grafana_admin_from_secret)


POLICIES = policies_of(__name__)

"""The workload namespaces: meshed (Istio sidecar injection), restricted Pod Security, ALB readiness gates,
default-deny ingress."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi_kubernetes as k8s

from components.eks.kubeconfig import K8sOpts


def workload_namespaces(name: str, namespaces: Sequence[str], *, opts: K8sOpts) -> dict[str, k8s.core.v1.Namespace]:
    """One namespace per workload, with sidecar injection and the restricted Pod Security Standard enforced."""
    return {
        ns: k8s.core.v1.Namespace(
            f"{name}-ns-{ns}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ns, labels={
                "istio-injection": "enabled",
                # Istio runs with its CNI plugin, so workloads meet the restricted Pod Security Standard.
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
                # The AWS Load Balancer Controller injects its readiness gate into pods behind an ALB (target
                # type ip): a new pod is Ready only once its target is healthy, so a rollout never leaves the
                # target group with only initial or draining targets (zero-downtime rolling updates;
                # https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/deploy/pod_readiness_gate/).
                "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled",
            }),
            opts=opts(),
        )
        for ns in namespaces
    }


def default_deny(name: str, namespaces: dict[str, k8s.core.v1.Namespace], *,
                 opts: K8sOpts) -> dict[str, k8s.networking.v1.NetworkPolicy]:
    """Default-deny ingress in every workload namespace: each workload's own policy opens what it needs."""
    return {
        ns: k8s.networking.v1.NetworkPolicy(
            f"{name}-ns-{ns}-default-deny",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="default-deny-ingress", namespace=ns),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Ingress"]),
            opts=opts(depends_on=[namespace]),
        )
        for ns, namespace in namespaces.items()
    }

"""Default-deny egress for the workload namespaces, and each workload's explicit egress allow-list.

Every workload namespace gets ``default-deny-egress`` (empty pod selector, policyTypes [Egress], no rules)
and ``allow-dns-and-istiod`` (CoreDNS in kube-system on UDP/TCP 53, istiod on 15012); each workload then
gets ``<name>-egress`` for exactly what its bindings need: the stores' subnets on their ports, a peer's pods,
the interface endpoints, and the named external destinations of its config. The instance metadata service
(169.254.169.254/32) is never allowed: it is carved out of any external range that contains it. The VPC CNI
enforces NetworkPolicy egress (``enableNetworkPolicy``; https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy.html),
also for pods with their own security groups ("Restricting traffic using Kubernetes network policies",
https://docs.aws.amazon.com/eks/latest/userguide/security-groups-for-pods.html).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

#: The instance metadata service: never reachable from a workload pod.
METADATA_CIDR = "169.254.169.254/32"
DEFAULT_DENY_EGRESS = "default-deny-egress"
ALLOW_DNS_AND_ISTIOD = "allow-dns-and-istiod"

net = k8s.networking.v1


@dataclass(frozen=True)
class Destination:
    """One egress allow: address ranges or a peer's pods, on TCP ports, and why."""

    why: str
    ports: tuple[int, ...]
    cidrs: tuple[str, ...] = ()
    peer_namespace: str | None = None
    peer_labels: Mapping[str, str] | None = None

    def rule(self) -> net.NetworkPolicyEgressRuleArgs:
        peers: list[net.NetworkPolicyPeerArgs] = [
            net.NetworkPolicyPeerArgs(ip_block=net.IPBlockArgs(cidr=cidr, except_=_metadata_carve_out(cidr)))
            for cidr in self.cidrs
        ]
        if self.peer_labels is not None:
            peers.append(net.NetworkPolicyPeerArgs(
                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                    match_labels={"kubernetes.io/metadata.name": self.peer_namespace or ""}),
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(self.peer_labels))))
        return net.NetworkPolicyEgressRuleArgs(
            to=peers, ports=[net.NetworkPolicyPortArgs(protocol="TCP", port=port) for port in self.ports])


def _metadata_carve_out(cidr: str) -> list[str] | None:
    """``except`` for a range that contains the metadata service (0.0.0.0/0 does); None otherwise."""
    if ipaddress.ip_network(METADATA_CIDR).subnet_of(ipaddress.ip_network(cidr)):  # type: ignore[arg-type]
        return [METADATA_CIDR]
    return None


def namespace_egress(name: str, namespaces: Mapping[str, pulumi.Resource], *,
                     opts: pulumi.ResourceOptions) -> dict[str, list[k8s.networking.v1.NetworkPolicy]]:
    """Per namespace: default-deny egress, and DNS (kube-system CoreDNS) plus istiod for every pod."""
    dns = net.NetworkPolicyPeerArgs(
        namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": "kube-system"}),
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}))
    istiod = net.NetworkPolicyPeerArgs(
        namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": "istio-system"}),
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app": "istiod"}))
    result: dict[str, list[k8s.networking.v1.NetworkPolicy]] = {}
    for ns, namespace in namespaces.items():
        ns_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace]))
        deny = net.NetworkPolicy(
            f"{name}-ns-{ns}-default-deny-egress",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=DEFAULT_DENY_EGRESS, namespace=ns),
            spec=net.NetworkPolicySpecArgs(pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Egress"]),
            opts=ns_opts,
        )
        allow = net.NetworkPolicy(
            f"{name}-ns-{ns}-allow-dns-and-istiod",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ALLOW_DNS_AND_ISTIOD, namespace=ns),
            spec=net.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Egress"],
                egress=[
                    net.NetworkPolicyEgressRuleArgs(to=[dns], ports=[
                        net.NetworkPolicyPortArgs(protocol="UDP", port=53),
                        net.NetworkPolicyPortArgs(protocol="TCP", port=53)]),
                    net.NetworkPolicyEgressRuleArgs(to=[istiod], ports=[
                        net.NetworkPolicyPortArgs(protocol="TCP", port=15012)]),
                ]),
            opts=ns_opts,
        )
        result[ns] = [deny, allow]
    return result


def workload_egress(name: str, workload: str, namespace: str, pod_labels: Mapping[str, str],
                    destinations: Sequence[Destination],
                    opts: pulumi.ResourceOptions) -> k8s.networking.v1.NetworkPolicy:
    """``<workload>-egress`` in ``namespace``: what one workload's pods may reach beyond DNS and istiod."""
    return net.NetworkPolicy(
        f"{name}-{workload}-egress",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{workload}-egress", namespace=namespace),
        spec=net.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(pod_labels)), policy_types=["Egress"],
            egress=[d.rule() for d in destinations]),
        opts=opts,
    )

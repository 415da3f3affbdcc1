"""The cluster security group <-> the workloads' own security groups (security groups for Pods).

Pods with their own security group still need what runs on the nodes (which carry the cluster security
group): CoreDNS (TCP and UDP 53) and istiod (15012, the sidecars' xDS and certificates); and the kubelet
on the node must reach them for probes ("They must allow inbound communication from the security group
applied to your nodes (for kubelet) over any ports that you've configured probes for" and "outbound
communication over TCP and UDP ports 53 to a security group assigned to the Pods (or nodes that the Pods
run on) running CoreDNS", https://docs.aws.amazon.com/eks/latest/userguide/sg-pods-example-deployment.html).
A scraper (Prometheus) reaches every port on the nodes (kubelet, node-exporter, kube-state-metrics,
the API server's ENIs).
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from components.common import child_opts, tags_for

#: (protocol, port, why): what a pod with its own group needs on the nodes' cluster security group.
NODE_SERVICES: tuple[tuple[str, int, str], ...] = (
    ("udp", 53, "DNS (CoreDNS)"),
    ("tcp", 53, "DNS over TCP (CoreDNS)"),
    ("tcp", 15012, "istiod (xDS and workload certificates)"),
)


def pod_security_group_rules(parent: pulumi.Resource, name: str, *, cluster_security_group_id: pulumi.Input[str],
                             pod_security_group_ids: Mapping[str, pulumi.Input[str]],
                             scraper_security_group_ids: Mapping[str, pulumi.Input[str]],
                             tags: Mapping[str, str]) -> list[pulumi.Resource]:
    """The rules on both sides, one resource per rule (the groups have no inline rules)."""
    rules: list[pulumi.Resource] = []
    for key, group in pod_security_group_ids.items():
        rules.append(aws.vpc.SecurityGroupIngressRule(
            f"{name}-{key}-from-nodes",
            aws.vpc.SecurityGroupIngressRuleArgs(
                security_group_id=group, referenced_security_group_id=cluster_security_group_id,
                ip_protocol="tcp", from_port=0, to_port=65535,
                description="Kubelet probes and callers on the nodes (cluster security group)",
                tags=tags_for(tags, f"{name}-{key}-from-nodes")),
            child_opts(parent)))
        for protocol, port, what in NODE_SERVICES:
            rules.append(aws.vpc.SecurityGroupEgressRule(
                f"{name}-{key}-to-nodes-{protocol}{port}",
                aws.vpc.SecurityGroupEgressRuleArgs(
                    security_group_id=group, referenced_security_group_id=cluster_security_group_id,
                    ip_protocol=protocol, from_port=port, to_port=port, description=what,
                    tags=tags_for(tags, f"{name}-{key}-to-nodes-{protocol}{port}")),
                child_opts(parent)))
            rules.append(aws.vpc.SecurityGroupIngressRule(
                f"{name}-nodes-from-{key}-{protocol}{port}",
                aws.vpc.SecurityGroupIngressRuleArgs(
                    security_group_id=cluster_security_group_id, referenced_security_group_id=group,
                    ip_protocol=protocol, from_port=port, to_port=port, description=f"{what} for {key} pods",
                    tags=tags_for(tags, f"{name}-nodes-from-{key}-{protocol}{port}")),
                child_opts(parent)))
    for key, group in scraper_security_group_ids.items():
        rules.append(aws.vpc.SecurityGroupIngressRule(
            f"{name}-nodes-from-{key}-scrape",
            aws.vpc.SecurityGroupIngressRuleArgs(
                security_group_id=cluster_security_group_id, referenced_security_group_id=group,
                ip_protocol="tcp", from_port=0, to_port=65535,
                description=f"{key} scrapes the nodes and the pods on them",
                tags=tags_for(tags, f"{name}-nodes-from-{key}-scrape")),
            child_opts(parent)))
    return rules

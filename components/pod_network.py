"""Per-workload network identities: one EC2 security group per workload, given to its pods by the VPC CNI.

Security groups for Pods (https://docs.aws.amazon.com/eks/latest/userguide/security-groups-for-pods.html):
with ``ENABLE_POD_ENI=true`` on the VPC CNI and the ``AmazonEKSVPCResourceController`` policy on the
cluster role, a ``SecurityGroupPolicy`` (``vpcresources.k8s.aws/v1beta1``) gives the pods it selects a
branch network interface carrying exactly the listed security groups. AWS enforces them, so a store's
security group can admit one app and not another, and pods that carry no such policy (system pods, any
other workload) reach no store at all.

What each group may do:

- egress HTTPS to the interface endpoints' security group (STS for IRSA, CloudWatch Logs, ECR), which admits
  each group by name (it admits no address range: components/network.py);
- egress to each store the workload is bound to, on the store's ports only (``admit``), and the store's
  own security group admits it (the data tier passes ``clients_of(store)`` as the store's clients);
- DNS, istiod and kubelet probes go to and come from the cluster security group (``components/eks``).

With ``POD_SECURITY_GROUP_ENFORCING_MODE=standard`` traffic leaving the VPC is translated to the node's
address and governed by the node's groups, not the pod's (same page, "Considerations").

Each group carries ``care.platform/stores``: the stores it is bound to, which the policy pack checks
every store's ingress against (``store-ingress-bound-clients``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.common import child_opts, tags_for

#: The tag naming a store's security group's store keys (space-separated), set by the data tier.
STORE_TAG = "care.platform/store"
#: The tag listing the stores a workload's security group is bound to (space-separated).
CLIENT_TAG = "care.platform/stores"
#: The tag naming the workload a security group belongs to.
IDENTITY_TAG = "care.platform/identity"

SECURITY_GROUP_POLICY_API = "vpcresources.k8s.aws/v1beta1"
#: Istio's merged Prometheus metrics port on every meshed pod (the sidecar's ``/stats/prometheus``).
METRICS_PORT = 15020


@dataclass(frozen=True)
class Identity:
    """A workload with its own network identity: where its pods run, how they are selected, what they reach."""

    name: str
    namespace: str
    pod_labels: Mapping[str, str]
    #: The store keys it is bound to (``prm_db``, ``redis``, ``kafka-exporters`` ...).
    stores: tuple[str, ...] = ()
    #: Egress to every address of the VPC on all TCP ports (a scraper: Prometheus).
    scrapes_vpc: bool = False
    #: The store keys this workload itself serves (ChromaDB): its group is then also a store's group.
    serves: tuple[str, ...] = ()


class PodSecurityGroups(pulumi.ComponentResource):
    """One security group per workload identity; ``admit`` opens a client's egress to a store it is bound to."""

    ids: dict[str, pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        identities: Sequence[Identity],
        *,
        vpc_id: pulumi.Input[str],
        vpc_cidr: str,
        endpoint_security_group_id: pulumi.Input[str] | None,
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("care:network:PodSecurityGroups", name, None, opts)
        self._name, self._tags = name, tags
        self.identities = {identity.name: identity for identity in identities}
        if len(self.identities) != len(identities):
            raise ValueError(f"{name}: an identity is listed twice: {[i.name for i in identities]}")
        self.groups: dict[str, aws.ec2.SecurityGroup] = {}
        for identity in identities:
            group = aws.ec2.SecurityGroup(
                f"{name}-{identity.name}-sg",
                aws.ec2.SecurityGroupArgs(
                    vpc_id=vpc_id,
                    description=f"Pods of {identity.namespace}/{identity.name} (security groups for Pods)",
                    # Rules are separate resources only (never inline): stores and the cluster group add theirs.
                    tags=tags_for(tags, f"{name}-{identity.name}-sg", **{
                        IDENTITY_TAG: identity.name, CLIENT_TAG: " ".join(identity.stores),
                        **({STORE_TAG: " ".join(identity.serves)} if identity.serves else {})}),
                ),
                child_opts(self),
            )
            self.groups[identity.name] = group
            if endpoint_security_group_id is not None:
                self._egress(identity.name, "vpce", 443, 443, "HTTPS to the AWS API interface endpoints",
                             referenced=endpoint_security_group_id)
                # The endpoints' group admits the nodes only (components/network.py): a pod with its own group
                # leaves through its branch ENI with that group, not the node's, so the endpoints admit it by name.
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-vpce-from-{identity.name}",
                    aws.vpc.SecurityGroupIngressRuleArgs(
                        security_group_id=endpoint_security_group_id, ip_protocol="tcp", from_port=443, to_port=443,
                        referenced_security_group_id=group.id,
                        description=f"HTTPS from the pods of {identity.namespace}/{identity.name}",
                        tags=tags_for(tags, f"{name}-vpce-from-{identity.name}")),
                    child_opts(self),
                )
            if identity.scrapes_vpc:
                aws.vpc.SecurityGroupEgressRule(
                    f"{name}-{identity.name}-scrape",
                    aws.vpc.SecurityGroupEgressRuleArgs(
                        security_group_id=group.id, ip_protocol="tcp", from_port=0, to_port=65535,
                        cidr_ipv4=vpc_cidr, description="Scrapes metrics across the VPC",
                        tags=tags_for(tags, f"{name}-{identity.name}-scrape")),
                    child_opts(self),
                )
        self.ids = {key: group.id for key, group in self.groups.items()}
        for scraper in (i for i in identities if i.scrapes_vpc):
            # Not a store's own group (ChromaDB): a store admits only the workloads bound to it.
            for identity in (i for i in identities if not i.scrapes_vpc and not i.serves):
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-{identity.name}-from-{scraper.name}",
                    aws.vpc.SecurityGroupIngressRuleArgs(
                        security_group_id=self.ids[identity.name], ip_protocol="tcp", from_port=METRICS_PORT,
                        to_port=METRICS_PORT, referenced_security_group_id=self.ids[scraper.name],
                        description=f"{scraper.name} scrapes the Istio sidecar merged metrics",
                        tags=tags_for(tags, f"{name}-{identity.name}-from-{scraper.name}")),
                    child_opts(self),
                )
        self.register_outputs({"securityGroupIds": self.ids})

    def clients_of(self, store: str) -> list[pulumi.Output[str]]:
        """The security groups of the workloads bound to ``store``; a store nobody is bound to is a mistake."""
        clients = [self.ids[i.name] for i in self.identities.values() if store in i.stores]
        if not clients:
            raise ValueError(f"{self._name}: no workload is bound to store {store!r}")
        return clients

    def admit(self, store: str, store_security_group_id: pulumi.Input[str],
              ports: Sequence[tuple[int, int, str]], *, store_ingress: bool = False) -> None:
        """Egress from every client of ``store`` to its security group on ``ports`` (and, for a store whose
        group is one of ours, ``store_ingress``, the matching ingress on the store's group)."""
        for identity in self.identities.values():
            if store not in identity.stores:
                continue
            for low, high, what in ports:
                suffix = f"{store.replace('_', '-')}-{low}"
                self._egress(identity.name, suffix, low, high, f"{what} ({store})", referenced=store_security_group_id)
                if store_ingress:
                    aws.vpc.SecurityGroupIngressRule(
                        f"{self._name}-{store.replace('_', '-')}-from-{identity.name}-{low}",
                        aws.vpc.SecurityGroupIngressRuleArgs(
                            security_group_id=store_security_group_id, ip_protocol="tcp", from_port=low,
                            to_port=high, referenced_security_group_id=self.ids[identity.name],
                            description=f"{what} from {identity.name} (bound to {store})",
                            tags=tags_for(self._tags, f"{self._name}-{store}-from-{identity.name}")),
                        child_opts(self),
                    )

    def _egress(self, identity: str, suffix: str, low: int, high: int, what: str, *,
                referenced: pulumi.Input[str]) -> None:
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-{identity}-to-{suffix}",
            aws.vpc.SecurityGroupEgressRuleArgs(
                security_group_id=self.groups[identity].id, ip_protocol="tcp", from_port=low, to_port=high,
                referenced_security_group_id=referenced, description=what,
                tags=tags_for(self._tags, f"{self._name}-{identity}-to-{suffix}")),
            child_opts(self),
        )


def security_group_policy(name: str, identity: Identity, security_group_id: pulumi.Input[str],
                          opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    """The ``SecurityGroupPolicy`` giving ``identity``'s pods its group (and only it). It applies to pods
    scheduled after it exists, so the workload waits for it (the doc's "Security group policies only apply
    to newly scheduled Pods")."""
    return k8s.apiextensions.CustomResource(
        f"{name}-{identity.name}-sgp",
        api_version=SECURITY_GROUP_POLICY_API,
        kind="SecurityGroupPolicy",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=identity.name, namespace=identity.namespace),
        spec={"podSelector": {"matchLabels": dict(identity.pod_labels)},
              "securityGroups": {"groupIds": [security_group_id]}},
        opts=opts,
    )

"""``EksCluster``: the component that composes the EKS parts, in the order they must be created.

Built from pulumi-aws primitives (no multi-language component), so the offline path and the policy
pack see every resource. Every resource is a direct child of the ``EksCluster`` (``parent=self``): the
parts below are functions, not components, so the URNs are those of one flat component.

- ``control_plane.py``: log group, cluster role, the cluster, OIDC provider, admin access entries, deployer ingress
- ``addons.py``: EKS managed add-ons; ``iam.py``: their IRSA roles and policy documents
- ``node_pools.py``: node role, launch templates, managed node groups
- ``kubeconfig.py``: the kubeconfig and the ``kubernetes.Provider``
- ``storage.py``: the default StorageClass; ``namespaces.py``: workload namespaces with default-deny
- ``helm_addons.py``: the Helm add-ons (ALB controller, Cluster Autoscaler, metrics-server, ESO, Istio,
  Argo Rollouts)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.egress import namespace_egress
from components.eks import addons, admission, control_plane, helm_addons, kubeconfig, node_pools, pod_access
from components.eks.config import EksConfig
from components.eks.iam import EBS_CSI, ebs_kms_policy
from components.eks.iam import irsa_role as _irsa_role
from components.eks.namespaces import default_deny, workload_namespaces
from components.eks.storage import STORAGE_CLASS_NAME, storage_class


class EksCluster(pulumi.ComponentResource):
    """An EKS cluster in the private subnets with its node pools, add-ons and a Kubernetes provider.

    The cluster's name is the component's name. Attributes callers use: ``cluster_name``,
    ``endpoint``, ``oidc_issuer``, ``oidc_provider_arn``, ``kubeconfig`` (secret), ``provider``
    (the ``kubernetes.Provider``), ``storage_class_name``, ``namespaces`` and ``addons_ready`` (what
    workloads must wait for: the webhooks and CRDs they rely on).
    """

    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        config: EksConfig,
        *,
        region: str,
        account_id: str,
        vpc_id: pulumi.Input[str],
        subnet_ids: Sequence[pulumi.Input[str]],
        node_security_group_ids: Sequence[pulumi.Input[str]],
        secrets_kms_key_arn: pulumi.Input[str],
        ebs_kms_key_arn: pulumi.Input[str],
        logs_kms_key_arn: pulumi.Input[str],
        namespaces: Sequence[str] = (),
        pod_security_group_ids: Mapping[str, pulumi.Input[str]] | None = None,
        scraper_security_group_ids: Mapping[str, pulumi.Input[str]] | None = None,
        published_ingresses: Sequence[str] = (),
        load_balancer_target_security_group_ids: Sequence[pulumi.Input[str]] = (),
        deletion_protection: bool = True,
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("care:compute:EksCluster", name, None, opts)
        self._name, self._tags, self._region, self._account_id = name, tags, region, account_id

        self._control_plane(config, subnet_ids=subnet_ids, secrets_kms_key_arn=secrets_kms_key_arn,
                            logs_kms_key_arn=logs_kms_key_arn, deletion_protection=deletion_protection)
        self._admin_access(config)
        # Security groups for Pods: DNS, istiod and kubelet probes between the pods' groups and the nodes'.
        self.pod_security_group_rules = pod_access.pod_security_group_rules(
            self, name, cluster_security_group_id=self.cluster_security_group_id,
            pod_security_group_ids=dict(pod_security_group_ids or {}),
            scraper_security_group_ids=dict(scraper_security_group_ids or {}), tags=tags)
        self._nodes(config, subnet_ids=subnet_ids, node_security_group_ids=node_security_group_ids,
                    ebs_kms_key_arn=ebs_kms_key_arn)
        self._kubernetes(config, ebs_kms_key_arn=ebs_kms_key_arn, namespaces=namespaces)
        # Before any workload: no internet-facing load balancer but the published apps' Ingresses
        # (``published_ingresses``, namespace/name), and External Secrets objects written by the deployer only.
        self.admission_policies = admission.admission_policies(
            name, published=published_ingresses, deployer_role_arn=config.deployer_role_arn, opts=self._k8s_opts)

        scope = helm_addons.HelmScope(name, self._k8s_opts)
        self.releases: dict[str, k8s.helm.v3.Release] = scope.releases
        self.peer_authentication = helm_addons.cluster_addons(
            scope, config.charts, irsa_role=self.irsa_role, cluster_name=self.cluster.name, region=region,
            account_id=account_id, vpc_id=vpc_id, target_security_group_ids=load_balancer_target_security_group_ids)
        self.addons_ready: list[pulumi.Resource] = [
            self.releases["aws-load-balancer-controller"], self.releases["external-secrets"],
            self.releases["istiod"], self.releases["argo-rollouts"], self.storage_class, *self.namespaces.values(),
            *self.admission_policies,
        ]

        self.register_outputs({
            "clusterName": self.cluster_name,
            "endpoint": self.endpoint,
            "oidcIssuer": self.oidc_issuer,
            "oidcProviderArn": self.oidc_provider_arn,
            "clusterSecurityGroupId": self.cluster_security_group_id,
            "nodeRoleArn": self.node_role.arn,
            "kubeconfig": self.kubeconfig,
        })

    # -- the steps, in order ---------------------------------------------------------------------
    def _control_plane(self, config: EksConfig, *, subnet_ids: Sequence[pulumi.Input[str]],
                       secrets_kms_key_arn: pulumi.Input[str], logs_kms_key_arn: pulumi.Input[str],
                       deletion_protection: bool) -> None:
        """The log group, the cluster (with its role) and the OIDC provider IRSA roles trust."""
        name, tags = self._name, self._tags
        self.log_group = control_plane.cluster_log_group(self, name, config, logs_kms_key_arn=logs_kms_key_arn,
                                                         tags=tags)
        cluster_role, cluster_policies = control_plane.cluster_role(self, name, region=self._region,
                                                                     account_id=self._account_id, tags=tags)
        self.cluster = control_plane.cluster(
            self, name, config, role_arn=cluster_role.arn, subnet_ids=subnet_ids,
            secrets_kms_key_arn=secrets_kms_key_arn, deletion_protection=deletion_protection, tags=tags,
            depends_on=[self.log_group, *cluster_policies])
        self.cluster_name = self.cluster.name
        self.endpoint = self.cluster.endpoint
        self.cluster_security_group_id = self.cluster.vpc_config.cluster_security_group_id
        self.oidc_issuer: pulumi.Output[str] = self.cluster.identities.apply(
            lambda ids: ids[0].oidcs[0].issuer)  # type: ignore[index,return-value,arg-type]
        self.oidc_provider = control_plane.oidc_provider(self, name, issuer=self.oidc_issuer, tags=tags)
        self.oidc_provider_arn = self.oidc_provider.arn

    def _admin_access(self, config: EksConfig) -> None:
        """Cluster-admin, granted one way only (the deployer's first: everything that talks to the Kubernetes
        API waits for it), and 443 on the cluster security group from the deployer networks."""
        name, tags = self._name, self._tags
        principals = [("deployer", config.deployer_role_arn),
                      *((f"admin-{index}", arn) for index, arn in enumerate(config.admin_role_arns))]
        self.admin_access: list[pulumi.Resource] = [
            control_plane.admin_access(self, name, short, cluster_name=self.cluster.name, principal_arn=arn,
                                       tags=tags)
            for short, arn in principals
        ]
        self.deployer_ingress = control_plane.deployer_ingress(
            self, name, security_group_id=self.cluster.vpc_config.cluster_security_group_id,
            cidrs=config.deployer_cidrs, tags=tags)

    def _nodes(self, config: EksConfig, *, subnet_ids: Sequence[pulumi.Input[str]],
               node_security_group_ids: Sequence[pulumi.Input[str]], ebs_kms_key_arn: pulumi.Input[str]) -> None:
        """Networking add-ons, the node pools, then the add-ons that need nodes (CoreDNS, EBS CSI)."""
        name, tags = self._name, self._tags
        self.addons: dict[str, aws.eks.Addon] = {}
        # Networking add-ons are DaemonSets: they go in before the nodes so nodes become Ready.
        cni_role = self.irsa_role("vpc-cni", "kube-system", "aws-node",
                                  managed_policy_arns=["arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"])
        self._addon("vpc-cni", config.addons.vpc_cni, service_account_role_arn=cni_role.arn,
                    configuration_values=addons.VPC_CNI_CONFIGURATION)
        self._addon("kube-proxy", config.addons.kube_proxy)

        self.node_role, node_policies = node_pools.node_role(self, name, tags=tags)
        # With a launch template that sets security groups, EKS no longer adds the cluster security
        # group itself: the nodes carry it (control plane <-> nodes) plus the workload group the data tier admits.
        node_sgs = [self.cluster_security_group_id, *node_security_group_ids]
        self.node_groups: dict[str, aws.eks.NodeGroup] = {}
        self.launch_templates: dict[str, aws.ec2.LaunchTemplate] = {}
        for pool in node_pools.POOLS:
            pool_config = getattr(config.node_pools, pool)
            template = node_pools.launch_template(self, name, pool, pool_config, security_group_ids=node_sgs,
                                                  ebs_kms_key_arn=ebs_kms_key_arn, tags=tags)
            self.launch_templates[pool] = template
            self.node_groups[pool] = node_pools.node_group(
                self, name, pool, pool_config, cluster_name=self.cluster.name, node_role_arn=self.node_role.arn,
                subnet_ids=subnet_ids, template=template, tags=tags,
                depends_on=[*node_policies, self.addons["vpc-cni"], self.addons["kube-proxy"]])
        nodes = list(self.node_groups.values())

        # With IMDS hop limit 1 the EBS CSI controller takes its credentials and region from IRSA (the pod
        # identity webhook injects AWS_REGION), and the node plugin falls back to the Kubernetes API for its
        # instance id and zone (EKS managed nodes carry providerID and topology labels;
        # https://github.com/kubernetes-sigs/aws-ebs-csi-driver/blob/master/docs/install.md#metadata,
        # https://github.com/aws/karpenter-provider-aws/issues/7200).
        ebs_role = self.irsa_role(EBS_CSI, "kube-system", "ebs-csi-controller-sa",
                                  managed_policy_arns=["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"],
                                  policy=pulumi.Output.from_input(ebs_kms_key_arn).apply(ebs_kms_policy))
        self._addon("coredns", config.addons.coredns, depends_on=nodes)
        self._addon("aws-ebs-csi-driver", config.addons.aws_ebs_csi_driver, service_account_role_arn=ebs_role.arn,
                    depends_on=nodes)

    def _kubernetes(self, config: EksConfig, *, ebs_kms_key_arn: pulumi.Input[str], namespaces: Sequence[str]) -> None:
        """The kubeconfig and provider (once nodes, CoreDNS and admin access exist), StorageClass, namespaces."""
        name = self._name
        self.kubeconfig = kubeconfig.kubeconfig(self.cluster, self._region)
        self.provider = kubeconfig.kubernetes_provider(
            self, name, kubeconfig=self.kubeconfig,
            depends_on=[*self.node_groups.values(), self.addons["coredns"], *self.admin_access,
                        *self.deployer_ingress])
        self.storage_class_name = STORAGE_CLASS_NAME
        self.storage_class = storage_class(name, config, ebs_kms_key_arn=ebs_kms_key_arn, tags=self._tags,
                                           opts=self._k8s_opts(depends_on=[self.addons["aws-ebs-csi-driver"]]))
        self.namespaces = workload_namespaces(name, namespaces, opts=self._k8s_opts)
        self.default_deny = default_deny(name, self.namespaces, opts=self._k8s_opts)
        self.namespace_egress = namespace_egress(name, self.namespaces, opts=self._k8s_opts())

    # -- building blocks -------------------------------------------------------------------------
    def _k8s_opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return kubeconfig.k8s_opts(self, self.provider, **kwargs)

    def irsa_role(self, short: str, namespace: str, service_account: str, *,
                  managed_policy_arns: Sequence[str] = (), policy: pulumi.Input[str] | None = None) -> aws.iam.Role:
        """A role only ``namespace/service_account`` can assume, with the given policies."""
        return _irsa_role(self, self._name, self._tags, oidc_provider_arn=self.oidc_provider.arn,
                          oidc_issuer=self.oidc_issuer, short=short, namespace=namespace,
                          service_account=service_account, managed_policy_arns=managed_policy_arns, policy=policy)

    def _addon(self, addon: str, version: str, **kwargs: Any) -> None:
        self.addons[addon] = addons.eks_addon(self, self._name, addon, version, cluster_name=self.cluster.name,
                                              tags=self._tags, **kwargs)

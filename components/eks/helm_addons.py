"""The cluster add-ons installed with Helm, with the IRSA roles of those that call AWS.

AWS Load Balancer Controller, Cluster Autoscaler, metrics-server, External Secrets Operator, Istio
(base, CNI node agent, istiod, mesh-wide strict mTLS) and Argo Rollouts (the controller and CRDs of the
apps' blue-green and canary releases). Chart versions are pinned in ``eks.charts``
(``EksChartsConfig``, where each pin is cited). Every release runs on the ``app`` pool, with two replicas
where the chart allows, and is atomic: a failed install or upgrade rolls back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.eks.config import EksChartsConfig
from components.eks.iam import alb_controller_policy, cluster_autoscaler_policy
from components.eks.kubeconfig import K8sOpts
from components.eks.node_pools import POOL_LABEL

HELM_REPOS: dict[str, str] = {
    "eks": "https://aws.github.io/eks-charts",
    "autoscaler": "https://kubernetes.github.io/autoscaler",
    "metrics-server": "https://kubernetes-sigs.github.io/metrics-server/",
    "external-secrets": "https://charts.external-secrets.io",
    "istio": "https://istio-release.storage.googleapis.com/charts",
    "argo": "https://argoproj.github.io/argo-helm",
}

#: ``EksCluster.irsa_role``: (short, namespace, service_account, *, managed_policy_arns=(), policy=None) -> Role.
IrsaRole = Callable[..., aws.iam.Role]


@dataclass(frozen=True)
class HelmScope:
    """Where the releases go: named after the cluster, through its provider; each kept in ``releases``."""

    name: str
    opts: K8sOpts
    releases: dict[str, k8s.helm.v3.Release] = field(default_factory=dict)
    #: What every later release waits for (the AWS Load Balancer Controller: see ``cluster_addons``).
    after: list[pulumi.Resource] = field(default_factory=list)

    def release(self, release: str, *, chart: str, repo: str, version: str, namespace: str,
                values: Mapping[str, Any], depends_on: Sequence[pulumi.Resource] = (),
                create_namespace: bool = False) -> k8s.helm.v3.Release:
        self.releases[release] = k8s.helm.v3.Release(
            f"{self.name}-{release}",
            k8s.helm.v3.ReleaseArgs(
                name=release,
                chart=chart,
                version=version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=HELM_REPOS[repo]),
                namespace=namespace,
                create_namespace=create_namespace,
                values=dict(values),
                atomic=True,
                cleanup_on_fail=True,
                max_history=10,
            ),
            self.opts(depends_on=[*self.after, *depends_on]),
        )
        return self.releases[release]


def _system_pool() -> dict[str, Any]:
    """Cluster add-ons run on the untainted ``app`` pool."""
    return {"nodeSelector": {POOL_LABEL: "app"}}


def _service_account(role: aws.iam.Role, name: str) -> dict[str, Any]:
    return {"create": True, "name": name, "annotations": {"eks.amazonaws.com/role-arn": role.arn}}


#: The AWS Load Balancer Controller chart's values this platform sets on purpose (chart 1.17.1 values:
#: https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/v2.17.1/helm/aws-load-balancer-controller/values.yaml).
ALB_CONTROLLER_VALUES: dict[str, Any] = {
    "replicaCount": 2,
    # The Service mutator webhook makes the controller (not the legacy in-tree cloud provider, which builds
    # an internet-facing Classic/NLB in the public subnets) own every new Service of type LoadBalancer. The
    # webhook matches every Service CREATE (ClusterIP included), so with failurePolicy Fail no Service could be
    # created anywhere while the controller has no ready endpoint (node replacement, crash loop, DR rebuild);
    # it is Ignore, and failing closed is the admission policy's job (components/eks/admission.py, Fail): it
    # refuses any LoadBalancer Service the webhook did not claim (spec.loadBalancerClass) or that asks to be
    # internet-facing.
    "enableServiceMutatorWebhook": True,
    "serviceMutatorWebhookConfig": {"failurePolicy": "Ignore"},
    # Explicit, although both are the controller's defaults today: a load balancer without a scheme
    # annotation is internal, and its targets are pods (security groups for Pods: a pod's branch network
    # interface carries its workload's group, the one the controller adds its backend rule to).
    "defaultLoadBalancerScheme": "internal",
    "defaultTargetType": "ip",
    # The shared backend security group the controller creates and tags elbv2.k8s.aws/cluster itself
    # (docs/deploy/security_groups.md): the source of the rules it adds to the targets' groups.
    "enableBackendSecurityGroup": True,
    # Listeners and rules carry the cluster tag, which the IAM policy scopes their changes by (iam.py).
    "controllerConfig": {"featureGates": {"ListenerRulesTagging": True}},
}


def alb_controller(scope: HelmScope, charts: EksChartsConfig, *, irsa_role: IrsaRole,
                   cluster_name: pulumi.Input[str], region: str, account_id: str,
                   vpc_id: pulumi.Input[str],
                   target_security_group_ids: Sequence[pulumi.Input[str]] = ()) -> k8s.helm.v3.Release:
    """The controller, its IRSA role scoped to this cluster's tag (``scope.name`` is the cluster's name) and
    to the security groups of the workloads behind an Ingress (``target_security_group_ids``)."""
    policy = pulumi.Output.all(*target_security_group_ids).apply(
        lambda groups: json.dumps(alb_controller_policy(region, account_id, scope.name, sorted(groups))))
    role = irsa_role("alb-controller", "kube-system", "aws-load-balancer-controller", policy=policy)
    return scope.release("aws-load-balancer-controller", chart="aws-load-balancer-controller", repo="eks",
                         version=charts.aws_load_balancer_controller, namespace="kube-system", values={
                             # Region and VPC given explicitly: with IMDS hop limit 1 the controller cannot look
                             # them up (https://github.com/kubernetes-sigs/aws-load-balancer-controller/pull/2243).
                             "clusterName": cluster_name, "region": region, "vpcId": vpc_id,
                             "serviceAccount": _service_account(role, "aws-load-balancer-controller"),
                             **ALB_CONTROLLER_VALUES,
                             **_system_pool(),
                         })


def cluster_autoscaler(scope: HelmScope, charts: EksChartsConfig, *, irsa_role: IrsaRole,
                       cluster_name: pulumi.Input[str], region: str) -> k8s.helm.v3.Release:
    role = irsa_role("cluster-autoscaler", "kube-system", "cluster-autoscaler",
                     policy=json.dumps(cluster_autoscaler_policy(scope.name)))
    return scope.release("cluster-autoscaler", chart="cluster-autoscaler", repo="autoscaler",
                         version=charts.cluster_autoscaler, namespace="kube-system", values={
                             "autoDiscovery": {"clusterName": cluster_name},
                             # Explicit region: with IMDS hop limit 1 the pod cannot look it up.
                             "awsRegion": region,
                             # The chart's default image trails the cluster's minor; the autoscaler must match it.
                             "image": {"tag": charts.cluster_autoscaler_image_tag},
                             "rbac": {"serviceAccount": _service_account(role, "cluster-autoscaler")},
                             "extraArgs": {"balance-similar-node-groups": True, "expander": "least-waste",
                                           "skip-nodes-with-local-storage": False},
                             **_system_pool(),
                         })


def metrics_server(scope: HelmScope, charts: EksChartsConfig) -> k8s.helm.v3.Release:
    return scope.release("metrics-server", chart="metrics-server", repo="metrics-server",
                         version=charts.metrics_server, namespace="kube-system",
                         values={"replicas": 2, **_system_pool()})


def external_secrets(scope: HelmScope, charts: EksChartsConfig) -> k8s.helm.v3.Release:
    """The operator itself calls no AWS API: each app's SecretStore authenticates as the app's own IRSA
    service account, which may read only that app's secrets. So nobody but the deployer may write its objects
    (the admission policy in components/eks/admission.py), and the chart does not add write access to them to
    Kubernetes' built-in ``edit``/``admin`` ClusterRoles (``rbac.aggregateToEdit``, default true:
    https://github.com/external-secrets/external-secrets/blob/main/deploy/charts/external-secrets/README.md)."""
    return scope.release("external-secrets", chart="external-secrets", repo="external-secrets",
                         version=charts.external_secrets, namespace="external-secrets", create_namespace=True,
                         values={"installCRDs": True, "replicaCount": 2, **_system_pool(),
                                 "rbac": {"aggregateToEdit": False},
                                 "webhook": _system_pool(), "certController": _system_pool()})


def istio(scope: HelmScope, charts: EksChartsConfig) -> k8s.apiextensions.CustomResource:
    """Istio base, CNI node agent and istiod, then mesh-wide STRICT mTLS (the PeerAuthentication returned)."""
    base = scope.release("istio-base", chart="base", repo="istio", version=charts.istio,
                         namespace="istio-system", create_namespace=True,
                         values={"defaultRevision": "default"})
    # The CNI node agent (chained after the VPC CNI) sets up pod traffic redirection, so sidecar-injected
    # pods need no NET_ADMIN init container and meet the restricted Pod Security Standard.
    cni = scope.release("istio-cni", chart="cni", repo="istio", version=charts.istio, namespace="istio-system",
                        values={}, depends_on=[base])
    istiod = scope.release("istiod", chart="istiod", repo="istio", version=charts.istio,
                           namespace="istio-system", depends_on=[base, cni], values={
                               "pilot": {"cni": {"enabled": True}, "autoscaleMin": 2, **_system_pool()},
                               "meshConfig": {"accessLogFile": "/dev/stdout",
                                              "defaultConfig": {"holdApplicationUntilProxyStarts": True}},
                           })
    return k8s.apiextensions.CustomResource(
        f"{scope.name}-mesh-mtls",
        api_version="security.istio.io/v1",
        kind="PeerAuthentication",
        metadata=k8s.meta.v1.ObjectMetaArgs(name="default", namespace="istio-system"),
        spec={"mtls": {"mode": "STRICT"}},
        opts=scope.opts(depends_on=[istiod]),
    )


def argo_rollouts(scope: HelmScope, charts: EksChartsConfig) -> k8s.helm.v3.Release:
    """The Argo Rollouts controller and its CRDs (Rollout, AnalysisTemplate, ...): every app waits for this
    release (``EksCluster.addons_ready``), so the CRDs exist before any Rollout. The CRDs stay when the
    release is uninstalled (``keepCRDs``): deleting them would delete every app's Rollout and its pods.
    Values: https://github.com/argoproj/argo-helm/blob/main/charts/argo-rollouts/values.yaml"""
    return scope.release("argo-rollouts", chart="argo-rollouts", repo="argo", version=charts.argo_rollouts,
                         namespace="argo-rollouts", create_namespace=True, values={
                             "installCRDs": True, "keepCRDs": True,
                             # Two replicas with leader election: a node drain never stops a release half-way.
                             "controller": {"replicas": 2, **_system_pool()},
                             "dashboard": {"enabled": False},
                         })


def cluster_addons(scope: HelmScope, charts: EksChartsConfig, *, irsa_role: IrsaRole,
                   cluster_name: pulumi.Input[str], region: str, account_id: str,
                   vpc_id: pulumi.Input[str],
                   target_security_group_ids: Sequence[pulumi.Input[str]] = ()) -> k8s.apiextensions.CustomResource:
    """All the Helm add-ons, in order; returns the mesh's PeerAuthentication (the releases are in ``scope``).

    The AWS Load Balancer Controller goes first and every other release waits for it (atomic, so until its
    pods are ready): its Service mutator webhook is called on every new Service and fails closed, so a chart
    creating a Service while the webhook has no ready endpoint would fail."""
    scope.after.append(alb_controller(
        scope, charts, irsa_role=irsa_role, cluster_name=cluster_name, region=region, account_id=account_id,
        vpc_id=vpc_id, target_security_group_ids=target_security_group_ids))
    cluster_autoscaler(scope, charts, irsa_role=irsa_role, cluster_name=cluster_name, region=region)
    metrics_server(scope, charts)
    external_secrets(scope, charts)
    argo_rollouts(scope, charts)
    return istio(scope, charts)

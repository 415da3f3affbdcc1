"""Admission policies the API server enforces on every request (tenants, controllers and Pulumi alike).

ValidatingAdmissionPolicy and its binding (``admissionregistration.k8s.io/v1``, GA in Kubernetes 1.30;
https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/), with CEL expressions;
the cluster runs 1.30 or newer (``EksConfig.version``). Both fail closed (``failurePolicy: Fail``) and deny
(``validationActions: [Deny]``). What a tenant could forge (a label, an annotation) grants nothing: the
exceptions are exact names from the stack's config and exact authenticated user names.

- ``care-load-balancer-exposure``: no load balancer the internet can reach except the published APIs.
  A ``Service`` of type LoadBalancer must have been claimed by the AWS Load Balancer Controller's mutating
  webhook (``spec.loadBalancerClass: service.k8s.aws/nlb``, its default class:
  https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/v2.17.1/pkg/config/service_config.go;
  mutating admission runs before validating admission, so the class is visible here), which keeps the legacy
  in-tree cloud provider (internet-facing by default, in the public subnets) from ever building it; its
  scheme annotation, if any, must be ``internal`` and the deprecated ``aws-load-balancer-internal`` one, if
  any, ``"true"`` (service annotations:
  https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/v2.17.1/docs/guide/service/annotations.md).
  An ``Ingress`` may say ``alb.ingress.kubernetes.io/scheme: internet-facing`` only if it is one of the
  published apps' Ingresses (``namespace/name``, baked into the policy from the config).
- ``care-external-secrets-writers``: only the deployer (the IAM role ``pulumi up`` runs as) writes the
  External Secrets Operator's objects (SecretStore, ExternalSecret, their cluster-wide and push variants,
  generators). An app's SecretStore authenticates as the app's IRSA service account, so anyone else able to
  create one in that namespace could read the app's credentials. The operator itself may update them
  (finalizers) and manage the ExternalSecrets a ClusterExternalSecret owns; the namespace controller and the
  garbage collector may delete them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.eks.kubeconfig import K8sOpts

adm = k8s.admissionregistration.v1

EXPOSURE_POLICY = "care-load-balancer-exposure"
SECRETS_POLICY = "care-external-secrets-writers"

#: The class the controller's Service mutator webhook sets on every new LoadBalancer Service.
LOAD_BALANCER_CLASS = "service.k8s.aws/nlb"
SERVICE_SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme"
SERVICE_INTERNAL = "service.beta.kubernetes.io/aws-load-balancer-internal"
INGRESS_SCHEME = "alb.ingress.kubernetes.io/scheme"

#: The External Secrets Operator's controller (chart release ``external-secrets`` in namespace
#: ``external-secrets``: the chart names its service account after the release).
ESO_CONTROLLER = "system:serviceaccount:external-secrets:external-secrets"
#: kube-controller-manager's controllers run under their own service accounts on EKS: the namespace
#: controller deletes a namespace's objects, the garbage collector the objects whose owner is gone.
CLEANUP_CONTROLLERS = ("system:serviceaccount:kube-system:namespace-controller",
                       "system:serviceaccount:kube-system:generic-garbage-collector")
#: The External Secrets Operator's resources (external-secrets.io/v1 and v1alpha1, generators).
ESO_RESOURCES = ("secretstores", "clustersecretstores", "externalsecrets", "clusterexternalsecrets", "pushsecrets")


@dataclass(frozen=True)
class Validation:
    expression: str
    message: str


def deployer_username_prefix(role_arn: str) -> str:
    """The Kubernetes user name of any session of ``role_arn`` through an EKS access entry with no explicit
    username: ``arn:aws:sts::<account>:assumed-role/<role-name>/{{SessionName}}`` (the role name without
    its path; https://docs.aws.amazon.com/eks/latest/userguide/creating-access-entries.html)."""
    match = re.fullmatch(r"arn:aws:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)", role_arn)
    if match is None:
        raise ValueError(f"not an IAM role ARN: {role_arn!r}")
    account, role = match.groups()
    return f"arn:aws:sts::{account}:assumed-role/{role}/"


def _quoted(values: Sequence[str]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def _annotation_is(key: str, allowed: str) -> str:
    """CEL: the object has no annotation ``key``, or it equals ``allowed``."""
    return (f"(!has(object.metadata.annotations) || !('{key}' in object.metadata.annotations) || "
            f"object.metadata.annotations['{key}'] == '{allowed}')")


def exposure_validations(published: Sequence[str]) -> list[Validation]:
    """The load-balancer exposure rules; ``published``: the published apps' Ingresses as ``namespace/name``."""
    not_load_balancer = ("request.kind.kind != 'Service' || !has(object.spec.type) || "
                         "object.spec.type != 'LoadBalancer'")
    is_ingress = "request.kind.kind == 'Ingress'"
    return [
        Validation(
            f"{not_load_balancer} || (has(object.spec.loadBalancerClass) && "
            f"object.spec.loadBalancerClass == '{LOAD_BALANCER_CLASS}')",
            f"a Service of type LoadBalancer must be the AWS Load Balancer Controller's "
            f"(spec.loadBalancerClass {LOAD_BALANCER_CLASS}, set by its webhook): the legacy cloud provider "
            "would build an internet-facing load balancer"),
        Validation(
            f"{not_load_balancer} || "
            f"({_annotation_is(SERVICE_SCHEME, 'internal')} && {_annotation_is(SERVICE_INTERNAL, 'true')})",
            f"a Service of type LoadBalancer must be internal ({SERVICE_SCHEME}: internal, or no annotation): "
            "only the published APIs are reachable from the internet, through CloudFront and WAF"),
        Validation(
            f"!({is_ingress}) || request.namespace + '/' + object.metadata.name in {_quoted(published)} || "
            f"{_annotation_is(INGRESS_SCHEME, 'internal')}",
            f"an Ingress must be internal ({INGRESS_SCHEME}: internal, or no annotation): only the published "
            f"APIs' Ingresses ({', '.join(published) or 'none'}) are internet-facing, behind CloudFront and WAF"),
    ]


def secrets_validations(deployer_role_arn: str) -> list[Validation]:
    """Who may write the External Secrets Operator's objects."""
    user = "request.userInfo.username"
    return [Validation(
        f"{user}.startsWith('{deployer_username_prefix(deployer_role_arn)}') || "
        f"({user} == '{ESO_CONTROLLER}' && (request.operation == 'UPDATE' || "
        "request.resource.resource == 'externalsecrets')) || "
        f"(request.operation == 'DELETE' && {user} in {_quoted(CLEANUP_CONTROLLERS)})",
        "only the deployer (eks.deployerRoleArn, through Pulumi) creates, changes or deletes SecretStores, "
        "ExternalSecrets, PushSecrets and generators: a SecretStore authenticates as an app's service account "
        "and could read its credentials")]


def _rule(group: str, versions: Sequence[str], resources: Sequence[str],
          operations: Sequence[str]) -> adm.NamedRuleWithOperationsArgs:
    return adm.NamedRuleWithOperationsArgs(api_groups=[group], api_versions=list(versions),
                                           resources=list(resources), operations=list(operations))


def _policy(name: str, policy: str, rules: Sequence[adm.NamedRuleWithOperationsArgs],
            validations: Sequence[Validation], opts: K8sOpts) -> list[pulumi.Resource]:
    vap = adm.ValidatingAdmissionPolicy(
        f"{name}-{policy}",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=policy),
        spec=adm.ValidatingAdmissionPolicySpecArgs(
            failure_policy="Fail",
            match_constraints=adm.MatchResourcesArgs(resource_rules=list(rules)),
            validations=[adm.ValidationArgs(expression=v.expression, message=v.message, reason="Forbidden")
                         for v in validations],
        ),
        opts=opts(),
    )
    binding = adm.ValidatingAdmissionPolicyBinding(
        f"{name}-{policy}-binding",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=policy),
        spec=adm.ValidatingAdmissionPolicyBindingSpecArgs(policy_name=policy, validation_actions=["Deny"]),
        opts=opts(depends_on=[vap]),
    )
    return [vap, binding]


def admission_policies(name: str, *, published: Sequence[str], deployer_role_arn: str,
                       opts: K8sOpts) -> list[pulumi.Resource]:
    """Both policies and their bindings (children of the cluster, through its provider)."""
    write = ("CREATE", "UPDATE")
    return [
        *_policy(name, EXPOSURE_POLICY, [_rule("", ["v1"], ["services"], write),
                                          _rule("networking.k8s.io", ["v1"], ["ingresses"], write)],
                 exposure_validations(published), opts),
        *_policy(name, SECRETS_POLICY, [_rule("external-secrets.io", ["*"], ESO_RESOURCES, (*write, "DELETE")),
                                         _rule("generators.external-secrets.io", ["*"], ["*"], (*write, "DELETE"))],
                 secrets_validations(deployer_role_arn), opts),
    ]

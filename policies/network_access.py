"""Least privilege inside the VPC: each store admits only the workloads bound to it.
HIPAA 164.312(a)(1) access control.

Every workload that uses a store has its own security group (security groups for Pods), tagged
``care.platform/stores`` with the stores it is bound to; every store's security group is tagged
``care.platform/store`` with the store keys it serves (components/pod_network.py, tiers/data.py).
Sources are linked the way the engine links them: the security groups a store's ``ingress`` (or a
separate ingress rule's ``referencedSecurityGroupId``) depends on.
"""

from __future__ import annotations

import re

from common import (
    CACHE_RG,
    K8S_INGRESS,
    K8S_NETWORK_POLICY,
    MSK,
    RDS_INSTANCE,
    SECURITY_GROUP,
    SG_INGRESS_RULE,
    SUBNET,
    VPC,
    Report,
    Resource,
    Settings,
    as_int,
    as_list,
    is_unknown,
    of_type,
    parse_json,
    policies_of,
    required_flag,
    resource_policy,
    stack_policy,
)

ACCESS = "164.312(a)(1)"

STORE_TAG = "care.platform/store"
CLIENT_TAG = "care.platform/stores"

#: A store resource's type -> the input naming its security groups.
STORE_SG_INPUTS: dict[str, str] = {
    RDS_INSTANCE: "vpcSecurityGroupIds",
    CACHE_RG: "securityGroupIds",
    MSK: "brokerNodeGroupInfo",
}


def _keys(group: Resource, tag: str) -> set[str]:
    tags = group.get("tags")
    value = tags.get(tag) if isinstance(tags, dict) else None
    return set(value.split()) if isinstance(value, str) else set()


def _label(group: Resource) -> str:
    tags = group.get("tags")
    name = tags.get("Name") if isinstance(tags, dict) else None
    return name if isinstance(name, str) else group.name


def _sources(resources: list[Resource], groups: list[Resource], store: Resource) -> list[Resource]:
    """The security groups ``store`` admits: through its inline ``ingress`` or a separate ingress rule."""
    sources = [g for g in groups if g is not store and store.depends_on(g, "ingress")]
    for rule in of_type(resources, SG_INGRESS_RULE):
        if rule.depends_on(store, "securityGroupId"):
            sources += [g for g in groups if g is not store and rule.depends_on(g, "referencedSecurityGroupId")]
    return sources


def store_ingress_bound_clients(resources: list[Resource], report: Report, _: Settings) -> None:
    groups = list(of_type(resources, SECURITY_GROUP))
    for store in (r for r in resources if r.type in STORE_SG_INPUTS):
        for group in groups:
            if store.depends_on(group, STORE_SG_INPUTS[store.type]) and not _keys(group, STORE_TAG):
                report(f"{store.name} uses security group {_label(group)}, which names no store "
                       f"({STORE_TAG} is not set): the pack cannot tell who may reach it. Build store security "
                       "groups in the data tier (tiers/data.py), which tags them.", store.urn)
    for group in groups:
        served = _keys(group, STORE_TAG)
        if not served:
            continue
        for rule in as_list(group.get("ingress")):
            cidrs = [*as_list(rule.get("cidrBlocks")), *as_list(rule.get("ipv6CidrBlocks"))] \
                if isinstance(rule, dict) else []
            if cidrs:
                report(f"store security group {_label(group)} admits {', '.join(map(str, cidrs))}: a store admits "
                       "only the security groups of the workloads bound to it, never address ranges.", group.urn)
        for source in _sources(resources, groups, group):
            bound = _keys(source, CLIENT_TAG)
            if not bound & served:
                report(f"store security group {_label(group)} ({' '.join(sorted(served))}) admits "
                       f"{_label(source)}, which is not bound to it ({CLIENT_TAG}: "
                       f"{' '.join(sorted(bound)) or 'none'}). Bind the workload to the store "
                       "(tiers/identity.py APP_STORES) or remove the rule.", group.urn)


stack_policy(
    "store-ingress-bound-clients", concern="exposure", citation=ACCESS, types=(SECURITY_GROUP, SG_INGRESS_RULE),
    description="Each store's security group admits only the security groups of the workloads bound to it.",
)(store_ingress_bound_clients)

K8S_NAMESPACE = "kubernetes:core/v1:Namespace"


def _selects_all(selector: object) -> bool:
    return not selector or (isinstance(selector, dict) and not selector.get("matchLabels")
                            and not selector.get("matchExpressions"))


def _denies_all_egress(policy: Resource) -> bool:
    types = policy.get("spec.policyTypes")
    return (_selects_all(policy.get("spec.podSelector")) and isinstance(types, list) and "Egress" in types
            and not as_list(policy.get("spec.egress")))


def namespace_default_deny_egress(resources: list[Resource], report: Report, _: Settings) -> None:
    denied = {p.get("metadata.namespace") for p in of_type(resources, K8S_NETWORK_POLICY) if _denies_all_egress(p)}
    for namespace in of_type(resources, K8S_NAMESPACE):
        name = namespace.get("metadata.name")
        if isinstance(name, str) and name not in denied:
            report(f"namespace {name} has no default-deny egress NetworkPolicy (empty podSelector, policyTypes "
                   "[Egress], no egress rules): a compromised pod could reach anything, the instance metadata "
                   "service and the internet included. Create it with the namespace (components/egress.py "
                   "namespace_egress) and allow each workload's destinations explicitly.", namespace.urn)


stack_policy(
    "namespace-default-deny-egress", concern="kubernetes", citation=ACCESS, types=(K8S_NAMESPACE, K8S_NETWORK_POLICY),
    description="Every namespace the stack creates denies all egress by default (explicit allows per workload).",
)(namespace_default_deny_egress)

AUTHORIZATION_POLICY = "kubernetes:security.istio.io/v1:AuthorizationPolicy"


def _allows_nothing(policy: Resource) -> bool:
    """Istio's allow-nothing: an ALLOW policy (the default action) with no selector and no rules."""
    spec = policy.get("spec")
    if spec is None:
        return True
    return (isinstance(spec, dict) and spec.get("action", "ALLOW") == "ALLOW" and not spec.get("selector")
            and not spec.get("rules") and not spec.get("targetRefs") and not spec.get("provider"))


def _open_rules(policy: Resource) -> list[int]:
    """The indexes of an ALLOW policy's rules that name no source: they admit any caller."""
    if policy.get("spec.action", "ALLOW") != "ALLOW":
        return []
    return [i for i, rule in enumerate(as_list(policy.get("spec.rules")))
            if not (isinstance(rule, dict) and as_list(rule.get("from")))]


def mesh_namespace_default_deny(resources: list[Resource], report: Report, _: Settings) -> None:
    policies = list(of_type(resources, AUTHORIZATION_POLICY))
    denied = {p.get("metadata.namespace") for p in policies if _allows_nothing(p)}
    for namespace in of_type(resources, K8S_NAMESPACE):
        name = namespace.get("metadata.name")
        meshed = namespace.get("metadata.labels.istio-injection") == "enabled"
        if meshed and isinstance(name, str) and name not in denied:
            report(f"app namespace {name} is in the mesh but has no default-deny AuthorizationPolicy (an ALLOW policy "
                   "with an empty spec): any workload in the mesh may call its apps. Create it with the apps "
                   "(components/app_service/authorization.py allow_nothing) and name each app's callers in allowFrom.",
                   namespace.urn)
    for policy in policies:
        for index in _open_rules(policy):
            report(f"AuthorizationPolicy {policy.get('metadata.namespace')}/{policy.get('metadata.name')} rule "
                   f"{index} names no source (from): it admits any caller and defeats the namespace's default deny. "
                   "Name the callers' principals (allowFrom) or the load balancer's ipBlocks.", policy.urn)


stack_policy(
    "mesh-namespace-default-deny", concern="kubernetes", citation=ACCESS, types=(K8S_NAMESPACE, AUTHORIZATION_POLICY),
    description="Every meshed app namespace denies mesh requests by default (Istio allow-nothing AuthorizationPolicy) "
                "and no ALLOW rule admits any source.",
)(mesh_namespace_default_deny)

DNS_ASSOCIATION = "aws:route53/resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation"
DNS_RULE = "aws:route53/resolverFirewallRule:ResolverFirewallRule"
DNS_DOMAIN_LIST = "aws:route53/resolverFirewallDomainList:ResolverFirewallDomainList"
DNS_RULE_GROUP = "aws:route53/resolverFirewallRuleGroup:ResolverFirewallRuleGroup"


def _blocks_the_rest(resources: list[Resource], association: Resource) -> bool:
    """Whether the associated rule group ends in a BLOCK rule on the ``*`` domain list."""
    groups = [g for g in of_type(resources, DNS_RULE_GROUP) if association.depends_on(g, "firewallRuleGroupId")]
    lists = [d for d in of_type(resources, DNS_DOMAIN_LIST) if as_list(d.get("domains")) == ["*"]]
    return any(rule.get("action") == "BLOCK" and any(rule.depends_on(g, "firewallRuleGroupId") for g in groups)
               and any(rule.depends_on(d, "firewallDomainListId") for d in lists)
               for rule in of_type(resources, DNS_RULE))


def vpc_dns_firewall(resources: list[Resource], report: Report, cfg: Settings) -> None:
    if not cfg["required"]:
        return
    associations = list(of_type(resources, DNS_ASSOCIATION))
    for vpc in of_type(resources, VPC):
        mine = [a for a in associations if a.depends_on(vpc, "vpcId")]
        if not any(_blocks_the_rest(resources, a) for a in mine):
            report("has no Route 53 Resolver DNS Firewall rule group that blocks every domain not on the allow-list "
                   "(a BLOCK rule on the '*' domain list): a pod could resolve and reach any host on the internet. "
                   "Set network.dnsFirewall.enabled: true (components/dns_firewall.py).", vpc.urn)


stack_policy(
    "vpc-dns-firewall", concern="exposure", citation=ACCESS,
    types=(VPC, DNS_ASSOCIATION, DNS_RULE, DNS_DOMAIN_LIST, DNS_RULE_GROUP),
    config=required_flag(True, "a DNS Firewall allow-list on every VPC"),
    description="Every VPC resolves only allow-listed domains (Route 53 Resolver DNS Firewall) where required.",
)(vpc_dns_firewall)

NETWORK_ACL = "aws:ec2/networkAcl:NetworkAcl"
NETWORK_ACL_RULE = "aws:ec2/networkAclRule:NetworkAclRule"
NETWORK_ACL_ASSOCIATION = "aws:ec2/networkAclAssociation:NetworkAclAssociation"
_ALL_PROTOCOLS = ("-1", "all", -1)


def _tier(subnet: Resource) -> object:
    tags = subnet.get("tags")
    return tags.get("Tier") if isinstance(tags, dict) else None


def _acl_rules(resources: list[Resource], acl: Resource) -> list[tuple[str, dict[str, object]]]:
    """``(direction, rule)`` for the ACL's inline rules and its separate ``NetworkAclRule`` resources."""
    rules = [(direction, rule) for direction in ("ingress", "egress") for rule in as_list(acl.get(direction))
             if isinstance(rule, dict)]
    for rule in of_type(resources, NETWORK_ACL_RULE):
        if rule.depends_on(acl, "networkAclId"):
            rules.append(("egress" if rule.get("egress") is True else "ingress",
                          {"action": rule.get("ruleAction"), "protocol": rule.get("protocol"),
                           "cidrBlock": rule.get("cidrBlock"), "ipv6CidrBlock": rule.get("ipv6CidrBlock"),
                           "fromPort": rule.get("fromPort"), "toPort": rule.get("toPort")}))
    return rules


def _too_open(rule: dict[str, object], private: set[str], database: set[str]) -> str | None:
    """Why an allow rule is broader than the database tier needs (None if it is not)."""
    if str(rule.get("action", "")).lower() != "allow":
        return None
    cidr = rule.get("cidrBlock") or rule.get("ipv6CidrBlock")
    if is_unknown(cidr):
        return None
    whole = rule.get("protocol") in _ALL_PROTOCOLS or (rule.get("fromPort"), rule.get("toPort")) == (0, 65535)
    if cidr in database:
        return None
    if cidr not in private:
        return f"allows {cidr}, which is neither a private (workload) nor a database subnet"
    if whole:
        return f"allows every protocol and port with the private subnet {cidr} (only the stores' ports are needed)"
    return None


def database_subnet_nacl(resources: list[Resource], report: Report, _: Settings) -> None:
    subnets = list(of_type(resources, SUBNET))
    cidrs = {tier: {s.get("cidrBlock") for s in subnets if _tier(s) == tier} for tier in ("private", "database")}
    acls = list(of_type(resources, NETWORK_ACL))
    associations = list(of_type(resources, NETWORK_ACL_ASSOCIATION))
    for subnet in (s for s in subnets if _tier(s) == "database"):
        mine = [a for a in acls if a.depends_on(subnet, "subnetIds")]
        mine += [a for a in acls for assoc in associations
                 if assoc.depends_on(subnet, "subnetId") and assoc.depends_on(a, "networkAclId")]
        if not mine:
            report(f"database subnet {subnet.get('cidrBlock')} has no network ACL of its own, so the VPC's default "
                   "ACL (all traffic in and out) applies. Associate the database ACL (components/network_acl.py), "
                   "which admits only the private tier on the stores' ports.", subnet.urn)
            continue
        for acl in mine:
            for direction, rule in _acl_rules(resources, acl):
                why = _too_open(rule, cidrs["private"], cidrs["database"])
                if why:
                    number = f" {as_int(rule.get('ruleNo'))}" if rule.get("ruleNo") is not None else ""
                    report(f"database subnet {subnet.get('cidrBlock')}: network ACL {acl.name} {direction} rule"
                           f"{number} {why}. The database tier admits the private tier on the "
                           "stores' ports and the other database subnets only (components/network_acl.py).",
                           subnet.urn)


stack_policy(
    "database-subnet-nacl", concern="exposure", citation=ACCESS,
    types=(SUBNET, NETWORK_ACL, NETWORK_ACL_RULE, NETWORK_ACL_ASSOCIATION),
    description="Every database subnet has a network ACL admitting only the private tier on store ports and the "
                "other database subnets.",
)(database_subnet_nacl)

VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


def _full_access(statement: object) -> bool:
    """AWS's default endpoint policy: anyone, any action, any resource, no condition."""
    if not isinstance(statement, dict) or statement.get("Effect") != "Allow" or statement.get("Condition"):
        return False
    principal, actions, resources = statement.get("Principal"), statement.get("Action"), statement.get("Resource")
    return (principal in ("*", {"AWS": "*"}) and "*" in (actions if isinstance(actions, list) else [actions])
            and "*" in (resources if isinstance(resources, list) else [resources]))


def vpc_endpoint_policy(r: Resource, report: Report, _: Settings) -> None:
    policy = r.get("policy")
    if is_unknown(policy):
        return
    service = r.get("serviceName")
    if not policy:
        report(f"{service}: no endpoint policy, so AWS's default applies (full access: any principal, any action, "
               "any resource, in any account). Give it a policy naming this account (components/network.py).")
        return
    document = parse_json(policy)
    statements = as_list(document.get("Statement")) if isinstance(document, dict) else []
    if not statements or any(_full_access(s) for s in statements):
        report(f"{service}: the endpoint policy allows any principal every action on every resource without a "
               "condition (AWS's full-access default). Limit it to this account (aws:PrincipalAccount, "
               "aws:ResourceAccount) and, for S3, to this stack's buckets (components/network.py).")


resource_policy(
    "vpc-endpoint-policy", concern="exposure", citation=ACCESS, types=(VPC_ENDPOINT,),
    description="Every VPC endpoint has a policy narrower than AWS's full-access default.",
)(vpc_endpoint_policy)

K8S_SERVICE = "kubernetes:core/v1:Service"
K8S_VAP = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
K8S_VAP_BINDING = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
#: The admission policy components/eks/admission.py creates, and the header only CloudFront sends (exposure.py).
EXPOSURE_VAP = "care-load-balancer-exposure"
ORIGIN_HEADER = "X-Origin-Verify"
INGRESS_SCHEME = "alb.ingress.kubernetes.io/scheme"
SERVICE_SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme"


def _annotation(r: Resource, key: str) -> object:
    annotations = r.get("metadata.annotations")
    return annotations.get(key) if isinstance(annotations, dict) else None


def _behind_the_edge(ingress: Resource) -> bool:
    """Published through the edge: the rule forwards only requests carrying CloudFront's origin secret."""
    annotations = ingress.get("metadata.annotations")
    return isinstance(annotations, dict) and any(
        key.startswith("alb.ingress.kubernetes.io/conditions.") and (is_unknown(value) or ORIGIN_HEADER in str(value))
        for key, value in annotations.items())


def _exposure_vap(resources: list[Resource]) -> tuple[Resource | None, str]:
    """The bound, denying, fail-closed exposure policy and its CEL expressions (joined), or None."""
    bound = {b.get("spec.policyName") for b in of_type(resources, K8S_VAP_BINDING)
             if "Deny" in as_list(b.get("spec.validationActions"))}
    for vap in of_type(resources, K8S_VAP):
        name = vap.get("metadata.name")
        if name == EXPOSURE_VAP and name in bound and vap.get("spec.failurePolicy") == "Fail":
            validations = as_list(vap.get("spec.validations"))
            return vap, " ".join(str(v.get("expression")) for v in validations if isinstance(v, dict))
    return None, ""


def load_balancer_exposure(resources: list[Resource], report: Report, _: Settings) -> None:
    for service in of_type(resources, K8S_SERVICE):
        if service.get("spec.type") == "LoadBalancer" and _annotation(service, SERVICE_SCHEME) != "internal":
            report(f"Service {service.get('metadata.namespace')}/{service.get('metadata.name')} is of type "
                   f"LoadBalancer without {SERVICE_SCHEME}: internal: only the published APIs are reachable from "
                   "the internet, through CloudFront and WAF (published: true).", service.urn)
    vap, expressions = _exposure_vap(resources)
    if vap is None and any(True for _ in of_type(resources, EKS_CLUSTER)):
        report(f"the cluster has no ValidatingAdmissionPolicy {EXPOSURE_VAP} bound with validationActions [Deny] "
               "and failurePolicy Fail: anyone able to create a Service or an Ingress could put an internet-facing "
               "load balancer in front of it (components/eks/admission.py).",
               next(iter(of_type(resources, EKS_CLUSTER))).urn)
    for ingress in of_type(resources, K8S_INGRESS):
        if _annotation(ingress, INGRESS_SCHEME) != "internet-facing":
            continue
        key = f"{ingress.get('metadata.namespace')}/{ingress.get('metadata.name')}"
        if not _behind_the_edge(ingress):
            report(f"Ingress {key} is internet-facing but not a published API: its ALB would take requests that did "
                   f"not come through CloudFront and WAF (no {ORIGIN_HEADER} condition). Publish the app "
                   "(published: true) or make the Ingress internal.", ingress.urn)
        elif vap is not None and f"'{key}'" not in expressions:
            report(f"Ingress {key} is internet-facing, but the admission policy {EXPOSURE_VAP} does not name it "
                   "among the published Ingresses: the API server would refuse it (tiers/compute.py "
                   "published_ingresses).", ingress.urn)


stack_policy(
    "load-balancer-exposure", concern="exposure", citation=ACCESS,
    types=(K8S_SERVICE, K8S_INGRESS, K8S_VAP, K8S_VAP_BINDING, EKS_CLUSTER),
    description="No LoadBalancer Service or internet-facing Ingress but the published APIs (behind CloudFront), "
                "and an admission policy enforces it in the cluster.",
)(load_balancer_exposure)
IAM_POLICY = "aws:iam/policy:Policy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
#: The tag naming an MSK client policy's app-owned prefix (components/app_service/bindings.py KAFKA_PREFIX_TAG).
KAFKA_PREFIX_TAG = "care.platform/kafka-prefix"
#: An owned prefix, the same rule as the config's ``ownedPrefix`` (components/app_service/config.py KAFKA_PREFIX;
#: the pack does not import the program, a test pins the two equal).
KAFKA_PREFIX = re.compile(r"[a-z][a-z0-9-]{1,62}\.")
#: Every kafka-cluster action (https://docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html), lowercase:
#: IAM matches action names case-insensitively
#: (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html).
KAFKA_ACTIONS = tuple(f"kafka-cluster:{a}".lower() for a in (
    "Connect", "DescribeCluster", "AlterCluster", "DescribeClusterDynamicConfiguration",
    "AlterClusterDynamicConfiguration", "WriteDataIdempotently", "CreateTopic", "DescribeTopic", "AlterTopic",
    "DeleteTopic", "ReadData", "WriteData", "DescribeTopicDynamicConfiguration", "AlterTopicDynamicConfiguration",
    "AlterGroup", "DescribeGroup", "DeleteGroup", "DescribeTransactionalId", "AlterTransactionalId"))
#: Topic and cluster administration: provisioning's job, never an app's at runtime (auto-creation is off).
KAFKA_ADMIN_ACTIONS = frozenset(f"kafka-cluster:{a}".lower() for a in (
    "CreateTopic", "DeleteTopic", "AlterTopic", "AlterTopicDynamicConfiguration", "AlterCluster",
    "AlterClusterDynamicConfiguration", "DeleteGroup", "AlterTransactionalId"))
#: A Kafka ARN in any partition (aws, aws-cn, aws-us-gov): https://docs.aws.amazon.com/IAM/latest/UserGuide/
#: reference-arns.html; cluster/<name>/<uuid> and topic|group|transactional-id/<cluster>/<uuid>/<name>:
#: https://docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html
_KAFKA_ARN = re.compile(r"arn:aws[\w-]*:kafka:([^:]*):([^:]*):(.*)")
_MSK_CLUSTER = re.compile(r"cluster/([^/]+)/([^/]+)")
_MSK_RESOURCE = re.compile(r"(topic|group|transactional-id)/([^/]*)/([^/]*)/(.*)")
#: Another service's ARN: a literal partition and service (no wildcard can make it match a Kafka resource).
_OTHER_ARN = re.compile(r"arn:aws[\w-]*:([\w-]+):")


def _glob(pattern: str) -> re.Pattern[str]:
    """An IAM action pattern (``*``, ``?``), case-insensitive."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.I)


def _kafka_actions(actions: list[str]) -> list[str]:
    """The entries of an Action list that grant some kafka-cluster action, in any case or through a wildcard.

    A bare ``*`` (admin access, a permissions boundary) is iam-policy-statements' business, not this policy's.
    """
    return [a for a in actions if a != "*" and any(_glob(a).fullmatch(k) for k in KAFKA_ACTIONS)]


def _has_wildcard(text: str) -> bool:
    return any(c in text for c in "*?")


def _kafka_resource_problem(resource: str, prefix: str | None) -> str | None:
    """Why one Resource of a kafka-cluster statement is broader than the app's own names (None if it is not)."""
    arn = _KAFKA_ARN.fullmatch(resource)
    if arn is None:
        other = _OTHER_ARN.match(resource)
        if other and other.group(1).lower() != "kafka":
            return None  # another service's resource: the kafka-cluster actions grant nothing on it
        return f"{resource} (any cluster, topic or group)"
    region, account, rest = arn.groups()
    if _has_wildcard(region + account):
        return f"{resource} (a wildcard cluster)"
    if rest.startswith("cluster/"):
        cluster = _MSK_CLUSTER.fullmatch(rest)
        return f"{resource} (a wildcard cluster)" if cluster is None or _has_wildcard(rest) else None
    match = _MSK_RESOURCE.fullmatch(rest)
    if match is None:
        return f"{resource} (any cluster, topic or group)"
    kind, cluster_name, uuid, name = match.groups()
    if _has_wildcard(cluster_name + uuid):
        return f"{resource} (a wildcard cluster)"
    if _has_wildcard(name) and not (prefix and name == f"{prefix}*"):
        owned = f"the app's prefix {prefix}*" if prefix else f"no valid {KAFKA_PREFIX_TAG} tag"
        return f"{resource} (a wildcard {kind} outside the app's own prefix: {owned})"
    return None


def msk_client_scoped(r: Resource, report: Report, _: Settings) -> None:
    tags = r.get("tags")
    prefix = tags.get(KAFKA_PREFIX_TAG) if isinstance(tags, dict) else None
    if prefix is not None and not is_unknown(prefix) and not (isinstance(prefix, str)
                                                              and KAFKA_PREFIX.fullmatch(prefix)):
        report(f"tag {KAFKA_PREFIX_TAG}={prefix!r} is not an owned prefix: it must be a lowercase stem ending in "
               "'.', like 'prm-worker.' (apps.<app>.kafka.ownedPrefix; components/app_service/config.py).")
        prefix = None
    elif not isinstance(prefix, str):
        prefix = None
    document = parse_json(r.get("policy"))
    if document is None:
        return
    statements = as_list(document.get("Statement")) if isinstance(document, dict) else []
    for s in (s for s in statements if isinstance(s, dict) and s.get("Effect") == "Allow"):
        sid = s.get("Sid") or "(no Sid)"
        if "NotAction" in s:
            excluded = [a for a in as_list(s.get("NotAction")) if isinstance(a, str)]
            if not all(any(_glob(a).fullmatch(k) for a in excluded) for k in KAFKA_ACTIONS):
                report(f"statement {sid} allows with NotAction: it grants every kafka-cluster action it does not "
                       "list. Name the actions in Action (components/app_service/bindings.py msk_client_policy).")
            continue
        kafka = _kafka_actions([a for a in as_list(s.get("Action")) if isinstance(a, str)])
        if not kafka:
            continue
        broad = sorted((a for a in kafka if _has_wildcard(a) or a.lower() in KAFKA_ADMIN_ACTIONS), key=str.lower)
        if broad:
            report(f"statement {sid} allows {', '.join(broad)}: an MSK client never creates, alters or deletes "
                   "topics or groups (topics are provisioned; auto-creation is off). Grant ReadData/WriteData/"
                   "AlterGroup on named topics and groups (components/app_service/bindings.py msk_client_policy).")
        if "NotResource" in s:
            report(f"statement {sid} grants {', '.join(kafka)} with NotResource: that is every cluster, topic and "
                   "group it does not list. Name the app's topics and groups in Resource (apps.<app>.kafka).")
            continue
        problems = [p for p in (_kafka_resource_problem(res, prefix) for res in as_list(s.get("Resource"))
                                if isinstance(res, str)) if p]
        if problems:
            report(f"statement {sid} grants {', '.join(kafka)} on {'; '.join(problems)}: an app may use only the "
                   "topics and consumer groups it names, or <ownedPrefix>* of its own (apps.<app>.kafka).")


resource_policy(
    "msk-client-scoped", concern="exposure", citation=ACCESS, types=(IAM_POLICY, ROLE_POLICY),
    description="MSK client policies name their topics and groups: no wildcard outside the app's own prefix, "
                "no topic or cluster administration.",
)(msk_client_scoped)


def msk_client_prefixes_distinct(resources: list[Resource], report: Report, _: Settings) -> None:
    """No two MSK client policies claim the same or overlapping owned prefixes (one's ``<prefix>*`` would reach
    the other app's topics and groups); the config refuses it (components/app_service/config.py), this holds the
    rendered plan to it."""
    claims: list[tuple[str, Resource]] = []
    for r in (r for r in resources if r.type in (IAM_POLICY, ROLE_POLICY)):
        tags = r.get("tags")
        prefix = tags.get(KAFKA_PREFIX_TAG) if isinstance(tags, dict) else None
        if isinstance(prefix, str) and prefix:
            claims.append((prefix, r))
    for index, (prefix, r) in enumerate(claims):
        for other_prefix, other in claims[:index]:
            if prefix.startswith(other_prefix) or other_prefix.startswith(prefix):
                report(f"{r.name} claims Kafka prefix {prefix!r} ({KAFKA_PREFIX_TAG}), which overlaps {other.name}'s "
                       f"{other_prefix!r}: each app owns a distinct prefix (apps.<app>.kafka.ownedPrefix).", r.urn)


stack_policy(
    "msk-client-prefixes-distinct", concern="exposure", citation=ACCESS, types=(IAM_POLICY, ROLE_POLICY),
    description="No two MSK client policies claim the same or overlapping app-owned Kafka prefixes.",
)(msk_client_prefixes_distinct)

def elasticache_rbac(r: Resource, report: Report, cfg: Settings) -> None:
    groups, token = r.get("userGroupIds"), r.get("authToken")
    if is_unknown(groups):
        return
    has_groups = bool(as_list(groups))
    if has_groups and token:
        report("sets both userGroupIds and authToken: ElastiCache refuses a user group on a group with an AUTH "
               "token (migrate with authTokenUpdateStrategy DELETE and no authToken; components/cache.py).")
    elif cfg["required"] and not has_groups:
        report("has no RBAC user group (userGroupIds): with a shared AUTH token (or none) every client may read "
               "and write every key. Give each app its own ElastiCache user in a user group (components/cache.py).")
    elif not has_groups and not token:
        report("has neither an RBAC user group nor an AUTH token: any client that reaches the port can read PHI.")


resource_policy(
    "elasticache-rbac", concern="exposure", citation=ACCESS, types=(CACHE_RG,),
    config=required_flag(True, "RBAC (a user group: one user per app) rather than a shared AUTH token"),
    description="Redis clients authenticate: RBAC user groups where required (one user per app), else at least "
                "an AUTH token; never both.",
)(elasticache_rbac)

POLICIES = policies_of(__name__)

"""Who and what can reach the resources at create time: RDS replica credentials and keys, the private EKS
endpoint from the deployer's network, and cluster-admin access granted one way only."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from deploy_common import (
    CACHE_RG,
    EKS_ACCESS_ENTRY,
    EKS_ACCESS_POLICY,
    EKS_CLUSTER,
    RDS_INSTANCE,
    SECURITY_GROUP,
    SECURITY_GROUP_RULE,
    SG_INGRESS_RULE,
    Report,
    Resource,
    Settings,
    as_int,
    as_list,
    is_false,
    is_true,
    is_unknown,
    of_type,
    policies_of,
    region_of,
    resource_policy,
    stack_policy,
)
from deploy_versions import db_key

REPLICA_SOURCE = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html#rds-secrets-manager-limitations"
ENDPOINT_SOURCE = "https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html"
ACCESS_SOURCE = "https://docs.aws.amazon.com/eks/latest/userguide/creating-access-entries.html"
CLUSTER_ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def _source_of(replica: Resource, primaries: list[Resource]) -> Resource | None:
    source = replica.get("replicateSourceDb")
    if not isinstance(source, str):
        return None
    for db in primaries:
        ident, arn = db.get("identifier"), db.get("arn")
        if source in (ident, arn) or (isinstance(ident, str) and source.endswith(f":db:{ident}")):
            return db
    return next((db for db in primaries if db.urn in replica.property_dependencies.get("replicateSourceDb", [])),
                None)


@stack_policy(
    "rds-replica-credentials", concern="credentials", source=REPLICA_SOURCE, types=(RDS_INSTANCE,),
    description="Read replicas have a source RDS can replicate (no managed master password) and no KMS key in-region.",
)
def rds_replica_credentials(resources: list[Resource], report: Report, _: Settings) -> None:
    instances = list(of_type(resources, RDS_INSTANCE))
    primaries = [db for db in instances if not db.get("replicateSourceDb")]
    for replica in instances:
        if not replica.get("replicateSourceDb") or is_unknown(replica.get("replicateSourceDb")):
            continue
        source = _source_of(replica, primaries)
        if source is None:
            continue
        key = db_key(source)
        if is_true(source.get("manageMasterUserPassword")):
            report(f"is a read replica of {source.get('identifier')}, whose master password RDS manages in Secrets "
                   "Manager (manageMasterUserPassword): RDS refuses to create read replicas of such an instance "
                   f"(every engine but SQL Server). Set {key}.replicas: 0 or give {key} a credential design without "
                   "manageMasterUserPassword (components/database.py).", replica.urn)
        cross_region = isinstance(replica.get("replicateSourceDb"), str) and replica.get(
            "replicateSourceDb").startswith("arn:") and region_of(replica) != region_of(source)
        if replica.get("kmsKeyId") and not cross_region:
            report("sets kmsKeyId on a same-region read replica: RDS rejects it (the replica inherits the source's "
                   f"key). Drop kmsKeyId from {key}'s replicas (components/database.py).", replica.urn)


def _cidrs(rule: dict[str, Any]) -> list[str]:
    found = []
    for field in ("cidrBlocks", "ipv6CidrBlocks", "cidrIpv4", "cidrIpv6"):
        value = rule.get(field)
        found += [c for c in (as_list(value) if not is_unknown(value) else []) if isinstance(c, str)]
    return found


def _admits_443(rule: dict[str, Any]) -> bool:
    protocol = str(rule.get("protocol", rule.get("ipProtocol", "")))
    if protocol in ("-1", "all"):
        return True
    low, high = as_int(rule.get("fromPort")), as_int(rule.get("toPort"))
    return protocol in ("tcp", "6") and low is not None and high is not None and low <= 443 <= high


def _ingress_of(group: Resource, resources: list[Resource]) -> list[dict[str, Any]]:
    rules = [r for r in as_list(group.get("ingress")) if isinstance(r, dict)]
    for rule in of_type(resources, SECURITY_GROUP_RULE, SG_INGRESS_RULE):
        if rule.type == SECURITY_GROUP_RULE and rule.get("type") != "ingress":
            continue
        target = rule.get("securityGroupId")
        if target == group.get("id") or group.urn in rule.property_dependencies.get("securityGroupId", []) or (
                not rule.property_dependencies and group.urn in rule.dependencies):
            rules.append(rule.props)
    return rules


def _on_cluster_group(cluster: Resource, resources: list[Resource]) -> list[dict[str, Any]]:
    """Ingress rules on the security group EKS creates (``vpcConfig.clusterSecurityGroupId``, an output)."""
    found = []
    for rule in of_type(resources, SECURITY_GROUP_RULE, SG_INGRESS_RULE):
        if rule.type == SECURITY_GROUP_RULE and rule.get("type") != "ingress":
            continue
        linked = (cluster.urn in rule.property_dependencies.get("securityGroupId", []) if rule.property_dependencies
                  else cluster.urn in rule.dependencies)
        if linked:
            found.append(rule.props)
    return found


@stack_policy(
    "eks-private-endpoint-reachable", concern="reachability", source=ENDPOINT_SOURCE,
    types=(EKS_CLUSTER, SECURITY_GROUP, SECURITY_GROUP_RULE, SG_INGRESS_RULE),
    description="A private-only EKS endpoint admits tcp/443 from at least one declared deployer CIDR.",
)
def eks_private_endpoint_reachable(resources: list[Resource], report: Report, _: Settings) -> None:
    groups = list(of_type(resources, SECURITY_GROUP))
    for cluster in of_type(resources, EKS_CLUSTER):
        vpc = cluster.get("vpcConfig") or {}
        if is_unknown(vpc) or not is_false(vpc.get("endpointPublicAccess")):
            continue
        ids = vpc.get("securityGroupIds")
        if is_unknown(ids):
            continue
        attached = [g for g in groups if g.get("id") in as_list(ids) or any(
            g.urn in cluster.property_dependencies.get(k, []) for k in ("vpcConfig", "vpcConfig.securityGroupIds"))]
        rules = [r for g in attached for r in _ingress_of(g, resources)] + _on_cluster_group(cluster, resources)
        admitted = [c for r in rules if _admits_443(r) for c in _cidrs(r)]
        if any(is_unknown(c) for c in admitted):
            continue
        public = [c for c in admitted if ipaddress.ip_network(c, strict=False).prefixlen == 0]
        if public:
            report(f"admits tcp/443 to the private endpoint from {', '.join(public)}: admit only the deployer CIDRs "
                   "(eks.deployerCidrs in Pulumi.<stack>.yaml).", cluster.urn)
        elif not admitted:
            report("has a private-only API endpoint (endpointPublicAccess false) but no security group in "
                   "vpcConfig.securityGroupIds admits tcp/443 from a CIDR: EKS's cluster security group admits only "
                   "itself, so the runner or VPN that runs `pulumi up` cannot reach the API and every Kubernetes "
                   "resource fails. Declare the deployer CIDRs (eks.deployerCidrs in Pulumi.<stack>.yaml) and admit "
                   "them on 443 (components/eks/control_plane.py).", cluster.urn)


def _for_cluster(resource: Resource, cluster: Resource) -> bool:
    return resource.get("clusterName") == cluster.get("name") or cluster.urn in resource.dependencies


@stack_policy(
    "eks-admin-access-one-way", concern="access", source=ACCESS_SOURCE,
    types=(EKS_CLUSTER, EKS_ACCESS_ENTRY, EKS_ACCESS_POLICY),
    description="Cluster admins come from bootstrapClusterCreatorAdminPermissions or from access entries, not both.",
)
def eks_admin_access_one_way(resources: list[Resource], report: Report, _: Settings) -> None:
    for cluster in of_type(resources, EKS_CLUSTER):
        bootstrap = (cluster.get("accessConfig") or {}).get("bootstrapClusterCreatorAdminPermissions")
        if is_unknown(bootstrap):
            continue
        entries = [e for e in of_type(resources, EKS_ACCESS_ENTRY) if _for_cluster(e, cluster)]
        admins = [a for a in of_type(resources, EKS_ACCESS_POLICY)
                  if _for_cluster(a, cluster) and a.get("policyArn") == CLUSTER_ADMIN]
        if bootstrap is not False and not is_false(bootstrap) and entries:
            names = ", ".join(str(e.get("principalArn")) for e in entries)
            report(f"bootstraps the creator as cluster admin (bootstrapClusterCreatorAdminPermissions true or unset) "
                   f"and also creates access entries ({names}): when the creator is one of them, EKS already made its "
                   "entry and CreateAccessEntry returns 409 ResourceInUseException. Manage admins one way only: set "
                   "bootstrapClusterCreatorAdminPermissions false and keep eks.adminRoleArns "
                   "(components/eks/control_plane.py).",
                   cluster.urn)
        elif is_false(bootstrap) and not admins:
            report("turns off bootstrapClusterCreatorAdminPermissions but no access entry is associated with "
                   "AmazonEKSClusterAdminPolicy: nobody, including the deployer, could administer the cluster and "
                   "every Kubernetes resource would be refused. Set eks.adminRoleArns in Pulumi.<stack>.yaml.",
                   cluster.urn)


CACHE_USER = "aws:elasticache/user:User"
CACHE_USER_GROUP = "aws:elasticache/userGroup:UserGroup"
RBAC_SOURCE = "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Clusters.RBAC.html"
#: CreateUser / CreateUserGroup: UserId and UserGroupId pattern; up to two passwords per user
#: (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateUser.html,
#: .../API_CreateUserGroup.html).
RBAC_ID = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
#: Access-string rules ElastiCache manages itself and refuses (RBAC page, "limitations"): passwords are API
#: parameters, so no ``>pass``/``<pass``/``#hash``/``!hash``/``nopass``/``resetpass``, and no ``reset``.
_REFUSED_ACCESS = re.compile(r"(^|\s)([<>#!]\S*|nopass|resetpass|reset)(?=\s|$)")


def _engine(resource: Resource) -> str | None:
    engine = resource.get("engine")
    return engine.lower() if isinstance(engine, str) else None


def _version_at_least(version: object, minimum: tuple[int, int]) -> bool | None:
    match = re.match(r"(\d+)\.(\d+|x)", version) if isinstance(version, str) else None
    if match is None:
        return None
    return (int(match[1]), 0 if match[2] == "x" else int(match[2])) >= minimum


@stack_policy(
    "elasticache-rbac-user-group", concern="credentials", source=RBAC_SOURCE,
    types=(CACHE_RG, CACHE_USER_GROUP, CACHE_USER),
    description="RBAC user groups contain a user named 'default', users of their engine, and sit on a TLS replication "
                "group of Redis OSS >= 6.0 (Valkey >= 7.2) without an AUTH token.",
)
def elasticache_rbac_user_group(resources: list[Resource], report: Report, _: Settings) -> None:
    users = list(of_type(resources, CACHE_USER))
    groups = list(of_type(resources, CACHE_USER_GROUP))
    for group in groups:
        members = [u for u in users if group.depends_on(u, "userIds")]
        if members and not any(u.get("userName") == "default" for u in members):
            # CreateUserGroup fails with DefaultUserRequired ("You must add default user to a user group").
            report("contains no user whose userName is 'default': ElastiCache requires one in every user group "
                   "(DefaultUserRequired). Add a disabled one ('off -@all') with its own userId (components/cache.py).",
                   group.urn)
        engine = _engine(group)
        for user in members:
            if engine == "redis" and _engine(user) not in (None, "redis"):
                report(f"has user {user.get('userId')} of engine {user.get('engine')!r}: a 'redis' user group holds "
                       "only 'redis' users (RBAC page).", group.urn)
    for rg in of_type(resources, CACHE_RG):
        mine = [g for g in groups if rg.depends_on(g, "userGroupIds")]
        if not as_list(rg.get("userGroupIds")) or is_unknown(rg.get("userGroupIds")):
            continue
        if rg.get("authToken"):
            # ModifyReplicationGroup: InvalidParameterCombination "User group can't be associated with auth token
            # enabled" (hashicorp/terraform-provider-aws#39546); the migration removes the token with DELETE.
            report("sets authToken and userGroupIds: ElastiCache refuses a user group on a group with an AUTH token. "
                   "Drop authToken and set authTokenUpdateStrategy DELETE to migrate (components/cache.py).", rg.urn)
        if not is_true(rg.get("transitEncryptionEnabled")):
            report("has a user group but transitEncryptionEnabled is not true: RBAC needs in-transit encryption.",
                   rg.urn)
        engine, minimum = _engine(rg) or "redis", (7, 2) if _engine(rg) == "valkey" else (6, 0)
        if _version_at_least(rg.get("engineVersion"), minimum) is False:
            report(f"uses RBAC on {engine} {rg.get('engineVersion')}: RBAC needs Redis OSS 6.0 or later (Valkey 7.2 "
                   "or later).", rg.urn)
        for group in mine:
            if engine == "redis" and _engine(group) not in (None, "redis"):
                report(f"is a Redis OSS group with user group {group.get('userGroupId')} of engine "
                       f"{group.get('engine')!r}: Redis OSS clusters take only 'redis' user groups (RBAC page).",
                       rg.urn)
        if rg.get("authTokenUpdateStrategy") not in (None, "DELETE") and not rg.get("authToken"):
            report(f"sets authTokenUpdateStrategy {rg.get('authTokenUpdateStrategy')!r} without an authToken: only "
                   "DELETE goes without one (the AUTH-to-RBAC migration).", rg.urn)


@resource_policy(
    "elasticache-user", concern="credentials",
    source="https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateUser.html",
    types=(CACHE_USER, CACHE_USER_GROUP),
    description="ElastiCache users and user groups: valid ids, one or two passwords, an access string that says on "
                "or off and leaves passwords to the API.",
)
def elasticache_user(r: Resource, report: Report, _: Settings) -> None:
    id_key = "userId" if r.type == CACHE_USER else "userGroupId"
    ident = r.get(id_key)
    if isinstance(ident, str) and not RBAC_ID.fullmatch(ident):
        report(f"{id_key} {ident!r} must start with a letter and hold only letters, digits and '-'.")
    if r.type != CACHE_USER:
        return
    mode = r.get("authenticationMode")
    passwords = as_list(r.get("passwords")) if r.get("passwords") is not None else (
        as_list(mode.get("passwords")) if isinstance(mode, dict) else [])
    if not is_unknown(passwords) and len(passwords) > 2:
        report(f"has {len(passwords)} passwords: ElastiCache keeps at most two per user.")
    if isinstance(mode, dict) and mode.get("type") == "password" and passwords == []:
        report("has authenticationMode type 'password' but no password.")
    access = r.get("accessString")
    if isinstance(access, str):
        words = access.split()
        if "on" not in words and "off" not in words:
            report(f"access string {access!r} says neither 'on' nor 'off': ElastiCache then assigns 'off' (no "
                   "access). Say which.")
        refused = _REFUSED_ACCESS.search(access)
        if refused:
            report(f"access string {access!r} contains {refused.group(2)!r}: ElastiCache sets passwords through "
                   "the API and refuses password rules and 'reset' in an access string.")


POLICIES = policies_of(__name__)

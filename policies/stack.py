"""Stack policies: checks that need more than one resource (a bucket and its companions, a VPC and its
flow log, a store and the backup selection that covers it, a resource and the KMS key it uses).

Resources are linked the way the engine links them: by the dependencies it records for each input
(``propertyDependencies``), falling back to all dependencies, then to matching values (ids, ARNs, names).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from common import (
    BACKUP_SELECTION,
    BACKUP_VAULT,
    BACKUP_VAULT_LOCK,
    CACHE_RG,
    CLOUDFRONT,
    EBS_VOLUME,
    FLOW_LOG,
    K8S_APP_WORKLOADS,
    K8S_DEPLOYMENT,
    K8S_HPA,
    K8S_PDB,
    K8S_STORAGE_CLASS,
    KMS_ALIAS,
    KMS_KEY,
    LOG_DELIVERY,
    LOG_DELIVERY_SOURCE,
    RDS_BACKUP_REPLICATION,
    RDS_CLUSTER,
    RDS_INSTANCE,
    S3_BUCKETS,
    S3_LOGGING,
    S3_PAB,
    S3_POLICY,
    S3_REPLICATION,
    S3_SSE,
    S3_VERSIONING,
    SUBNET,
    VPC,
    WEB_ACL,
    WEB_ACL_LOGGING,
    Report,
    Resource,
    Settings,
    as_int,
    as_list,
    get,
    has_unknown,
    is_customer_managed_key,
    is_false,
    is_replica,
    is_true,
    is_unknown,
    min_azs,
    of_type,
    parse_json,
    policies_of,
    required_flag,
    stack_policy,
)

AT_REST = "164.312(a)(2)(iv)"
TRANSIT = "164.312(e)(2)(ii)"
ACCESS = "164.312(a)(1)"
AUDIT = "164.312(b)"
BACKUP_PLAN = "164.308(a)(7)(ii)(A)"
DR_PLAN = "164.308(a)(7)(ii)(B)"
EMERGENCY_MODE = "164.308(a)(7)(ii)(C)"
INTEGRITY = "164.312(c)(1)"

#: Buckets with this tag may use SSE-S3: ELB access logs support nothing else (an AWS constraint).
ELB_LOG_TAG = ("LogDelivery", "elb")
#: Buckets classified this way hold no PHI (built static assets): the backup-coverage policy skips them.
NON_PHI_CLASSIFICATIONS = ("public",)


def _companions(resources: list[Resource], bucket: Resource, types: tuple[str, ...] | str) -> list[Resource]:
    wanted = (types,) if isinstance(types, str) else types
    return [r for r in resources if r.type in wanted and r.refers_to(bucket, "bucket")]


def _buckets(resources: list[Resource]) -> Iterator[Resource]:
    return of_type(resources, *S3_BUCKETS)


def _log_targets(resources: list[Resource]) -> set[str]:
    """URNs of the buckets that receive S3 server access logs (a BucketLogging's targetBucket)."""
    loggings = list(of_type(resources, *S3_LOGGING))
    return {b.urn for b in _buckets(resources) if any(lg.refers_to(b, "targetBucket") for lg in loggings)}


# --- S3 ---------------------------------------------------------------------------------------

def _sse_defaults(bucket: Resource, resources: list[Resource]) -> list[Any]:
    """Every applyServerSideEncryptionByDefault block that applies to the bucket (inline or companion)."""
    blocks: list[Any] = []
    inline = bucket.get("serverSideEncryptionConfiguration.rule")
    if inline is not None:
        blocks.append(inline if is_unknown(inline) else inline.get("applyServerSideEncryptionByDefault"))
    for config in _companions(resources, bucket, S3_SSE):
        rules = as_list(config.get("rules"))
        if is_unknown(rules):
            blocks.append(rules)
            continue
        blocks += [rule.get("applyServerSideEncryptionByDefault") if isinstance(rule, dict) else rule
                   for rule in rules]
    return blocks


def s3_bucket_sse_kms(resources: list[Resource], report: Report, _: Settings) -> None:
    log_targets = _log_targets(resources)
    for bucket in _buckets(resources):
        blocks = _sse_defaults(bucket, resources)
        if any(has_unknown(b) for b in blocks):
            continue
        if not blocks:
            report("has no server-side encryption configuration: objects would get SSE-S3 with an AWS-owned key. "
                   "Add a BucketServerSideEncryptionConfiguration with sseAlgorithm='aws:kms' and "
                   "kmsMasterKeyId=keys.arn('storage').", bucket.urn)
            continue
        tags = bucket.get("tags") or {}
        for block in blocks:
            algorithm = (block or {}).get("sseAlgorithm")
            key = (block or {}).get("kmsMasterKeyId")
            if algorithm == "AES256" and (bucket.urn in log_targets or tags.get(ELB_LOG_TAG[0]) == ELB_LOG_TAG[1]):
                continue  # S3 server access logs and ELB logs can only be delivered to SSE-S3 buckets
            if algorithm not in ("aws:kms", "aws:kms:dsse"):
                report(f"sseAlgorithm is {algorithm!r}: PHI buckets must use SSE-KMS. Set sseAlgorithm='aws:kms' "
                       "with kmsMasterKeyId=keys.arn('storage').", bucket.urn)
            elif not is_customer_managed_key(key):
                report("kmsMasterKeyId is not set (the AWS-managed aws/s3 key): bucket encryption must use the "
                       "KeyRing's 'storage' key. Set kmsMasterKeyId=keys.arn('storage').", bucket.urn)


stack_policy(
    "s3-bucket-sse-kms", concern="encryption", citation=AT_REST, types=(*S3_BUCKETS, *S3_SSE),
    description="Every bucket has default encryption SSE-KMS with a customer-managed key.",
)(s3_bucket_sse_kms)


def _deny_all_s3_conditions(document: Any) -> Iterator[dict[str, Any]]:
    """The Condition of every statement that denies s3:* (or *) to everyone (Principal "*" or {"AWS": "*"})."""
    statements = document.get("Statement", [])
    for s in statements if isinstance(statements, list) else [statements]:
        if not isinstance(s, dict) or s.get("Effect") != "Deny":
            continue
        principal = s.get("Principal")
        if principal != "*" and not (isinstance(principal, dict) and principal.get("AWS") == "*"):
            continue
        actions = s.get("Action")
        if any(a in ("s3:*", "*") for a in (actions if isinstance(actions, list) else [actions])):
            yield s.get("Condition") or {}


def _denies_insecure_transport(document: Any) -> bool:
    return any(is_false((condition.get("Bool") or {}).get("aws:SecureTransport"))
               for condition in _deny_all_s3_conditions(document))


def _buckets_whose_policies_lack(resources: list[Resource], report: Report, denies: Callable[[Any], bool],
                                 message: str) -> None:
    """Report ``message`` on every bucket none of whose (known) bucket policies ``denies`` what it must."""
    for bucket in _buckets(resources):
        documents = [p.get("policy") for p in _companions(resources, bucket, S3_POLICY)]
        if any(is_unknown(d) for d in documents):
            continue
        if not any(isinstance(doc := parse_json(d), dict) and denies(doc) for d in documents):
            report(message, bucket.urn)


def s3_deny_insecure_transport(resources: list[Resource], report: Report, _: Settings) -> None:
    _buckets_whose_policies_lack(
        resources, report, _denies_insecure_transport,
        "no bucket policy denies insecure transport: PHI could be read over plain HTTP. Attach a BucketPolicy with "
        "a Deny of s3:* for Principal '*' when aws:SecureTransport is 'false'.")


stack_policy(
    "s3-deny-insecure-transport", concern="transit", citation=TRANSIT, types=(*S3_BUCKETS, S3_POLICY),
    description="Every bucket's policy denies requests that do not use TLS (aws:SecureTransport=false).",
)(s3_deny_insecure_transport)


def _denies_tls_below_1_2(document: Any) -> bool:
    """A Deny of s3:* to everyone when s3:TlsVersion is below 1.2 (a lower bound above 1.2 would break clients)."""
    for condition in _deny_all_s3_conditions(document):
        if set(condition) != {"NumericLessThan"}:
            continue  # another operator would narrow the deny
        bound = (condition["NumericLessThan"] or {}).get("s3:TlsVersion")
        try:
            if float(bound) >= 1.2:
                return True
        except (TypeError, ValueError):
            continue
    return False


def s3_deny_tls_below_1_2(resources: list[Resource], report: Report, _: Settings) -> None:
    _buckets_whose_policies_lack(
        resources, report, _denies_tls_below_1_2,
        "no bucket policy denies TLS below 1.2: PHI could cross the network under TLS 1.0/1.1. Add a Deny of s3:* "
        "for Principal '*' with NumericLessThan s3:TlsVersion 1.2 (components/storage.py).")


# https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html#example-object-tls-version
stack_policy(
    "s3-deny-tls-below-1-2", concern="transit", citation=TRANSIT, types=(*S3_BUCKETS, S3_POLICY),
    description="Every bucket's policy denies requests made with TLS older than 1.2 (s3:TlsVersion).",
)(s3_deny_tls_below_1_2)


def s3_versioning(resources: list[Resource], report: Report, _: Settings) -> None:
    for bucket in _buckets(resources):
        inline = bucket.get("versioning.enabled")
        statuses = [v.get("versioningConfiguration.status") for v in _companions(resources, bucket, S3_VERSIONING)]
        if is_unknown(inline) or any(is_unknown(s) for s in statuses):
            continue
        if is_true(inline) or "Enabled" in statuses:
            continue
        shown = f"is {statuses[0]!r}" if statuses else "is not configured"
        report(f"versioning {shown}: an overwrite or delete would lose PHI for good. Add a BucketVersioning "
               "with versioningConfiguration.status='Enabled'.", bucket.urn)


stack_policy(
    "s3-versioning", concern="backup", citation=BACKUP_PLAN, types=(*S3_BUCKETS, *S3_VERSIONING),
    description="Every bucket has versioning enabled (overwritten or deleted objects stay recoverable).",
)(s3_versioning)


_PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def s3_public_access_block(resources: list[Resource], report: Report, _: Settings) -> None:
    for bucket in _buckets(resources):
        blocks = _companions(resources, bucket, S3_PAB)
        if not blocks:
            report("has no BucketPublicAccessBlock: a later ACL or policy could make PHI public. Add one with "
                   f"{', '.join(_PAB_FLAGS)} all true.", bucket.urn)
            continue
        for block in blocks:
            off = [f for f in _PAB_FLAGS if not is_unknown(block.get(f)) and not is_true(block.get(f))]
            if off:
                report(f"the public access block leaves {', '.join(off)} off: set all four to true.", bucket.urn)


stack_policy(
    "s3-public-access-block", concern="exposure", citation=ACCESS, types=(*S3_BUCKETS, S3_PAB),
    description="Every bucket has a public access block with all four settings on.",
)(s3_public_access_block)


# --- KMS keys ---------------------------------------------------------------------------------

_KEY_FIELD = re.compile(r"^(kms\w*Key(Id|Arn)?|keyArn|encryptionAtRestKmsKeyArn|kmsKey)$", re.IGNORECASE)


def _key_references(props: Any, top: str | None = None, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """(top-level input, path, value) of every input that names a KMS key."""
    if isinstance(props, dict):
        for k, v in props.items():
            here = f"{path}.{k}" if path else k
            first = top or k
            if _KEY_FIELD.match(k) and (isinstance(v, str) or is_unknown(v)):
                yield first, here, v
            else:
                yield from _key_references(v, first, here)
    elif isinstance(props, list):
        for i, v in enumerate(props):
            yield from _key_references(v, top, f"{path}[{i}]")


def _keys_behind(urns: list[str], by_urn: dict[str, Resource]) -> list[Resource]:
    """Stack KMS keys among ``urns``, resolving aliases to the key they target."""
    found: list[Resource] = []
    for urn in urns:
        r = by_urn.get(urn)
        if r is None:
            continue
        if r.type == KMS_KEY:
            found.append(r)
        elif r.type == KMS_ALIAS:
            found += [by_urn[u] for u in (r.property_dependencies.get("targetKeyId") or r.dependencies)
                      if u in by_urn and by_urn[u].type == KMS_KEY]
    return found


def _key_by_value(value: Any, keys: list[Resource]) -> list[Resource]:
    if not isinstance(value, str):
        return []
    key_id = value.rsplit("/", 1)[-1]
    return [k for k in keys if value in k.identities() or key_id in k.identities()]


def kms_keys_in_stack(resources: list[Resource], report: Report, _: Settings) -> None:
    by_urn = {r.urn: r for r in resources}
    keys = [r for r in resources if r.type == KMS_KEY]
    for r in resources:
        if r.type in (KMS_KEY, KMS_ALIAS) or r.type.startswith("pulumi:"):
            continue
        for top, path, value in _key_references(r.props):
            if isinstance(value, str) and not value:
                continue
            if isinstance(value, str) and not is_customer_managed_key(value):
                report(f"{path} is the AWS-managed key {value}: use a customer-managed key of this stack "
                       "(components/encryption.py KeyRing).", r.urn)
                continue
            urns = r.property_dependencies.get(top, []) if r.property_dependencies else r.dependencies
            used = _keys_behind(urns, by_urn) or _key_by_value(value, keys)
            if not used:
                if isinstance(value, str) and (r.dependencies or r.property_dependencies or keys):
                    report(f"{path} is {value}, which is not a KMS key of this stack: its rotation and key "
                           "policy cannot be checked. Use keys.arn(<domain>) from the KeyRing.", r.urn)
                continue
            for key in used:
                if not is_unknown(key.get("enableKeyRotation")) and not is_true(key.get("enableKeyRotation")):
                    report(f"{path} uses KMS key {key.name}, which does not rotate. Set enableKeyRotation=True "
                           "on it.", r.urn)


stack_policy(
    "kms-keys-in-stack", concern="encryption", citation=AT_REST, types=(KMS_KEY,),
    description="Every KMS key a resource uses is a customer-managed key of this stack, and it rotates.",
)(kms_keys_in_stack)


# --- Networks, edge, WAF ----------------------------------------------------------------------

def vpc_flow_logs(resources: list[Resource], report: Report, _: Settings) -> None:
    logs = list(of_type(resources, FLOW_LOG))
    for vpc in of_type(resources, VPC):
        mine = [f for f in logs if f.refers_to(vpc, "vpcId")]
        if any(is_unknown(f.get("trafficType")) or f.get("trafficType") == "ALL" for f in mine):
            continue
        shown = "captures only " + "/".join(str(f.get("trafficType")) for f in mine) if mine else "has no flow log"
        report(f"{shown}: network activity around PHI stores must be auditable. Add an aws.ec2.FlowLog with "
               "trafficType='ALL' (network.flowLogs in Pulumi.<stack>.yaml).", vpc.urn)


stack_policy(
    "vpc-flow-logs", concern="logging", citation=AUDIT, types=(VPC, FLOW_LOG),
    description="Every VPC has a flow log capturing ALL traffic.",
)(vpc_flow_logs)


def cloudfront_waf(resources: list[Resource], report: Report, _: Settings) -> None:
    acls = list(of_type(resources, WEB_ACL))
    for dist in of_type(resources, CLOUDFRONT):
        acl_id = dist.get("webAclId")
        linked = [a for a in acls if dist.refers_to(a, "webAclId")]
        if not acl_id and not linked:
            report("webAclId is not set: the distribution would serve PHI-bearing apps without rate limiting or "
                   "managed rules. Set webAclId to the edge WebAcl's ARN (components/edge.py).", dist.urn)
            continue
        for acl in linked:
            scope = acl.get("scope")
            if not is_unknown(scope) and scope != "CLOUDFRONT":
                report(f"webAclId names {acl.name}, whose scope is {scope!r}: CloudFront needs a CLOUDFRONT-scoped "
                       "web ACL created in us-east-1 (the edge provider).", dist.urn)


stack_policy(
    "cloudfront-waf", concern="exposure", citation=ACCESS, types=(CLOUDFRONT, WEB_ACL),
    description="Every CloudFront distribution is protected by a WAFv2 web ACL of scope CLOUDFRONT.",
)(cloudfront_waf)


def cloudfront_logging(resources: list[Resource], report: Report, _: Settings) -> None:
    """Standard logging (legacy ``loggingConfig``) or standard logging v2 (a CloudWatch log delivery).

    v2 is a LogDeliverySource (logType ACCESS_LOGS, resourceArn = the distribution) and a LogDelivery
    from it: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging.html
    """
    sources = [s for s in of_type(resources, LOG_DELIVERY_SOURCE)
               if is_unknown(s.get("logType")) or s.get("logType") == "ACCESS_LOGS"]
    deliveries = list(of_type(resources, LOG_DELIVERY))
    for dist in of_type(resources, CLOUDFRONT):
        bucket = dist.get("loggingConfig.bucket")
        if is_unknown(bucket) or bucket:
            continue
        mine = [s for s in sources if s.refers_to(dist, "resourceArn")]
        if any(d.refers_to(s, "deliverySourceName") for s in mine for d in deliveries):
            continue
        report("has no access logs: neither loggingConfig nor a CloudWatch log delivery (a LogDeliverySource of "
               "logType ACCESS_LOGS on the distribution and a LogDelivery from it): viewer requests to PHI-bearing "
               "apps would leave no trace. Use standard logging v2 (components/edge.py).", dist.urn)


stack_policy(
    "cloudfront-logging", concern="logging", citation=AUDIT, types=(CLOUDFRONT, LOG_DELIVERY_SOURCE, LOG_DELIVERY),
    description="CloudFront writes standard access logs (legacy loggingConfig or logging v2 log delivery).",
)(cloudfront_logging)


def waf_logging(resources: list[Resource], report: Report, _: Settings) -> None:
    configs = list(of_type(resources, WEB_ACL_LOGGING))
    for acl in of_type(resources, WEB_ACL):
        if not any(c.refers_to(acl, "resourceArn") for c in configs):
            report("has no WebAclLoggingConfiguration: blocked and allowed requests would leave no trace. Add one "
                   "that sends to a KMS-encrypted 'aws-waf-logs-' log group.", acl.urn)


stack_policy(
    "waf-logging", concern="logging", citation=AUDIT, types=(WEB_ACL, WEB_ACL_LOGGING),
    description="Every WAFv2 web ACL has a logging configuration.",
)(waf_logging)


def subnet_az_spread(resources: list[Resource], report: Report, cfg: Settings) -> None:
    needed = cfg["minAzCount"]
    vpcs = list(of_type(resources, VPC))
    groups: dict[tuple[str, str], list[Resource]] = defaultdict(list)
    for subnet in of_type(resources, SUBNET):
        owner = next((v.urn for v in vpcs if subnet.refers_to(v, "vpcId")), None) or str(subnet.get("vpcId"))
        tier = (subnet.get("tags") or {}).get("Tier", "untiered")
        groups[(owner, str(tier))].append(subnet)
    for (_owner, tier), subnets in groups.items():
        zones = [s.get("availabilityZone") or s.get("availabilityZoneId") for s in subnets]
        if any(z is None or is_unknown(z) for z in zones):
            continue
        if len(set(zones)) < needed:
            report(f"the {tier} subnets span {len(set(zones))} AZ(s) ({', '.join(sorted(set(zones)))}); this stack "
                   f"requires {needed}. Set network.azCount: {needed} in Pulumi.<stack>.yaml.",
                   subnets[0].urn)


stack_policy(
    "subnet-az-spread", concern="availability", citation=EMERGENCY_MODE, types=(SUBNET,), config=min_azs(3),
    description="Every subnet tier of every VPC spans at least the stack's AZ count.",
)(subnet_az_spread)


# --- Kubernetes apps --------------------------------------------------------------------------

def _ns(r: Resource) -> Any:
    return r.get("metadata.namespace", "default")


def _same_namespace(a: Resource, b: Resource) -> bool:
    x, y = _ns(a), _ns(b)
    return is_unknown(x) or is_unknown(y) or x == y


def _hpa_for(deployment: Resource, hpas: list[Resource]) -> Resource | None:
    name = deployment.get("metadata.name")
    for hpa in hpas:
        if not _same_namespace(hpa, deployment):
            continue
        ref = hpa.get("spec.scaleTargetRef") or {}
        kind = "Deployment" if deployment.type == K8S_DEPLOYMENT else "Rollout"
        if is_unknown(ref) or ref.get("kind") not in (None, kind):
            continue
        target = ref.get("name")
        if hpa.depends_on(deployment, "spec") or (isinstance(target, str) and target == name):
            return hpa
    return None


def _min_replicas(deployment: Resource, hpas: list[Resource]) -> Any:
    hpa = _hpa_for(deployment, hpas)
    if hpa is not None:
        value = hpa.get("spec.minReplicas", 1)
        return value if is_unknown(value) else as_int(value)
    value = deployment.get("spec.replicas", 1)
    return value if is_unknown(value) else as_int(value)


def app_min_replicas(resources: list[Resource], report: Report, cfg: Settings) -> None:
    needed = cfg["minReplicas"]
    hpas = list(of_type(resources, K8S_HPA))
    for deployment in of_type(resources, *K8S_APP_WORKLOADS):
        count = _min_replicas(deployment, hpas)
        if count is None or is_unknown(count):
            continue
        if count < needed:
            report(f"runs as few as {count} replica(s); this stack requires {needed} so a node or AZ loss does not "
                   f"take the app down. Set apps.<app>.minReplicas: {needed} or more in Pulumi.<stack>.yaml.",
                   deployment.urn)


stack_policy(
    "app-min-replicas", concern="availability", citation=EMERGENCY_MODE, types=(*K8S_APP_WORKLOADS, K8S_HPA),
    config={"minReplicas": {"type": "integer", "minimum": 1, "default": 2,
                            "description": "The fewest replicas an app Deployment may run in this stack."}},
    description="App Deployments run at least the stack's minimum replicas (the HPA's minReplicas when scaled).",
)(app_min_replicas)


def _pod_labels(deployment: Resource) -> Any:
    labels = deployment.get("spec.template.metadata.labels")
    return {} if labels is None else labels


def _selects(pdb: Resource, labels: Any) -> bool:
    selector = pdb.get("spec.selector.matchLabels")
    if is_unknown(selector) or is_unknown(labels):
        return True
    if not isinstance(selector, dict) or not selector:
        return False
    return all(not is_unknown(v) and labels.get(k) == v for k, v in selector.items())


def app_pod_disruption_budget(resources: list[Resource], report: Report, cfg: Settings) -> None:
    if not cfg["required"]:
        return
    pdbs = list(of_type(resources, K8S_PDB))
    hpas = list(of_type(resources, K8S_HPA))
    for deployment in of_type(resources, *K8S_APP_WORKLOADS):
        labels = _pod_labels(deployment)
        mine = [p for p in pdbs if _same_namespace(p, deployment) and _selects(p, labels)]
        if not mine:
            report("has no PodDisruptionBudget selecting its pods: a node drain could evict every replica at "
                   "once. Add a PodDisruptionBudget (minAvailable 1 or maxUnavailable 1) with the pod labels.",
                   deployment.urn)
            continue
        replicas = _min_replicas(deployment, hpas)
        for pdb in mine:
            floor = as_int(pdb.get("spec.minAvailable"))
            if pdb.get("spec.maxUnavailable") in (0, "0", "0%") or (
                    floor is not None and isinstance(replicas, int) and floor >= replicas):
                report(f"PodDisruptionBudget {pdb.name} allows no disruption: node drains and upgrades would "
                       "block. Use minAvailable below the replica count or maxUnavailable 1.", deployment.urn)


stack_policy(
    "app-pod-disruption-budget", concern="availability", citation=EMERGENCY_MODE,
    types=(*K8S_APP_WORKLOADS, K8S_PDB),
    config=required_flag(True, "a PodDisruptionBudget for every app Deployment"),
    description="Every app Deployment has a PodDisruptionBudget (where the stack requires one) that allows "
                "node drains.",
)(app_pod_disruption_budget)


# --- Backup and recovery ----------------------------------------------------------------------

def _tag_pairs(selection: Resource) -> set[tuple[str, str]]:
    """ListOfTags (selectionTags): a resource carrying any of these is selected."""
    pairs: set[tuple[str, str]] = set()
    for tag in as_list(selection.get("selectionTags")):
        if isinstance(tag, dict) and tag.get("type", "STRINGEQUALS") == "STRINGEQUALS":
            pairs.add((str(tag.get("key")), str(tag.get("value"))))
    return pairs


def _conditions(selection: Resource) -> list[tuple[str, str]]:
    """Conditions.StringEquals: a resource matched by ``resources`` must carry all of these."""
    blocks = as_list(selection.get("conditions"))  # a list of one in pulumi-aws 7, an object before
    pairs: list[tuple[str, str]] = []
    for block in blocks:
        for cond in as_list(block.get("stringEquals")) if isinstance(block, dict) else []:
            if isinstance(cond, dict) and isinstance(cond.get("key"), str):
                pairs.append((cond["key"].removeprefix("aws:ResourceTag/"), str(cond.get("value"))))
    return pairs


def _resource_tags(r: Resource) -> dict[str, str]:
    if r.type == K8S_STORAGE_CLASS:
        tags: dict[str, str] = {}
        params = r.get("parameters")
        for key, value in (params.items() if isinstance(params, dict) else ()):
            if key.startswith("tagSpecification_") and isinstance(value, str) and "=" in value:
                k, v = value.split("=", 1)
                tags[k] = v
        return tags
    tags = r.get("tags")
    return tags if isinstance(tags, dict) else {}


#: (service, resource part prefix) of each store's ARN, for matching a selection's ARN patterns.
_ARN_SHAPE = {RDS_INSTANCE: ("rds", "db:"), RDS_CLUSTER: ("rds", "cluster:"), EBS_VOLUME: ("ec2", "volume/"),
              K8S_STORAGE_CLASS: ("ec2", "volume/"), **{t: ("s3", "") for t in S3_BUCKETS}}


def _arn_matches(pattern: str, store: Resource) -> bool:
    if pattern == "*":
        return True
    shape = _ARN_SHAPE.get(store.type)
    parts = pattern.split(":", 5)
    if shape is None or len(parts) < 6 or parts[2] != shape[0]:
        return False
    resource = parts[5]
    if resource == "*":
        return True
    if not resource.startswith(shape[1]):
        return False
    name = resource[len(shape[1]):]
    return name == "*" or any(name == n for n in store.identities())


def _selected(store: Resource, selections: list[Resource]) -> bool | None:
    """Whether a backup selection covers ``store`` (None when a selection cannot be known).

    AWS Backup selects a resource that carries any of the ListOfTags, or that matches Resources
    (ARN patterns) and satisfies every condition.
    """
    tags = _resource_tags(store)
    for selection in selections:
        if any(has_unknown(selection.get(k)) for k in ("selectionTags", "conditions", "resources")):
            return None
        if any(tags.get(k) == v for k, v in _tag_pairs(selection)):
            return True
        patterns = [a for a in as_list(selection.get("resources")) if isinstance(a, str)]
        matched = any(_arn_matches(a, store) for a in patterns) or (
            bool(patterns) is False and selection.depends_on(store, "resources"))
        if matched and all(tags.get(k) == v for k, v in _conditions(selection)):
            return True
    return False


def _replicates(replication: Resource, bucket: Resource) -> bool:
    """Whether a BucketReplicationConfig has ``bucket`` as its source or as a rule's destination."""
    if replication.refers_to(bucket, "bucket"):
        return True
    rules = as_list(replication.get("rules"))
    destinations = [get(rule, "destination.bucket") for rule in rules if isinstance(rule, dict)]
    names = bucket.identities()
    if any(isinstance(d, str) and any(d == n or d.endswith(f":{n}") for n in names) for d in destinations):
        return True
    if replication.property_dependencies:
        return bucket.urn in replication.property_dependencies.get("rules", [])
    return bool(any(is_unknown(d) for d in destinations) or not names) and bucket.urn in replication.dependencies


def _is_data_bucket(bucket: Resource, log_targets: set[str]) -> bool:
    tags = bucket.get("tags")
    classification = tags.get("DataClassification") if isinstance(tags, dict) else None
    return bucket.urn not in log_targets and classification not in NON_PHI_CLASSIFICATIONS


def stateful_store_backup_coverage(resources: list[Resource], report: Report, _: Settings) -> None:
    selections = list(of_type(resources, BACKUP_SELECTION))
    replications = list(of_type(resources, S3_REPLICATION))
    log_targets = _log_targets(resources)
    for store in resources:
        if store.type in (RDS_INSTANCE, RDS_CLUSTER):
            if is_replica(store):
                continue
            own = store.get("backupRetentionPeriod")
            if is_unknown(own) or (as_int(own) or 0) >= 1:
                continue
            fix = "Set database.<name>.backupRetentionDays in Pulumi.<stack>.yaml or tag it Backup=true."
        elif store.type == CACHE_RG:
            own = store.get("snapshotRetentionLimit")
            if is_unknown(own) or (as_int(own) or 0) >= 1:
                continue
            report("has no snapshots (snapshotRetentionLimit 0) and AWS Backup cannot back up ElastiCache. "
                   "Set cache.snapshotRetentionDays: 1 or more in Pulumi.<stack>.yaml.", store.urn)
            continue
        elif store.type in S3_BUCKETS:
            if not _is_data_bucket(store, log_targets) or any(_replicates(r, store) for r in replications):
                continue
            fix = "Tag it Backup=true (components.common.BACKUP_TAG_KEY) or replicate it (storage.replicateToDr)."
        elif store.type == EBS_VOLUME:
            fix = "Tag it Backup=true (components.common.BACKUP_TAG_KEY)."
        elif store.type == K8S_STORAGE_CLASS:
            if store.get("provisioner") not in ("ebs.csi.aws.com",):
                continue
            fix = "Add parameters.tagSpecification_1: 'Backup=true' so the volumes it provisions are selected."
        else:
            continue
        covered = _selected(store, selections)
        if covered is False:
            report(f"is not covered by any AWS Backup selection: its data has no backup. {fix}", store.urn)


stack_policy(
    "stateful-store-backup-coverage", concern="backup", citation=BACKUP_PLAN,
    types=(RDS_INSTANCE, RDS_CLUSTER, CACHE_RG, EBS_VOLUME, K8S_STORAGE_CLASS, *S3_BUCKETS, BACKUP_SELECTION),
    description="Every stateful store (RDS, ElastiCache, EBS volumes and storage classes, S3 data buckets) is "
                "covered by an AWS Backup selection or its own backup setting (log-delivery targets and buckets "
                "classified public are not data buckets).",
)(stateful_store_backup_coverage)


def rds_cross_region_backups(resources: list[Resource], report: Report, cfg: Settings) -> None:
    region = cfg["drRegion"]
    replications = list(of_type(resources, RDS_BACKUP_REPLICATION))
    for db in of_type(resources, RDS_INSTANCE):
        if is_replica(db):
            continue
        mine = [rep for rep in replications if rep.refers_to(db, "sourceDbInstanceArn")]
        if not mine:
            report(f"has no InstanceAutomatedBackupsReplication: a regional outage would lose point-in-time "
                   f"recovery. Replicate its backups to {region} with the DR ring's 'database' key "
                   "(storage.replicateToDr / backup.copyToDr in Pulumi.<stack>.yaml).", db.urn)
            continue
        for rep in mine:
            where = rep.region
            if isinstance(where, str) and where != region:
                report(f"replicates its automated backups to {where}, not the DR region {region}: use the DR "
                       "provider (regions.dr).", db.urn)
            if not is_unknown(rep.get("kmsKeyId")) and not rep.get("kmsKeyId"):
                report("the backup replication sets no kmsKeyId: encrypted backups need the DR ring's 'database' "
                       "key in the DR region.", db.urn)


stack_policy(
    "rds-cross-region-backups", concern="backup", citation=DR_PLAN,
    types=(RDS_INSTANCE, RDS_BACKUP_REPLICATION),
    config={"drRegion": {"type": "string", "default": "us-west-2",
                         "description": "The region automated RDS backups must be replicated to (regions.dr)."}},
    description="Every primary RDS instance replicates its automated backups to the DR region, encrypted.",
)(rds_cross_region_backups)


def backup_vault_lock(resources: list[Resource], report: Report, cfg: Settings) -> None:
    if not cfg["required"]:
        return
    locks = list(of_type(resources, BACKUP_VAULT_LOCK))
    for vault in of_type(resources, BACKUP_VAULT):
        if not any(lock.refers_to(vault, "backupVaultName") for lock in locks):
            report("has no VaultLockConfiguration: an attacker or a mistake could delete recovery points before "
                   "their retention ends. Set backup.vaultLock: true in Pulumi.<stack>.yaml.", vault.urn)


stack_policy(
    "backup-vault-lock", concern="backup", citation=INTEGRITY, types=(BACKUP_VAULT, BACKUP_VAULT_LOCK),
    config=required_flag(True, "a vault lock on every backup vault"),
    description="Backup vaults are locked (recovery points cannot be deleted early) where the stack requires it.",
)(backup_vault_lock)


POLICIES = policies_of(__name__)

"""Exposure: nothing holding PHI is reachable from the internet. HIPAA 164.312(a)(1) access control,
164.312(e)(1) transmission security.
"""

from __future__ import annotations

from typing import Any

from common import (
    CLOUDFRONT,
    EC2_INSTANCE,
    EKS_CLUSTER,
    K8S_INGRESS,
    KMS_KEY,
    KMS_KEY_POLICY,
    LAUNCH_TEMPLATE,
    MSK,
    RDS_CLUSTER,
    RDS_INSTANCE,
    S3_POLICY,
    SECURITY_GROUP,
    SECURITY_GROUP_RULE,
    SG_INGRESS_RULE,
    SNS_TOPIC_POLICY,
    SUBNET,
    UNKNOWN,
    Report,
    Resource,
    Settings,
    as_int,
    as_list,
    is_false,
    is_true,
    is_unknown,
    parse_json,
    policies_of,
    resource_policy,
)

ACCESS = "164.312(a)(1)"
TRANSMISSION = "164.312(e)(1)"

OPEN_CIDRS = ("0.0.0.0/0", "::/0")

#: The tag that marks a security group as a load balancer's: the only place 0.0.0.0/0 may reach (HTTPS).
LB_TAG_KEY, LB_TAG_VALUE = "Purpose", "load-balancer"


def rds_not_public(r: Resource, report: Report, _: Settings) -> None:
    if is_true(r.get("publiclyAccessible")):
        report("publiclyAccessible is true: the database would get a public DNS name and address. "
               "Set publiclyAccessible=False and keep it in the database subnets (components/database.py).")


resource_policy(
    "rds-not-public", concern="exposure", citation=ACCESS, types=(RDS_INSTANCE, RDS_CLUSTER),
    description="RDS databases are not publicly accessible.",
)(rds_not_public)


def msk_not_public(r: Resource, report: Report, _: Settings) -> None:
    kind = r.get("brokerNodeGroupInfo.connectivityInfo.publicAccess.type")
    if kind is not None and not is_unknown(kind) and kind != "DISABLED":
        report(f"brokerNodeGroupInfo.connectivityInfo.publicAccess.type is {kind!r}: brokers would be reachable "
               "from the internet. Set publicAccess.type='DISABLED' (or omit it) in components/streaming.py.")


resource_policy(
    "msk-not-public", concern="exposure", citation=ACCESS, types=(MSK,),
    description="MSK brokers have no public endpoints.",
)(msk_not_public)


def _ports(from_port: Any, to_port: Any, protocol: Any) -> str:
    if str(protocol) in ("-1", "all"):
        return "all ports"
    low, high = as_int(from_port), as_int(to_port)
    return f"port {low}" if low == high else f"ports {low}-{high}"


def _https_only(from_port: Any, to_port: Any, protocol: Any) -> bool:
    return str(protocol).lower() in ("tcp", "6") and as_int(from_port) == 443 and as_int(to_port) == 443


def _is_lb(tags: Any) -> bool:
    return isinstance(tags, dict) and tags.get(LB_TAG_KEY) == LB_TAG_VALUE


def sg_no_public_ingress(r: Resource, report: Report, _: Settings) -> None:
    # (cidrs, fromPort, toPort, protocol, lb-tagged)
    rules: list[tuple[list[Any], Any, Any, Any, bool]] = []
    if r.type == SECURITY_GROUP:
        ingress = as_list(r.get("ingress"))
        if is_unknown(ingress):
            return
        lb = _is_lb(r.get("tags"))
        for rule in ingress:
            if isinstance(rule, dict):
                cidrs = [*_known(rule.get("cidrBlocks")), *_known(rule.get("ipv6CidrBlocks"))]
                rules.append((cidrs, rule.get("fromPort"), rule.get("toPort"), rule.get("protocol"), lb))
    elif r.type == SECURITY_GROUP_RULE:
        if r.get("type") != "ingress":
            return
        cidrs = [*_known(r.get("cidrBlocks")), *_known(r.get("ipv6CidrBlocks"))]
        rules.append((cidrs, r.get("fromPort"), r.get("toPort"), r.get("protocol"), False))
    else:
        cidrs = [c for c in (r.get("cidrIpv4"), r.get("cidrIpv6")) if isinstance(c, str)]
        rules.append((cidrs, r.get("fromPort"), r.get("toPort"), r.get("ipProtocol"), _is_lb(r.get("tags"))))
    for cidrs, low, high, protocol, lb in rules:
        open_cidrs = [c for c in cidrs if c in OPEN_CIDRS]
        if not open_cidrs or (lb and _https_only(low, high, protocol)):
            continue
        ports = _ports(low, high, protocol)
        report(f"ingress from {', '.join(open_cidrs)} on {ports}: only HTTPS (443) to a load balancer's security "
               f"group (tagged {LB_TAG_KEY}={LB_TAG_VALUE}) may be open to the internet. Restrict the source "
               "to a security group or the VPC CIDR (network.vpcCidr).")


resource_policy(
    "sg-no-public-ingress", concern="exposure", citation=ACCESS,
    types=(SECURITY_GROUP, SECURITY_GROUP_RULE, SG_INGRESS_RULE),
    description="No security group admits 0.0.0.0/0 or ::/0, except HTTPS (443) to a load balancer's group.",
)(sg_no_public_ingress)


def _known(value: Any) -> list[Any]:
    items = as_list(value)
    return [] if is_unknown(items) else [v for v in items if isinstance(v, str)]


def eks_private_endpoint(r: Resource, report: Report, cfg: Settings) -> None:
    vpc = r.get("vpcConfig")
    if vpc is None or is_unknown(vpc):
        return
    public, private = vpc.get("endpointPublicAccess"), vpc.get("endpointPrivateAccess")
    if is_unknown(public):
        return
    is_public = public is None or is_true(public)  # EKS defaults to a public endpoint
    if is_false(private) or (private is None and is_public):
        report("vpcConfig.endpointPrivateAccess is not true: nodes and operators inside the VPC would reach the "
               "API over the internet. Set endpointPrivateAccess=True in components/eks/control_plane.py.")
    if not is_public:
        return
    if cfg["requirePrivateEndpoint"]:
        report("vpcConfig.endpointPublicAccess is not false: this stack requires a private-only API endpoint. "
               "Set eks.endpointPublicAccess: false in Pulumi.<stack>.yaml.")
        return
    cidrs = as_list(vpc.get("publicAccessCidrs"))
    if is_unknown(cidrs):
        return
    if not cidrs or any(c in OPEN_CIDRS for c in cidrs):
        report("vpcConfig.publicAccessCidrs is open to the internet (0.0.0.0/0 is EKS's default): a public "
               "endpoint must be limited to known networks. Set eks.publicAccessCidrs in Pulumi.<stack>.yaml.")


resource_policy(
    "eks-private-endpoint", concern="exposure", citation=ACCESS, types=(EKS_CLUSTER,),
    config={"requirePrivateEndpoint": {"type": "boolean", "default": True,
                                       "description": "Whether the EKS API endpoint must be private-only."}},
    description="The EKS API endpoint is private where the stack requires it, and never open to 0.0.0.0/0.",
)(eks_private_endpoint)


def _metadata_setting(r: Resource, key: str) -> Any:
    """One ``metadataOptions`` setting of a launch template or instance; ``UNKNOWN`` when it cannot be judged
    (the options or the setting are unknown, or the metadata endpoint is disabled: then nothing is exposed)."""
    options = r.get("metadataOptions")
    if is_unknown(options):
        return UNKNOWN
    options = options or {}
    if options.get("httpEndpoint") == "disabled":
        return UNKNOWN
    return options.get(key)


def imdsv2_required(r: Resource, report: Report, _: Settings) -> None:
    tokens = _metadata_setting(r, "httpTokens")
    if is_unknown(tokens) or tokens == "required":
        return
    shown = "not set (optional)" if tokens is None else f"{tokens!r}"
    report(f"metadataOptions.httpTokens is {shown}: IMDSv1 lets any SSRF read the node role's credentials. "
           "Set metadataOptions={httpTokens: 'required', httpPutResponseHopLimit: 1} on the launch template.")


resource_policy(
    "imdsv2-required", concern="exposure", citation=ACCESS, types=(LAUNCH_TEMPLATE, EC2_INSTANCE),
    description="Nodes require IMDSv2 session tokens (httpTokens=required) so pods cannot steal node credentials.",
)(imdsv2_required)


def imds_hop_limit(r: Resource, report: Report, _: Settings) -> None:
    value = _metadata_setting(r, "httpPutResponseHopLimit")
    if is_unknown(value):
        return
    hops = as_int(value)
    if hops == 1:
        return
    shown = "not set (the AMI's default, 2 on EKS-optimized images)" if hops is None else str(hops)
    report(f"metadataOptions.httpPutResponseHopLimit is {shown}: a pod one network hop away could take the node "
           "role's credentials from the instance metadata service. Set httpPutResponseHopLimit=1 on the launch "
           "template (pods get AWS credentials from IRSA).")


# AWS Security Hub AutoScaling.4 (launch templates: hop limit must not exceed 1) and the EKS best practices
# ("Restrict access to the instance profile assigned to the worker node"):
# https://docs.aws.amazon.com/securityhub/latest/userguide/autoscaling-controls.html#autoscaling-4
# https://docs.aws.amazon.com/eks/latest/best-practices/identity-and-access-management.html
resource_policy(
    "imds-hop-limit", concern="exposure", citation=ACCESS, types=(LAUNCH_TEMPLATE, EC2_INSTANCE),
    description="Node instance metadata answers only the node itself (httpPutResponseHopLimit=1), not its pods.",
)(imds_hop_limit)

#: Condition keys that pin a wildcard principal to this account, organization, service or source.
_SCOPING_KEYS = {
    "aws:sourceaccount", "aws:sourcearn", "aws:sourceowner", "aws:principalaccount", "aws:principalorgid",
    "aws:principalarn", "aws:sourcevpce", "aws:sourcevpc", "kms:calleraccount", "aws:principalorgpaths",
}


def _wildcard(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        aws = principal.get("AWS")
        values = aws if isinstance(aws, list) else [aws]
        return "*" in values
    return False


def _scoped(condition: Any) -> bool:
    if not isinstance(condition, dict):
        return False
    return any(isinstance(body, dict) and any(k.lower() in _SCOPING_KEYS for k in body)
               for body in condition.values())


def no_wildcard_principals(r: Resource, report: Report, _: Settings) -> None:
    document = parse_json(r.get("policy"))
    if not isinstance(document, dict):
        return
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if _wildcard(statement.get("Principal")) and not _scoped(statement.get("Condition")):
            sid = statement.get("Sid") or f"#{index}"
            report(f"statement {sid} allows Principal '*' without an aws:PrincipalAccount, aws:SourceAccount, "
                   "aws:PrincipalOrgID or kms:CallerAccount condition: anyone could use it. Name the account "
                   "root or role ARNs (encryption.keyAdminArns) or add such a condition.")


resource_policy(
    "no-wildcard-principals", concern="exposure", citation=ACCESS,
    types=(KMS_KEY, KMS_KEY_POLICY, S3_POLICY, SNS_TOPIC_POLICY),
    description="Key, bucket and topic policies never allow a wildcard principal without an account/org condition.",
)(no_wildcard_principals)


def subnet_no_public_ip(r: Resource, report: Report, _: Settings) -> None:
    if is_true(r.get("mapPublicIpOnLaunch")):
        report("mapPublicIpOnLaunch is true: every instance launched here would get a public address. "
               "Set mapPublicIpOnLaunch=False (components/network.py).")


resource_policy(
    "subnet-no-public-ip", concern="exposure", citation=ACCESS, types=(SUBNET,),
    description="Subnets never assign public IPs on launch (public reachability goes through load balancers only).",
)(subnet_no_public_ip)


IAM_ROLE = "aws:iam/role:Role"
GITHUB_OIDC = "token.actions.githubusercontent.com"
_WILDCARDS = ("*", "?")


def _values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _github_statement(statement: Any) -> bool:
    if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
        return False
    principal = statement.get("Principal")
    federated = principal.get("Federated") if isinstance(principal, dict) else None
    return any(isinstance(p, str) and p.endswith(f"oidc-provider/{GITHUB_OIDC}") for p in _values(federated))


def github_oidc_trust_restricted(r: Resource, report: Report, _: Settings) -> None:
    """A role GitHub Actions may assume trusts one audience (sts.amazonaws.com) and exact subjects only.

    GitHub's OIDC token says which repository, branch, environment or pull request a job runs for in its
    ``sub`` claim; a trust without an exact ``sub`` lets every repository on GitHub (or every branch and
    environment of this one) assume the role, and without ``aud`` a token minted for another audience is
    accepted. https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect
    """
    document = parse_json(r.get("assumeRolePolicy"))
    if not isinstance(document, dict):
        return
    for index, statement in enumerate(_values(document.get("Statement", []))):
        if not _github_statement(statement):
            continue
        sid = statement.get("Sid") or f"#{index}"
        condition = statement.get("Condition") if isinstance(statement.get("Condition"), dict) else {}
        equals = {k.lower(): v for k, v in (condition.get("StringEquals") or {}).items()}
        like = {k.lower(): v for k, v in (condition.get("StringLike") or {}).items()}
        aud, sub = f"{GITHUB_OIDC}:aud", f"{GITHUB_OIDC}:sub"
        if _values(equals.get(aud)) != ["sts.amazonaws.com"]:
            report(f"statement {sid} trusts GitHub's OIDC provider without StringEquals {aud} = sts.amazonaws.com: "
                   "tokens minted for any audience would be accepted (components/ci_access.py)")
        subjects = [s for s in _values(equals.get(sub)) + _values(like.get(sub)) if s is not None]
        if not subjects:
            report(f"statement {sid} trusts GitHub's OIDC provider without a {sub} condition: any repository's "
                   "workflow could assume this role. Name repo:<org>/<repo>:environment:<stack> "
                   "(components/ci_access.py)")
        for subject in subjects:
            if not isinstance(subject, str) or any(w in subject for w in _WILDCARDS) or not subject.startswith("repo:"):
                report(f"statement {sid} trusts {sub} {subject!r}: a wildcard or non-repository subject lets other "
                       "repositories, branches or environments assume this role; name exact subjects "
                       "(repo:<org>/<repo>:environment:<stack>)")


resource_policy(
    "github-oidc-trust-restricted", concern="exposure", citation=ACCESS, types=(IAM_ROLE,),
    description="Roles GitHub Actions assumes trust audience sts.amazonaws.com and exact repository subjects only.",
)(github_oidc_trust_restricted)
def cloudfront_s3_oac(r: Resource, report: Report, _: Settings) -> None:
    origins = as_list(r.get("origins"))
    if is_unknown(origins):
        return
    for origin in origins:
        if not isinstance(origin, dict) or isinstance(origin.get("customOriginConfig"), dict) \
                or isinstance(origin.get("vpcOriginConfig"), dict):
            continue  # custom and VPC origins: cloudfront-origin-https
        label = origin.get("originId", "?")
        oai = (origin.get("s3OriginConfig") or {}).get("originAccessIdentity")
        oac = origin.get("originAccessControlId")
        if oai and not is_unknown(oai):
            report(f"origin {label}: uses the legacy origin access identity {oai!r}: use Origin Access Control "
                   "(SigV4, SSE-KMS support) instead (components/edge.py).")
        elif not oac and not is_unknown(oac):
            report(f"origin {label}: an S3 origin without originAccessControlId: the bucket would have to be "
                   "readable without CloudFront's signature. Set originAccessControlId to the edge's "
                   "OriginAccessControl (components/edge.py).")


resource_policy(
    "cloudfront-s3-oac", concern="exposure", citation=ACCESS, types=(CLOUDFRONT,),
    description="CloudFront reads S3 origins only through Origin Access Control (not the legacy OAI, never public).",
)(cloudfront_s3_oac)


def alb_ingress_waf(r: Resource, report: Report, _: Settings) -> None:
    annotations = r.get("metadata.annotations")
    if r.get("spec.ingressClassName") != "alb" or not isinstance(annotations, dict):
        return
    if annotations.get("alb.ingress.kubernetes.io/scheme") != "internet-facing":
        return
    acl = annotations.get("alb.ingress.kubernetes.io/wafv2-acl-arn")
    if not acl and not is_unknown(acl):
        report("an internet-facing ALB Ingress without the annotation alb.ingress.kubernetes.io/wafv2-acl-arn: the "
               "ALB would take requests with no managed rules or rate limit. Publish the app through the edge "
               "(published: true), which sets the regional web ACL.")


resource_policy(
    "alb-ingress-waf", concern="exposure", citation=ACCESS, types=(K8S_INGRESS,),
    description="Every internet-facing ALB Ingress is protected by a regional WAFv2 web ACL.",
)(alb_ingress_waf)


POLICIES = policies_of(__name__)

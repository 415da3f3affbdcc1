"""Policies for the rules of AWS's HIPAA conformance pack that the other modules did not cover: IAM
statements, RDS maintenance and monitoring, S3 housekeeping, backup frequency and recovery-point
protection, KMS deletion windows, alarm actions, internet-gateway routes and the nodes' SSM management.

Each names the conformance-pack rule(s) it enforces in its description; policies/hipaa-conformance.md
is the full mapping.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from typing import Any

from common import (
    BACKUP_PLAN,
    BACKUP_VAULT,
    EKS_NODE_GROUP,
    KMS_KEY,
    RDS_INSTANCE,
    S3_BUCKETS,
    S3_LOGGING,
    Report,
    Resource,
    Settings,
    as_int,
    as_list,
    is_false,
    is_unknown,
    of_type,
    parse_json,
    policies_of,
    resource_policy,
    stack_policy,
)

ACCESS = "164.312(a)(1)"
AUDIT = "164.312(b)"
BACKUP = "164.308(a)(7)(ii)(A)"
INTEGRITY = "164.312(c)(1)"
REVIEW = "164.308(a)(1)(ii)(D)"
TRANSMISSION = "164.312(e)(1)"

IAM_POLICY = "aws:iam/policy:Policy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
INLINE_POLICIES = (ROLE_POLICY, "aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy")
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
LIFECYCLE = ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
             "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2")
NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
VAULT_POLICY = "aws:backup/vaultPolicy:VaultPolicy"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
IGW = "aws:ec2/internetGateway:InternetGateway"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
VPC = "aws:ec2/vpc:Vpc"

SSM_CORE = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


# --- IAM statements -------------------------------------------------------------------------------

def _allow_statements(document: Any) -> Iterator[dict[str, Any]]:
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    for s in statements if isinstance(statements, list) else [statements]:
        if isinstance(s, dict) and s.get("Effect") == "Allow":
            yield s


def _strings(value: Any) -> list[str]:
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]


def iam_no_inline_policy(r: Resource, report: Report, _: Settings) -> None:
    report("an inline IAM policy: permissions must be customer-managed policies (aws.iam.Policy attached with "
           "RolePolicyAttachment) so they are versioned, reusable and visible to Access Analyzer. Use "
           "components.common.managed_role_policy.")


resource_policy(
    "iam-no-inline-policy", concern="exposure", citation=ACCESS, types=INLINE_POLICIES,
    description="No inline IAM policies on roles, users or groups (conformance rule iam-no-inline-policy-check).",
)(iam_no_inline_policy)


def iam_statements(r: Resource, report: Report, cfg: Settings) -> None:
    document = parse_json(r.get("policy"))
    if document is None:
        return
    # A permissions boundary is a ceiling, not a grant: "Allow * on *" minus its denies is how AWS documents
    # one (the conformance rule's excludePermissionBoundaryPolicy parameter). Only the names listed here,
    # used by the program as permissionsBoundary only (components/ci_access.py), are exempt.
    name = r.get("name")
    boundary = isinstance(name, str) and any(fnmatch.fnmatchcase(name, p) for p in cfg["permissionBoundaryPolicies"])
    for s in _allow_statements(document):
        actions, resources = _strings(s.get("Action")), _strings(s.get("Resource"))
        if "*" in actions and "*" in resources and not boundary:
            report(f"statement {s.get('Sid') or '(no Sid)'} allows Action '*' on Resource '*': administrator "
                   "access. Grant the actions the role needs on its own resources.")
        full = sorted(a for a in actions if re.fullmatch(r"[a-z0-9-]+:\*", a))
        if full:
            report(f"statement {s.get('Sid') or '(no Sid)'} allows {', '.join(full)}: full access to a service. "
                   "List the actions the role needs.")
        blocked = sorted(a for a in actions
                         if a.startswith("kms:") and any(fnmatch.fnmatchcase(p, a) for p in _BLOCKED_KMS))
        if blocked and "*" in resources:
            report(f"statement {s.get('Sid') or '(no Sid)'} allows {', '.join(blocked)} on every KMS key "
                   "(Resource '*'): name the keys the role may use.")


#: The conformance pack's blocked-actions patterns (IamCustomerPolicyBlockedKmsActionsParam...).
_BLOCKED_KMS = ("kms:*", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo")

resource_policy(
    "iam-policy-statements", concern="exposure", citation=ACCESS, types=(IAM_POLICY, *INLINE_POLICIES),
    config={"permissionBoundaryPolicies": {
        "type": "array", "items": {"type": "string"}, "default": ["care-*-ci-boundary"],
        "description": "Names (glob) of the customer-managed policies used only as permissions boundaries: exempt "
                       "from the admin-access check (the conformance rule's excludePermissionBoundaryPolicy)."}},
    description="IAM policies grant no admin access ('*' on '*'), no full service access ('svc:*') and no "
                "kms:*, kms:Decrypt or kms:ReEncrypt* on every key (conformance rules "
                "iam-policy-no-statements-with-admin-access, -full-access, iam-*-policy-blocked-kms-actions).",
)(iam_statements)


# --- RDS -------------------------------------------------------------------------------------------

def rds_auto_minor_upgrade(r: Resource, report: Report, _: Settings) -> None:
    if is_false(r.get("autoMinorVersionUpgrade")):
        report("autoMinorVersionUpgrade is false: security patches of the engine would wait for someone to "
               "apply them. Remove autoMinorVersionUpgrade=False (components/database.py).")


resource_policy(
    "rds-auto-minor-upgrade", concern="availability", citation=INTEGRITY, types=(RDS_INSTANCE,),
    description="RDS applies minor engine versions automatically in the maintenance window "
                "(conformance rule rds-automatic-minor-version-upgrade-enabled).",
)(rds_auto_minor_upgrade)


def rds_enhanced_monitoring(r: Resource, report: Report, _: Settings) -> None:
    interval = r.get("monitoringInterval")
    if is_unknown(interval):
        return
    if not as_int(interval):
        report("monitoringInterval is 0 or unset: enhanced monitoring (OS metrics of the host) is off. Set "
               "database.<db>.monitoringIntervalSeconds to 1, 5, 10, 15, 30 or 60.")
    elif not r.get("monitoringRoleArn"):
        report("monitoringRoleArn is not set: RDS cannot publish enhanced monitoring without its role.")


resource_policy(
    "rds-enhanced-monitoring", concern="logging", citation=REVIEW, types=(RDS_INSTANCE,),
    description="RDS enhanced monitoring is on (conformance rule rds-enhanced-monitoring-enabled).",
)(rds_enhanced_monitoring)


# --- S3 --------------------------------------------------------------------------------------------

def _companions(resources: list[Resource], bucket: Resource, types: tuple[str, ...]) -> list[Resource]:
    return [r for r in resources if r.type in types and r.refers_to(bucket, "bucket")]


def s3_housekeeping(resources: list[Resource], report: Report, _: Settings) -> None:
    loggings = list(of_type(resources, *S3_LOGGING))
    for bucket in of_type(resources, *S3_BUCKETS):
        is_log_target = any(lg.refers_to(bucket, "targetBucket") for lg in loggings)
        if not is_log_target and not _companions(resources, bucket, S3_LOGGING):
            report("no server access logging: requests to the bucket would leave no trace outside CloudTrail data "
                   "events. Pass access_log_bucket to SecureBucket.", bucket.urn)
        owners = [o.get("rule.objectOwnership") for o in _companions(resources, bucket, (OWNERSHIP,))]
        if not any(o == "BucketOwnerEnforced" or is_unknown(o) for o in owners):
            report("ACLs are not disabled: add BucketOwnershipControls with objectOwnership='BucketOwnerEnforced'.",
                   bucket.urn)
        rules = [rule for lc in _companions(resources, bucket, LIFECYCLE) for rule in as_list(lc.get("rules"))]
        if not any(is_unknown(rule) or (isinstance(rule, dict) and rule.get("status") == "Enabled"
                                        and rule.get("noncurrentVersionExpiration")) for rule in rules):
            report("no enabled lifecycle rule expires noncurrent versions: old versions would pile up forever. Add "
                   "noncurrentVersionExpiration to the bucket's lifecycle rule.", bucket.urn)
        if not _companions(resources, bucket, (NOTIFICATION,)):
            report("no event notifications: object changes would not reach EventBridge. Add a BucketNotification "
                   "with eventbridge=True.", bucket.urn)


stack_policy(
    "s3-housekeeping", concern="logging", citation=AUDIT, types=(*S3_BUCKETS, *S3_LOGGING, OWNERSHIP, *LIFECYCLE,
                                                                 NOTIFICATION),
    description="Every bucket logs access (log targets excepted), has ACLs disabled, expires noncurrent versions "
                "and sends event notifications (conformance rules s3-bucket-logging-enabled, "
                "s3-bucket-acl-prohibited, s3-version-lifecycle-policy-check, s3-event-notifications-enabled).",
)(s3_housekeeping)


# --- Backup ---------------------------------------------------------------------------------------

_DAILY_CRON = re.compile(r"cron\(\s*\S+\s+\S+\s+([*?])\s+\*\s+([*?])\s+\S+\s*\)")
_RATE = re.compile(r"rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)")


def runs_at_least_daily(schedule: str) -> bool:
    """Whether an AWS Backup schedule expression runs every day (or more often)."""
    if _DAILY_CRON.fullmatch(schedule.strip()):
        return True
    rate = _RATE.fullmatch(schedule.strip())
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        return value <= {"minute": 1440, "hour": 24, "day": 1}[unit.rstrip("s")]
    return False


def backup_plan_frequency(r: Resource, report: Report, _: Settings) -> None:
    rules = as_list(r.get("rules"))
    if is_unknown(rules):
        return
    for rule in rules:
        schedule = rule.get("schedule") if isinstance(rule, dict) else None
        if schedule is None or is_unknown(schedule):
            continue
        if not runs_at_least_daily(schedule):
            report(f"rule {rule.get('ruleName')!r} runs on {schedule!r}: recovery points must be taken at least "
                   "daily. Use a schedule like cron(0 5 ? * * *) (backup.schedule).")


resource_policy(
    "backup-plan-min-frequency", concern="backup", citation=BACKUP, types=(BACKUP_PLAN,),
    description="AWS Backup plan rules run at least daily "
                "(conformance rule backup-plan-min-frequency-and-min-retention-check, with backup-plan-retention).",
)(backup_plan_frequency)

#: What a vault's access policy must deny everyone (AWS Config rule backup-recovery-point-manual-deletion-disabled).
PROTECTED_ACTIONS = ("backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle")


def _denies_deletion(document: Any) -> bool:
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    denied: set[str] = set()
    for s in statements if isinstance(statements, list) else [statements]:
        if isinstance(s, dict) and s.get("Effect") == "Deny" and s.get("Principal") in ("*", {"AWS": "*"}):
            denied.update(_strings(s.get("Action")))
    return all(a in denied or "backup:*" in denied for a in PROTECTED_ACTIONS)


def backup_recovery_points_protected(resources: list[Resource], report: Report, _: Settings) -> None:
    policies = list(of_type(resources, VAULT_POLICY))
    for vault in of_type(resources, BACKUP_VAULT):
        mine = [p for p in policies if p.refers_to(vault, "backupVaultName")]
        documents = [p.get("policy") for p in mine]
        if any(is_unknown(d) for d in documents):
            continue
        if not any(_denies_deletion(parse_json(d)) for d in documents):
            report(f"no vault access policy denies {' and '.join(PROTECTED_ACTIONS)} to everyone: a recovery "
                   "point could be deleted by hand. Add a VaultPolicy (components/backup.py).", vault.urn)


stack_policy(
    "backup-recovery-points-protected", concern="backup", citation=BACKUP, types=(BACKUP_VAULT, VAULT_POLICY),
    description="Every backup vault's access policy denies manual deletion of recovery points "
                "(conformance rule backup-recovery-point-manual-deletion-disabled).",
)(backup_recovery_points_protected)


# --- KMS -------------------------------------------------------------------------------------------

def kms_deletion_window(r: Resource, report: Report, cfg: Settings) -> None:
    days = r.get("deletionWindowInDays")
    if is_unknown(days):
        return
    minimum = cfg["minDeletionWindowDays"]
    value = as_int(days)
    if value is not None and value < minimum:  # unset: KMS's default of 30 days
        report(f"deletionWindowInDays is {value}: a key scheduled for deletion must stay recoverable for at least "
               f"{minimum} days. Set encryption.deletionWindowDays.")


resource_policy(
    "kms-deletion-window", concern="backup", citation=BACKUP, types=(KMS_KEY,),
    config={"minDeletionWindowDays": {"type": "integer", "minimum": 7, "maximum": 30, "default": 30,
                                      "description": "The shortest KMS key deletion window allowed in this stack."}},
    description="KMS keys keep the stack's minimum deletion window, so a key scheduled for deletion can be "
                "cancelled (conformance rule kms-cmk-not-scheduled-for-deletion, with Pulumi protect).",
)(kms_deletion_window)


# --- CloudWatch alarms ----------------------------------------------------------------------------

def cloudwatch_alarm_actions(r: Resource, report: Report, cfg: Settings) -> None:
    if is_false(r.get("actionsEnabled")):
        report("actionsEnabled is false: the alarm would notify no one.")
        return
    wanted = [("alarmActions", True)] + [("insufficientDataActions", cfg["insufficientDataActionRequired"])]
    for key, required in wanted:
        actions = as_list(r.get(key))
        if required and not is_unknown(actions) and not actions:
            report(f"{key} is empty: the alarm must notify the alert topic when it fires"
                   f"{' and when its data stops' if key.startswith('insufficient') else ''}.")


resource_policy(
    "cloudwatch-alarm-actions", concern="logging", citation=REVIEW, types=(ALARM,),
    config={"insufficientDataActionRequired": {
        "type": "boolean", "default": True,
        "description": "Whether alarms must also act on INSUFFICIENT_DATA (the HIPAA pack's default: true)."}},
    description="CloudWatch alarms notify on ALARM and on INSUFFICIENT_DATA (conformance rule "
                "cloudwatch-alarm-action-check).",
)(cloudwatch_alarm_actions)


# --- Network --------------------------------------------------------------------------------------

def _igw_routes(table: Resource, routes: list[Resource], igws: list[Resource]) -> list[str]:
    """The destinations this route table sends to an internet gateway."""
    found = []
    for route in [*as_list(table.get("routes")), *[r.props for r in routes if r.refers_to(table, "routeTableId")]]:
        gateway = route.get("gatewayId") if isinstance(route, dict) else None
        if isinstance(gateway, str) and (gateway.startswith("igw-") or any(gateway in i.identities() for i in igws)):
            found.append(route.get("cidrBlock") or route.get("ipv6CidrBlock") or "?")
    return found


def igw_routes_public_only(resources: list[Resource], report: Report, _: Settings) -> None:
    routes, igws = list(of_type(resources, ROUTE)), list(of_type(resources, IGW))
    vpcs = list(of_type(resources, VPC))
    for table in of_type(resources, ROUTE_TABLE):
        tier = (table.get("tags") or {}).get("Tier")
        destinations = _igw_routes(table, routes, igws)
        if destinations and tier != "public":
            report(f"routes {', '.join(destinations)} to the internet gateway from a route table of tier {tier!r}: "
                   "only the public tier (load balancers, NAT gateways) may reach the internet directly.", table.urn)
    for igw in igws:
        if vpcs and not any(igw.refers_to(v, "vpcId") for v in vpcs):
            report("the internet gateway is attached to a VPC this stack does not create.", igw.urn)


stack_policy(
    "igw-routes-public-only", concern="exposure", citation=ACCESS, types=(ROUTE_TABLE, ROUTE, IGW, VPC),
    description="Only public-tier route tables route to the internet gateway, which belongs to the stack's VPC "
                "(conformance rules no-unrestricted-route-to-igw, internet-gateway-authorized-vpc-only).",
)(igw_routes_public_only)


def vpc_default_sg_closed(resources: list[Resource], report: Report, _: Settings) -> None:
    defaults = list(of_type(resources, DEFAULT_SG))
    for vpc in of_type(resources, VPC):
        mine = [d for d in defaults if d.refers_to(vpc, "vpcId")]
        if not mine:
            report("the VPC's default security group is not managed: it admits all traffic between its members. "
                   "Add a DefaultSecurityGroup with no ingress and no egress rules.", vpc.urn)
        for group in mine:
            rules = [k for k in ("ingress", "egress") if as_list(group.get(k)) and not is_unknown(group.get(k))]
            if rules:
                report(f"the default security group has {' and '.join(rules)} rules: remove them.", group.urn)


stack_policy(
    "vpc-default-sg-closed", concern="exposure", citation=ACCESS, types=(VPC, DEFAULT_SG),
    description="Every VPC's default security group has no rules (conformance rule "
                "vpc-default-security-group-closed).",
)(vpc_default_sg_closed)


def eks_nodes_ssm_managed(resources: list[Resource], report: Report, _: Settings) -> None:
    roles, attachments = list(of_type(resources, ROLE)), list(of_type(resources, ATTACHMENT))
    for group in of_type(resources, EKS_NODE_GROUP):
        role_arn = group.get("nodeRoleArn")
        role = [r for r in roles if group.refers_to(r, "nodeRoleArn")]
        if not role:
            if not role_arn:
                report("the node group has no node role (instance profile).", group.urn)
            continue  # a role made elsewhere (or not yet known): nothing here to check
        policies = [a.get("policyArn") for a in attachments if a.refers_to(role[0], "role")]
        if SSM_CORE not in policies and not any(is_unknown(p) for p in policies):
            report("the node role lacks AmazonSSMManagedInstanceCore: the nodes would not be managed by Systems "
                   "Manager (inventory, Session Manager instead of SSH). Attach it (components/eks/iam.py).",
                   group.urn)


stack_policy(
    "eks-nodes-ssm-managed", concern="exposure", citation=ACCESS, types=(EKS_NODE_GROUP, ROLE, ATTACHMENT),
    description="EKS nodes run with a node role that lets Systems Manager manage them (conformance rules "
                "ec2-instance-managed-by-systems-manager, ec2-instance-profile-attached).",
)(eks_nodes_ssm_managed)



# --- ACM --------------------------------------------------------------------------------------------------------

ACM_CERTIFICATE = "aws:acm/certificate:Certificate"


def acm_dns_validation(r: Resource, report: Report, _: Settings) -> None:
    """The conformance rule acm-certificate-expiration-check flags certificates near expiry. ACM renews an
    Amazon-issued certificate on its own only when it is DNS-validated and its CNAME stays in DNS; an e-mail
    validated one waits for someone to click a link (https://docs.aws.amazon.com/acm/latest/userguide/managed-renewal.html).
    Imported certificates are never renewed."""
    method = r.get("validationMethod")
    if is_unknown(method):
        return
    if r.get("certificateBody") is not None or r.get("privateKey") is not None:
        report("an imported certificate: ACM never renews it, so it expires unnoticed. Request it from ACM with "
               "validationMethod='DNS' (components/edge.py).")
    elif method != "DNS":
        report(f"validationMethod is {method!r}: ACM renews a certificate automatically only when it is "
               "DNS-validated. Set validationMethod='DNS' and keep the validation CNAME in DNS (components/edge.py).")


resource_policy(
    "acm-dns-validation", concern="transit", citation=TRANSMISSION, types=(ACM_CERTIFICATE,),
    description="ACM certificates are requested from ACM and DNS-validated, so they renew before they expire "
                "(conformance rule acm-certificate-expiration-check).",
)(acm_dns_validation)


POLICIES = policies_of(__name__)

"""Map every rule of AWS's "Operational Best Practices for HIPAA Security" conformance pack to this pack.

    python -m policies.conformance_map          # rewrite policies/hipaa-conformance.md
    python -m policies.conformance_map --check  # exit 1 if it is out of date (CI, tests)

Each rule is ``enforced`` (by the named policies of this pack), ``not applicable`` (it concerns a resource
kind this program never creates; the test checks the rendered stacks contain none of the listed types) or an
``accepted exception`` (it applies, and we decided not to enforce it, for the reason given). Coverage counts
enforced rules among those that apply (enforced + exceptions); the test requires at least 90 %.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import registry_doc  # noqa: E402,F401  (imports every policy module: the registry is complete)
from common import REGISTRY  # noqa: E402

TEMPLATE = HERE / "conformance" / "Operational-Best-Practices-for-HIPAA-Security.yaml"
OUTPUT = HERE / "hipaa-conformance.md"
MINIMUM_COVERAGE = 0.90


@dataclass(frozen=True)
class Rule:
    status: str  # "enforced", "not applicable", "accepted exception"
    policies: tuple[str, ...] = ()
    #: not applicable: the Pulumi resource types the rule concerns (none may appear in a rendered stack)
    types: tuple[str, ...] = ()
    why: str = ""


def enforced(*policies: str, why: str = "") -> Rule:
    return Rule("enforced", policies=policies, why=why)


def not_applicable(why: str, *types: str) -> Rule:
    return Rule("not applicable", types=types, why=why)


def exception(why: str) -> Rule:
    return Rule("accepted exception", why=why)


_LB = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer", "aws:elb/loadBalancer:LoadBalancer",
       "aws:lb/listener:Listener", "aws:alb/listener:Listener")
_LB_WHY = ("this program creates no load balancer; CloudFront fronts the apps (cloudfront-viewer-https, "
           "cloudfront-tls12, cloudfront-waf) and lb-listener-https guards any listener a change adds")
_NO_USERS = "this program creates no IAM users (people sign in through roles)"
_ROOT = "the root user is not a resource a program creates; its MFA is on the go-live checklist"
_EC2 = ("aws:ec2/instance:Instance",)

RULES: dict[str, Rule] = {
    "access-keys-rotated": not_applicable(_NO_USERS + " and no access keys", "aws:iam/accessKey:AccessKey"),
    "acm-certificate-expiration-check": enforced(
        "acm-dns-validation", why="DNS-validated ACM certificates renew themselves before they expire"),
    "alb-http-to-https-redirection-check": not_applicable(_LB_WHY, *_LB),
    "alb-waf-enabled": not_applicable(_LB_WHY, *_LB),
    "api-gw-associated-with-waf": not_applicable("no API Gateway", "aws:apigateway/stage:Stage"),
    "api-gw-execution-logging-enabled": not_applicable("no API Gateway", "aws:apigateway/stage:Stage",
                                                       "aws:apigatewayv2/stage:Stage"),
    "api-gw-ssl-enabled": not_applicable("no API Gateway", "aws:apigateway/stage:Stage"),
    "aurora-resources-protected-by-backup-plan": not_applicable("no Aurora: RDS for PostgreSQL instances",
                                                                "aws:rds/cluster:Cluster"),
    "autoscaling-group-elb-healthcheck-required": not_applicable(
        "no Auto Scaling group is created here (EKS managed node groups own theirs; pods are health-checked by "
        "Kubernetes probes, k8s-probes)", "aws:autoscaling/group:Group"),
    "autoscaling-launch-config-public-ip-disabled": not_applicable(
        "no launch configurations (launch templates only)", "aws:ec2/launchConfiguration:LaunchConfiguration"),
    "backup-plan-min-frequency-and-min-retention-check": enforced("backup-plan-min-frequency",
                                                                  "backup-plan-retention"),
    "backup-recovery-point-encrypted": enforced("backup-vault-kms"),
    "backup-recovery-point-manual-deletion-disabled": enforced("backup-recovery-points-protected",
                                                               "backup-vault-lock"),
    "cloud-trail-cloud-watch-logs-enabled": enforced("cloudtrail-required"),
    "cloudtrail-enabled": enforced("cloudtrail-required", "cloudtrail-log-validation"),
    "cloud-trail-encryption-enabled": enforced("cloudtrail-required"),
    "cloud-trail-log-file-validation-enabled": enforced("cloudtrail-log-validation", "cloudtrail-required"),
    "cloudtrail-s3-dataevents-enabled": enforced("cloudtrail-required"),
    "cloudwatch-alarm-action-check": enforced("cloudwatch-alarm-actions"),
    "codebuild-project-envvar-awscred-check": not_applicable("no CodeBuild", "aws:codebuild/project:Project"),
    "codebuild-project-source-repo-url-check": not_applicable("no CodeBuild", "aws:codebuild/project:Project"),
    "db-instance-backup-enabled": enforced("rds-backup-retention"),
    "dms-replication-not-public": not_applicable("no DMS", "aws:dms/replicationInstance:ReplicationInstance"),
    "dynamodb-autoscaling-enabled": not_applicable("no DynamoDB", "aws:dynamodb/table:Table"),
    "dynamodb-in-backup-plan": not_applicable("no DynamoDB", "aws:dynamodb/table:Table"),
    "dynamodb-pitr-enabled": not_applicable("no DynamoDB", "aws:dynamodb/table:Table"),
    "dynamodb-throughput-limit-check": not_applicable("no DynamoDB", "aws:dynamodb/table:Table"),
    "ebs-in-backup-plan": enforced("stateful-store-backup-coverage",
                                   why="volumes with data (storage classes, EBS volumes) are covered; node root "
                                       "volumes are stateless"),
    "ebs-snapshot-public-restorable-check": not_applicable(
        "no EBS snapshots or snapshot permissions are created (AWS Backup's recovery points stay in the vaults)",
        "aws:ebs/snapshot:Snapshot", "aws:ec2/snapshotCreateVolumePermission:SnapshotCreateVolumePermission"),
    "ec2-ebs-encryption-by-default": enforced("ebs-encryption-by-default"),
    "ec2-imdsv2-check": enforced("imdsv2-required", "imds-hop-limit"),
    "ec2-instance-managed-by-systems-manager": enforced("eks-nodes-ssm-managed"),
    "ec2-instance-no-public-ip": enforced("subnet-no-public-ip"),
    "ec2-instance-profile-attached": enforced("eks-nodes-ssm-managed"),
    "ec2-managedinstance-association-compliance-status-check": not_applicable(
        "no SSM associations are created", "aws:ssm/association:Association"),
    "ec2-managedinstance-patch-compliance-status-check": exception(
        "nodes are immutable: they are patched by rolling the node groups to a new EKS AMI release, not by "
        "Patch Manager, so there is no patch baseline to be compliant with"),
    "ec2-resources-protected-by-backup-plan": exception(
        "EKS nodes are stateless and replaced, not restored; their data lives in RDS, S3, ElastiCache, MSK and "
        "EBS persistent volumes, which are backed up (stateful-store-backup-coverage)"),
    "ec2-stopped-instance": exception(
        "nodes belong to Auto Scaling groups of EKS managed node groups, which replace stopped nodes; nothing "
        "in this program stops instances"),
    "ecs-containers-readonly-access": not_applicable("no ECS (k8s-read-only-root-fs covers the pods)",
                                                     "aws:ecs/taskDefinition:TaskDefinition"),
    "ecs-task-definition-user-for-host-mode-check": not_applicable("no ECS", "aws:ecs/taskDefinition:TaskDefinition"),
    "efs-encrypted-check": not_applicable("no EFS", "aws:efs/fileSystem:FileSystem"),
    "efs-in-backup-plan": not_applicable("no EFS", "aws:efs/fileSystem:FileSystem"),
    "elastic-beanstalk-managed-updates-enabled": not_applicable("no Elastic Beanstalk",
                                                                "aws:elasticbeanstalk/environment:Environment"),
    "elasticache-redis-cluster-automatic-backup-check": enforced("elasticache-snapshot-retention"),
    "elasticsearch-encrypted-at-rest": not_applicable("no Elasticsearch", "aws:elasticsearch/domain:Domain"),
    "elasticsearch-in-vpc-only": not_applicable("no Elasticsearch", "aws:elasticsearch/domain:Domain"),
    "elasticsearch-logs-to-cloudwatch": not_applicable("no Elasticsearch", "aws:elasticsearch/domain:Domain"),
    "elasticsearch-node-to-node-encryption-check": not_applicable("no Elasticsearch",
                                                                  "aws:elasticsearch/domain:Domain"),
    "elb-acm-certificate-required": not_applicable(_LB_WHY, *_LB),
    "elb-cross-zone-load-balancing-enabled": not_applicable(_LB_WHY, *_LB),
    "elb-deletion-protection-enabled": not_applicable(_LB_WHY, *_LB),
    "elb-logging-enabled": not_applicable(_LB_WHY, *_LB),
    "elb-predefined-security-policy-ssl-check": not_applicable(_LB_WHY, *_LB),
    "elb-tls-https-listeners-only": not_applicable(_LB_WHY, *_LB),
    "elbv2-acm-certificate-required": not_applicable(_LB_WHY, *_LB),
    "emr-kerberos-enabled": not_applicable("no EMR", "aws:emr/cluster:Cluster"),
    "emr-master-no-public-ip": not_applicable("no EMR", "aws:emr/cluster:Cluster"),
    "encrypted-volumes": enforced("ebs-volume-encrypted", "storage-class-encrypted"),
    "guardduty-enabled-centralized": enforced("guardduty-features"),
    "iam-customer-policy-blocked-kms-actions": enforced("iam-policy-statements"),
    "iam-inline-policy-blocked-kms-actions": enforced("iam-policy-statements", "iam-no-inline-policy"),
    "iam-no-inline-policy-check": enforced("iam-no-inline-policy"),
    "iam-password-policy": enforced("iam-password-policy"),
    "iam-policy-no-statements-with-admin-access": enforced("iam-policy-statements"),
    "iam-policy-no-statements-with-full-access": enforced("iam-policy-statements"),
    "iam-root-access-key-check": not_applicable(_ROOT),
    "iam-user-mfa-enabled": not_applicable(_NO_USERS, "aws:iam/user:User"),
    "iam-user-no-policies-check": not_applicable(_NO_USERS, "aws:iam/user:User",
                                                 "aws:iam/userPolicyAttachment:UserPolicyAttachment"),
    "iam-user-unused-credentials-check": not_applicable(_NO_USERS, "aws:iam/user:User"),
    "restricted-ssh": enforced("sg-no-public-ingress"),
    "ec2-instances-in-vpc": not_applicable("EC2-Classic is retired: every instance is in a VPC", *_EC2),
    "internet-gateway-authorized-vpc-only": enforced(
        "igw-routes-public-only", why="the conformance pack gets the stack's VPC id as its parameter"),
    "kinesis-stream-encrypted": not_applicable("no Kinesis", "aws:kinesis/stream:Stream"),
    "kms-cmk-not-scheduled-for-deletion": enforced("kms-deletion-window", "stateful-resources-protected"),
    "lambda-function-public-access-prohibited": not_applicable("no Lambda", "aws:lambda/function:Function",
                                                               "aws:lambda/permission:Permission"),
    "mfa-enabled-for-iam-console-access": not_applicable(_NO_USERS, "aws:iam/user:User",
                                                         "aws:iam/userLoginProfile:UserLoginProfile"),
    "multi-region-cloudtrail-enabled": enforced("cloudtrail-required", "cloudtrail-log-validation"),
    "no-unrestricted-route-to-igw": enforced(
        "igw-routes-public-only", why="the public tier's 0.0.0.0/0 route (NAT gateways) is the one AWS's rule will "
                                      "list; no other tier routes to the internet gateway"),
    "opensearch-encrypted-at-rest": not_applicable("no OpenSearch", "aws:opensearch/domain:Domain"),
    "opensearch-https-required": not_applicable("no OpenSearch", "aws:opensearch/domain:Domain"),
    "opensearch-in-vpc-only": not_applicable("no OpenSearch", "aws:opensearch/domain:Domain"),
    "opensearch-logs-to-cloudwatch": not_applicable("no OpenSearch", "aws:opensearch/domain:Domain"),
    "opensearch-node-to-node-encryption-check": not_applicable("no OpenSearch", "aws:opensearch/domain:Domain"),
    "rds-automatic-minor-version-upgrade-enabled": enforced("rds-auto-minor-upgrade"),
    "rds-cluster-deletion-protection-enabled": not_applicable("no RDS clusters (Aurora or Multi-AZ DB clusters)",
                                                              "aws:rds/cluster:Cluster"),
    "rds-enhanced-monitoring-enabled": enforced("rds-enhanced-monitoring"),
    "rds-in-backup-plan": enforced("stateful-store-backup-coverage"),
    "rds-instance-public-access-check": enforced("rds-not-public"),
    "rds-logging-enabled": enforced("rds-log-exports"),
    "rds-multi-az-support": enforced("rds-multi-az"),
    "rds-cluster-multi-az-enabled": not_applicable("no RDS clusters", "aws:rds/cluster:Cluster"),
    "rds-snapshot-encrypted": enforced("rds-storage-encrypted", "rds-cross-region-backups"),
    "rds-snapshots-public-prohibited": not_applicable(
        "no RDS snapshots are created or shared by this program", "aws:rds/snapshot:Snapshot",
        "aws:rds/clusterSnapshot:ClusterSnapshot"),
    "rds-storage-encrypted": enforced("rds-storage-encrypted"),
    "redshift-backup-enabled": not_applicable("no Redshift", "aws:redshift/cluster:Cluster"),
    "redshift-cluster-configuration-check": not_applicable("no Redshift", "aws:redshift/cluster:Cluster"),
    "redshift-cluster-maintenancesettings-check": not_applicable("no Redshift", "aws:redshift/cluster:Cluster"),
    "redshift-cluster-public-access-check": not_applicable("no Redshift", "aws:redshift/cluster:Cluster"),
    "redshift-require-tls-ssl": not_applicable("no Redshift", "aws:redshift/cluster:Cluster"),
    "restricted-common-ports": enforced("sg-no-public-ingress"),
    "root-account-hardware-mfa-enabled": not_applicable(_ROOT),
    "root-account-mfa-enabled": not_applicable(_ROOT),
    "s3-account-level-public-access-blocks-periodic": enforced("s3-account-public-access-block"),
    "s3-bucket-acl-prohibited": enforced("s3-housekeeping"),
    "s3-bucket-default-lock-enabled": exception(
        "Object Lock only on the audit-log bucket (audit trails must be immutable); PHI buckets are versioned, "
        "replicated and backed up, and must allow amendment and deletion at the end of retention"),
    "s3-bucket-logging-enabled": enforced("s3-housekeeping", why="the access-log buckets themselves excepted"),
    "s3-bucket-public-read-prohibited": enforced("s3-public-access-block", "s3-account-public-access-block"),
    "s3-bucket-public-write-prohibited": enforced("s3-public-access-block", "s3-account-public-access-block"),
    "s3-bucket-replication-enabled": exception(
        "only the PHI data bucket replicates to the DR region; static assets are rebuilt by CI and backed up, "
        "access logs are request metadata, and the audit bucket is Object-Locked and backed up"),
    "s3-bucket-server-side-encryption-enabled": enforced("s3-bucket-sse-kms"),
    "s3-bucket-ssl-requests-only": enforced("s3-deny-insecure-transport"),
    "s3-bucket-versioning-enabled": enforced("s3-versioning"),
    "s3-default-encryption-kms": enforced(
        "s3-bucket-sse-kms", why="except the access-log buckets: S3 server access logging delivers only to SSE-S3"),
    "s3-event-notifications-enabled": enforced("s3-housekeeping"),
    "s3-version-lifecycle-policy-check": enforced("s3-housekeeping"),
    "sagemaker-endpoint-configuration-kms-key-configured": not_applicable(
        "no SageMaker", "aws:sagemaker/endpointConfiguration:EndpointConfiguration"),
    "sagemaker-notebook-instance-kms-key-configured": not_applicable(
        "no SageMaker", "aws:sagemaker/notebookInstance:NotebookInstance"),
    "sagemaker-notebook-no-direct-internet-access": not_applicable(
        "no SageMaker", "aws:sagemaker/notebookInstance:NotebookInstance"),
    "secretsmanager-rotation-enabled-check": exception(
        "the master-user secrets are read only by the bootstrap Jobs (apps use IAM database authentication) and "
        "the Redis and ChromaDB tokens are rotated by redeploying; automatic rotation needs a rotation Lambda per "
        "secret kind (follow-up)"),
    "secretsmanager-using-cmk": enforced("secrets-manager-kms"),
    "securityhub-enabled": enforced("securityhub-enabled"),
    "sns-encrypted-kms": enforced("sns-topic-kms"),
    "ssm-document-not-public": not_applicable("no SSM documents", "aws:ssm/document:Document"),
    "subnet-auto-assign-public-ip-disabled": enforced("subnet-no-public-ip"),
    "vpc-default-security-group-closed": enforced("vpc-default-sg-closed"),
    "vpc-flow-logs-enabled": enforced("vpc-flow-logs"),
    "vpc-sg-open-only-to-authorized-ports": enforced("sg-no-public-ingress"),
    "vpc-vpn-2-tunnels-up": not_applicable("no site-to-site VPN", "aws:ec2/vpnConnection:VpnConnection"),
    "wafv2-logging-enabled": enforced("waf-logging"),
    "annual-risk-assessment-performed": not_applicable(
        "a process check AWS Config cannot evaluate from resources; the risk assessment is tracked outside code"),
}


def template_rules() -> list[str]:
    """The ConfigRuleName of every rule in the shipped template, in its order."""
    return re.findall(r"^\s+ConfigRuleName:\s*(\S+)\s*$", TEMPLATE.read_text(), flags=re.MULTILINE)


def coverage() -> tuple[int, int]:
    """(enforced, applicable) over the template's rules."""
    applicable = [RULES[r] for r in template_rules() if RULES[r].status != "not applicable"]
    return sum(r.status == "enforced" for r in applicable), len(applicable)


def problems() -> list[str]:
    """Why the mapping cannot be trusted (empty when it is complete and consistent)."""
    rules = template_rules()
    found = [f"rule {r} of the template is not mapped" for r in rules if r not in RULES]
    found += [f"rule {r} is mapped but not in the template" for r in RULES if r not in rules]
    for name, rule in RULES.items():
        if rule.status == "enforced" and not rule.policies:
            found.append(f"rule {name} is enforced by no policy")
        found += [f"rule {name} names unknown policy {p}" for p in rule.policies if p not in REGISTRY]
        if rule.status != "enforced" and not rule.why:
            found.append(f"rule {name} ({rule.status}) gives no reason")
    if not found:
        done, applicable = coverage()
        if done < MINIMUM_COVERAGE * applicable:
            found.append(f"coverage {done}/{applicable} is under {MINIMUM_COVERAGE:.0%}")
    return found


def render() -> str:
    done, applicable = coverage()
    lines = [
        "# AWS's HIPAA conformance pack, rule by rule, against this policy pack",
        "",
        "Generated by `python -m policies.conformance_map` from the shipped template "
        "(`policies/conformance/Operational-Best-Practices-for-HIPAA-Security.yaml`, see its SOURCE.md) and the "
        "mapping in `policies/conformance_map.py`; `tests/policies/test_hipaa_conformance.py` checks that it is "
        "current, that every policy named exists, and that no rendered stack contains a resource type of a rule "
        "marked not applicable. The same template is deployed as an AWS Config conformance pack "
        "(components/audit.py), so AWS evaluates the live account too.",
        "",
        f"Coverage: **{done} of {applicable}** rules that apply to what this program creates are enforced before "
        f"deployment ({done / applicable:.1%}; partial matches count as not covered; the minimum is "
        f"{MINIMUM_COVERAGE:.0%}). {len(template_rules()) - applicable} rules concern resource kinds we never create.",
        "",
        "| Rule | Status | Enforced by / why |",
        "|---|---|---|",
    ]
    for name in template_rules():
        rule = RULES[name]
        detail = ", ".join(f"`{p}`" for p in rule.policies)
        if rule.why:
            detail = f"{detail} ({rule.why})" if detail else rule.why
        lines.append(f"| `{name}` | {rule.status} | {detail} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    found = problems()
    if found:
        for line in found:
            print(f"error: {line}")
        return 1
    text = render()
    if "--check" in argv:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print(f"error: {OUTPUT.relative_to(HERE.parent)} is out of date: run python -m policies.conformance_map")
            return 1
        return 0
    OUTPUT.write_text(text)
    done, applicable = coverage()
    print(f"wrote {OUTPUT.relative_to(HERE.parent)}: {done}/{applicable} applicable rules enforced")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Encryption at rest with customer-managed KMS keys: HIPAA 164.312(a)(2)(iv).

Encryption is never a stack setting: the components always encrypt with the KeyRing's per-domain
keys (components/encryption.py). A violation here means a component lost its secure default.
"""

from __future__ import annotations

import fnmatch

from common import (
    BACKUP_VAULT,
    CACHE_RG,
    EBS_VOLUME,
    EKS_CLUSTER,
    K8S_STORAGE_CLASS,
    KMS_KEY,
    LAUNCH_TEMPLATE,
    LOG_GROUP,
    MSK,
    RDS_CLUSTER,
    RDS_INSTANCE,
    SECRET,
    SNS_TOPIC,
    UNKNOWN,
    Report,
    Resource,
    Settings,
    as_list,
    is_customer_managed_key,
    is_false,
    is_true,
    is_unknown,
    parse_json,
    policies_of,
    resource_policy,
)

AT_REST = "164.312(a)(2)(iv)"


def _cmk_problem(value: object, field: str) -> str | None:
    """Why ``value`` is not a customer-managed key reference, or None when it is one (or unknown)."""
    if is_unknown(value):
        return None
    if value is None or value == "":
        return f"{field} is not set"
    if not is_customer_managed_key(value):
        return f"{field} is the AWS-managed key {value}"
    return None


def rds_storage_encrypted(r: Resource, report: Report, _: Settings) -> None:
    encrypted = r.get("storageEncrypted")
    if not is_unknown(encrypted) and not is_true(encrypted):
        report("storageEncrypted is not true: PHI databases (read replicas included) must be encrypted at rest. "
               "Set storageEncrypted=True in components/database.py; it is not a stack setting.")
    key, source = r.get("kmsKeyId"), r.get("replicateSourceDb")
    if key is None and isinstance(source, str) and not source.startswith("arn:"):
        return  # a same-region replica is encrypted with its source's key (checked on the source)
    problem = _cmk_problem(key, "kmsKeyId")
    if problem:
        report(f"{problem}: RDS storage must use the KeyRing's 'database' customer-managed key. "
               "Pass kmsKeyId=keys.arn('database') (the DR ring's key for cross-region replicas).")


resource_policy(
    "rds-storage-encrypted", concern="encryption", citation=AT_REST, types=(RDS_INSTANCE, RDS_CLUSTER),
    description="RDS storage is encrypted with a customer-managed KMS key.",
)(rds_storage_encrypted)


def rds_performance_insights_kms(r: Resource, report: Report, _: Settings) -> None:
    enabled = r.get("performanceInsightsEnabled")
    if not is_true(enabled):
        return
    problem = _cmk_problem(r.get("performanceInsightsKmsKeyId"), "performanceInsightsKmsKeyId")
    if problem:
        report(f"{problem}: Performance Insights is enabled and stores SQL text, so it must use the 'database' "
               "customer-managed key. Set performanceInsightsKmsKeyId=keys.arn('database').")


resource_policy(
    "rds-performance-insights-kms", concern="encryption", citation=AT_REST, types=(RDS_INSTANCE, RDS_CLUSTER),
    description="Performance Insights data (it holds query text, so PHI) is encrypted with a customer-managed key.",
)(rds_performance_insights_kms)


def elasticache_encryption_at_rest(r: Resource, report: Report, _: Settings) -> None:
    enabled = r.get("atRestEncryptionEnabled")
    if not is_unknown(enabled) and not is_true(enabled):
        report("atRestEncryptionEnabled is not true: cached PHI must be encrypted at rest (it cannot be turned on "
               "later without replacing the group). Set atRestEncryptionEnabled=True in components/cache.py.")
    problem = _cmk_problem(r.get("kmsKeyId"), "kmsKeyId")
    if problem:
        report(f"{problem}: the cache must use the KeyRing's 'cache' customer-managed key. "
               "Pass kmsKeyId=keys.arn('cache').")


resource_policy(
    "elasticache-encryption-at-rest", concern="encryption", citation=AT_REST, types=(CACHE_RG,),
    description="ElastiCache replication groups are encrypted at rest with a customer-managed key.",
)(elasticache_encryption_at_rest)


def msk_encryption_at_rest(r: Resource, report: Report, _: Settings) -> None:
    problem = _cmk_problem(r.get("encryptionInfo.encryptionAtRestKmsKeyArn"),
                           "encryptionInfo.encryptionAtRestKmsKeyArn")
    if problem:
        report(f"{problem}: without it MSK uses an AWS-managed key. Set encryptionInfo.encryptionAtRestKmsKeyArn"
               "=keys.arn('streaming') in components/streaming.py.")


resource_policy(
    "msk-encryption-at-rest", concern="encryption", citation=AT_REST, types=(MSK,),
    description="MSK broker storage is encrypted with a customer-managed key.",
)(msk_encryption_at_rest)


def ebs_volume_encrypted(r: Resource, report: Report, _: Settings) -> None:
    if r.type == EBS_VOLUME:
        volumes = [("volume", r.get("encrypted"), r.get("kmsKeyId"))]
    else:
        mappings = as_list(r.get("blockDeviceMappings"))
        if is_unknown(mappings):
            return
        if not mappings:
            report("blockDeviceMappings is empty: the node root volume would take the AMI's unencrypted default. "
                   "Declare the root device (/dev/xvda) with ebs.encrypted='true' and ebs.kmsKeyId=keys.arn('ebs').")
            return
        volumes = []
        for mapping in mappings:
            if is_unknown(mapping):
                continue
            ebs = mapping.get("ebs")
            if ebs is None or is_unknown(ebs):
                continue  # ephemeral/instance-store mappings carry no EBS settings
            volumes.append((mapping.get("deviceName") or "?", ebs.get("encrypted"), ebs.get("kmsKeyId")))
    for device, encrypted, key in volumes:
        if not is_unknown(encrypted) and not is_true(encrypted):
            report(f"{device}: encrypted is not true: every EBS volume of a node that runs PHI workloads must be "
                   "encrypted. Set encrypted='true' with kmsKeyId=keys.arn('ebs').")
        problem = _cmk_problem(key, "kmsKeyId")
        if problem:
            report(f"{device}: {problem}: EBS volumes must use the KeyRing's 'ebs' customer-managed key. "
                   "Set kmsKeyId=keys.arn('ebs').")


resource_policy(
    "ebs-volume-encrypted", concern="encryption", citation=AT_REST, types=(LAUNCH_TEMPLATE, EBS_VOLUME),
    description="EBS volumes (node launch templates and standalone volumes) are encrypted with a customer-managed key.",
)(ebs_volume_encrypted)


_EBS_PROVISIONERS = ("ebs.csi.aws.com", "kubernetes.io/aws-ebs")


def storage_class_encrypted(r: Resource, report: Report, _: Settings) -> None:
    provisioner = r.get("provisioner")
    if is_unknown(provisioner) or provisioner not in _EBS_PROVISIONERS:
        return
    params = r.get("parameters", {})
    if is_unknown(params):
        return
    encrypted = params.get("encrypted")
    if not is_unknown(encrypted) and not is_true(encrypted):
        report("parameters.encrypted is not \"true\": persistent volumes (ChromaDB's PHI-derived vectors) must be "
               "encrypted. Set parameters {encrypted: \"true\", kmsKeyId: keys.arn('ebs')} on the StorageClass.")
    problem = _cmk_problem(params.get("kmsKeyId"), "parameters.kmsKeyId")
    if problem:
        report(f"{problem}: the EBS CSI driver would use the AWS-managed aws/ebs key. "
               "Set parameters.kmsKeyId to keys.arn('ebs').")


resource_policy(
    "storage-class-encrypted", concern="encryption", citation=AT_REST, types=(K8S_STORAGE_CLASS,),
    description="EBS storage classes provision encrypted volumes with a customer-managed key.",
)(storage_class_encrypted)


def eks_secrets_encryption(r: Resource, report: Report, _: Settings) -> None:
    config = r.get("encryptionConfig")
    if isinstance(config, list):  # pulumi-aws < 6 sent a list of one
        config = config[0] if config else None
    if is_unknown(config):
        return
    resources = as_list(config.get("resources")) if config else []
    if not is_unknown(resources) and "secrets" not in resources:
        report("encryptionConfig.resources does not include \"secrets\": Kubernetes secrets (database "
               "credentials) must be envelope-encrypted. Set encryptionConfig={resources: ['secrets'], "
               "provider: {keyArn: keys.arn('eks')}} in components/eks/control_plane.py.")
        return
    provider = config.get("provider") if config else None
    key = UNKNOWN if is_unknown(provider) else (provider or {}).get("keyArn")
    problem = _cmk_problem(key, "encryptionConfig.provider.keyArn")
    if problem:
        report(f"{problem}: secrets must be encrypted with the KeyRing's 'eks' key. "
               "Set encryptionConfig.provider.keyArn=keys.arn('eks').")


resource_policy(
    "eks-secrets-encryption", concern="encryption", citation=AT_REST, types=(EKS_CLUSTER,),
    description="EKS envelope-encrypts Kubernetes secrets with a customer-managed key.",
)(eks_secrets_encryption)


def log_group_kms(r: Resource, report: Report, _: Settings) -> None:
    problem = _cmk_problem(r.get("kmsKeyId"), "kmsKeyId")
    if problem:
        report(f"{problem}: logs may contain PHI and must be encrypted with the KeyRing's 'logs' key. "
               "Set kmsKeyId=keys.arn('logs') on the log group.")


resource_policy(
    "log-group-kms", concern="encryption", citation=AT_REST, types=(LOG_GROUP,),
    description="CloudWatch log groups are encrypted with a customer-managed key.",
)(log_group_kms)


def sns_topic_kms(r: Resource, report: Report, _: Settings) -> None:
    problem = _cmk_problem(r.get("kmsMasterKeyId"), "kmsMasterKeyId")
    if problem:
        report(f"{problem}: alarm and notification topics must be encrypted with a customer-managed key "
               "(alias/aws/sns cannot be used by CloudWatch alarms). "
               "Use components.alert_topic.AlertTopic (the 'alerts' key).")


resource_policy(
    "sns-topic-kms", concern="encryption", citation=AT_REST, types=(SNS_TOPIC,),
    description="SNS topics are encrypted with a customer-managed key.",
)(sns_topic_kms)


def backup_vault_kms(r: Resource, report: Report, _: Settings) -> None:
    problem = _cmk_problem(r.get("kmsKeyArn"), "kmsKeyArn")
    if problem:
        report(f"{problem}: recovery points must be encrypted with the KeyRing's 'backup' key (the DR ring's "
               "'backup' key for the DR vault). Set kmsKeyArn=keys.arn('backup').")


resource_policy(
    "backup-vault-kms", concern="encryption", citation=AT_REST, types=(BACKUP_VAULT,),
    description="AWS Backup vaults encrypt recovery points with a customer-managed key.",
)(backup_vault_kms)


def secrets_manager_kms(r: Resource, report: Report, _: Settings) -> None:
    problem = _cmk_problem(r.get("kmsKeyId"), "kmsKeyId")
    if problem:
        report(f"{problem}: secrets must be encrypted with the KeyRing's 'secrets' key, not aws/secretsmanager. "
               "Set kmsKeyId=keys.arn('secrets').")


resource_policy(
    "secrets-manager-kms", concern="encryption", citation=AT_REST, types=(SECRET,),
    description="Secrets Manager secrets are encrypted with a customer-managed key.",
)(secrets_manager_kms)


def kms_key_rotation(r: Resource, report: Report, _: Settings) -> None:
    spec = r.get("customerMasterKeySpec")
    if is_unknown(spec) or (spec and spec != "SYMMETRIC_DEFAULT"):
        return  # AWS rotates only symmetric encryption keys
    rotation = r.get("enableKeyRotation")
    if is_unknown(rotation):
        return
    if not is_true(rotation):
        report("enableKeyRotation is not true: keys that protect PHI must rotate. Set enableKeyRotation=True "
               "(components/encryption.py) with rotationPeriodInDays from encryption.rotationPeriodDays.")
    elif is_false(r.get("isEnabled")):
        report("isEnabled is false: a disabled key cannot rotate or decrypt. Remove isEnabled=False.")


resource_policy(
    "kms-key-rotation", concern="encryption", citation=AT_REST, types=(KMS_KEY,),
    description="Every customer-managed symmetric KMS key rotates automatically.",
)(kms_key_rotation)


#: The key ring's domains that hold no PHI (components/encryption.py PHI_DOMAINS says why). A key tagged with any
#: other DataDomain, or with none, must deny use outside its owning service.
NON_PHI_KEY_DOMAINS = ("logs", "alerts", "audit", "eks")
#: The use a PHI key must deny outside its owning service.
PHI_KEY_USE = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant")
#: Condition keys that may narrow that deny (and how): the owning services, AWS service principals acting as
#: themselves, and the principals that must call KMS directly. Anything else opens a hole in it.
_DENY_NARROWING = {"kms:viaservice": ("stringnotequals", "stringnotequalsifexists"),
                   "aws:principalisawsservice": ("bool", "boolifexists"),
                   "aws:principalarn": ("arnnotlike", "arnnotequals")}


def _covers(patterns: list[object], action: str) -> bool:
    return any(isinstance(p, str) and fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)


def _narrowing_problem(condition: object) -> str | None:
    """Why the deny's condition does not hold "only through the owning service", or None when it does."""
    if not isinstance(condition, dict):
        return "it has no kms:ViaService condition, so it denies the owning service too"
    via: list[object] = []
    for operator, body in condition.items():
        for key, value in (body.items() if isinstance(body, dict) else []):
            allowed = _DENY_NARROWING.get(key.lower())
            if allowed is None or operator.lower() not in allowed:
                return f"its condition {operator} {key} exempts requests the owning-service rule does not"
            values = as_list(value)
            if key.lower() == "kms:viaservice":
                via += values
            elif key.lower() == "aws:principalisawsservice" and values != ["false"]:
                return f"{operator} aws:PrincipalIsAWSService is {value!r}, which exempts every principal"
            elif key.lower() == "aws:principalarn" and any(not _one_role(v) for v in values):
                return "aws:PrincipalArn exempts more than named roles (a wildcard account or role path)"
    if not via or any(not (isinstance(v, str) and v.endswith(".amazonaws.com")) for v in via):
        return "it has no kms:ViaService condition naming the owning services (<service>.<region>.amazonaws.com)"
    return None


def _one_role(arn: object) -> bool:
    """An exemption names roles of one account by name (a trailing suffix wildcard at most)."""
    if not isinstance(arn, str) or not arn.startswith("arn:aws:iam::") or arn.count("*") > 1:
        return False
    account, _, resource = arn.removeprefix("arn:aws:iam::").partition(":")
    name = resource.rsplit("/", 1)[-1]
    return account.isdigit() and resource.startswith("role/") and name.rstrip("*") != "" and "*" not in name[:-1]


def _denies_use_outside_service(statement: object) -> str | None:
    """None when ``statement`` is the deny this policy asks for, else why it is not (or "" if unrelated)."""
    if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
        return ""
    principal = statement.get("Principal")
    if principal not in ("*", {"AWS": "*"}) or "*" not in as_list(statement.get("Resource")):
        return ""
    if not all(_covers(as_list(statement.get("Action")), a) for a in PHI_KEY_USE):
        return ""
    return _narrowing_problem(statement.get("Condition"))


def kms_phi_key_via_service_deny(r: Resource, report: Report, _: Settings) -> None:
    tags = r.get("tags")
    domain = tags.get("DataDomain") if isinstance(tags, dict) else None
    if is_unknown(domain) or domain in NON_PHI_KEY_DOMAINS:
        return
    policy = r.get("policy")
    if is_unknown(policy):
        return
    document = parse_json(policy)
    statements = as_list(document.get("Statement")) if isinstance(document, dict) else []
    reasons = [reason for reason in map(_denies_use_outside_service, statements) if reason is not None]
    if len(reasons) < len(statements):
        return  # one statement is the deny
    shown = next((reason for reason in reasons if reason), None)
    why = f" (the closest one does not hold: {shown})" if shown else ""
    report(f"PHI key (DataDomain {domain or 'unset'}) has no statement denying {', '.join(PHI_KEY_USE)} to Principal "
           f"'*' unless kms:ViaService is its owning service{why}: an IAM policy or a grant could use it directly. "
           "Keep the key ring's DenyUseOutsideOwningService statement (components/encryption.py, PHI_DOMAINS).")


resource_policy(
    "kms-phi-key-via-service-deny", concern="encryption", citation=AT_REST, types=(KMS_KEY,),
    description="Every PHI key's policy denies use outside its owning service (kms:ViaService), whatever IAM allows.",
)(kms_phi_key_via_service_deny)


POLICIES = policies_of(__name__)

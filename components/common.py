"""Pieces every component shares: the config-model base, tags and child options.

Nothing here reads ``pulumi.Config`` (that is ``config.py``'s job) and nothing here talks to AWS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Annotated

import pulumi
import pulumi_aws as aws
from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

#: The tag keys every taggable AWS resource carries (see ``config.StackConfig.standard_tags``).
STANDARD_TAG_KEYS: tuple[str, ...] = (
    "Project",
    "Environment",
    "Owner",
    "CostCenter",
    "DataClassification",
    "ManagedBy",
)

#: Resources carrying this tag (value ``"true"``) are selected by the AWS Backup plan.
BACKUP_TAG_KEY = "Backup"

#: CloudWatch Logs accepts only these retention values (PutRetentionPolicy).
CLOUDWATCH_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)


def _cloudwatch_retention(value: int) -> int:
    if value not in CLOUDWATCH_RETENTION_DAYS:
        raise ValueError(f"must be one of CloudWatch's retention values {list(CLOUDWATCH_RETENTION_DAYS)}")
    return value


#: A log-group retention in days, limited to the values CloudWatch Logs accepts.
LogRetentionDays = Annotated[int, AfterValidator(_cloudwatch_retention)]


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _pinned_image(value: str) -> str:
    if "@sha256:" in value:
        name, _, digest = value.partition("@sha256:")
        if not name:
            raise ValueError("must name the image before @sha256: (repo@sha256:<64 hex characters>)")
        if not _SHA256_HEX.fullmatch(digest):
            raise ValueError(f"the digest after @sha256: must be 64 lowercase hexadecimal characters "
                             f"(it has {len(digest)} characters: {digest[:16]!r}{'...' if len(digest) > 16 else ''})")
        return value
    name, _, tag = value.rpartition(":")
    if not name or "/" in tag or tag in ("", "latest"):
        raise ValueError("must be pinned to a tag other than 'latest' or to a digest (repo:1.2.3 or repo@sha256:...)")
    return value


#: A container image reference pinned to a tag (never ``latest``) or a digest.
PinnedImage = Annotated[str, AfterValidator(_pinned_image)]


class ConfigModel(BaseModel):
    """Base for every stack-config section: frozen, strict about unknown keys, camelCase in YAML."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        validate_default=True,
    )


def tags_for(tags: Mapping[str, str], name: str, **extra: str) -> dict[str, str]:
    """The standard tags merged with the resource's own ``Name`` (and any extra tags)."""
    return {"Name": name, **tags, **extra}


def child_opts(parent: pulumi.Resource, **kwargs: object) -> pulumi.ResourceOptions:
    """Options for a component's child: parented to the component (and so inheriting its provider)."""
    return pulumi.ResourceOptions(parent=parent, **kwargs)  # type: ignore[arg-type]


def service_role_trust(service: str, *, source_account: str | None = None,
                       source_arns: Sequence[str] = ()) -> str:
    """An IAM role trust policy letting one AWS service assume the role, for this account (aws:SourceAccount) and
    these resources (aws:SourceArn, ArnLike) only, if given. Add them only where AWS documents that the service
    sends them when it assumes the role: a condition key the request lacks fails the condition and the service
    can no longer assume the role."""
    statement: dict[str, object] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    condition: dict[str, object] = {}
    if source_account:
        condition["StringEquals"] = {"aws:SourceAccount": source_account}
    if source_arns:
        condition["ArnLike"] = {"aws:SourceArn": source_arns[0] if len(source_arns) == 1 else list(source_arns)}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def client_security_group(
    name: str,
    *,
    vpc_id: pulumi.Input[str],
    description: str,
    ports: Sequence[tuple[int, int, str]],
    client_security_group_ids: Sequence[pulumi.Input[str]],
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
    sources: Mapping[int, Sequence[pulumi.Input[str]]] | None = None,
) -> aws.ec2.SecurityGroup:
    """A data store's security group: the given TCP port ranges from the client security groups only, no egress.

    ``sources`` replaces the clients for the port ranges starting at its keys (MSK's exporters: Prometheus).
    """
    sources = sources or {}
    return aws.ec2.SecurityGroup(
        name,
        aws.ec2.SecurityGroupArgs(
            vpc_id=vpc_id,
            description=description,
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=low, to_port=high,
                    security_groups=list(sources.get(low, client_security_group_ids)), description=what,
                )
                for low, high, what in ports
            ],
            egress=[],
            tags=tags_for(tags, name),
        ),
        opts,
    )


def managed_role_policy(name: str, args: aws.iam.RolePolicyArgs, opts: pulumi.ResourceOptions | None = None, *,
                        tags: Mapping[str, str]) -> aws.iam.RolePolicyAttachment:
    """A role's permissions as a customer-managed policy attached to it, never an inline policy (AWS's HIPAA
    conformance rule iam-no-inline-policy-check; policy ``iam-no-inline-policy``).

    Takes the ``RolePolicyArgs`` an inline policy would (role name or id, document): the policy keeps the
    logical name, the attachment is ``<name>-attachment``. Returns the attachment: depend on it when the
    permissions must be in place first.
    """
    policy = aws.iam.Policy(name, aws.iam.PolicyArgs(policy=args.policy, tags=tags_for(tags, name)), opts)
    return aws.iam.RolePolicyAttachment(f"{name}-attachment",
                                        aws.iam.RolePolicyAttachmentArgs(role=args.role, policy_arn=policy.arn), opts)

"""The cluster's default StorageClass: encrypted gp3 EBS volumes with the customer key, tagged for backup."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.common import BACKUP_TAG_KEY
from components.eks.config import EksConfig

#: The default StorageClass (encrypted gp3, backed up).
STORAGE_CLASS_NAME = "gp3-encrypted"


def storage_class(name: str, config: EksConfig, *, ebs_kms_key_arn: pulumi.Input[str], tags: Mapping[str, str],
                  opts: pulumi.ResourceOptions) -> k8s.storage.v1.StorageClass:
    """The default class: the EBS CSI driver provisions encrypted, expandable, backed-up gp3 volumes."""
    return k8s.storage.v1.StorageClass(
        f"{name}-sc-{STORAGE_CLASS_NAME}",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=STORAGE_CLASS_NAME,
            annotations={"storageclass.kubernetes.io/is-default-class": "true"},
        ),
        provisioner="ebs.csi.aws.com",
        parameters={
            "type": "gp3",
            "encrypted": "true",
            "kmsKeyId": ebs_kms_key_arn,
            "csi.storage.k8s.io/fstype": "ext4",
            "tagSpecification_1": f"{BACKUP_TAG_KEY}=true",
            "tagSpecification_2": f"Environment={tags.get('Environment', '')}",
            "tagSpecification_3": f"Project={tags.get('Project', '')}",
        },
        reclaim_policy=config.storage_reclaim_policy,
        volume_binding_mode="WaitForFirstConsumer",
        allow_volume_expansion=True,
        opts=opts,
    )

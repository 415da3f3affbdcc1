"""EKS: the cluster, its managed node pools, EKS add-ons, cluster add-ons (Helm) and the default StorageClass.

One concern per module (``cluster.py`` lists them); this package re-exports what the rest of the
program imports, so ``from components.eks import EksCluster, EksConfig, POOL_LABEL, ...`` keeps working.
"""

from components.eks.cluster import EksCluster
from components.eks.config import (
    EXTERNAL_SECRETS_MIN_V1,
    EksAddonsConfig,
    EksChartsConfig,
    EksConfig,
    NodePoolConfig,
    NodePoolsConfig,
)
from components.eks.control_plane import CONTROL_PLANE_LOG_TYPES
from components.eks.helm_addons import HELM_REPOS
from components.eks.iam import irsa_trust_policy
from components.eks.node_pools import POOL_LABEL, TAINTED_POOLS
from components.eks.storage import STORAGE_CLASS_NAME

__all__ = [
    "CONTROL_PLANE_LOG_TYPES",
    "EXTERNAL_SECRETS_MIN_V1",
    "HELM_REPOS",
    "POOL_LABEL",
    "STORAGE_CLASS_NAME",
    "TAINTED_POOLS",
    "EksAddonsConfig",
    "EksChartsConfig",
    "EksCluster",
    "EksConfig",
    "NodePoolConfig",
    "NodePoolsConfig",
    "irsa_trust_policy",
]

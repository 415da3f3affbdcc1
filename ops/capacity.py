"""``capacity``: offline, from the stack config: can each node pool at its maximum size hold every workload
at its HPA maximum (pod requests, plus the Istio sidecar and system overhead), and at what utilisation.

Allocatable per node follows the EKS-optimised AMI's reservation formulas (bootstrap.sh): kube-reserved
CPU 6% of the first core, 1% of the second, 0.5% of cores 3-4 and 0.25% above; kube-reserved memory
255 MiB + 11 MiB per pod the node can run (the VPC CNI's max pods), plus a 100 MiB eviction threshold.
The pool is sized by its smallest instance type (the autoscaler may launch any of them).
"""

from __future__ import annotations

from dataclasses import dataclass

from ops.report import Report
from ops.stack import Stack


@dataclass(frozen=True)
class InstanceType:
    vcpus: int
    memory_mib: int
    #: Pods per node with the VPC CNI (eni-max-pods.txt of the EKS AMI).
    max_pods: int


#: EC2 instance types the stacks use (EC2 instance-type specifications; eni-max-pods.txt).
INSTANCE_TYPES: dict[str, InstanceType] = {
    "t3.medium": InstanceType(2, 4096, 17),
    "t3.large": InstanceType(2, 8192, 35),
    "t3.xlarge": InstanceType(4, 16384, 58),
    "m5.large": InstanceType(2, 8192, 29),
    "m5.xlarge": InstanceType(4, 16384, 58),
    "m5.2xlarge": InstanceType(8, 32768, 58),
    "c5.large": InstanceType(2, 4096, 29),
    "c5.xlarge": InstanceType(4, 8192, 58),
    "c5.2xlarge": InstanceType(8, 16384, 58),
    "r5.large": InstanceType(2, 16384, 29),
    "r5.xlarge": InstanceType(4, 32768, 58),
}

#: Per node, the DaemonSets' requests (aws-node, kube-proxy, ebs-csi-node, istio-cni): millicores, MiB, pods.
DAEMONSET_CPU_M, DAEMONSET_MEMORY_MIB, DAEMONSET_PODS = 200, 384, 4
#: Once per cluster, on the app pool: CoreDNS x2, istiod, cluster-autoscaler, load-balancer controller,
#: metrics-server, external-secrets. Millicores, MiB, pods.
SYSTEM_CPU_M, SYSTEM_MEMORY_MIB, SYSTEM_PODS = 1400, 2304, 8
#: The Istio sidecar's default requests (istio values global.proxy.resources.requests).
SIDECAR_CPU_M, SIDECAR_MEMORY_MIB = 100, 128


def cpu_millicores(value: str) -> int:
    return int(value[:-1]) if value.endswith("m") else int(value) * 1000


def memory_mib(value: str) -> int:
    return int(value[:-2]) * 1024 if value.endswith("Gi") else int(value[:-2])


def _reserved_cpu_m(vcpus: int) -> float:
    shares = [(1, 0.06), (1, 0.01), (2, 0.005)]
    reserved, left = 0.0, vcpus
    for cores, share in shares:
        used = min(left, cores)
        reserved += used * 1000 * share
        left -= used
    return reserved + left * 1000 * 0.0025


def allocatable(itype: InstanceType) -> tuple[float, int]:
    """Millicores and MiB a node offers to pods."""
    cpu = itype.vcpus * 1000 - _reserved_cpu_m(itype.vcpus)
    memory = itype.memory_mib - (255 + 11 * itype.max_pods) - 100
    return cpu, memory


@dataclass(frozen=True)
class Workload:
    name: str
    pool: str
    replicas: int
    cpu_m: int
    memory_mib: int


def workloads(stack: Stack) -> list[Workload]:
    cfg = stack.config
    result = [Workload(name, app.node_pool, app.max_replicas, cpu_millicores(app.cpu) + SIDECAR_CPU_M,
                       memory_mib(app.memory) + SIDECAR_MEMORY_MIB)
              for name, app in (("nlfhir", cfg.apps.nlfhir), ("prm-api", cfg.apps.prm_api),
                                ("prm-worker", cfg.apps.prm_worker))]
    result.append(Workload("chromadb", "app", 1, cpu_millicores(cfg.chromadb.cpu) + SIDECAR_CPU_M,
                           memory_mib(cfg.chromadb.memory) + SIDECAR_MEMORY_MIB))
    return result


def capacity(stack: Stack) -> Report:
    report = Report("capacity", stack.name, "Capacity at maximum scale")
    pools = stack.config.eks.node_pools
    loads = workloads(stack)
    for pool_name in ("app", "worker"):
        pool = getattr(pools, pool_name)
        unknown = [t for t in pool.instance_types if t not in INSTANCE_TYPES]
        if unknown:
            report.add(f"pool {pool_name}", "instance types known", False,
                       f"no capacity data for {', '.join(unknown)}: add it to ops/capacity.py INSTANCE_TYPES")
            continue
        itype_name = min(pool.instance_types, key=lambda t: (INSTANCE_TYPES[t].vcpus, INSTANCE_TYPES[t].memory_mib))
        itype = INSTANCE_TYPES[itype_name]
        node_cpu, node_mem = allocatable(itype)
        node_cpu, node_mem = node_cpu - DAEMONSET_CPU_M, node_mem - DAEMONSET_MEMORY_MIB
        node_pods = itype.max_pods - DAEMONSET_PODS
        mine = [w for w in loads if w.pool == pool_name]
        for w in mine:
            fits = w.cpu_m <= node_cpu and w.memory_mib <= node_mem
            report.add(f"{w.name} pod", f"fits one {itype_name} node", fits,
                       f"requests {w.cpu_m}m / {w.memory_mib}Mi; a node offers {node_cpu:.0f}m / {node_mem}Mi")
        need_cpu = sum(w.replicas * w.cpu_m for w in mine)
        need_mem = sum(w.replicas * w.memory_mib for w in mine)
        need_pods = sum(w.replicas for w in mine)
        if pool_name == "app":
            need_cpu, need_mem = need_cpu + SYSTEM_CPU_M, need_mem + SYSTEM_MEMORY_MIB
            need_pods += SYSTEM_PODS
        have_cpu, have_mem, have_pods = node_cpu * pool.max, node_mem * pool.max, node_pods * pool.max
        for what, need, have, unit in (("cpu", need_cpu, have_cpu, "m"), ("memory", need_mem, have_mem, "Mi"),
                                       ("pods", need_pods, have_pods, "")):
            report.add(f"pool {pool_name}", f"{what} at max ({pool.max} x {itype_name})", need <= have,
                       f"{need:.0f}{unit} of {have:.0f}{unit} ({100 * need / have:.0f}% utilisation)")
    return report

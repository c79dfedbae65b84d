"""The Ray actors of a ``serve --ray`` backend, made as jobs need them and the cluster has room.

Nothing is sized at start. Each job kind is placed on GPU or CPU workers (``placement``: engines that need a
GPU — the Motion Expert, Wan-Animate — on GPU workers, unless the user asks to run them on CPUs). When a job
finds no idle worker of its kind, the executor asks the pool for one more, and the pool makes it when the
cluster has a free GPU (or CPU) for it: a GPU node that joins later is used for the next job that waits,
within a second or two. Workers keep their models loaded between jobs; Ray restarts a worker whose process
dies.

The GPU policy: a GPU job waits for a GPU only while the cluster can still provide one — when the user said
so with ``wait_for_gpu_s`` (an autoscaler adds GPU nodes on demand; ``None`` waits as long as it takes) —
and otherwise fails at once, saying the cluster has no GPU.
"""

from __future__ import annotations

import logging
import math
import time
import uuid

from shared import protocol

from .keeper import SegmentKeeper
from .runtime import WORKER_NAMESPACE, cluster_nodes, import_ray
from .worker import JOB_KINDS, EngineWorker

logger = logging.getLogger(__name__)

# Engines that need a GPU; the rest (choreographer, puppet) run on CPU workers.
GPU_ENGINES = frozenset({"motion_expert", "wan-animate", "wan-animate+mace"})
DEFAULT_MAX_WORKERS = {"gpu": 16, "cpu": 16}
# A threaded actor: ``run`` on one thread while ``cancel``/``describe`` arrive on others.
ACTOR_THREADS = 4
# How often the cluster's nodes and free resources are read again (GCS calls, on the executor's thread).
CLUSTER_REFRESH_S = 1.0


def placement_for(motion_generator, video_renderer, *, gpu_engines_on_cpu: bool = False) -> dict[str, str]:
    """role ("motion", "video") -> "gpu" or "cpu": where the jobs of each engine run (no "video" without a
    renderer)."""
    names = {"motion": motion_generator.name} | ({} if video_renderer is None else {"video": video_renderer.name})
    return {role: "gpu" if name in GPU_ENGINES and not gpu_engines_on_cpu else "cpu" for role, name in names.items()}


class RayWorkerPool:
    """GPU workers (``num_gpus=1`` each) and CPU workers (``num_cpus=1``), made on demand (``grow``).

    Args:
        engines: ``build(role, device)`` (e.g. ``backend.jobwork.EngineSpec``), pickled to every actor.
        placement: role -> "gpu"/"cpu" (``placement_for``) for the roles served; default both on "cpu".
        max_workers: the most workers of each kind ({"gpu": n, "cpu": n}; defaults ``DEFAULT_MAX_WORKERS``).
        gpu_device: the device GPU workers build their engines on ("cuda"; tests pass "cpu" so a node that
            only *advertises* a GPU can host them).
        wait_for_gpu_s: how long a GPU job waits while the cluster has no GPU (0 = fail at once, None = as
            long as it takes: an autoscaler will add one).
    """

    def __init__(self, engines, *, placement: dict[str, str] | None = None, max_workers: dict | None = None,
                 gpu_device: str = "cuda", wait_for_gpu_s: float | None = 0.0):
        ray = import_ray()
        from ray.util.queue import Queue
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self.engines = engines
        self.placement = dict(placement) if placement is not None else {role: "cpu" for role in JOB_KINDS}
        self.max_workers = DEFAULT_MAX_WORKERS | {k: v for k, v in (max_workers or {}).items() if v is not None}
        self.devices = {"gpu": gpu_device, "cpu": "cpu"}
        self.wait_for_gpu_s = wait_for_gpu_s
        self.workers: dict[str, list] = {"gpu": [], "cpu": []}
        self.facts: dict[object, dict] = {}  # actor -> its describe() answer
        # The queue and the segment keeper live on this (the head's) node: they must outlive any worker node.
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        self.progress = Queue(actor_options={"num_cpus": 0, "scheduling_strategy": here})
        self.keeper = ray.remote(SegmentKeeper).options(num_cpus=0, scheduling_strategy=here).remote()
        self._actor = ray.remote(EngineWorker)
        self._nodes: tuple[protocol.ClusterNode, ...] = ()
        self._free: dict[str, float] = {}
        self._read_at = -math.inf
        self.refresh(force=True)

    @property
    def capacity(self) -> int:
        """The most jobs that can run at once: the most workers of the kinds some role is placed on."""
        return sum(self.max_workers[kind] for kind in set(self.placement.values()))

    def roles_on(self, kind: str) -> tuple[str, ...]:
        return tuple(role for role, placed in self.placement.items() if placed == kind)

    # ---- the cluster as it is now ------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """Read the alive nodes and free resources again (at most every ``CLUSTER_REFRESH_S``)."""
        if not force and time.monotonic() - self._read_at < CLUSTER_REFRESH_S:
            return
        ray = import_ray()
        self._nodes = cluster_nodes()
        self._free = {"gpu": float(ray.available_resources().get("GPU", 0)),
                      "cpu": float(ray.available_resources().get("CPU", 0))}
        self._read_at = time.monotonic()

    @property
    def cluster_gpus(self) -> float:
        return sum(node.gpus for node in self._nodes)

    def can_grow(self, kind: str) -> bool:
        """A worker of ``kind`` can be made now: below the maximum and a GPU (CPU) is free for it."""
        return len(self.workers[kind]) < self.max_workers[kind] and self._free.get(kind, 0) >= 1

    def grow(self, kind: str):
        """Make one worker of ``kind`` (its engines are built when it first answers ``describe``)."""
        options = {"num_gpus": 1, "num_cpus": 1} if kind == "gpu" else {"num_cpus": 1}
        handle = self._actor.options(max_restarts=-1, max_task_retries=0, max_concurrency=ACTOR_THREADS,
                                     name=f"mace-dance-{kind}-worker-{uuid.uuid4().hex[:12]}",
                                     namespace=WORKER_NAMESPACE, **options).remote(self.engines, self.roles_on(kind), self.devices[kind],
                                                       self.progress, self.keeper)
        self.workers[kind].append(handle)
        self._free[kind] = self._free.get(kind, 0) - 1  # until the next refresh sees it taken
        logger.info("starting a %s worker (%d of at most %d)", kind.upper(), len(self.workers[kind]),
                    self.max_workers[kind])
        return handle

    def no_gpu_reason(self) -> str:
        """Why a GPU job cannot run: the cluster as it is."""
        cpus = sum(node.cpus for node in self._nodes)
        return (f"it needs a GPU and the Ray cluster has none ({len(self._nodes)} node(s), {cpus:g} CPU(s), "
                f"0 GPUs)")

    def describe(self) -> protocol.ClusterInfo:
        """The ``hello`` facts, from what was last read (no Ray call: the I/O thread asks)."""
        workers = tuple(protocol.ClusterWorker(node_id=facts["node"], device=facts["device"],
                                               loaded=tuple(facts["loaded"]), can_run=tuple(facts["can_run"]))
                        for facts in list(self.facts.values()))
        return protocol.ClusterInfo(
            nodes=self._nodes, workers=workers,
            placement={JOB_KINDS[role]: kind for role, kind in self.placement.items()},
            wait_for_gpu_s=self.wait_for_gpu_s)

    def forget(self, kind: str, handle) -> None:
        """Stop using ``handle`` (a worker whose engines cannot be built on its node)."""
        ray = import_ray()
        if handle in self.workers[kind]:
            self.workers[kind].remove(handle)
        self.facts.pop(handle, None)
        ray.kill(handle, no_restart=True)

    def close(self) -> None:
        """Stop the actors, the queue and the keeper (its files removed; no restart)."""
        ray = import_ray()
        if not ray.is_initialized():
            return
        for handle in self.workers["gpu"] + self.workers["cpu"]:
            ray.kill(handle, no_restart=True)
        self.progress.shutdown()
        try:
            ray.get(self.keeper.close.remote(), timeout=30)  # removes its files from the head's disk
        except ray.exceptions.RayError as exc:
            logger.warning("the segment keeper did not close (%s): its files stay in the head's temporary folder",
                           type(exc).__name__)
        ray.kill(self.keeper, no_restart=True)

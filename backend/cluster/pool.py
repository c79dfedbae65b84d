"""The Ray actors of a ``serve --ray`` backend and the progress queue they share."""

from __future__ import annotations

import logging

from shared.errors import BackendUnavailableError, InvalidInputError

from .runtime import cluster_summary, import_ray
from .worker import ROLES, EngineWorker

logger = logging.getLogger(__name__)

# Engines that want a GPU; the rest (choreographer, puppet) run on CPU workers.
GPU_ENGINES = frozenset({"motion_expert", "wan-animate", "wan-animate+mace"})
DEFAULT_MAX_CPU_WORKERS = 16
# A threaded actor: ``run`` on one thread while ``cancel``/``describe`` arrive on others.
ACTOR_THREADS = 4


def gpu_roles_for(motion_generator, video_renderer) -> frozenset[str]:
    """The roles ("motion", "video") whose engine wants a GPU."""
    names = {"motion": getattr(motion_generator, "name", None), "video": getattr(video_renderer, "name", None)}
    return frozenset(role for role, name in names.items() if name in GPU_ENGINES)


class RayWorkerPool:
    """GPU workers (one actor per GPU, ``num_gpus=1``) for the roles whose engine wants a GPU, and CPU
    workers (``num_cpus=1``) for the rest. Actors are restarted by Ray when their process or node dies
    (``max_restarts=-1``); a restarted actor builds its engines again on its first job.

    Args:
        engines: ``build(role, device)`` (e.g. ``worker.ConfiguredEngines``), pickled to every actor.
        gpu_roles: roles to place on GPU workers (``gpu_roles_for``); on a cluster without GPUs they run on
            CPU workers.
        gpu_workers: default one per GPU in the cluster. cpu_workers: default one per CPU left (at most 16),
            and none when every role is on GPU workers.
        startup_timeout_s: how long the actors may take to start before ``serve`` gives up.
    """

    def __init__(self, engines, *, gpu_roles: frozenset[str] = frozenset(), gpu_workers: int | None = None,
                 cpu_workers: int | None = None, startup_timeout_s: float = 300.0):
        ray = import_ray()
        from ray.util.queue import Queue

        self.summary = cluster_summary()
        gpu_count = self.summary["gpus"] if gpu_workers is None else gpu_workers
        if gpu_roles and gpu_count == 0:
            logger.warning("the Ray cluster has no GPU: %s runs on CPU workers", " and ".join(sorted(gpu_roles)))
            gpu_roles = frozenset()
        gpu_count = gpu_count if gpu_roles else 0
        cpu_roles = set(ROLES) - set(gpu_roles)
        if cpu_workers is None:
            cpu_workers = min(max(1, self.summary["cpus"] - gpu_count), DEFAULT_MAX_CPU_WORKERS) if cpu_roles else 0
        if cpu_roles and cpu_workers < 1:
            raise InvalidInputError(f"{' and '.join(sorted(cpu_roles))} jobs run on CPU workers, but 0 were asked for",
                                    "pass --ray-cpu-workers 1 or more")
        self.placement = {role: "gpu" if role in gpu_roles else "cpu" for role in ROLES}
        # The queue lives on this (the head's) node: it must outlive any worker node.
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        self.progress = Queue(actor_options={"num_cpus": 0, "scheduling_strategy": here})
        actor = ray.remote(EngineWorker)
        common = {"max_restarts": -1, "max_task_retries": 0, "max_concurrency": ACTOR_THREADS}
        self.workers = {
            "gpu": [actor.options(num_gpus=1, num_cpus=1, **common).remote(engines, "cuda", self.progress)
                    for _ in range(gpu_count)],
            "cpu": [actor.options(num_cpus=1, **common).remote(engines, "cpu", self.progress)
                    for _ in range(cpu_workers)],
        }
        try:
            handles = self.workers["gpu"] + self.workers["cpu"]
            self.worker_info = ray.get([handle.describe.remote() for handle in handles], timeout=startup_timeout_s)
        except ray.exceptions.GetTimeoutError:
            self.close()
            raise BackendUnavailableError(
                f"the Ray cluster did not start {gpu_count} GPU and {cpu_workers} CPU worker(s) within "
                f"{startup_timeout_s:g} s (it has {self.summary['gpus']} GPU(s), {self.summary['cpus']} CPU(s))",
                "ask for fewer workers (--ray-gpu-workers/--ray-cpu-workers) or add nodes (`ray status` shows "
                "what the cluster holds)") from None
        logger.info("Ray workers ready: %d GPU, %d CPU (placement %s)", gpu_count, cpu_workers, self.placement)

    @property
    def size(self) -> int:
        return len(self.workers["gpu"]) + len(self.workers["cpu"])

    def describe(self) -> dict:
        """The ``hello`` facts: what the cluster holds and the workers serving this backend."""
        return {"engine": "ray", **self.summary,
                "workers": {kind: len(handles) for kind, handles in self.workers.items()},
                "placement": {"generate_motion": self.placement["motion"], "render_video": self.placement["video"]}}

    def close(self) -> None:
        """Stop the actors and the queue (no restart)."""
        ray = import_ray()
        if not ray.is_initialized():
            return
        for handle in self.workers["gpu"] + self.workers["cpu"]:
            ray.kill(handle, no_restart=True)
        self.progress.shutdown()

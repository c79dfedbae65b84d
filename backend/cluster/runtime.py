"""Connecting to a Ray cluster (or starting a private one) and reading what it holds."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared import protocol
from shared.errors import BackendUnavailableError, MaceError

logger = logging.getLogger(__name__)

RAY_INSTALL_HINT = ("install the cluster extra: `pip install 'mace-dance-studio[cluster]'` "
                    "(in a checkout: `MACE_EXTRAS=dev,blender,cluster bash scripts/setup.sh`)")
#: The Ray namespace of the backend's workers (``mace-dance info --ray`` finds them there).
WORKER_NAMESPACE = "mace-dance"
ADDRESS_HELP = ("`local` starts a private Ray cluster on this machine; `auto` joins the cluster this machine "
                "belongs to (after `ray start --head` or `ray start --address HEAD:6379`); or the head's "
                "HOST:PORT (GCS port, 6379 by default)")


def import_ray():
    """The ``ray`` module, or a clear error naming the extra to install."""
    try:
        import ray
    except ImportError as exc:
        raise MaceError(f"Ray is not installed ({exc})", RAY_INSTALL_HINT) from None
    return ray


@dataclass
class RayConnection:
    """This process's link to a Ray cluster; ``close()`` disconnects (and stops a private cluster)."""

    address: str
    connected_here: bool

    def close(self) -> None:
        """Disconnect, unless the connection was already there (then its owner closes it)."""
        ray = import_ray()
        if self.connected_here and ray.is_initialized():
            ray.shutdown()

    def __enter__(self) -> "RayConnection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def connect(address: str, *, num_cpus: int | None = None, num_gpus: int | None = None,
            object_store_mb: int | None = None, log_to_driver: bool = True) -> RayConnection:
    """Join the Ray cluster at ``address`` (see ``ADDRESS_HELP``); ``num_cpus``/``num_gpus``/``object_store_mb``
    size a ``local`` cluster only. Reuses a connection this process already has."""
    ray = import_ray()
    if ray.is_initialized():
        return RayConnection(address, connected_here=False)
    options: dict = {"include_dashboard": False, "log_to_driver": log_to_driver, "configure_logging": False}
    if address == "local":
        options.update(num_cpus=num_cpus, num_gpus=num_gpus)
        if object_store_mb:
            options["object_store_memory"] = int(object_store_mb) * 1024 * 1024
    else:
        if num_cpus is not None or num_gpus is not None or object_store_mb:
            logger.warning("CPU/GPU/object-store sizes apply to `--ray local` only; the cluster at %s keeps its own",
                           address)
        options["address"] = address
    try:
        ray.init(**options)
    except (ConnectionError, TimeoutError, ValueError, RuntimeError) as exc:
        raise BackendUnavailableError(
            f"cannot reach the Ray cluster at {address!r}: {exc}",
            f"start one (`ray start --head` on the head node, `ray start --address HEAD:6379` on each worker) "
            f"or pass --ray local. Address: {ADDRESS_HELP}") from None
    return RayConnection(address, connected_here=True)


def cluster_nodes() -> tuple[protocol.ClusterNode, ...]:
    """The alive nodes of the connected cluster with their CPUs and GPUs (a GCS call: not for an I/O thread)."""
    ray = import_ray()
    return tuple(
        protocol.ClusterNode(node_id=node["NodeID"], address=node.get("NodeManagerAddress", ""),
                             cpus=float(node["Resources"].get("CPU", 0)), gpus=float(node["Resources"].get("GPU", 0)))
        for node in ray.nodes() if node.get("Alive"))


def engine_workers(timeout_s: float = 30.0) -> list[dict]:
    """What every MACE-Dance worker of the connected cluster reports (``EngineWorker.describe``: node,
    device, loaded engines, job kinds it can run), found by name (no dashboard needed)."""
    ray = import_ray()
    handles = [ray.get_actor(entry["name"], namespace=entry["namespace"])
               for entry in ray.util.list_named_actors(all_namespaces=True)
               if entry["namespace"] == WORKER_NAMESPACE]
    facts = []
    for handle in handles:
        try:
            facts.append(ray.get(handle.describe.remote(), timeout=timeout_s))
        except ray.exceptions.RayError:  # stopping or restarting: not a worker to show
            continue
    return facts

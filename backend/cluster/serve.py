"""``mace-dance serve --ray``: connect to the cluster, start the workers, hand the server a Ray executor."""

from __future__ import annotations

import argparse
from typing import Callable

from backend.config import BackendConfig
from shared.errors import InvalidInputError

from .executor import RayExecutor
from .pool import RayWorkerPool, gpu_roles_for
from .runtime import connect
from .worker import ConfiguredEngines

RENDERER_KINDS = {"puppet": "puppet", "wan-animate": "wan", "wan-animate+mace": "wan"}


def start_ray_workers(args: argparse.Namespace, config: BackendConfig, generator, renderer,
                      engines=None, renderer_options: dict | None = None) -> tuple[Callable, Callable[[], None]]:
    """(executor factory for ``BackendServer``, close) for ``args.ray`` and the ``--ray-*`` options.

    Every worker runs the engines this process selected (``generator``/``renderer``: the ``hello`` names
    them), built on the worker's own device with ``renderer_options`` (the Wan serve flags);
    ``engines`` replaces that factory (tests).
    """
    for name in ("ray_retries", "ray_gpu_workers", "ray_cpu_workers"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise InvalidInputError(f"--{name.replace('_', '-')} must be 0 or more, got {value}")
    connection = connect(args.ray)
    try:
        if engines is None:
            engines = ConfiguredEngines(config, generator=generator.name,
                                        renderer=RENDERER_KINDS.get(renderer.name, config.video_renderer),
                                        renderer_options=dict(renderer_options or {}))
        pool = RayWorkerPool(engines, gpu_roles=gpu_roles_for(generator, renderer),
                             gpu_workers=args.ray_gpu_workers, cpu_workers=args.ray_cpu_workers)
    except BaseException:
        connection.close()
        raise

    def close() -> None:
        pool.close()
        connection.close()

    return RayExecutor.factory(pool, max_retries=args.ray_retries), close

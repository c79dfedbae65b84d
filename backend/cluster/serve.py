"""``mace-dance serve --ray``: connect to the cluster, hand the server a Ray executor whose workers are
made as jobs need them (``pool``)."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Callable

from shared.errors import InvalidInputError

from .executor import RayExecutor
from .pool import RayWorkerPool, placement_for
from .runtime import connect

RENDERER_KINDS = {"puppet": "puppet", "wan-animate": "wan", "wan-animate+mace": "wan"}


@dataclass(frozen=True)
class OnWorkers:
    """The head's stand-in for a generator that runs only on the Ray workers: the head knows its ``name``
    (for ``hello`` and placement) and never loads it; the workers check its weights where they run it."""

    name: str


def head_engines(spec):
    """(generator, renderer) as the head sees them. An engine asked for by name ("motion_expert", "wan") is
    not built here, so the head needs no weights: the workers build it, and say when they cannot."""
    if spec.generator == "motion_expert":
        generator = OnWorkers("motion_expert")
    else:
        generator = spec.build("motion")
    if spec.renderer == "wan":
        from backend.appearance.wan import WanAnimateOptions, WanAnimateRenderer

        # parses the per-video options; renders nothing here
        renderer = WanAnimateRenderer(options=spec.wan_options or WanAnimateOptions())
    else:
        renderer = spec.build("video")
    return generator, renderer


def start_ray_workers(args: argparse.Namespace, spec, generator, renderer,
                      engines=None, gpu_device: str = "cuda") -> tuple[Callable, Callable[[], None]]:
    """(executor factory for ``BackendServer``, close) for ``args.ray`` and the ``--ray-*`` options.

    Every worker runs the engines the head announces (``generator``/``renderer``: the ``hello`` names them),
    built from ``spec`` (a ``backend.jobwork.EngineSpec``) on the worker's own device; ``engines`` replaces
    that (tests), as ``gpu_device`` does the GPU workers' device.
    """
    for name in ("ray_retries", "ray_gpu_workers", "ray_cpu_workers"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise InvalidInputError(f"--{name.replace('_', '-')} must be 0 or more, got {value}")
    if not args.wait_for_gpu >= 0:
        raise InvalidInputError(f"--wait-for-gpu must be 0 or more seconds (or inf), got {args.wait_for_gpu}")
    if engines is None:
        kind = RENDERER_KINDS.get(renderer.name, spec.renderer) if renderer is not None else spec.renderer
        engines = type(spec)(spec.config, generator=generator.name, renderer=kind, wan_options=spec.wan_options)
    connection = connect(args.ray)
    try:
        pool = RayWorkerPool(
            engines, placement=placement_for(generator, renderer, gpu_engines_on_cpu=args.ray_gpu_engines_on_cpu),
            max_workers={"gpu": args.ray_gpu_workers, "cpu": args.ray_cpu_workers}, gpu_device=gpu_device,
            wait_for_gpu_s=None if math.isinf(args.wait_for_gpu) else args.wait_for_gpu)
    except BaseException:
        connection.close()
        raise

    def close() -> None:
        pool.close()
        connection.close()

    return RayExecutor.factory(pool, max_retries=args.ray_retries), close

"""``mace-dance serve``: the generation backend the Blender add-on and scripts talk to over ZeroMQ."""

from __future__ import annotations

import argparse
from pathlib import Path

from shared.protocol import CLIENT_TIMEOUT_S, DEFAULT_ADDRESS

from ..generators import GENERATOR_CHOICES
from ._sampling import add_sampler_arguments, sampling_from_args
from ._wan import add_wan_arguments, wan_options_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the generation backend (ZeroMQ server)",
        description="Serve motion generation and video rendering jobs to the Blender add-on and other clients. "
        "Binds 127.0.0.1 by default; binding any other interface requires CURVE keys (--curve-keys, made with "
        "`mace-dance keys`). Stop with Ctrl+C or SIGTERM: the running job is cancelled and its client told.",
    )
    parser.add_argument("--address", default=DEFAULT_ADDRESS,
                        help=f"ZeroMQ endpoint to bind (default {DEFAULT_ADDRESS}; port 0 picks a free one)")
    parser.add_argument("--curve-keys", type=Path, metavar="DIR", default=None,
                        help="encrypt and authenticate with the CURVE keys in DIR (server.key_secret, "
                        "authorized_clients/*.key); required for non-loopback addresses")
    parser.add_argument("--authorized-clients", type=Path, metavar="DIR", default=None,
                        help="folder of the allowed clients' public .key files (default DIR/authorized_clients); "
                        "adding or removing a file takes effect within a second, without a restart")
    parser.add_argument("--generator", choices=GENERATOR_CHOICES, default="auto",
                        help="motion generator (default auto: the Motion Expert when its weights are installed)")
    parser.add_argument("--mocap", type=Path, default=None, metavar="DIR",
                        help="serve dances made of segments of the mocap in DIR (the choreographer's motion graph)")
    parser.add_argument("--renderer", choices=("auto", "puppet", "wan"), default="auto",
                        help="video renderer (default auto: Wan-Animate with weights and a GPU, else the puppet)")
    parser.add_argument("--device", default="auto", help="torch device (auto, cpu, cuda, cuda:1 …)")
    parser.add_argument("--shutdown-grace", type=float, default=10.0, metavar="S",
                        help="seconds a stop waits for the running job to notice its cancellation (default 10)")
    parser.add_argument("--client-timeout", type=float, default=CLIENT_TIMEOUT_S, metavar="S",
                        help="cancel the jobs of a client silent for S seconds (no request, no heartbeat; default "
                        f"{CLIENT_TIMEOUT_S:g}): a vanished client must not hold the GPU")
    cluster = parser.add_argument_group(
        "cluster (Ray)", "run the jobs on a Ray cluster: many at once, one worker per GPU keeping its models "
        "loaded, made as jobs need them (GPU nodes that join later are used); the ZeroMQ front (protocol, CURVE) "
        "stays as it is. Needs the `cluster` extra; see docs/cluster.md")
    cluster.add_argument("--ray", metavar="ADDRESS", default=None,
                         help="`local` (a private cluster on this machine), `auto` (the cluster this machine joined "
                         "with `ray start`) or the head's HOST:PORT")
    cluster.add_argument("--ray-gpu-workers", type=int, default=None, metavar="N",
                         help="most GPU workers for the Motion Expert / Wan-Animate (default 16; one per free GPU, "
                         "made as jobs need them)")
    cluster.add_argument("--ray-cpu-workers", type=int, default=None, metavar="N",
                         help="most CPU workers for the choreographer / puppet (default 16; one per free CPU, made "
                         "as jobs need them)")
    cluster.add_argument("--wait-for-gpu", type=float, default=0.0, metavar="S",
                         help="how long a GPU job waits while the cluster has no GPU (default 0: it fails at once "
                         "saying so; `inf` with an autoscaler that adds GPU nodes on demand)")
    cluster.add_argument("--ray-gpu-engines-on-cpu", action="store_true",
                         help="run the Motion Expert / Wan-Animate on CPU workers (very slow; for clusters without "
                         "GPUs)")
    cluster.add_argument("--ray-retries", type=int, default=1, metavar="N",
                         help="times a job whose worker or node died is run again before it fails (default 1)")
    add_wan_arguments(parser, steps_flag="--wan-steps")
    add_sampler_arguments(parser)
    parser.set_defaults(func=run)


def build_server(args: argparse.Namespace, **server_options):
    """The ``BackendServer`` the arguments describe, and a ``close()`` to call once it has stopped
    (it stops the Ray workers). Without ``--ray`` nothing of Ray is imported."""
    from ..config import BackendConfig
    from ..jobwork import EngineSpec
    from ..server import BackendServer
    from ..server.security import CurveKeys, check_bind_allowed
    from ..weights import installed_summary

    keys = CurveKeys.load(args.curve_keys, args.authorized_clients) if args.curve_keys else None
    check_bind_allowed(args.address, keys)  # before loading models: fail fast
    wan_options = wan_options_from_args(args)
    config = BackendConfig(device=args.device, motion_generator=args.generator, video_renderer=args.renderer,
                           motion_sampling=sampling_from_args(args), mocap_dir=args.mocap)
    device, close, executor = config.resolve_device(), (lambda: None), None
    spec = EngineSpec(config, generator=args.generator, renderer=args.renderer, wan_options=wan_options)
    if args.ray is None:
        generator, renderer = spec.build("motion"), spec.build("video")
    else:
        from ..cluster.serve import head_engines, start_ray_workers

        generator, renderer = head_engines(spec)
        executor, close = start_ray_workers(args, spec, generator, renderer)
        device = "ray"
    server = BackendServer(args.address, motion_generator=generator, video_renderer=renderer, curve_keys=keys,
                           device=device, shutdown_grace_s=args.shutdown_grace, client_timeout_s=args.client_timeout,
                           executor=executor, installed_weights=installed_summary(config),
                           **server_options)
    return server, close


def run(args: argparse.Namespace) -> int:
    from ..server import serve_until_signalled

    server, close = build_server(args)
    keys = server.curve_keys

    def announce(endpoint: str) -> None:
        cluster = server.hello_info().cluster
        where = (f"Ray: {len(cluster.nodes)} node(s), {cluster.gpus:g} GPU(s), {cluster.cpus:g} CPU(s); workers "
                 f"start as jobs need them") if cluster else f"device: {server.device}"
        print(f"MACE-Dance backend listening on {endpoint} (motion: {server.motion_generator.name}, "
              f"video: {server.video_renderer.name}, {where}"
              f"{', CURVE' if keys else ''}); Ctrl+C to stop", flush=True)

    try:
        serve_until_signalled(server, on_ready=announce)
    finally:
        close()
    return 0

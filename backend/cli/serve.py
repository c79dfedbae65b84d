"""``mace-dance serve``: the generation backend the Blender add-on and scripts talk to over ZeroMQ."""

from __future__ import annotations

import argparse
from pathlib import Path

from shared.protocol import DEFAULT_ADDRESS

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
                        help="folder of the allowed clients' public .key files (default DIR/authorized_clients)")
    parser.add_argument("--generator", choices=("auto", "choreographer", "motion_expert"), default="auto",
                        help="motion generator (default auto: the Motion Expert when its weights are installed)")
    parser.add_argument("--renderer", choices=("auto", "puppet", "wan"), default="auto",
                        help="video renderer (default auto: Wan-Animate with weights and a GPU, else the puppet)")
    parser.add_argument("--steps", type=int, default=None, metavar="N",
                        help="Motion Expert DDIM steps (default: the official 50; fewer is faster, e.g. on a CPU)")
    parser.add_argument("--device", default="auto", help="torch device (auto, cpu, cuda, cuda:1 …)")
    parser.add_argument("--shutdown-grace", type=float, default=10.0, metavar="S",
                        help="seconds a stop waits for the running job to notice its cancellation (default 10)")
    add_wan_arguments(parser, steps_flag="--wan-steps")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..appearance import select_renderer
    from ..config import BackendConfig
    from ..generators import select_motion_generator
    from ..server import BackendServer, serve_until_signalled
    from ..server.security import CurveKeys, check_bind_allowed
    from ..weights import installed_summary

    keys = CurveKeys.load(args.curve_keys, args.authorized_clients) if args.curve_keys else None
    check_bind_allowed(args.address, keys)  # before loading models: fail fast
    wan_options = wan_options_from_args(args)
    config = BackendConfig(device=args.device, motion_generator=args.generator, video_renderer=args.renderer,
                           motion_steps=args.steps)
    server = BackendServer(
        args.address,
        motion_generator=select_motion_generator(config),
        video_renderer=select_renderer(config, **wan_options),
        curve_keys=keys,
        device=config.resolve_device(),
        shutdown_grace_s=args.shutdown_grace,
        installed_weights=installed_summary(config),
    )

    def announce(endpoint: str) -> None:
        print(f"MACE-Dance backend listening on {endpoint} (motion: {server.motion_generator.name}, "
              f"video: {server.video_renderer.name}, device: {server.device}"
              f"{', CURVE' if keys else ''}); Ctrl+C to stop", flush=True)

    serve_until_signalled(server, on_ready=announce)
    return 0

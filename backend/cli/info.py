"""``mace-dance info``: device, models found and missing, where weights are looked for."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info", help="show the device, which models are found and where weights are looked for",
        description="List what this machine can use: device, the motion generator and renderer that `auto` picks, "
        "which weights were found and where each missing one belongs ($MACE_DANCE_HOME/weights/...).",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--ray", metavar="ADDRESS", nargs="?", const="auto", default=None,
                        help="show the Ray cluster instead: its nodes and GPUs, and the workers of `serve --ray` "
                        "backends with what each has loaded and can run (ADDRESS: `auto`, the default, or HOST:PORT)")
    parser.set_defaults(func=run)


def run_ray(args: argparse.Namespace) -> int:
    from ..cluster.runtime import cluster_nodes, connect, engine_workers

    with connect(args.ray, log_to_driver=False):
        nodes, workers = cluster_nodes(), engine_workers()
    if args.json:
        print(json.dumps({"nodes": [vars(node) for node in nodes], "workers": workers}, indent=1))
        return 0
    print(f"Ray cluster at {args.ray}: {len(nodes)} node(s), {sum(n.cpus for n in nodes):g} CPU(s), "
          f"{sum(n.gpus for n in nodes):g} GPU(s)")
    for node in nodes:
        mine = [w for w in workers if w["node"] == node.node_id]
        print(f"  node {node.node_id[:12]} ({node.address}): {node.cpus:g} CPU(s), {node.gpus:g} GPU(s), "
              f"{len(mine)} MACE-Dance worker(s)")
        for worker in mine:
            state = "cannot load its engines: " + worker["error"]["message"] if worker["error"] else (
                "loaded " + (", ".join(worker["loaded"]) or "nothing yet"))
            print(f"    worker on {worker['device']}{' (GPU ' + ','.join(worker['gpu_ids']) + ')' if worker['gpu_ids'] else ''}"
                  f": {state}; runs {', '.join(worker['can_run'])}")
    if not workers:
        print("  no MACE-Dance workers: a `mace-dance serve --ray` backend starts them as jobs arrive")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.ray is not None:
        return run_ray(args)
    from ..config import BackendConfig
    from ..inventory import inventory

    config = BackendConfig()
    sections = inventory(config)
    if args.json:
        print(json.dumps({title: [vars(item) for item in items] for title, items in sections.items()}, indent=1))
        return 0
    for title, items in sections.items():
        print(title)
        for item in items:
            print(f"  [{'ok' if item.ok else '--'}] {item.name}: {item.detail}")
            if item.hint:
                print("         " + item.hint.replace("\n", "\n         "))
    return 0

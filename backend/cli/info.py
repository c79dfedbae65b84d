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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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

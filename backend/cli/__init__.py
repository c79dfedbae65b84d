"""``mace-dance``: the command line of MACE-Dance Studio.

Each command lives in its own module exposing ``register(subparsers)``, which adds a parser and sets
``func`` to the function that runs it. Errors from ``shared.errors`` become a one-line message with its
hint and the error's exit code:

    0 ok · 1 unexpected error · 2 usage · 3 bad input · 4 missing weights · 5 protocol
    6 backend unavailable · 7 out of memory · 130 cancelled/interrupted
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from shared.errors import MaceError

COMMANDS = ("serve", "generate", "render", "train", "eval", "info", "keys", "weights")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mace-dance",
        description="MACE-Dance Studio: music -> 3D dance (SMPL) -> dance video. "
        "Works without a GPU or weights through the embedded choreographer and CPU renderer.",
        epilog="Run `mace-dance COMMAND --help` for the options of a command.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the backend is doing")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:  # heavy imports happen inside each command's run(), so --help stays fast
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except MaceError as err:
        print(f"error: {err.message}", file=sys.stderr)
        if err.hint:
            print(f"  fix: {err.hint}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


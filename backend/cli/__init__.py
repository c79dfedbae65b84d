"""``mace-dance``: the command line of MACE-Dance Studio.

Each command lives in its own module exposing ``register(subparsers)``, which adds a parser and sets
``func`` to the function that runs it. Errors from ``shared.errors`` become a one-line message with its
hint and the error's exit code; any other exception is a bug: one line naming it, its traceback saved to a
file, and where to report it (exit 1):

    0 ok · 1 unexpected error · 2 usage · 3 bad input · 4 missing weights · 5 protocol
    6 backend unavailable · 7 out of memory · 8 partly done (``generate``: motion and beats written, the
    preview failed) · 130 cancelled/interrupted
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import tempfile
import traceback

from shared.errors import MaceError, bug_hint

COMMANDS = ("serve", "generate", "render", "batch", "prepare_data", "train", "eval", "info", "keys", "weights")


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
    except Exception as exc:  # noqa: BLE001 - a bug: one line naming it and where to report it, no traceback dump
        print(f"error: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        print(f"  fix: {bug_hint(_save_traceback(exc))}", file=sys.stderr)
        return 1


def _save_traceback(exc: BaseException) -> str:
    """Write ``exc``'s traceback to a new file in the temp folder; returns what to attach to the report."""
    text = "".join(traceback.format_exception(exc))
    try:
        handle, path = tempfile.mkstemp(prefix="mace-dance-error-", suffix=".txt", text=True)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError:
        print(text, file=sys.stderr, end="")
        return "the traceback printed above"
    return f"the traceback saved in {path}"


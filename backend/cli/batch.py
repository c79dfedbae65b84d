"""``mace-dance batch``: every row of a manifest (music, reference, seed, genre …), here or on a Ray cluster."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..generators import GENERATOR_CHOICES
from ._sampling import add_sampler_arguments, sampling_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "batch",
        help="make many dances/videos from a manifest (resumable; locally or on a Ray cluster)",
        description="Run every row of MANIFEST, a CSV file with a header row or JSON Lines, with the columns "
        "music, reference, seed, genre, generator, renderer, sampler, steps, output, options (a JSON object of video options), "
        "start_s, duration_s; only music is required. A row with a reference makes a video (.mp4, plus its "
        "motion as .npz beside it), one without makes a motion (.npz). Relative paths are relative to the "
        "manifest. Every row is checked before anything runs. Outputs are written atomically and a re-run "
        "skips rows whose output exists, so an interrupted batch resumes where it stopped. Ends with a "
        "summary (done / failed with the reason / skipped); exit status 1 when a row failed.",
    )
    parser.add_argument("manifest", type=Path, help="manifest (.csv or .jsonl)")
    parser.add_argument("--ray", metavar="ADDRESS", default=None,
                        help="run the rows as tasks on a Ray cluster: `local`, `auto` or the head's HOST:PORT "
                        "(needs the `cluster` extra; see docs/cluster.md)")
    parser.add_argument("--generator", choices=GENERATOR_CHOICES, default="auto",
                        help="for rows that leave `generator` empty (default auto)")
    parser.add_argument("--renderer", choices=("auto", "puppet", "wan"), default="auto",
                        help="for rows that leave `renderer` empty (default auto)")
    parser.add_argument("--device", default="auto", help="torch device when running here (auto, cpu, cuda)")
    parser.add_argument("--check", action="store_true", help="only check the manifest and say what would run")
    add_sampler_arguments(parser)  # for rows that leave `sampler`/`steps` empty
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..cluster.batch import read_manifest, run_batch

    rows = read_manifest(args.manifest, generator=args.generator, renderer=args.renderer,
                         sampling=sampling_from_args(args))
    if args.check:
        todo = sum(not row.is_complete() for row in rows)
        print(f"{args.manifest}: {len(rows)} row(s) ok; {todo} to run, {len(rows) - todo} already complete")
        return 0
    summary = run_batch(rows, ray_address=args.ray, device=args.device)
    print(summary.report())
    return 1 if summary.count("failed") else 0

"""``mace-dance prepare-data``: a published dance dataset, as its authors lay it out, into training folders."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prepare-data", help="turn AIST++ or FineDance, as published, into training folders",
        description="Read AIST++ (motions/*.pkl, wavs/*.wav, splits/) or FineDance (motion/*.npy, music_wav/*.wav, "
        "label_json/) and write OUT/train and OUT/test (the official splits): one motion .npz per take with "
        "its music beside it and genres.json. Then: `mace-dance train OUT/train -o RUN`. Re-running skips the "
        "takes already written.",
    )
    parser.add_argument("dataset", choices=("aistpp", "finedance"), help="which dataset RAW_DIR holds")
    parser.add_argument("raw_dir", type=Path, metavar="RAW_DIR", help="the dataset's folder, as downloaded")
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="where the train/ and test/ folders go")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..motion_expert.datasets import prepare
    from ._progress import progress_bar

    with progress_bar(f"preparing {args.dataset}") as ctx:
        counts = prepare(args.dataset, args.raw_dir, args.out_dir, ctx)
    print(f"{args.dataset}: {counts['train']} train takes in {args.out_dir / 'train'}, {counts['test']} test takes "
          f"in {args.out_dir / 'test'}")
    print(f"train with: mace-dance train {args.out_dir / 'train'} -o RUN")
    return 0

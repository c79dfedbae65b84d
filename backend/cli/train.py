"""``mace-dance train``: train (or fine-tune/resume) the Motion Expert on a dance folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train the Motion Expert on motion + music",
        description="Train MACE-Dance's Motion Expert with Guidance-Free Training on DATA: motion files (.npz, "
        "AIST++/EDGE .pkl) with music of the same name (.wav/.mp3/.flac/.ogg/.m4a …) or FineDance-style "
        "baseline_feats/<name>.npy; genres from genres.json or FineDance label/*.json. Writes OUT/checkpoints/"
        "step-N.pt (resumable) and OUT/model (model.safetensors + config.json + normalizer.npz), which "
        "`mace-dance generate` uses when MACE_DANCE_MOTION_WEIGHTS points at it. Re-running with the same OUT "
        "resumes from the last checkpoint. On several GPUs or hosts run it under `accelerate launch --multi_gpu "
        "--num_processes N -m backend.cli train …` (or `torchrun`): DDP, same results as one process for the same "
        "--batch-size (the global batch, split evenly over the processes); see docs/cluster.md.",
    )
    parser.add_argument("data", type=Path, help="folder of motion files and music")
    parser.add_argument("-o", "--out", type=Path, required=True, metavar="DIR", help="run folder")
    parser.add_argument("--size", choices=("full", "tiny"), default="full",
                        help="full = the official 66.7 M-parameter model; tiny = a CPU smoke-test model")
    parser.add_argument("--steps", type=int, default=None, help="optimiser steps in total (default 100000 full, 200 tiny)")
    parser.add_argument("--batch-size", type=int, default=None, help="windows per step (default 128 full, 8 tiny)")
    parser.add_argument("--lr", type=float, default=4e-4, help="learning rate (official 4e-4)")
    parser.add_argument("--weight-decay", type=float, default=0.02, help="AdamW weight decay (official 0.02)")
    parser.add_argument("--window-seconds", type=float, default=None,
                        help="training window length (default 5 s full, 2 s tiny)")
    parser.add_argument("--stride-seconds", type=float, default=0.5, help="step between windows (default 0.5 s)")
    parser.add_argument("--save-every", type=int, default=None, help="checkpoint every N steps")
    parser.add_argument("--seed", type=int, default=42, help="random seed (official 42)")
    parser.add_argument("--device", default="auto", help="torch device (auto, cpu, cuda, cuda:1 …)")
    parser.add_argument("--faithful-gft", action="store_true",
                        help="GFT as in its paper (10%% music dropout with beta=1, unconditional pass at beta=1) "
                        "instead of MACE-Dance's variant")
    parser.add_argument("--metric-fk", action="store_true",
                        help="run the FK/foot losses on un-normalised values (EDGE/MACE use normalised ones)")
    parser.add_argument("--restart", action="store_true", help="ignore existing checkpoints in OUT")
    parser.add_argument("--mixed-precision", choices=("auto", "bf16", "no"), default="auto",
                        help="bf16 autocast (default auto: on a GPU, not on a CPU); the weights stay float32")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..config import BackendConfig
    from ..motion_expert.config import MotionExpertConfig
    from ..motion_expert.training import TrainingOptions, tiny_options, train
    from ._progress import progress_bar

    device = BackendConfig(device=args.device).resolve_device()
    if args.size == "tiny":
        options = tiny_options(args.data, args.out, steps=200)
    else:
        options = TrainingOptions(data_dir=args.data, out_dir=args.out, config=MotionExpertConfig(), steps=100_000,
                                  save_every=2000)  # fmt: skip
    chosen = {
        "steps": args.steps, "batch_size": args.batch_size, "window_seconds": args.window_seconds,
        "save_every": args.save_every,
    }  # fmt: skip
    options = replace(
        options, **{k: v for k, v in chosen.items() if v is not None}, learning_rate=args.lr,
        weight_decay=args.weight_decay, stride_seconds=args.stride_seconds, seed=args.seed, device=device,
        faithful_gft=args.faithful_gft, fk_on_normalized=not args.metric_fk, resume=not args.restart,
        mixed_precision=args.mixed_precision,
    )  # fmt: skip
    from accelerate import PartialState

    main_process = PartialState(cpu=device == "cpu").is_main_process  # under accelerate launch / torchrun
    with progress_bar("training the Motion Expert", enabled=None if main_process else False) as ctx:
        folder = train(options, ctx)
    if main_process:
        print(f"model: {folder}")
        print(f"use it with: MACE_DANCE_MOTION_WEIGHTS={folder} mace-dance generate MUSIC -o OUT "
              "--generator motion_expert")
    return 0

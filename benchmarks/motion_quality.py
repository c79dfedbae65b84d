#!/usr/bin/env python3
"""Does a fast sampler make the same dances? Distributions of many samples per sampler, on a trained model.

    nice -n 10 python benchmarks/motion_quality.py RUN          # RUN from scripts/train_small_motion_expert.py
    python benchmarks/motion_quality.py RUN --samples 12 --seed-sets 6 --fast "dpmpp-sde:8,10 unipc:10"

The official sampler (50-step DDIM, eta = 1) is stochastic, so one dance says little: each sampler makes
``--samples`` dances (12 s each, to the training music, genres as trained) per seed set, and each set is
scored against the training dances with ``backend.evaluation`` (FID_k, Div_k, BAS, PFC, FSR; "clean"
protocol). DDIM's spread is the range of its seed sets. A fast configuration passes a metric when its mean
over the same seed sets is within that range, or beyond it on the better side (lower FID_k/PFC/FSR,
higher BAS; for Div_k, closer to the training dances' own diversity). The default is the fewest steps that
pass every metric. A control checks the spread itself: 50-step DDIM again on other seeds must pass (if it
failed, the spread would be too narrow an estimate to judge anything by). Prints a table and writes
``RUN/quality.json``. A configuration chosen among many scored on the same seed sets is then checked once
more with ``--recheck``: the ``--fast`` configurations on six fresh seed sets (from 200), judged against
DDIM-50's range in ``RUN/quality.json``; writes ``RUN/quality-recheck.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

METRICS = (("fid_k", "FID_k", "lower"), ("div_k", "Div_k", "reference"), ("bas", "BAS", "higher"),
           ("pfc", "PFC", "lower"), ("fsr", "FSR", "lower"))  # fmt: skip


def clip_features(data: Path, count: int) -> list[tuple[str, np.ndarray, str]]:
    """(wav name, (T, 35) features, genre) of ``count`` training clips spread over the data, cached."""
    from backend.features import analyze_music

    genres = json.loads((data / "genres.json").read_text())
    wavs = sorted(data.glob("*.wav"))
    picked = [wavs[i] for i in np.linspace(0, len(wavs) - 1, count).round().astype(int)]
    cache = data.parent / f"quality-features-{count}.npz"
    if cache.is_file():
        stored = np.load(cache, allow_pickle=False)
        return [(p.name, stored[p.stem], genres.get(p.stem)) for p in picked]
    features = {p.stem: analyze_music(p).edge35 for p in picked}
    np.savez(cache, **features)
    return [(p.name, features[p.stem], genres.get(p.stem)) for p in picked]


DEFAULT_FAST = "dpmpp-sde:5,6,7,8 dpmpp:8,10 unipc:8,10"
CONTROL = "ddim-50-control"
CONTROL_SEED_SETS = 100  # the control's seed sets start here, so its dances share no seed with DDIM-50's
RECHECK_SEED_SETS = 200  # ... and a recheck's here


def make_set(pipeline, clips, sampler: str, steps: int, seed_set: int):
    """The dances of one seed set (MotionSamples) and the process CPU seconds they took."""
    from backend.evaluation.loading import MotionSample

    samples, cpu = [], time.process_time()
    for index, (wav, music, genre) in enumerate(clips):
        motion = pipeline(music, genre=genre, seed=seed_set * 1000 + index, sampler=sampler, num_inference_steps=steps)
        motion.metadata.update(music=wav, start_s=0.0)
        samples.append(MotionSample.from_motion(motion, f"{Path(wav).stem}_s{seed_set}"))
    return samples, time.process_time() - cpu


def shortfall(key: str, value: float, ddim: list[float], reference_div: float) -> float:
    """How far ``value`` lies outside what passes, in widths of DDIM's seed-set range (0: it passes): within
    that range, or beyond it on the better side (lower FID_k/PFC/FSR, higher BAS; for Div_k, as close to
    the training dances' own diversity as DDIM gets, or closer)."""
    lo, hi = min(ddim), max(ddim)
    width = max(hi - lo, 1e-12)
    better = dict((k, b) for k, _, b in METRICS)[key]
    if better == "lower":
        return max(0.0, value - hi) / width
    if better == "higher":
        return max(0.0, lo - value) / width
    if lo <= value <= hi:
        return 0.0
    return max(0.0, abs(value - reference_div) - max(abs(d - reference_div) for d in ddim)) / width


def parse_configs(text: str) -> list[tuple[str, int]]:
    """``"dpmpp-sde:8,10 unipc:10"`` -> [("dpmpp-sde", 8), ("dpmpp-sde", 10), ("unipc", 10)]."""
    configs = []
    for part in text.split():
        sampler, _, steps = part.partition(":")
        configs += [(sampler, int(n)) for n in steps.split(",")]
    return configs


def run(run_dir: Path, samples: int = 12, seed_sets: int = 6, fast=tuple(parse_configs(DEFAULT_FAST)), threads: int = 1,
        save=None, previous: dict | None = None, first_fast_seed_set: int = 0) -> dict:
    """Score every sampler configuration (see the module docstring); configurations already in ``previous``
    (an earlier ``quality.json`` with the same sample and seed-set counts) are kept, not re-run. The fast
    configurations use the seed sets from ``first_fast_seed_set`` on (DDIM-50 and the control keep theirs)."""
    from backend.evaluation import evaluate
    from backend.evaluation.loading import load_folder
    from backend.motion_expert.pipeline import MotionExpertPipeline

    torch.set_num_threads(threads)
    data, model = run_dir / "data", run_dir / "run" / "model"
    pipeline = MotionExpertPipeline.from_pretrained(model)
    reference = load_folder(data)
    clips = clip_features(data, samples)
    cache = evaluate.EvalCache()  # every set is scored against the same training dances and music
    configs = [("ddim", 50, CONTROL)] + [(sampler, steps, f"{sampler}-{steps}") for sampler, steps in fast]
    results: dict = {"samples_per_set": samples, "seed_sets": seed_sets, "reference_dances": len(reference),
                     "configs": {}}  # fmt: skip
    reference_div = None
    if previous and (previous["samples_per_set"], previous["seed_sets"]) == (samples, seed_sets):
        results["configs"].update(previous["configs"])
        reference_div = previous.get("reference_div_k")
    for sampler, steps, name in [("ddim", 50, "ddim-50")] + configs:
        if name in results["configs"]:
            continue
        first = {"ddim-50": 0, CONTROL: CONTROL_SEED_SETS}.get(name, first_fast_seed_set)
        per_set, cpu = [], 0.0
        for seed_set in range(first, first + seed_sets):
            generated, seconds = make_set(pipeline, clips, sampler, steps, seed_set)
            cpu += seconds
            report = evaluate.evaluate_samples(generated, reference, "clean", music_dir=data, cache=cache)
            per_set.append({k: float(report.generated[k]) for k, _, _ in METRICS})
            reference_div = float(report.reference["div_k"])
        results["reference_div_k"] = reference_div
        results["configs"][name] = {"sampler": sampler, "steps": steps, "per_set": per_set,
                                    "cpu_s_per_dance": cpu / (samples * seed_sets)}  # fmt: skip
        means = {k: statistics.fmean(s[k] for s in per_set) for k, _, _ in METRICS}
        print(f"{name:>16}: " + "  ".join(f"{label} {means[k]:7.3f}" for k, label, _ in METRICS)
              + f"  ({cpu / (samples * seed_sets):.2f} s CPU per 12 s dance)", flush=True)  # fmt: skip
        if save is not None:  # what is done survives an interrupted run
            save(results)
    results["reference_div_k"] = reference_div
    names = ["ddim-50"] + [name for _, _, name in configs]
    results["configs"] = {name: results["configs"][name] for name in names}
    ddim = results["configs"]["ddim-50"]["per_set"]
    for name in names[1:]:
        entry = results["configs"][name]
        means = {k: statistics.fmean(s[k] for s in entry["per_set"]) for k, _, _ in METRICS}
        entry["shortfall"] = {k: shortfall(k, means[k], [s[k] for s in ddim], reference_div) for k, _, _ in METRICS}
        entry["passes"] = {k: v == 0.0 for k, v in entry["shortfall"].items()}
    ranked = sorted((sum(results["configs"][name]["shortfall"].values()), steps, name)
                    for _, steps, name in configs[1:])
    passing = [(steps, name) for total, steps, name in ranked if total == 0.0]
    results["fewest_passing"] = min(passing)[1] if passing else None
    results["closest"] = ranked[0][2] if ranked else None  # least total shortfall, then fewest steps
    return results


def format_table(results: dict) -> str:
    ddim = results["configs"]["ddim-50"]["per_set"]
    lines = [f"{results['seed_sets']} seed sets x {results['samples_per_set']} dances of 12 s, against "
             f"{results['reference_dances']} training dances (training Div_k {results['reference_div_k']:.3f})",
             f"{'sampler':<19}" + "".join(f"{label:>22}" for _, label, _ in METRICS) + "   CPU s/dance"]  # fmt: skip
    for name, entry in results["configs"].items():
        cells = []
        for key, _, _ in METRICS:
            values = [s[key] for s in entry["per_set"]]
            mark = "" if "passes" not in entry else (" ok" if entry["passes"][key] else " --")
            cells.append(f"{statistics.fmean(values):8.3f} [{min(values):.2f}-{max(values):.2f}]{mark:3}")
        lines.append(f"{name:<18} " + "".join(f"{c:>22}" for c in cells) + f"   {entry['cpu_s_per_dance']:8.2f}")
    lines.append("DDIM-50 spread = its seed-set range: " + ", ".join(
        f"{label} {min(s[k] for s in ddim):.3f}-{max(s[k] for s in ddim):.3f}" for k, label, _ in METRICS))
    control = results["configs"].get(CONTROL)
    if control is not None:
        verdict = "passes" if all(control["passes"].values()) else "FAILS " + ", ".join(
            label for k, label, _ in METRICS if not control["passes"][k])
        lines.append(f"control: DDIM-50 on other seeds {verdict} (a sound spread lets the official sampler pass)")
    lines.append(f"fewest steps within it on every metric: {results['fewest_passing']}")
    if results.get("closest") and not results["fewest_passing"]:
        closest = results["configs"][results["closest"]]["shortfall"]
        lines.append(f"closest: {results['closest']}, outside by " + ", ".join(
            f"{label} {closest[k]:.1f}" for k, label, _ in METRICS if closest[k]) + " range widths")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="the folder scripts/train_small_motion_expert.py wrote")
    parser.add_argument("--samples", type=int, default=12, help="dances per seed set (default 12)")
    parser.add_argument("--seed-sets", type=int, default=6, help="seed sets per sampler (default 6)")
    parser.add_argument("--fast", default=DEFAULT_FAST,
                        help=f"fast samplers and steps to try (default {DEFAULT_FAST!r})")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--resume", action="store_true",
                        help="keep the configurations already scored in the file this run writes")
    parser.add_argument("--recheck", action="store_true",
                        help=f"score --fast on fresh seed sets (from {RECHECK_SEED_SETS}) against RUN/quality.json's "
                             "DDIM-50; writes RUN/quality-recheck.json")  # fmt: skip
    args = parser.parse_args()
    saved = args.run / ("quality-recheck.json" if args.recheck else "quality.json")

    def save(results: dict) -> None:
        saved.write_text(json.dumps(results, indent=1))

    previous = json.loads(saved.read_text()) if args.resume and saved.is_file() else None
    if args.recheck and previous is None:
        scored = args.run / "quality.json"
        if not scored.is_file():
            parser.error(f"--recheck judges against DDIM-50's seed sets in {scored}: run without --recheck first")
        previous = json.loads(scored.read_text())
        previous["configs"] = {k: v for k, v in previous["configs"].items() if k in ("ddim-50", CONTROL)}
    results = run(args.run, args.samples, args.seed_sets, parse_configs(args.fast), args.threads, save, previous,
                  RECHECK_SEED_SETS if args.recheck else 0)  # fmt: skip
    save(results)
    print(format_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

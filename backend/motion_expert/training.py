"""Training the Motion Expert with Guidance-Free Training (GFT), as the official code does.

One step (``DanceDecoder.train_pred`` + ``GaussianDiffusion.p_losses`` in MACE-Dance):

1. draw t ~ U{0..999} and noise; x_t = q(x_t | x0);
2. draw beta ~ U(0, 1) per sample;
3. conditional prediction with the music, and an "unconditional" prediction with the null memory at the
   *same* beta, detached (MACE's choice; the GFT paper uses beta = 1 there);
4. mix: beta * cond + (1 - beta) * uncond, and apply EDGE's losses (:mod:`.losses`) against x0.

``faithful_gft=True`` follows the GFT paper instead: 10 % of samples drop the music and train with
beta = 1, and the unconditional pass uses beta = 1 in eval mode. The official optimiser is Adan (not on
PyPI as a maintained package); AdamW with the same learning rate and weight decay is used here.

Many processes: :func:`train` runs under ``accelerate launch`` (or ``torchrun``) as DDP through Accelerate,
like the official code. Each step's global batch (``batch_size`` windows) and its random draws (timesteps,
noise, beta) depend only on the seed and the step number; every process takes its equal share of them and
DDP averages the gradients, so N processes follow the same loss curve and reach the same weights as one
process with the same global batch (to float rounding; with dropout > 0 the dropout masks differ between
splits). Only the main process writes checkpoints and logs. The data position is the step number, so a
resumed run continues the very curve the uninterrupted run would have followed.

Data: a folder with motion files (anything ``shared.motion_io.load_motion`` reads: ``.npz``, AIST++/EDGE
``.pkl``) and, for each, music with the same file stem (``.wav``/``.mp3``/``.flac``/``.ogg``/``.m4a`` …) anywhere in
the folder, or precomputed 35-d features ``<stem>.npy`` in a ``baseline_feats`` folder (FineDance/MACE
layout). Genres: ``genres.json`` (``{"stem": "Jazz"}``) or FineDance ``label/<first 3 letters>.json`` with
``style2``; else genre 0.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from shared.audio_formats import is_music_file_name
from shared.errors import InvalidInputError
from shared.genres import GENRE_HINT, GENRES, genre_index
from shared.motion_io import load_motion

from backend.progress import JobContext, ensure_context

from .checkpoint import save_pretrained
from .config import MotionExpertConfig
from .denoiser import MotionDenoiser
from .losses import edge_losses
from .representation import Normalizer, motion_to_features
from .scheduler import DiffusionSchedule

logger = logging.getLogger(__name__)

MOTION_SUFFIXES = (".npz", ".pkl")
CHECKPOINT_PATTERN = re.compile(r"^step-(\d+)\.pt$")


# -- data ---------------------------------------------------------------------------------------------------
@dataclass
class DanceClip:
    """One aligned training take: motion (T, 151) unnormalised EDGE frames, music (T, 35), genre id."""

    name: str
    motion: np.ndarray
    music: np.ndarray
    genre: int


def find_clips(folder: str | Path, ctx: JobContext | None = None, shard: tuple[int, int] = (0, 1)) -> list[DanceClip]:
    """Read every motion file under ``folder`` with its music (see the module docstring); with ``shard`` =
    (index, count) only every count-th file from the index-th on (one process's share of the reading)."""
    from backend.features import analyze_music

    ctx = ensure_context(ctx)
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInputError(f"training data folder not found: {folder}")
    everything = sorted(p for p in folder.rglob("*") if p.suffix in MOTION_SUFFIXES and p.is_file())
    motions = everything[shard[0]::shard[1]]
    music_files = {p.stem: p for p in folder.rglob("*") if is_music_file_name(p.name)}
    feature_files = {p.stem: p for p in folder.rglob("baseline_feats/*.npy")}
    genre_of = _genre_lookup(folder)
    clips = []
    for index, path in enumerate(motions):
        ctx.check_cancelled()
        ctx.report(index / max(len(motions), 1), f"reading {path.name}")
        if path.stem in feature_files:
            music = np.load(feature_files[path.stem], allow_pickle=False).astype(np.float32)
            if music.ndim != 2 or music.shape[1] != 35:
                raise InvalidInputError(f"{feature_files[path.stem]}: expected (frames, 35) music features, "
                                        f"got shape {music.shape}")  # fmt: skip
        elif path.stem in music_files:
            music = analyze_music(music_files[path.stem]).edge35
        else:
            logger.warning("no music for %s (looked for %s.{wav,mp3,flac,ogg}); skipped", path.name, path.stem)
            continue
        motion = load_motion(path)
        if abs(motion.fps - 30.0) > 1e-6:
            motion = motion.resample(30.0)
        frames = motion_to_features(motion)
        length = min(len(frames), len(music))
        clips.append(DanceClip(path.stem, frames[:length], music[:length], genre_of(path.stem)))
    if not clips and shard[1] == 1:
        raise InvalidInputError(
            f"no motion files with music in {folder}",
            hint="put motion files (.npz/.pkl) and music with the same name (.wav/.mp3/.flac/.ogg/.m4a …) in the folder",
        )
    return clips


def _genre_lookup(folder: Path) -> Callable[[str], int]:
    """stem -> genre id from ``genres.json`` or FineDance ``label/<prefix>.json`` (``style2``); default 0."""
    by_stem: dict[str, int] = {}
    by_prefix: dict[str, int] = {}
    if (folder / "genres.json").is_file():
        for stem, value in json.loads((folder / "genres.json").read_text(encoding="utf-8")).items():
            by_stem[stem] = _genre_id(value, stem)
    for label_file in folder.rglob("label/*.json"):
        style = json.loads(label_file.read_text(encoding="utf-8")).get("style2")
        if style is not None:
            by_prefix[label_file.stem] = _genre_id(style, label_file.name)
    return lambda stem: by_stem.get(stem, by_prefix.get(stem[:3], 0))


def _genre_id(value, where: str) -> int:
    try:
        index = int(value) if isinstance(value, int) else genre_index(str(value))
    except InvalidInputError as exc:
        raise InvalidInputError(f"genre of {where!r}: {exc.message}", exc.hint) from exc
    if index is None or not 0 <= index < len(GENRES):
        raise InvalidInputError(f"genre of {where!r} must be a genre or an id in [0, {len(GENRES)}), got {value!r}",
                                GENRE_HINT)
    return index


class WindowDataset(torch.utils.data.Dataset):
    """Fixed-length training windows cut from clips, normalised. Items: (motion (W, 151), music (W, 35), genre)."""

    def __init__(self, clips: list[DanceClip], window: int, stride: int, normalizer: Normalizer):
        self.items = []
        for clip in clips:
            for start in range(0, len(clip.motion) - window + 1, stride):
                self.items.append((clip, start))
        if not self.items:
            raise InvalidInputError(f"every clip is shorter than the training window ({window} frames)",
                                    hint="use shorter windows (--window-seconds) or longer takes")  # fmt: skip
        self.window, self.normalizer = window, normalizer

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        clip, start = self.items[index]
        frames = slice(start, start + self.window)
        motion = self.normalizer.normalize(torch.from_numpy(clip.motion[frames]))
        return motion, torch.from_numpy(clip.music[frames]), torch.tensor(clip.genre)


# -- one GFT step -------------------------------------------------------------------------------------------
@dataclass
class StepDraws:
    """The random draws of one training step for a batch: diffusion timesteps (B,), noise (B, T, 151), GFT
    beta (B,) and, for ``faithful`` GFT, which samples drop the music (B,) bool."""

    timesteps: torch.Tensor
    noise: torch.Tensor
    beta: torch.Tensor
    dropped: torch.Tensor | None = None

    @classmethod
    def sample(cls, shape: tuple[int, ...], num_timesteps: int, generator: torch.Generator | None = None,
               faithful: bool = False, label_dropout: float = 0.1) -> "StepDraws":
        batch = shape[0]
        timesteps = torch.randint(0, num_timesteps, (batch,), generator=generator)
        noise = torch.randn(shape, generator=generator)
        beta = torch.rand(batch, generator=generator)
        dropped = (torch.rand(batch, generator=generator) < label_dropout) if faithful else None
        return cls(timesteps, noise, beta, dropped)

    def part(self, rows: slice) -> "StepDraws":
        """The draws of the samples ``rows`` (one process's share of the global batch)."""
        return StepDraws(self.timesteps[rows], self.noise[rows], self.beta[rows],
                         None if self.dropped is None else self.dropped[rows])


def gft_prediction(
    model: MotionDenoiser,
    x_t: torch.Tensor,
    music: torch.Tensor,
    genre: torch.Tensor,
    timesteps: torch.Tensor,
    faithful: bool = False,
    label_dropout: float = 0.1,
    generator: torch.Generator | None = None,
    beta: torch.Tensor | None = None,
    dropped: torch.Tensor | None = None,
) -> torch.Tensor:
    """The GFT training prediction beta * cond + (1 - beta) * sg[uncond] (B, T, 151); see the module docstring.

    ``beta`` (and, when ``faithful``, ``dropped``) are drawn from ``generator`` unless given."""
    batch, device = x_t.shape[0], x_t.device
    if beta is None:
        beta = torch.rand(batch, generator=generator)
    beta = beta.to(device)
    keep = torch.ones(batch, device=device)
    if faithful:
        if dropped is None:
            dropped = torch.rand(batch, generator=generator) < label_dropout
        dropped = dropped.to(device)
        beta, keep = torch.where(dropped, torch.ones_like(beta), beta), (~dropped).float()
    conditional = model(x_t, music, genre, timesteps, beta, keep_music=keep)
    with torch.no_grad():  # the official code detaches this pass; no graph is needed for it
        if faithful:
            was_training = model.training
            model.eval()
            unconditional = model(x_t, music, genre, timesteps, torch.ones_like(beta), keep_music=torch.zeros_like(keep))
            model.train(was_training)
        else:
            unconditional = model(x_t, music, genre, timesteps, beta, keep_music=torch.zeros_like(keep))
    weight = beta.view(batch, 1, 1)
    return weight * conditional + (1 - weight) * unconditional


def training_loss(
    model: MotionDenoiser,
    schedule: DiffusionSchedule,
    motion: torch.Tensor,
    music: torch.Tensor,
    genre: torch.Tensor,
    normalizer: Normalizer | None = None,
    faithful: bool = False,
    fk_on_normalized: bool = True,
    generator: torch.Generator | None = None,
    draws: StepDraws | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """EDGE losses of the GFT prediction for a batch of normalised motion (B, T, 151); the random draws are
    ``draws`` or come from ``generator``."""
    if draws is None:
        draws = StepDraws.sample(tuple(motion.shape), schedule.num_train_timesteps, generator, faithful)
    timesteps, noise = draws.timesteps.to(motion.device), draws.noise.to(motion.device)
    x_t = schedule.add_noise(motion, timesteps, noise)
    prediction = gft_prediction(model, x_t, music, genre, timesteps, faithful=faithful, beta=draws.beta,
                                dropped=draws.dropped)
    return edge_losses(prediction, motion, normalizer=normalizer, fk_on_normalized=fk_on_normalized)


# -- the loop -----------------------------------------------------------------------------------------------
@dataclass
class TrainingOptions:
    """Settings of :func:`train` (official values where they exist)."""

    data_dir: Path
    out_dir: Path
    config: MotionExpertConfig = field(default_factory=MotionExpertConfig)
    steps: int = 1000
    batch_size: int = 128
    learning_rate: float = 4e-4
    #: From this step on the learning rate falls along a half cosine to 0 at ``steps`` (None: constant, as the
    #: official code trains). A function of the step alone, so a resumed run follows the same curve.
    lr_decay_from: int | None = None
    weight_decay: float = 0.02
    window_seconds: float = 5.0
    stride_seconds: float = 0.5
    save_every: int = 500
    ema_decay: float = 0.9999
    seed: int = 42
    device: str = "cpu"
    faithful_gft: bool = False
    fk_on_normalized: bool = True
    resume: bool = True
    #: "auto" (bf16 autocast on a GPU, none on a CPU), "bf16" or "no"; the weights stay float32.
    mixed_precision: str = "auto"


def train(options: TrainingOptions, ctx: JobContext | None = None) -> Path:
    """Train (or resume) and write checkpoints to ``options.out_dir``; returns the exported model folder.

    Runs as one process, or as each of the processes ``accelerate launch``/``torchrun`` started (DDP; see
    the module docstring). ``out_dir/checkpoints/step-N.pt`` hold everything needed to resume (weights,
    EMA, optimiser, normaliser, config, step; all plain tensors, readable with ``weights_only=True``);
    ``out_dir/model`` holds the latest weights in our safetensors layout, ready for
    ``MACE_DANCE_MOTION_WEIGHTS``; ``out_dir/losses.jsonl`` the loss of every step.
    """
    from accelerate import Accelerator

    ctx = ensure_context(ctx)
    out_dir = Path(options.out_dir)
    checkpoints = out_dir / "checkpoints"
    on_cpu = torch.device(options.device).type == "cpu"
    precision = ("no" if on_cpu else "bf16") if options.mixed_precision == "auto" else options.mixed_precision
    if precision not in ("bf16", "no"):
        raise InvalidInputError(f"mixed precision must be auto, bf16 or no, got {options.mixed_precision!r}")
    accelerator = Accelerator(cpu=on_cpu)
    world, rank, device = accelerator.num_processes, accelerator.process_index, accelerator.device
    if options.batch_size % world:
        raise InvalidInputError(f"the batch of {options.batch_size} windows does not split evenly over {world} "
                                "processes", hint=f"use a --batch-size that is a multiple of {world}")
    resume_state = _latest_checkpoint(checkpoints) if options.resume else None
    config = options.config
    if resume_state is not None:
        config = MotionExpertConfig.from_dict(resume_state["config"])
        logger.info("resuming from step %d", int(resume_state["step"]))

    clips = _read_clips(options.data_dir, ctx.subrange(0.0, 0.05), rank, world)
    window = max(2, round(options.window_seconds * config.fps))
    stride = max(1, round(options.stride_seconds * config.fps))
    if resume_state is not None:
        normalizer = Normalizer.from_arrays({k: v.numpy() for k, v in resume_state["normalizer"].items()})
    else:
        normalizer = Normalizer.fit(np.concatenate([clip.motion for clip in clips]))
    dataset = WindowDataset(clips, window, stride, normalizer)
    if len(dataset) < options.batch_size:
        raise InvalidInputError(f"the data holds {len(dataset)} training windows, fewer than one batch of "
                                f"{options.batch_size}", hint="use a smaller --batch-size or add data")
    batches = StepBatches(len(dataset), options.batch_size, options.seed)

    torch.manual_seed(options.seed)  # the same initial weights in every process
    model = MotionDenoiser(config, mamba_backend="auto" if device.type == "cuda" else "torch").to(device)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay)
    step = 0
    if resume_state is not None:
        model.load_state_dict(resume_state["model_state_dict"])
        ema.load_state_dict(resume_state["ema_state_dict"])
        optimizer.load_state_dict(resume_state["optimizer_state_dict"])
        step = int(resume_state["step"])
    model, optimizer = accelerator.prepare(model, optimizer)
    losses = LossLog(out_dir / "losses.jsonl", enabled=accelerator.is_main_process)
    losses.truncate(step)
    schedule = DiffusionSchedule(config.num_train_timesteps)
    progress = ctx.subrange(0.05, 1.0)
    start_step = step
    share = options.batch_size // world
    mine = slice(rank * share, (rank + 1) * share)
    model.train()
    while step < options.steps:
        ctx.check_cancelled()
        indices = batches.indices(step)[mine]
        motion, music, genre = (torch.stack(column).to(device) for column in zip(*(dataset[i] for i in indices)))
        draws = StepDraws.sample((options.batch_size, window, motion.shape[-1]), schedule.num_train_timesteps,
                                 batches.generator(step), options.faithful_gft).part(mine)
        torch.manual_seed(batches.seed(step) + rank)  # dropout masks: reproducible on resume
        # bf16 autocast (torch's own, per step: accelerate's setting is fixed once per process)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            total, terms = training_loss(model, schedule, motion, music, genre, normalizer,
                                         faithful=options.faithful_gft, fk_on_normalized=options.fk_on_normalized,
                                         draws=draws)  # fmt: skip
        total, terms = total.float(), {name: value.float() for name, value in terms.items()}
        # the global batch's loss: the mean of the processes' equal shares (the same number in every process)
        reported = accelerator.reduce(torch.stack([total.detach(), *terms.values()]), reduction="mean").tolist()
        if not np.isfinite(reported[0]):
            raise InvalidInputError(f"the training loss became {reported[0]} at step {step}",
                                    hint="lower the learning rate or check the data for broken frames")  # fmt: skip
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(total)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(options, step)
        optimizer.step()
        _update_ema(ema, accelerator.unwrap_model(model), options.ema_decay)
        step += 1
        losses.append(step, reported[0], dict(zip(terms, reported[1:])))
        detail = ", ".join(f"{k} {v:.4f}" for k, v in zip(terms, reported[1:]))
        progress.report((step - start_step) / max(options.steps - start_step, 1),
                        f"step {step}/{options.steps}: loss {reported[0]:.4f} ({detail})")  # fmt: skip
        if step % options.save_every == 0 or step == options.steps:
            if accelerator.is_main_process:
                _save_training_checkpoint(checkpoints, step, accelerator.unwrap_model(model), ema, optimizer,
                                          normalizer)
                save_pretrained(out_dir / "model", accelerator.unwrap_model(model), normalizer)
            accelerator.wait_for_everyone()
    if step == start_step and accelerator.is_main_process:  # nothing to do (already trained): still export
        save_pretrained(out_dir / "model", accelerator.unwrap_model(model), normalizer)
    accelerator.wait_for_everyone()
    return out_dir / "model"


def _read_clips(folder: Path, ctx: JobContext, rank: int, world: int) -> list[DanceClip]:
    """Every clip of ``folder``, in name order, each process reading and analysing only its share of the
    files (the music analysis is the slow part) and the processes then exchanging what they read."""
    clips = find_clips(folder, ctx, shard=(rank, world))
    if world > 1:
        from accelerate.utils import gather_object

        clips = gather_object(clips)
        if not clips:
            raise InvalidInputError(f"no motion files with music in {folder}",
                                    hint="put motion files (.npz/.pkl) and music with the same name in the folder")
    return sorted(clips, key=lambda clip: clip.name)


class StepBatches:
    """Which windows make step ``s``'s global batch, and the seed of its random draws: functions of the
    seed and the step alone (a fresh shuffle every epoch; the last partial batch of an epoch is dropped), so
    the process count and a resume change nothing."""

    def __init__(self, num_windows: int, batch_size: int, seed: int):
        self.num_windows, self.batch_size, self.seed_base = num_windows, batch_size, seed
        self.per_epoch = num_windows // batch_size
        self._order: tuple[int, torch.Tensor] | None = None

    def indices(self, step: int) -> torch.Tensor:
        epoch, position = divmod(step, self.per_epoch)
        if self._order is None or self._order[0] != epoch:
            shuffle = torch.Generator().manual_seed(self.seed_base * 1_000_003 + epoch)
            self._order = (epoch, torch.randperm(self.num_windows, generator=shuffle))
        return self._order[1][position * self.batch_size:(position + 1) * self.batch_size]

    def seed(self, step: int) -> int:
        return (self.seed_base * 7_919 + step * 104_729 + 1) % (2**63)

    def generator(self, step: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed(step))


class LossLog:
    """``losses.jsonl``: one line per step (``{"step", "loss", "terms"}``), written by the main process."""

    def __init__(self, path: Path, enabled: bool):
        self.path, self.enabled = Path(path), enabled

    def truncate(self, step: int) -> None:
        """Forget the steps after ``step`` (a resume from an earlier checkpoint redoes them)."""
        if not self.enabled or not self.path.is_file():
            return
        from shared.atomic import atomic_write

        kept = [line for line in self.path.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line)["step"] <= step]
        with atomic_write(self.path, "w") as handle:
            handle.write("".join(line + "\n" for line in kept))

    def append(self, step: int, loss: float, terms: dict[str, float]) -> None:
        if self.enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": step, "loss": loss, "terms": terms}) + "\n")

    @staticmethod
    def read(path: Path) -> list[dict]:
        return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def learning_rate_at(options: TrainingOptions, step: int) -> float:
    """The learning rate of the optimiser step that follows ``step`` steps (see ``lr_decay_from``)."""
    start = options.lr_decay_from
    if start is None or step < start:
        return options.learning_rate
    progress = min(1.0, (step - start) / max(options.steps - start, 1))
    return options.learning_rate * 0.5 * (1.0 + math.cos(math.pi * progress))


@torch.no_grad()
def _update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for average, current in zip(ema.parameters(), model.parameters()):
        average.lerp_(current, 1 - decay)


def _save_training_checkpoint(folder: Path, step: int, model, ema, optimizer, normalizer: Normalizer) -> None:
    from shared.atomic import atomic_path

    folder.mkdir(parents=True, exist_ok=True)
    state = {
        "model_state_dict": model.state_dict(),
        "ema_state_dict": ema.state_dict(),
        "optimizer_state_dict": optimizer.state_dict(),
        "normalizer": {k: torch.from_numpy(v) for k, v in normalizer.to_arrays().items()},
        "config": model.config.to_dict(),
        "step": step,
    }
    with atomic_path(folder / f"step-{step:07d}.pt") as tmp:
        torch.save(state, tmp)


def _latest_checkpoint(folder: Path) -> dict | None:
    found = [(int(m.group(1)), p) for p in folder.glob("step-*.pt") if (m := CHECKPOINT_PATTERN.match(p.name))]
    if not found:
        return None
    path = max(found)[1]
    return torch.load(path, map_location="cpu", weights_only=True)


def tiny_options(data_dir: Path, out_dir: Path, **overrides) -> TrainingOptions:
    """Options for a CPU smoke run on the tiny config."""
    config = MotionExpertConfig.tiny()
    base = TrainingOptions(data_dir=data_dir, out_dir=out_dir, config=config, steps=20, batch_size=8,
                           window_seconds=2.0, stride_seconds=0.5, save_every=10, ema_decay=0.99)  # fmt: skip
    return replace(base, **overrides)


__all__ = ["DanceClip", "LossLog", "StepBatches", "StepDraws", "TrainingOptions", "WindowDataset", "find_clips",
           "gft_prediction", "learning_rate_at", "train", "training_loss", "tiny_options"]  # fmt: skip

"""Music features -> SMPL dance with the Motion Expert: checks, sampling loop, long songs, editing.

``MotionExpertPipeline`` owns everything around the denoiser (diffusers' habit): it checks inputs,
encodes the music once per window, runs the sampler (DPM-Solver++ SDE by default, or the official DDIM; see
``.scheduler.make_sampler``) with one network pass per step (Guidance-Free
Training: the model itself is the guided sampler, beta = 0.75), reports progress, honours cancellation,
stitches long songs and keeps locked frames/joints when editing.

Long songs: the official code generates one clip in one pass (40 s horizon) and has no stitching. Here a
song longer than ``max_frames_per_pass`` (default: the 1200-frame horizon) is cut into overlapping
windows generated one after the other. Each window after the first is *inpainted*: its first
``context_frames`` are pinned to the end of the previous window, so the model continues that motion, and
over the next ``blend_frames`` the pin weakens along a smoothstep (1 -> 0, zero slope at both ends) at
every denoising step and in the result, so the previous window fades into the new one.

Editing (diffusion inpainting): kept channels of the clean prediction are replaced by the kept values
before every sampler step, so the sample's kept channels follow the kept values' own noising path and a
multistep solver's history never holds a prediction that was pasted over; at the end the kept values are
pasted exactly (EDGE's ``inpaint_loop`` leaves the model's last output there, so locked keys drift). Joint j's 6D rotation
is channels 7+6j .. 12+6j of the 151-d frame; contacts are derived channels and are never pinned.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from shared.errors import InvalidInputError
from shared.genres import GENRES, genre_index
from shared.motion import Motion
from shared.sampling import DEFAULT_SAMPLER, SamplerChoice
from shared.skeleton import NUM_JOINTS

from backend.out_of_memory import out_of_memory_as
from backend.progress import JobContext, ensure_context

from .checkpoint import load_checkpoint
from .config import NUM_CONTACTS, ROOT_POSITION_SLICE, MotionExpertConfig
from .denoiser import MotionDenoiser
from .representation import Normalizer, features_to_motion, joint_channels, motion_to_features
from .scheduler import DiffusionSchedule, make_sampler, randn_like

logger = logging.getLogger(__name__)

GUIDANCE_MODES = ("gft", "cfg")

#: ``step_callback(step, t, x0, x)``: after each denoising step, the pinned clean prediction and the new sample.
StepCallback = Callable[[int, int, torch.Tensor, torch.Tensor], None]


@dataclass(frozen=True)
class Window:
    """Frames ``[start, stop)`` generated in one pass; the first ``pinned`` frames continue the previous
    window, the next ``blend`` frames are cross-faded into it."""

    start: int
    stop: int
    pinned: int = 0
    blend: int = 0


@dataclass(frozen=True)
class SamplingSettings:
    """How each window is denoised (see :meth:`MotionExpertPipeline.__call__` for the meaning)."""

    steps: int
    eta: float
    beta: float
    guidance: str = "gft"
    cfg_weight: float = 2.0
    sampler: str = DEFAULT_SAMPLER


def plan_windows(num_frames: int, max_frames: int, context_frames: int, blend_frames: int) -> list[Window]:
    """Cover ``num_frames`` with windows of at most ``max_frames`` that overlap by >= context + blend.

    The windows are spread evenly, so every one has the full length and the overlaps differ by at most a
    frame. One window when the song fits.
    """
    if num_frames <= max_frames:
        return [Window(0, num_frames)]
    overlap = context_frames + blend_frames
    if overlap >= max_frames:
        raise InvalidInputError(
            f"window overlap ({overlap} frames) must be shorter than a window ({max_frames} frames)",
            hint="lower `context_frames`/`blend_frames` or raise `max_frames_per_pass`",
        )
    count = math.ceil((num_frames - overlap) / (max_frames - overlap))
    starts = np.round(np.linspace(0, num_frames - max_frames, count)).astype(int)
    windows = [Window(0, max_frames)]
    for previous, start in zip(starts[:-1], starts[1:]):
        shared_frames = previous + max_frames - start  # >= overlap
        windows.append(Window(int(start), int(start) + max_frames, pinned=shared_frames - blend_frames, blend=blend_frames))
    return windows


def smoothstep(count: int) -> np.ndarray:
    """(count,) weights rising from 0 to 1 (exclusive) with zero slope at both ends."""
    s = (np.arange(count) + 1.0) / (count + 1.0)
    return s * s * (3.0 - 2.0 * s)


class MotionExpertPipeline:
    """Generate SMPL dance from music features with a :class:`MotionDenoiser`.

    Args:
        model: the denoiser (eval mode is set here).
        normalizer: the dataset normaliser the model was trained with.
        device: torch device for the model.
    """

    def __init__(self, model: MotionDenoiser, normalizer: Normalizer, device: str | torch.device = "cpu"):
        self.model = model.eval().to(device)
        self.normalizer = normalizer
        self.config: MotionExpertConfig = model.config
        self.device = torch.device(device)
        self.schedule = DiffusionSchedule(self.config.num_train_timesteps)

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "cpu", mamba_backend: str = "auto") -> "MotionExpertPipeline":
        """Load a checkpoint (official ``train-*.pt`` or our folder, see :mod:`.checkpoint`)."""
        if mamba_backend == "auto" and not str(device).startswith("cuda"):
            mamba_backend = "torch"
        model, normalizer, _ = load_checkpoint(path, mamba_backend=mamba_backend)
        return cls(model, normalizer, device=device)

    # -- 1. inputs -----------------------------------------------------------------------------------------
    def check_inputs(self, music: np.ndarray, genre: int, num_inference_steps: int, eta: float, beta: float,
                     guidance: str, cfg_weight: float) -> None:  # fmt: skip
        if music.ndim != 2 or music.shape[1] != self.config.music_dim:
            raise InvalidInputError(
                f"`music` must be (frames, {self.config.music_dim}) features, got shape {music.shape}",
                hint="compute them with backend.features.analyze_music(path).edge35",
            )
        if len(music) < 2:
            raise InvalidInputError(f"`music` has {len(music)} frame(s); at least 2 are needed", hint="use longer music")
        if not np.isfinite(music).all():
            raise InvalidInputError("`music` features contain NaN or Inf", hint="re-analyse the music file")
        if not 0 <= genre < self.config.num_genres:
            raise InvalidInputError(f"`genre` must be in [0, {self.config.num_genres}), got {genre}")
        if not 1 <= num_inference_steps <= self.config.num_train_timesteps:
            raise InvalidInputError(
                f"`num_inference_steps` must be in [1, {self.config.num_train_timesteps}], got {num_inference_steps}",
                hint="50 is the official setting; fewer steps are faster and rougher",
            )
        if not 0.0 <= eta <= 1.0:
            raise InvalidInputError(f"`eta` must be in [0, 1], got {eta}")
        if not 0.0 < beta <= 1.0:
            raise InvalidInputError(f"`guidance_beta` must be in (0, 1], got {beta}", hint="0.75 is the official setting")
        if guidance not in GUIDANCE_MODES:
            raise InvalidInputError(f"`guidance` must be one of {GUIDANCE_MODES}, got {guidance!r}")
        if guidance == "cfg" and cfg_weight < 0:
            raise InvalidInputError(f"`cfg_weight` must be >= 0, got {cfg_weight}")

    def resolve_genre(self, genre: int | str | None, seed: int) -> int:
        """A genre id: names as in ``shared.genres.GENRES``; None or "auto" draws one from the seed."""
        if isinstance(genre, str) or genre is None:
            index = genre_index(genre)
            if index is None:
                index = random.Random(seed).randrange(self.config.num_genres)
            return index
        return int(genre)

    # -- 2. sampling -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(
        self,
        music: np.ndarray,
        genre: int | str | None = None,
        seed: int = 0,
        num_inference_steps: int | None = None,
        eta: float | None = None,
        guidance_beta: float | None = None,
        keep=None,
        max_frames_per_pass: int | None = None,
        context_frames: int | None = None,
        blend_frames: int | None = None,
        guidance: str = "gft",
        cfg_weight: float = 2.0,
        sampler: str | None = None,
        ctx: JobContext | None = None,
        step_callback: StepCallback | None = None,
    ) -> Motion:
        """Generate a dance.

        Args:
            music: (T, 35) EDGE features at 30 fps (``analyze_music(...).edge35``); the dance has T frames.
            genre: id in [0, 16), a name from ``shared.genres.GENRES``, or None (drawn from ``seed``).
            seed: seed of all noise; the same inputs and seed give the same dance.
            num_inference_steps: sampler steps (default: the sampler's, ``shared.sampling.DEFAULT_STEPS``).
            eta: DDIM noise (default 1.0, official; the fast samplers bring their own, see ``.scheduler``).
            guidance_beta: GFT beta (default 0.75, official; 1 = unguided conditional model).
            keep: ``shared.keep.KeepSpec``: regenerate only what it does not lock.
            max_frames_per_pass: longest single pass (default: the model's 1200-frame horizon).
            context_frames, blend_frames: frames pinned / cross-faded between windows (default 2 s each,
                at most 1/8 of a window).
            guidance: "gft" (one pass per step) or "cfg" (two passes: unconditional + weighted difference,
                with beta = 1; for comparison).
            cfg_weight: CFG weight w in ``uncond + w (cond - uncond)``.
            sampler: a name from ``shared.sampling.SAMPLERS``: "dpmpp-sde" (default: DPM-Solver++ 2M SDE),
                "dpmpp", "unipc", or "ddim" (the official sampler).
            ctx: progress and cancellation.
            step_callback: called after every denoising step (see :data:`StepCallback`).
        Returns:
            Y-up :class:`Motion` at 30 fps with foot contacts; ``metadata["windows"]`` lists the passes.
        """
        ctx = ensure_context(ctx)
        config = self.config
        music = np.asarray(music, dtype=np.float32)
        choice = SamplerChoice(DEFAULT_SAMPLER if sampler is None else sampler)
        steps = choice.num_steps if num_inference_steps is None else int(num_inference_steps)
        eta = config.eta if eta is None else float(eta)
        beta = config.gft_beta if guidance_beta is None else float(guidance_beta)
        genre_id = self.resolve_genre(genre, seed)
        self.check_inputs(music, genre_id, steps, eta, beta, guidance, cfg_weight)
        settings = SamplingSettings(steps, eta, beta, guidance, cfg_weight, choice.sampler)
        keep = None if keep is None else keep.at_fps(config.fps)
        keep_values, kept = self._keep_constraint(keep, len(music))

        max_frames = int(max_frames_per_pass or config.horizon)
        default_overlap = min(2 * config.fps, max_frames // 8)
        context = default_overlap if context_frames is None else int(context_frames)
        blend = default_overlap if blend_frames is None else int(blend_frames)
        windows = plan_windows(len(music), max_frames, context, blend)

        generator = torch.Generator().manual_seed(int(seed))
        music_t = torch.from_numpy(music).to(self.device)
        genre_t = torch.tensor([genre_id], device=self.device)
        result = torch.zeros(len(music), config.motion_dim, device=self.device)
        with out_of_memory_as("the GPU ran out of memory while generating the dance",
                              "lower `max_frames_per_pass` (e.g. 600) so long songs are made in shorter windows"):
            for index, window in enumerate(windows):
                frames = slice(window.start, window.stop)
                values, weight = keep_values[frames].clone(), kept[frames].float()
                if window.pinned or window.blend:  # continue the previous window, fading into the new one
                    overlap = window.pinned + window.blend
                    values[:overlap] = result[window.start : window.start + overlap]
                    fade = torch.ones(overlap, device=self.device)
                    fade[window.pinned :] = 1 - torch.from_numpy(smoothstep(window.blend)).float().to(self.device)
                    weight[:overlap] = torch.maximum(weight[:overlap], fade.unsqueeze(-1))
                progress = ctx.subrange(index / len(windows), (index + 1) / len(windows))
                note = f"window {index + 1}/{len(windows)}, " if len(windows) > 1 else ""
                result[frames] = self._denoise(music_t[frames], genre_t, values, weight, settings, generator,
                                               progress, note, step_callback)  # fmt: skip

        features = self.normalizer.unnormalize(result.float().cpu()).numpy()
        motion = features_to_motion(features, fps=config.fps, metadata={
            "generator": "motion_expert", "seed": int(seed), "genre": GENRES[genre_id] if genre_id < len(GENRES) else genre_id,
            "sampler": choice.sampler, "num_inference_steps": steps, "guidance": guidance, "guidance_beta": beta,
            "windows": [[w.start, w.stop, w.pinned, w.blend] for w in windows],
        })  # fmt: skip
        if keep is not None:
            motion = paste_kept(motion, keep)
        ctx.report(1.0, "dance generated")
        return motion

    def _denoise(self, music: torch.Tensor, genre: torch.Tensor, values: torch.Tensor, weight: torch.Tensor,
                 settings: SamplingSettings, generator: torch.Generator, ctx: JobContext, note: str,
                 step_callback: StepCallback | None = None) -> torch.Tensor:  # fmt: skip
        """One window: from noise to x0 with the chosen sampler, pinning ``values`` with ``weight`` (T, 151) in
        [0, 1] (1 = kept exactly, between = soft pull, used to fade into the previous window).

        The pin acts on the clean prediction before each step (``x0 = lerp(x0, values, weight)``), not on
        the sample after it: the sampler's history (DPM-Solver's previous x0) then holds the kept values, and
        kept cells of x_t stay exactly on the forward process of the kept values (the start's noise scaled
        to each level), so a multistep solver's extrapolation is never fed pasted cells it did not predict.
        The last step returns the pinned x0, so kept cells end exact. Returns (T, 151) normalised."""
        model = self.model
        sampler = make_sampler(SamplerChoice(settings.sampler, settings.steps), self.schedule, settings.eta)
        x = randn_like(values.unsqueeze(0), generator)
        values, weight = values.unsqueeze(0), weight.unsqueeze(0)
        constrained = bool(weight.any())
        if constrained:
            x = torch.lerp(x, self.schedule.add_noise(values, sampler.timesteps[0], randn_like(x, generator)), weight)

        music = music.unsqueeze(0)
        if settings.guidance == "gft":
            memory = model.encode_music(music, genre, torch.ones(1, device=self.device))
            betas = torch.full((1,), settings.beta, device=self.device)
        else:  # CFG: batch the conditional and the unconditional pass
            memory = model.encode_music(music.expand(2, -1, -1), genre.expand(2), torch.tensor([1.0, 0.0], device=self.device))
            betas = torch.ones(2, device=self.device)
        steps = len(sampler.timesteps)
        for step, t in enumerate(sampler.timesteps):
            ctx.check_cancelled()
            batch = memory.shape[0]
            prediction = model(x.expand(batch, -1, -1), None, None, torch.full((batch,), t, device=self.device),
                               betas, memory=memory)  # fmt: skip
            if settings.guidance == "cfg":
                conditional, unconditional = prediction[:1], prediction[1:]
                prediction = unconditional + settings.cfg_weight * (conditional - unconditional)
            x0 = prediction.clamp(-1.0, 1.0)
            if constrained:
                x0 = torch.lerp(x0, values, weight)
            x = sampler.step(x0, x, step, generator)
            if step_callback is not None:
                step_callback(step, t, x0, x)
            ctx.report((step + 1) / steps, f"{note}denoising step {step + 1}/{steps}")
        return x[0]

    # -- 3. editing ----------------------------------------------------------------------------------------------
    def _keep_constraint(self, keep, num_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised kept values (T, 151) and the bool mask of kept cells (T, 151)."""
        mask = torch.zeros(num_frames, self.config.motion_dim, dtype=torch.bool, device=self.device)
        values = torch.zeros(num_frames, self.config.motion_dim, device=self.device)
        if keep is None:
            return values, mask
        motion = keep.motion
        if motion.num_frames != num_frames:
            raise InvalidInputError(
                f"the motion to edit has {motion.num_frames} frames at {self.config.fps} fps but the music "
                f"gives {num_frames}",
                hint="ask for the same span of music as the motion being edited",
            )
        mask_np = keep_mask(keep, num_frames, self.config.motion_dim)
        frames = torch.from_numpy(motion_to_features(motion))
        values = self.normalizer.normalize(frames).to(self.device)
        return values, torch.from_numpy(mask_np).to(self.device)


def seam_velocity_jumps(motion: Motion) -> tuple[float, float]:
    """Largest joint-velocity jump (m/frame) at window seams and inside windows of a generated motion.

    The jump at frame t is max over joints of |v[t] - v[t-1]|, v[t] = p[t+1] - p[t]. Seams are the frames
    from the end of each window's pinned span to the end of its blend span (+-1 frame); everything else is
    "inside". Uses ``motion.metadata["windows"]`` written by :class:`MotionExpertPipeline`.
    """
    joints = motion.joint_positions()
    velocity = np.diff(joints, axis=0)
    jumps = np.linalg.norm(np.diff(velocity, axis=0), axis=-1).max(axis=-1)  # jumps[i] is at frame i + 1
    seam = np.zeros(len(jumps), dtype=bool)
    for start, _stop, pinned, blend in motion.metadata.get("windows", [])[1:]:
        lo, hi = start + pinned - 1, start + pinned + blend + 1
        seam[max(lo - 1, 0) : max(hi - 1, 0)] = True
    inside = jumps[~seam].max() if (~seam).any() else 0.0
    return float(jumps[seam].max()) if seam.any() else 0.0, float(inside)


def keep_mask(keep, num_frames: int, motion_dim: int = 151) -> np.ndarray:
    """(T, 151) bool: the feature channels a ``KeepSpec``'s cell mask locks (a kept joint's 6D rotation, the
    kept root translation). Contacts are never locked."""
    cells = keep.mask
    if cells.num_frames != num_frames:
        raise InvalidInputError(f"keep mask has {cells.num_frames} frames, the music gives {num_frames}")
    mask = np.zeros((num_frames, motion_dim), dtype=bool)
    mask[:, ROOT_POSITION_SLICE] = cells.translation[:, None]
    for joint in range(NUM_JOINTS):
        mask[:, joint_channels(joint)] = cells.joints[:, joint : joint + 1]
    mask[:, :NUM_CONTACTS] = False
    return mask


def paste_kept(motion: Motion, keep) -> Motion:
    """Copy the kept cells of ``keep.motion`` into ``motion`` exactly (same frame count)."""
    return keep.mask.merge(keep.motion, motion)

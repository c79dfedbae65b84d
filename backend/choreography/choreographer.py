"""The choreographer: :func:`choreograph` plans and poses a dance for analysed music, and
:class:`ChoreographerGenerator` serves it as the embedded default motion generator (no weights, no GPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from backend.features import MusicFeatures, analyze_music
from backend.motion_generation import MotionRequest, MotionResult
from backend.progress import JobContext, ensure_context
from shared.errors import InvalidInputError
from shared.genres import GENRES, genre_index
from shared.keep import regenerated_span
from shared.motion import Motion
from shared.skeleton import Skeleton

from .keep import apply_keep
from .limiter import render_within_limits
from .mocap import load_library
from .motion_graph import MotionGraph, graph_choreograph
from .planner import Planner
from .rig import DanceRig
from .synthesis import Placement, Renderer


def choreograph(
    features: MusicFeatures,
    *,
    seed: int | np.random.SeedSequence = 0,
    genre: str | None = None,
    num_frames: int | None = None,
    skeleton: Skeleton | None = None,
    ctx: JobContext | None = None,
) -> tuple[Motion, list[Placement]]:
    """Dance to analysed music.

    Args:
        features: from :func:`backend.features.analyze_music` (its ``fps`` is the motion's rate).
        seed: the same seed (and music) gives the same dance.
        genre: a FineDance genre name (``shared.genres.GENRES``) or None.
        num_frames: motion length; default ``features.num_frames``.
        skeleton: rest skeleton; the default EDGE/MACE one when None.
    Returns:
        (Motion with contacts and metadata, the placements that made it).
    """
    ctx = ensure_context(ctx)
    ctx.report(0.0, "planning the choreography")
    planner = Planner(features, seed=seed, genre=genre)
    placements = planner.plan()
    ctx.check_cancelled()
    ctx.report(0.5, "posing the dancer")
    num_frames = int(num_frames or features.num_frames)
    times = np.arange(num_frames) / features.fps
    rig, groove = DanceRig(skeleton), planner.groove_gain(times)

    # Posed, then kept within real dancers' joint speeds (smaller moves, retimed within beats); each of the
    # limiter's passes solves the rig again only where it changed the dance.
    pose = Renderer(rig, groove=groove, hit_tangent=planner.hit_tangent, shape=planner.style.groove)
    (poses, trans, contacts, _), placements, _ = render_within_limits(
        placements, planner.grid.position(times), pose, features.fps
    )
    motion = Motion(
        poses=poses.astype(np.float32),
        trans=trans.astype(np.float32),
        fps=features.fps,
        contacts=contacts,
        metadata={
            "generator": ChoreographerGenerator.name,
            "seed": int(seed) if isinstance(seed, (int, np.integer)) else str(seed.entropy),
            "tempo": float(features.tempo),
            "genre": genre or "",
            "moves": [p.move.name for p in placements],
        },
    )
    ctx.report(1.0, "dance ready")
    return motion, placements


class ChoreographerGenerator:
    """Beat-synchronous choreography from a library of authored moves; runs anywhere.

    With ``mocap`` (a folder of the user's dance takes) it dances segments of those takes instead, cut on
    their motion beats and retimed to the music's (:mod:`.motion_graph`); the library is read once.
    """

    name = "choreographer"
    reason = "the embedded default"  # why it dances; backend.generators says more

    def __init__(self, skeleton: Skeleton | None = None, mocap: str | Path | None = None):
        self.skeleton = skeleton
        self.mocap = Path(mocap) if mocap is not None else None
        self._graph: MotionGraph | None = None

    def motion_graph(self) -> MotionGraph:
        """The motion graph of the mocap folder (built on first use)."""
        if self._graph is None:
            clips = load_library(self.mocap)
            try:
                self._graph = MotionGraph.build(clips)
            except ValueError as exc:
                raise InvalidInputError(f"{self.mocap}: {exc}", hint="add longer dance takes") from exc
        return self._graph

    def generate(self, request: MotionRequest, ctx: JobContext | None = None) -> MotionResult:
        """Analyse the request's music and dance to it (honouring ``keep``, ``genre``, start and duration)."""
        ctx = ensure_context(ctx)
        index = genre_index(request.genre)
        genre = None if index is None else GENRES[index]
        keep = request.keep
        duration = regenerated_span(keep, request.duration_s)
        features = analyze_music(
            request.audio_path, start_s=request.start_s, duration_s=duration, ctx=ctx.subrange(0.0, 0.7)
        )
        ctx.check_cancelled()
        # Regenerating a selection must not replay the dance it replaces: salt the seed.
        seed = np.random.SeedSequence([int(request.seed), 1]) if keep is not None else int(request.seed)
        num_frames = None if keep is None else int(round(duration * features.fps))
        if self.mocap is not None:
            ctx.report(0.7, "dancing segments of your mocap")
            motion, _ = graph_choreograph(features, self.motion_graph(), seed=seed, num_frames=num_frames)
            motion.metadata.update(generator=self.name, mode="motion_graph", mocap=str(self.mocap))
        else:
            motion, _ = choreograph(
                features, seed=seed, genre=genre, num_frames=num_frames, skeleton=self.skeleton,
                ctx=ctx.subrange(0.7, 0.95),
            )
        motion.metadata.update(
            seed=int(request.seed), music=Path(request.audio_path).name, start_s=float(request.start_s)
        )
        if keep is not None:
            if abs(keep.motion.fps - motion.fps) > 1e-6:
                motion = motion.resample(keep.motion.fps)
            motion = apply_keep(motion, keep)
        ctx.report(1.0, "dance ready")
        return MotionResult(motion=motion, beats=features.beat_times.copy(), tempo=features.tempo, generator=self.name)

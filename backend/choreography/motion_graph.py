"""A data-driven default: dance to music by recombining the user's own motion capture (no training).

In the tradition of music-driven motion graphs (Kim et al. 2003; ChoreoMaster, 2021):

1. **Segments cut on motion beats.** Each take's kinematic beats (local minima of the smoothed mean joint
   speed — the evaluation package's ``motion_beats``) cut it into segments of one movement beat.
2. **Transitions where poses and velocities match.** Segment *a* may be followed by segment *b* when the
   pose (root-relative joints in the root's heading frame) and joint velocities at *a*'s end are close to
   those at *b*'s start; the take's own next segment always may.
3. **Planned by the same planner.** The choreographer's :class:`~.planner.Planner` supplies the beat grid
   (bar-aligned), loudness and sections: louder music picks faster segments; a section whose music repeats
   an earlier one repeats its segment sequence when it can.
4. **Retimed to the music's beats**: each segment spans the fewest music beats (1-4) that play it no faster
   than it was captured, so every motion beat lands on a music beat and the dance is never faster than
   the takes; louder music then picks livelier segments rather than speeding them up.
5. **Blended**: at a jump to another place in the library the pose difference is faded out over
   ``BLEND_FRAMES`` (rotations by slerp, height linearly) and the root continues from where it was,
   turned to the dancer's current heading.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from backend.evaluation.beat_align import motion_beats
from backend.evaluation.protocol import CLEAN
from backend.features import MusicFeatures
from shared.motion import Motion
from shared.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    quaternion_multiply,
    quaternion_slerp,
    quaternion_to_axis_angle,
)
from shared.skeleton import FOOT_JOINTS, LEFT_HIP, NUM_JOINTS, RIGHT_HIP

from .mocap import Clip
from .planner import Planner, tied_ranks

#: Segment length bounds, seconds: shorter motion beats are merged, longer gaps split evenly.
MIN_SEGMENT_S, MAX_SEGMENT_S = 0.25, 1.1
#: A segment is never played faster than captured (nor slower than 1 / ``MAX_SLOWDOWN`` of it), so the dance
#: is never faster than the takes it comes from.
MAX_SPEEDUP, MAX_SLOWDOWN = 1.0, 2.5
#: Beats drift a little around their local length: keep this margin under ``MAX_SPEEDUP``.
SPEEDUP_MARGIN = 0.97
#: Frames over which the pose difference at a jump is faded out.
BLEND_FRAMES = 12
#: Allowed jumps: at most this share of all segment pairs (the closest ones), at least ``MIN_EXITS`` per segment.
JUMP_SHARE, MIN_EXITS = 0.03, 3
#: Largest turn (radians) towards centre stage added at a jump.
MAX_REAIM = np.pi / 4
#: Weight of velocity against pose in the transition cost (both metres; velocity per frame × this).
VELOCITY_WEIGHT = 10.0
#: Recently used segments are avoided for this many picks.
RECENT = 12
#: The dancer's root turns back towards centre stage beyond this distance, metres.
STAGE_RADIUS = 1.5


@dataclass(frozen=True)
class Segment:
    """Frames ``start`` … ``end`` (both beats) of clip ``clip``."""

    clip: int
    start: int
    end: int
    speed: float  # mean joint speed over the segment, m/s

    @property
    def frames(self) -> int:
        return self.end - self.start


@dataclass
class MotionGraph:
    """Segments of a mocap library and the allowed transitions between them."""

    clips: list[Clip]
    fps: float
    segments: list[Segment]
    successors: list[np.ndarray]  # per segment: indices of segments that may follow
    costs: list[np.ndarray]  # matching transition costs (0 for the take's own next segment)
    natural: list[int]  # the take's own next segment, or -1
    quats: list[np.ndarray] = field(repr=False, default_factory=list)  # per clip (T, 24, 4)
    speed_p999: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(NUM_JOINTS))

    @classmethod
    def build(cls, clips: list[Clip]) -> "MotionGraph":
        """Cut the takes into beat segments and find the transitions (all takes must share one frame rate)."""
        fps = clips[0].motion.fps
        segments: list[Segment] = []
        starts_desc, ends_desc = [], []
        speeds = []
        for c, clip in enumerate(clips):
            joints = clip.motion.joint_positions()
            speed = np.linalg.norm(np.diff(joints, axis=0), axis=-1) * fps  # (T-1, J)
            speeds.append(speed)
            descriptor = _descriptors(joints)
            for a, b in _beat_cuts(joints, fps):
                segments.append(Segment(c, a, b, float(speed[a:b].mean())))
                starts_desc.append(descriptor[a])
                ends_desc.append(descriptor[b])
        if len(segments) < 2:
            raise ValueError("the library is too short to cut into beat segments")
        start, end = np.stack(starts_desc), np.stack(ends_desc)
        cost = ((end[:, None] - start[None]) ** 2).sum(axis=-1)  # (S, S)
        natural = [-1] * len(segments)
        index = {(s.clip, s.start): i for i, s in enumerate(segments)}
        for i, s in enumerate(segments):
            natural[i] = index.get((s.clip, s.end), -1)
        np.fill_diagonal(cost, np.inf)  # never repeat a segment straight away
        finite = cost[np.isfinite(cost)]
        threshold = np.quantile(finite, JUMP_SHARE) if finite.size else np.inf
        successors, costs = [], []
        for i in range(len(segments)):
            row = cost[i].copy()
            allowed = np.flatnonzero(row <= threshold)
            if len(allowed) < MIN_EXITS:
                allowed = np.argsort(row)[:MIN_EXITS]
            if natural[i] >= 0:
                row[natural[i]] = 0.0
                allowed = np.union1d(allowed, [natural[i]])
            successors.append(allowed)
            costs.append(row[allowed])
        quats = [axis_angle_to_quaternion(clip.motion.poses) for clip in clips]
        p999 = np.percentile(np.concatenate(speeds), 99.9, axis=0)
        return cls(clips, fps, segments, successors, costs, natural, quats, p999)


def _heading(joints: np.ndarray) -> np.ndarray:
    """(T, J, 3) → (T,) yaw of the body's forward direction (from the hips), radians, about +Y."""
    across = joints[:, LEFT_HIP] - joints[:, RIGHT_HIP]  # towards the body's left (+X in SMPL's frame)
    forward = np.stack([-across[:, 2], np.zeros(len(across)), across[:, 0]], axis=1)  # up × left... = +Z
    return np.arctan2(forward[:, 0], forward[:, 2])


def _yaw_matrix(angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros(np.shape(angle) + (3, 3))
    out[..., 0, 0], out[..., 0, 2], out[..., 1, 1], out[..., 2, 0], out[..., 2, 2] = c, s, 1.0, -s, c
    return out


def _descriptors(joints: np.ndarray) -> np.ndarray:
    """(T, J, 3) → (T, D): root-relative joints and joint velocities, in the root's heading frame."""
    undo = np.swapaxes(_yaw_matrix(_heading(joints)), -1, -2)  # world → heading frame
    local = np.einsum("tij,tkj->tki", undo, joints - joints[:, :1])
    velocity = np.gradient(joints, axis=0)
    local_velocity = np.einsum("tij,tkj->tki", undo, velocity)
    return np.concatenate([local.reshape(len(joints), -1), VELOCITY_WEIGHT * local_velocity.reshape(len(joints), -1)], 1)


def _beat_cuts(joints: np.ndarray, fps: float) -> list[tuple[int, int]]:
    """Consecutive (start, end) frames between the take's motion beats, within the segment length bounds."""
    protocol = CLEAN.with_overrides(fps=fps)
    beats = np.round(motion_beats(joints, protocol) * fps).astype(np.int64)
    beats = np.unique(np.clip(beats, 1, len(joints) - 2))
    shortest, longest = int(round(MIN_SEGMENT_S * fps)), int(round(MAX_SEGMENT_S * fps))
    cuts = [int(beats[0])] if len(beats) else [1]
    for b in list(beats[1:]) + [len(joints) - 2]:
        gap = b - cuts[-1]
        if gap < shortest:
            continue
        pieces = int(np.ceil(gap / longest))
        cuts += [cuts[-1] + int(round(gap * k / pieces)) for k in range(1, pieces + 1)]
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b - a >= shortest]


@dataclass(frozen=True)
class Pick:
    """A segment placed on the music: from grid beat ``beat`` for ``beats`` beats."""

    segment: int
    beat: int
    beats: int
    jump: bool  # reached by a blended jump (not the take's own continuation)


def plan_graph(graph: MotionGraph, planner: Planner, duration: float) -> list[Pick]:
    """Segments covering the music from its first bar to past ``duration``, each on 1-4 whole beats."""
    grid, rng, fps = planner.grid, planner.rng, graph.fps
    speeds = np.array([s.speed for s in graph.segments])
    lengths = np.array([s.frames / fps for s in graph.segments])
    start = grid.bar_start_at_or_before(0.0)
    end = float(grid.position(np.array([duration]))[0]) + 1
    section_starts, labels = planner.sections_on_bars(start)
    section_of = lambda beat: int(np.searchsorted(section_starts, beat, side="right") - 1)  # noqa: E731
    loudness = planner.loudness
    speed_rank = tied_ranks(speeds)

    picks: list[Pick] = []
    recent: list[int] = []
    sequences: dict[int, list[int]] = {}
    replay: list[int] = []
    beat, current = start, -1
    section = -1
    while beat < end:
        if section_of(beat) != section:
            section = section_of(beat)
            label = labels[section]
            replay = list(sequences.get(label, []))
            sequences.setdefault(label, [])
            new_label = not replay
        t, t_next = grid.time(np.array([beat, beat + 1.0]))
        # Beats per segment here: the fewest that play it no faster than captured (local beat length).
        beats_of = np.clip(np.ceil(lengths / ((t_next - t) * SPEEDUP_MARGIN * MAX_SPEEDUP) - 1e-9), 1, 4)
        playable = lengths / (beats_of * (t_next - t)) >= 1.0 / MAX_SLOWDOWN
        if not playable.any():
            playable[:] = True  # music far slower than every take: play the closest ones anyway
        frame = int(np.clip(round(t * planner.features.fps), 0, len(loudness) - 1))
        target = float(loudness[frame])
        choice = -1
        if replay and current >= 0 and replay[0] in graph.successors[current] and playable[replay[0]]:
            choice = replay.pop(0)
        else:
            replay = []
            if current < 0:
                candidates, trans = np.flatnonzero(playable), np.zeros(int(playable.sum()))
            else:
                candidates, trans = graph.successors[current], graph.costs[current]
                keep = playable[candidates]
                if keep.any():
                    candidates, trans = candidates[keep], trans[keep]
            scale = np.median(trans[trans > 0]) if (trans > 0).any() else 1.0
            score = (
                trans / scale
                + 16.0 * (speed_rank[candidates] - target) ** 2
                + np.isin(candidates, recent) * 3.0
                + rng.gumbel(size=len(candidates)) * 0.5
            )
            choice = int(candidates[int(np.argmin(score))])
        if new_label:
            sequences[labels[section]].append(choice)
        jump = current < 0 or graph.natural[current] != choice
        picks.append(Pick(choice, beat, int(beats_of[choice]), jump))
        recent = (recent + [choice])[-RECENT:]
        current = choice
        beat += int(beats_of[choice])
    return picks


def render_graph(graph: MotionGraph, picks: list[Pick], planner: Planner, num_frames: int) -> Motion:
    """Sample the picked segments on the music's beat times, aligned, blended and grounded."""
    fps = planner.features.fps
    times = np.arange(num_frames) / fps
    positions = planner.grid.position(times)
    quats = np.zeros((num_frames, NUM_JOINTS, 4))
    trans = np.zeros((num_frames, 3))
    root_pos = np.zeros(2)  # (x, z) where the next segment starts
    heading = 0.0
    previous_end: tuple[np.ndarray, float] | None = None  # (quats (J, 4), height) at the last segment's end
    for pick in picks:
        seg = graph.segments[pick.segment]
        lo = int(np.searchsorted(positions, pick.beat, side="left"))
        hi = int(np.searchsorted(positions, pick.beat + pick.beats, side="left"))
        clip_quats = graph.quats[seg.clip]
        clip_trans = graph.clips[seg.clip].motion.trans
        src_heading = _root_heading(clip_quats[seg.start, 0])
        turn = heading - src_heading
        if pick.jump and np.hypot(*root_pos) > STAGE_RADIUS:
            # Far out: face the segment's travel back towards centre stage.
            travel = clip_trans[seg.end, [0, 2]] - clip_trans[seg.start, [0, 2]]
            if np.hypot(*travel) > 0.1:
                want = np.arctan2(-root_pos[0], -root_pos[1]) - np.arctan2(travel[0], travel[1])
                extra = np.angle(np.exp(1j * (want - turn)))  # wrapped to (-π, π]
                turn = turn + float(np.clip(extra, -MAX_REAIM, MAX_REAIM))
        yaw_q = np.array([np.cos(turn / 2), 0.0, np.sin(turn / 2), 0.0])
        start_q = clip_quats[seg.start].copy()
        start_q[0] = quaternion_multiply(yaw_q, start_q[0])
        start_height = clip_trans[seg.start, 1]
        if lo < hi:
            phase = (positions[lo:hi] - pick.beat) / pick.beats  # 0 … <1 through the segment
            src = seg.start + phase * seg.frames
            a = np.floor(src).astype(np.int64)
            b = np.minimum(a + 1, len(clip_quats) - 1)
            w = src - a
            q = quaternion_slerp(clip_quats[a], clip_quats[b], np.repeat(w[:, None], NUM_JOINTS, 1))
            q[:, 0] = quaternion_multiply(np.broadcast_to(yaw_q, (len(q), 4)), q[:, 0])
            p = clip_trans[a] * (1 - w[:, None]) + clip_trans[b] * w[:, None]
            rot = _yaw_matrix(np.array(turn))
            moved = (p - clip_trans[seg.start]) @ rot.T
            out_t = np.column_stack([root_pos[0] + moved[:, 0], p[:, 1], root_pos[1] + moved[:, 2]])
            if pick.jump and previous_end is not None:
                # Fade the pose and height difference at the jump out over BLEND_FRAMES.
                end_q, end_height = previous_end
                offset = quaternion_multiply(end_q, _conjugate(start_q))  # (J, 4)
                k = np.arange(len(q))
                fade = 1.0 - _smoothstep(np.clip(k / BLEND_FRAMES, 0.0, 1.0))
                identity = np.broadcast_to(np.array([1.0, 0, 0, 0]), offset.shape)
                partial = quaternion_slerp(identity, offset, np.repeat(fade[:, None], NUM_JOINTS, 1))
                q = quaternion_multiply(partial, q)
                out_t[:, 1] += (end_height - start_height) * fade
            quats[lo:hi], trans[lo:hi] = q, out_t
        end_q = clip_quats[seg.end].copy()
        end_q[0] = quaternion_multiply(yaw_q, end_q[0])
        previous_end = (end_q, float(clip_trans[seg.end, 1]))
        travel = (clip_trans[seg.end] - clip_trans[seg.start]) @ _yaw_matrix(np.array(turn)).T
        root_pos = root_pos + travel[[0, 2]]
        heading = _root_heading(end_q[0])
    poses = quaternion_to_axis_angle(quats)
    motion = Motion(poses=poses, trans=trans, fps=fps)
    joints = motion.joint_positions()
    floor = np.percentile(joints[:, [10, 11], 1], 2)
    trans[:, 1] -= floor
    joints[..., 1] -= floor
    contacts = _contacts(joints, fps)
    return Motion(poses=poses.astype(np.float32), trans=trans.astype(np.float32), fps=fps, contacts=contacts)


def _root_heading(root_quat: np.ndarray) -> float:
    """Yaw (about +Y) of the pelvis' forward (+Z) axis, radians."""
    forward = axis_angle_to_matrix(quaternion_to_axis_angle(root_quat))[..., :, 2]
    return float(np.arctan2(forward[0], forward[2]))


def _conjugate(q: np.ndarray) -> np.ndarray:
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def _smoothstep(x: np.ndarray) -> np.ndarray:
    return x * x * (3.0 - 2.0 * x)


def _contacts(joints: np.ndarray, fps: float) -> np.ndarray:
    """(T, 4) EDGE-order foot contacts: the joint is low (< 8 cm) and slow (< 0.3 m/s)."""
    feet = joints[:, list(FOOT_JOINTS)]
    speed = np.linalg.norm(np.gradient(feet, axis=0), axis=-1) * fps
    return ((feet[..., 1] < 0.08) & (speed < 0.3)).astype(np.float32)


def graph_choreograph(
    features: MusicFeatures, graph: MotionGraph, *, seed=0, num_frames: int | None = None
) -> tuple[Motion, list[Pick]]:
    """A dance on ``features`` made of the library's segments (see the module docstring)."""
    planner = Planner(features, seed=seed)
    num_frames = int(num_frames or features.num_frames)
    picks = plan_graph(graph, planner, num_frames / features.fps)
    motion = render_graph(graph, picks, planner, num_frames)
    motion.metadata.update(
        segments=[
            [graph.clips[graph.segments[p.segment].clip].name, graph.segments[p.segment].start,
             graph.segments[p.segment].end, p.beat, p.beats]
            for p in picks
        ],  # fmt: skip
        jumps=int(sum(p.jump for p in picks)),
    )
    return motion, picks


__all__ = ["MotionGraph", "Pick", "Segment", "graph_choreograph", "plan_graph", "render_graph"]

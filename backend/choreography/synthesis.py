"""From planned moves to SMPL motion: key timeline → smooth parameter curves → rig → grounded Motion.

All placed moves' keys go on one timeline in *beat* units, and one piecewise cubic Hermite curve per pose
parameter runs through them. Because the curves are C¹ everywhere, move boundaries have no velocity pop;
keys marked ``hit`` keep only 15-45 % of their Catmull-Rom tangent (``hit_tangent``, drawn per dancer by the
planner), so the body brakes hard on those beats, a velocity minimum without a dead stop (the kinematic
beats a viewer, and the Beat Align Score, look for). Eased parameters (the feet) do stop: zero tangent. Frames are sampled at the music's (slightly wandering) beat
times through a monotone cubic map from seconds to beat position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.kinematics import forward_kinematics
from shared.skeleton import FOOT_JOINTS, LEFT_FOOT, RIGHT_FOOT

from .moves import Move
from .rig import EASE, NEUTRAL, PARAM_INDEX, SCALES, DanceRig, clamp_params
from .styles import GrooveShape

#: Lowest and highest lift of an automatic step arc, metres (scaled with the step length in between).
STEP_ARC_MIN, STEP_ARC_MAX = 0.06, 0.12
#: Depth of the on-beat knee bounce (metres) and head nod (degrees) layered under every move; the bounce
#: deepens by ``PULSE_DROP_LOUD`` × gain² more on loud music (the knees, not the arms, carry the groove).
PULSE_DROP, PULSE_DROP_LOUD, PULSE_NOD = 0.05, 0.07, 6.0
#: Side-to-side weight shift of the groove: pelvis (metres), hip roll, hip twist into the standing leg and
#: counter chest twist (degrees), and the pelvis tucking under on the beat (degrees of hip pitch).
PULSE_SWAY, PULSE_ROLL, PULSE_HIP_TWIST, PULSE_TWIST, PULSE_TUCK = 0.08, 7.0, 11.0, 14.0, 4.0
#: Stepping in the groove: where the move leaves both feet planted and the music is loud (gain above
#: ``PULSE_STEP_GAIN``), the foot the weight leaves lifts this high (metres, at full gain) and re-plants on
#: the next beat, as the weight arrives on it.
PULSE_STEP_LIFT, PULSE_STEP_GAIN = 0.13, 0.7
#: Stepping out: on louder music (gain above ``PULSE_OUT_GAIN``) a four-beat block in which the move keeps both
#: feet planted becomes a side step: one foot steps out (up to ``PULSE_STEP_OUT`` metres at full gain) and the
#: weight follows it, the other foot lifts in place, the first steps back in, the other lifts again. The
#: pelvis rides the stance centre; blocks alternate which foot steps out.
PULSE_STEP_OUT, PULSE_OUT_GAIN = 0.36, 0.8
#: Elbow pump on the beat and forward/back arm swing with the weight shift (degrees).
PULSE_ELBOW, PULSE_ARM_SWING = 20.0, 20.0
#: Arm carriage of the groove: the louder the music, the more the arms are held up off the body and bent
#: (degrees of raise and elbow flexion per unit of groove gain), instead of hanging.
CARRY_RAISE, CARRY_ELBOW = 10.0, 25.0
#: Hit keys keep this share of their Catmull-Rom tangent: the body brakes hard on the beat (a clear
#: kinematic beat) without the dead stop of a zero tangent, which looks robotic. (The default; each
#: planned dancer has its own between 0.15, punchy, and 0.45, smooth.)
HIT_TANGENT_SCALE = 0.3
#: Follow-through: these parameters lag the body by this many frames (shoulders, then elbows, then wrists).
FOLLOW_THROUGH_FRAMES: dict[float, tuple[str, ...]] = {
    1.0: ("l_raise", "l_fwd", "r_raise", "r_fwd", "head_nod", "head_turn", "head_tilt"),
    2.0: ("l_elbow", "r_elbow", "l_twist", "r_twist"),
    3.0: ("l_wrist", "r_wrist"),
}
#: A foot counts as planted while its lift is below this, metres.
PLANT_EPS = 1e-3


@dataclass(frozen=True)
class Placement:
    """One move put on the music.

    Attributes:
        move: the move (already mirrored when the plan asks for the other side).
        start_beat: beat-grid position of the move's beat 0.
        scale: grid beats per move beat (2 = half time).
        amplitude: 1 = as authored; scales every body deviation from the ready stance.
        origin: (x, z) stage position of the move's origin, metres.
        facing: facing at the move's start, degrees (a whole number of turns).
    """

    move: Move
    start_beat: float
    scale: float = 1.0
    amplitude: float = 1.0
    origin: tuple[float, float] = (0.0, 0.0)
    facing: float = 0.0

    @property
    def end_beat(self) -> float:
        return self.start_beat + self.move.beats * self.scale

    def keys(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The move's keys on the grid, in the stage frame: beats (K,), values (K, P), hit (K,) (read-only:
        computed once per placement; the speed limiter renders the same placements again and again)."""
        cached = self.__dict__.get("_keys")
        if cached is None:
            cached = self._place_keys()
            for array in cached:
                array.flags.writeable = False
            self.__dict__["_keys"] = cached  # a frozen dataclass still has a plain __dict__
        return cached

    def _place_keys(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        beats, values, hits = self.move.resolved()
        values = np.where(SCALES, NEUTRAL + self.amplitude * (values - NEUTRAL), values)
        yaw = np.deg2rad(self.facing)
        cos, sin = np.cos(yaw), np.sin(yaw)
        for xn, zn in (("root_x", "root_z"), ("lf_x", "lf_z"), ("rf_x", "rf_z")):
            x, z = values[:, PARAM_INDEX[xn]].copy(), values[:, PARAM_INDEX[zn]].copy()
            values[:, PARAM_INDEX[xn]] = self.origin[0] + cos * x + sin * z
            values[:, PARAM_INDEX[zn]] = self.origin[1] - sin * x + cos * z
        values[:, PARAM_INDEX["facing"]] += self.facing
        return self.start_beat + beats * self.scale, clamp_params(values), hits


def end_state(placement: Placement) -> tuple[tuple[float, float], float]:
    """Stage origin and facing where ``placement`` leaves the dancer."""
    _, values, _ = placement.keys()
    last = values[-1]
    return (float(last[PARAM_INDEX["root_x"]]), float(last[PARAM_INDEX["root_z"]])), float(
        last[PARAM_INDEX["facing"]]
    )


def timeline(placements: list[Placement]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All keys of consecutive placements; where one move ends and the next begins, the next one's key wins."""
    beats, values, hits = [], [], []
    for placement in placements:
        b, v, h = placement.keys()
        if beats and abs(beats[-1][-1] - b[0]) < 1e-9:
            beats[-1], values[-1], hits[-1] = beats[-1][:-1], values[-1][:-1], hits[-1][:-1]
        beats.append(b)
        values.append(v)
        hits.append(h)
    return np.concatenate(beats), np.concatenate(values), np.concatenate(hits)


def hermite(
    knots: np.ndarray,
    values: np.ndarray,
    hits: np.ndarray,
    query: np.ndarray,
    ease: np.ndarray = EASE,
    hit_tangent: float = HIT_TANGENT_SCALE,
) -> np.ndarray:
    """C¹ piecewise cubic through keys: Catmull-Rom tangents, shrunk at hit keys, zero for eased columns.

    Args:
        knots: (K,) increasing beat positions; values: (K, P); hits: (K,) bool; query: (Q,) beat positions;
        ease: (P,) bool, columns that always ease in and out.
        hit_tangent: share of the Catmull-Rom tangent kept at hit keys (smaller = harder hits).
    Returns:
        (Q, P) float64.
    """
    tangents = np.zeros_like(values)
    if len(knots) > 2:
        tangents[1:-1] = (values[2:] - values[:-2]) / (knots[2:] - knots[:-2])[:, None]
    tangents[hits] *= hit_tangent
    tangents[:, ease] = 0.0
    index = np.clip(np.searchsorted(knots, query, side="right") - 1, 0, len(knots) - 2)
    width = knots[index + 1] - knots[index]
    s = np.clip((query - knots[index]) / width, 0.0, 1.0)[:, None]
    s2, s3 = s * s, s * s * s
    return (
        (2 * s3 - 3 * s2 + 1) * values[index]
        + (s3 - 2 * s2 + s) * width[:, None] * tangents[index]
        + (-2 * s3 + 3 * s2) * values[index + 1]
        + (s3 - s2) * width[:, None] * tangents[index + 1]
    )


def add_pulse(
    curves: np.ndarray, beat_positions: np.ndarray, gain: np.ndarray | float = 1.0, shape: GrooveShape = GrooveShape()
) -> None:
    """The dancer's groove under every move: knees sink into each music beat and rise on the "and",
    and the head nods with them (in place). Even half-time moves then show every beat. ``gain`` (T,) or
    scalar scales the whole groove (deeper when the music is loud); ``shape`` is the genre's groove (bounce
    depth, weight shift, how sharply the body snaps into the beat, how much the arms ride it)."""
    gain = np.asarray(gain, dtype=np.float64)
    # Where the move itself lifts a foot (kicks, knee lifts) it owns the weight and the depth: the groove's
    # weight shift and extra bounce fade out smoothly there (never leaning onto, or sinking under, the
    # lifted leg).
    move_lift = np.maximum(curves[:, PARAM_INDEX["lf_lift"]], curves[:, PARAM_INDEX["rf_lift"]])
    u = np.clip(move_lift / 0.1, 0.0, 1.0)
    free = 1.0 - u * u * (3.0 - 2.0 * u)
    # The extra loud bounce also fades where the move already sits deep (lunges, squats): knees that are
    # bent far already cannot sink much further without the feet leaving the floor.
    d = np.clip((curves[:, PARAM_INDEX["drop"]] - NEUTRAL[PARAM_INDEX["drop"]] - 0.08) / 0.17, 0.0, 1.0)
    sink = free * (1.0 - d * d * (3.0 - 2.0 * d))
    on_beat = 0.5 * (1.0 + np.cos(2.0 * np.pi * beat_positions))  # 1 on the beat, 0 on the "and"
    down = gain * on_beat**shape.sharpness  # sharper: a snap into the beat, floating in between
    curves[:, PARAM_INDEX["drop"]] += shape.bounce * (PULSE_DROP + PULSE_DROP_LOUD * gain * sink) * down
    curves[:, PARAM_INDEX["head_nod"]] += shape.bounce * PULSE_NOD * down
    curves[:, PARAM_INDEX["hip_pitch"]] -= shape.bounce * PULSE_TUCK * down
    # Weight shifts from foot to foot, one beat each (extremes on the beats, so velocity minima stay there):
    # the hips sway, roll and turn into the standing leg, the chest turns against them.
    side = shape.sway * gain * np.cos(np.pi * beat_positions) * free
    curves[:, PARAM_INDEX["sway"]] += PULSE_SWAY * side
    curves[:, PARAM_INDEX["hip_roll"]] += PULSE_ROLL * side
    curves[:, PARAM_INDEX["hip_twist"]] += PULSE_HIP_TWIST * side
    curves[:, PARAM_INDEX["chest_twist"]] -= PULSE_TWIST * side
    # The arms ride the groove: carried higher when loud, elbows pump into the beat, the arms swing against
    # the weight shift.
    for arm, sign in (("l", 1.0), ("r", -1.0)):
        curves[:, PARAM_INDEX[f"{arm}_elbow"]] += shape.arms * (PULSE_ELBOW * down + CARRY_ELBOW * gain)
        curves[:, PARAM_INDEX[f"{arm}_raise"]] += shape.arms * CARRY_RAISE * gain
        curves[:, PARAM_INDEX[f"{arm}_fwd"]] += shape.arms * sign * PULSE_ARM_SWING * side


def add_groove_steps(curves: np.ndarray, beat_positions: np.ndarray, gain: np.ndarray | float) -> None:
    """On livelier music, step with the weight shift: over each beat whose move keeps both feet planted and
    still, the foot the weight leaves (the right one after the even beats, when the weight is on the left)
    lifts and lands again on the next beat; where a whole four-beat block qualifies and the music is loud,
    the lifts become a step out and back in (``PULSE_STEP_OUT``), the pelvis following the stance centre.
    Each lift is a sin² bump that starts and ends at rest, and a foot moves sideways only in the middle of
    its lift, so cutting per beat keeps the curves C¹ and a foot on the floor never drags or skates."""
    gain = np.broadcast_to(np.asarray(gain, dtype=np.float64), beat_positions.shape)
    height = PULSE_STEP_LIFT * np.clip((gain - PULSE_STEP_GAIN) / 0.4, 0.0, 1.0)
    beat = np.floor(beat_positions).astype(np.int64)
    frac = beat_positions - beat
    bump = np.sin(np.pi * np.clip((frac - 0.1) / 0.85, 0.0, 1.0)) ** 2  # up after the beat, down by the next
    feet = {p: [PARAM_INDEX[f"{p}_{n}"] for n in ("x", "z", "lift")] for p in ("lf", "rf")}
    # Frames where the move itself keeps both feet planted and in place.
    still = np.ones(len(beat_positions), dtype=bool)
    for x, z, lift in feet.values():
        moved = np.hypot(np.gradient(curves[:, x]), np.gradient(curves[:, z])) if len(curves) > 1 else np.zeros(1)
        still &= (curves[:, lift] < PLANT_EPS) & (moved < 1e-4)
    if not still.any():
        return
    # A beat qualifies only when every frame of it is still (so a bump is never cut mid-air).
    first = beat.min()
    qualifies = np.ones(beat.max() - first + 1, dtype=bool)
    np.logical_and.at(qualifies, beat - first, still)
    # The first and last beats of the clip may be partial: no bump there (it could start or end mid-air).
    qualifies[[0, -1]] = False
    active = qualifies[beat - first] & (height > 0)
    right_lifts = beat % 2 == 0
    for prefix, lifts in (("rf", right_lifts), ("lf", ~right_lifts)):
        lift = feet[prefix][2]
        curves[:, lift] += np.where(active & lifts, height * bump, 0.0)
    _step_out(curves, beat, frac, bump, gain, qualifies[beat - first], feet)


def _step_out(curves: np.ndarray, beat: np.ndarray, frac: np.ndarray, bump: np.ndarray, gain: np.ndarray,
              qualifies: np.ndarray, feet: dict[str, list[int]]) -> None:
    """Runs of qualifying beats on loud music, cut into four-beat blocks: the foot that lifts on a block's
    first beat steps out and lands wide, and steps back in two beats later; every other block the other
    foot steps, a beat later (see :func:`add_groove_steps`)."""
    first = beat.min()
    beats = np.arange(first, beat.max() + 1)
    phase = np.full(len(beats), -1)  # position in a whole block, -1 outside one
    block_index = np.zeros(len(beats), dtype=np.int64)
    run_start = None
    for i, ok in enumerate(np.append(qualifies_per_beat(beat, qualifies, len(beats)), False)):
        if ok and run_start is None:
            run_start = i
        elif not ok and run_start is not None:
            whole = (i - run_start) // 4 * 4  # beats of the run in whole blocks
            phase[run_start : run_start + whole] = np.arange(whole) % 4
            block_index[run_start : run_start + whole] = np.arange(whole) // 4
            run_start = None
    index = beat - first
    in_block = phase[index] >= 0
    # Block loudness: the mean groove gain over the block's frames.
    block_id = np.where(in_block, (index - phase[index]), -1)
    loud = np.zeros(len(beats))
    counts = np.zeros(len(beats))
    np.add.at(loud, block_id[in_block], gain[in_block])
    np.add.at(counts, block_id[in_block], 1.0)
    loud = np.divide(loud, counts, out=np.zeros_like(loud), where=counts > 0)
    out = PULSE_STEP_OUT * np.clip((loud[np.maximum(block_id, 0)] - PULSE_OUT_GAIN) / 0.3, 0.0, 1.0) * in_block
    if not (out > 0).any():
        return
    # Sideways progress only in the middle half of the lift, eased: the foot is up before it travels.
    s = np.clip((frac - 0.1 - 0.2125) / 0.425, 0.0, 1.0)
    progress = s * s * (3.0 - 2.0 * s)
    # The foot lifting on the block's first beat steps; on odd blocks the other one, from the second beat.
    other = block_index[index] % 2 == 1
    shift = phase[index] - other  # 0: stepping out, 1: out, 2: stepping in, else home
    reach = np.select([shift == 0, shift == 1, shift == 2], [progress, 1.0, 1.0 - progress], 0.0) * out
    start_right = (beat - phase[index]) % 2 == 0  # the right foot lifts on even beats
    right_steps = start_right != other
    yaw = np.deg2rad(curves[:, PARAM_INDEX["facing"]])
    side_x, side_z = np.cos(yaw), -np.sin(yaw)  # the body's left in the stage frame
    for prefix, steps, sign in (("rf", right_steps, -1.0), ("lf", ~right_steps, 1.0)):
        x, z, lift = feet[prefix]
        offset = np.where(steps, sign * reach, 0.0)
        curves[:, x] += offset * side_x
        curves[:, z] += offset * side_z
        curves[:, PARAM_INDEX["root_x"]] += 0.5 * offset * side_x
        curves[:, PARAM_INDEX["root_z"]] += 0.5 * offset * side_z
        stepping = steps & ((shift == 0) | (shift == 2)) & (out > 0)
        curves[:, lift] = np.where(stepping, np.maximum(curves[:, lift], STEP_ARC_MIN * bump), curves[:, lift])


def qualifies_per_beat(beat: np.ndarray, frame_qualifies: np.ndarray, num_beats: int) -> np.ndarray:
    """(B,) per beat from the clip's first: True when every frame of that beat qualifies."""
    per_beat = np.ones(num_beats, dtype=bool)
    np.logical_and.at(per_beat, beat - beat.min(), frame_qualifies)
    return per_beat


def add_step_arcs(knots: np.ndarray, values: np.ndarray, query: np.ndarray, curves: np.ndarray) -> None:
    """Lift a foot in a smooth arc wherever it moves between two keys that both plant it (in place)."""
    index = np.clip(np.searchsorted(knots, query, side="right") - 1, 0, len(knots) - 2)
    s = np.clip((query - knots[index]) / (knots[index + 1] - knots[index]), 0.0, 1.0)
    for prefix in ("lf", "rf"):
        x, z, lift = (PARAM_INDEX[f"{prefix}_{n}"] for n in ("x", "z", "lift"))
        step = np.hypot(values[1:, x] - values[:-1, x], values[1:, z] - values[:-1, z])  # (K-1,)
        planted_ends = (values[:-1, lift] < PLANT_EPS) & (values[1:, lift] < PLANT_EPS)
        height = np.where(planted_ends & (step > 0.01), np.clip(0.35 * step, STEP_ARC_MIN, STEP_ARC_MAX), 0.0)
        curves[:, lift] += height[index] * np.sin(np.pi * s) ** 2
        # The foot rises before it travels and lands before it stops: horizontal progress runs over the
        # middle half of the step only, so a foot near the floor never drags.
        moving = height[index] > 0
        progress = np.clip((s - 0.25) / 0.5, 0.0, 1.0)
        progress = progress * progress * (3 - 2 * progress)
        for channel in (x, z):
            start, end = values[index, channel], values[index + 1, channel]
            curves[:, channel] = np.where(moving, start + (end - start) * progress, curves[:, channel])


def lock_foot_yaw(curves: np.ndarray) -> None:
    """Keep each foot's heading still while it is planted (no toe swivel) and turn it only in the air,
    easing over most of the swing."""
    facing = curves[:, PARAM_INDEX["facing"]]
    for prefix in ("lf", "rf"):
        yaw_i, lift_i = PARAM_INDEX[f"{prefix}_yaw"], PARAM_INDEX[f"{prefix}_lift"]
        heading = facing + curves[:, yaw_i]
        planted = curves[:, lift_i] < PLANT_EPS
        locked = heading.copy()
        starts, ends = _runs(planted)
        for a, b in zip(starts, ends):
            locked[a:b] = heading[a]
        # Swing phases blend from the heading the foot left with to the one it lands with.
        swing_starts, swing_ends = _runs(~planted)
        for a, b in zip(swing_starts, swing_ends):
            before = locked[a - 1] if a > 0 else heading[a]
            # Still in the air where the clip ends (mid-jump): towards the heading the body gives it there.
            after = locked[b] if b < len(locked) else heading[-1]
            # Mostly in the air, but over most of the swing: squeezed into a few frames a foot turn pops.
            s = np.clip(((np.arange(a, b) - a + 1) / (b - a + 1) - 0.15) / 0.7, 0.0, 1.0)
            locked[a:b] = before + (after - before) * (3 * s**2 - 2 * s**3)
        curves[:, yaw_i] = locked - facing


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start (inclusive) and end (exclusive) indices of the True runs of a 1-D mask."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    change = np.diff(padded)
    return np.flatnonzero(change == 1), np.flatnonzero(change == -1)


def dance_curves(
    placements: list[Placement],
    beat_positions: np.ndarray,
    groove: np.ndarray | float = 1.0,
    hit_tangent: float = HIT_TANGENT_SCALE,
    shape: GrooveShape = GrooveShape(),
) -> np.ndarray:
    """(T, P) pose-parameter curves of the planned dance at ``beat_positions`` (see :func:`render`)."""
    knots, values, hits = timeline(placements)
    curves = hermite(knots, values, hits, beat_positions, hit_tangent=hit_tangent)
    # Overlapping action: arms and head follow the body a few frames late, as in real movement, instead
    # of every joint stopping on the same frame.
    beats_per_frame = np.gradient(beat_positions) if len(beat_positions) > 1 else np.ones(1)
    for lag, names in FOLLOW_THROUGH_FRAMES.items():
        columns = [PARAM_INDEX[name] for name in names]
        lagged = hermite(
            knots, values[:, columns], hits, beat_positions - lag * beats_per_frame, EASE[columns], hit_tangent
        )
        curves[:, columns] = lagged
    add_pulse(curves, beat_positions, groove, shape)
    add_step_arcs(knots, values, beat_positions, curves)
    add_groove_steps(curves, beat_positions, groove)
    curves = clamp_params(curves)
    lock_foot_yaw(curves)
    return curves


def render(
    placements: list[Placement],
    beat_positions: np.ndarray,
    rig: DanceRig,
    groove: np.ndarray | float = 1.0,
    hit_tangent: float = HIT_TANGENT_SCALE,
    shape: GrooveShape = GrooveShape(),
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sample the planned dance.

    Args:
        placements: consecutive moves covering ``beat_positions``.
        beat_positions: (T,) grid beat position of each frame.
        rig: the skeleton's rig.
        groove: (T,) or scalar depth of the on-beat groove (1 = nominal).
        hit_tangent: how hard the body brakes at hit keys (see :func:`hermite`).
        shape: the genre's groove (see :func:`add_pulse`).
    Returns:
        poses (T, 24, 3) axis-angle, trans (T, 3) metres (feet on y = 0), contacts (T, 4) in EDGE order,
        joints (T, 24, 3) the joint positions on the rig's skeleton (for speed checks without another FK).
    """
    return Renderer(rig, groove, hit_tangent, shape)(placements, beat_positions)


class Renderer:
    """:func:`render` for one dance rendered again and again (the speed limiter's passes): each call
    evaluates the parameter curves (cheap), then solves the rig and the forward kinematics only on the frames
    whose parameters changed since the previous call, the spans a pass changed. Rig and FK work frame by
    frame, so the result is bit-identical to a fresh :func:`render`; ``frames_solved`` counts the work."""

    def __init__(self, rig: DanceRig, groove: np.ndarray | float = 1.0, hit_tangent: float = HIT_TANGENT_SCALE,
                 shape: GrooveShape = GrooveShape()):  # fmt: skip
        self.rig, self.groove, self.hit_tangent, self.shape = rig, groove, hit_tangent, shape
        self.frames_solved = 0
        self._curves: np.ndarray | None = None
        self._solved: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None  # ungrounded

    def __call__(self, placements: list[Placement], beat_positions: np.ndarray):
        curves = dance_curves(placements, beat_positions, self.groove, self.hit_tangent, self.shape)
        if self._curves is None or self._curves.shape != curves.shape:
            changed = np.ones(len(curves), dtype=bool)
            self._solved = None
        else:
            changed = (curves != self._curves).any(axis=1)
        if changed.any():
            poses, trans, planted = self.rig.solve(curves[changed])
            joints = forward_kinematics(poses, trans, self.rig.skeleton)
            if self._solved is None:
                self._solved = (poses, trans, planted, joints)
            else:
                for cache, part in zip(self._solved, (poses, trans, planted, joints)):
                    cache[changed] = part
            self.frames_solved += int(changed.sum())
        self._curves = curves
        poses, trans, planted, joints = self._solved
        lowest = ground_height(joints, planted)
        left, right = planted[:, 0].astype(np.float32), planted[:, 1].astype(np.float32)
        contacts = np.stack([left, right, left, right], axis=1)  # joints 7, 8, 10, 11
        shift = np.array([0.0, lowest, 0.0])
        return poses.copy(), trans - shift, contacts, joints - shift


def ground_height(joints: np.ndarray, planted: np.ndarray) -> float:
    """Height of the floor the dance stands on: the median height of planted toes (checked through FK on the
    rig's skeleton), the lowest foot joint when no foot is ever planted. Shifting it to y = 0 grounds the
    dance."""
    toes = joints[:, [LEFT_FOOT, RIGHT_FOOT], 1]
    on_floor = toes[planted]
    return float(np.median(on_floor)) if on_floor.size else float(joints[:, list(FOOT_JOINTS), 1].min())

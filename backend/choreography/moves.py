"""Moves: short parametric dance clips authored in beats, and how a move's keys become full poses.

A :class:`Move` is a list of :class:`Key` poses placed on beat positions (0 = the move's first beat,
0.5 = its first "and"). Each key names only the pose parameters (see :mod:`.rig`) that differ from the
ready stance; the rules that fill in the rest keep authoring short:

* body parameters a key does not name take their neutral value;
* ``root_x``/``root_z``/``facing`` (where the dancer stands, in the move's own frame) hold their previous
  key's value (0 at the start);
* a foot a key does not place stands in the ready stance under the current root and facing.

Every move starts at beat 0 in the ready stance at the origin and ends at beat ``beats`` in the ready stance
(possibly moved by ``travel`` and turned by whole turns), so any move can follow any other: these are
the clean entry and exit poses. Keys marked ``hit`` brake the body on that beat (a velocity minimum: the
synthesis keeps only part of the tangent there, see ``synthesis.HIT_TANGENT_SCALE``; the accent a viewer sees
on the beat); the others are passed through smoothly. Feet always ease in and out (zero velocity at keys).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from .rig import NEUTRAL, NUM_PARAMS, PARAM_INDEX, PARAMS, STANCE_HALF_WIDTH, mirror_params

FAMILIES = ("groove", "step", "arms", "wave", "bounce", "legs", "turn", "accent")


@dataclass(frozen=True)
class Key:
    """A pose on a beat position. ``pose`` maps parameter names to values (degrees, metres)."""

    beat: float
    pose: Mapping[str, float] = field(default_factory=dict)
    hit: bool = True


def key(beat: float, hit: bool = True, **pose: float) -> Key:
    """Shorthand: ``key(1, l_raise=90, drop=0.1)``."""
    unknown = set(pose) - set(PARAMS)
    if unknown:
        raise ValueError(f"unknown pose parameters {sorted(unknown)}")
    return Key(float(beat), dict(pose), hit)


@dataclass(frozen=True)
class Move:
    """A dance move.

    Attributes:
        name: unique id; mirrored variants append ``"~m"``.
        family: one of ``FAMILIES``; sections change family.
        beats: length in beats (2, 4 or 8).
        keys: poses, the first at beat 0 and the last at ``beats``.
        energy: 0 (calm) … 1 (explosive); the planner matches it to the music's loudness.
        min_beat_s: when beats are faster than this (seconds), the move is danced at half time.
        genres: the genres whose signature vocabulary this move is (only they dance it); empty = any dance.
    """

    name: str
    family: str
    beats: int
    keys: tuple[Key, ...]
    energy: float
    min_beat_s: float = 0.34
    genres: tuple[str, ...] = ()

    def resolved(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Full pose vectors of the keys, in the move frame.

        Returns:
            beats (K,) float, values (K, P) float64, hit (K,) bool (read-only: computed once per move).
        """
        cached = self.__dict__.get("_resolved")
        if cached is None:
            cached = _resolve(self.keys)
            for array in cached:
                array.flags.writeable = False
            self.__dict__["_resolved"] = cached  # a frozen dataclass still has a plain __dict__
        return cached

    @property
    def travel(self) -> np.ndarray:
        """(root_x, root_z) at the end of the move, metres, move frame."""
        _, values, _ = self.resolved()
        return values[-1, [PARAM_INDEX["root_x"], PARAM_INDEX["root_z"]]]

    @property
    def turn(self) -> float:
        """Facing change over the move, degrees (a whole number of turns)."""
        _, values, _ = self.resolved()
        return float(values[-1, PARAM_INDEX["facing"]])


def stance_feet(root_x: float, root_z: float, facing_deg: float, half_width: float = STANCE_HALF_WIDTH) -> dict:
    """Foot placement of the ready stance (or a wider one) under a root and facing."""
    yaw = np.deg2rad(facing_deg)
    right_x, right_z = np.cos(yaw), -np.sin(yaw)  # the body's +X (its left) in the stage frame
    return {
        "lf_x": root_x + half_width * right_x, "lf_z": root_z + half_width * right_z,
        "rf_x": root_x - half_width * right_x, "rf_z": root_z - half_width * right_z,
    }  # fmt: skip


def _resolve(keys: tuple[Key, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    values = np.empty((len(keys), NUM_PARAMS))
    root = {"root_x": 0.0, "root_z": 0.0, "facing": 0.0}
    for k, item in enumerate(keys):
        row = NEUTRAL.copy()
        for name in root:
            root[name] = float(item.pose.get(name, root[name]))
        feet = stance_feet(root["root_x"], root["root_z"], root["facing"])
        for prefix in ("lf", "rf"):
            if f"{prefix}_x" not in item.pose and f"{prefix}_z" not in item.pose:
                row[PARAM_INDEX[f"{prefix}_x"]] = feet[f"{prefix}_x"]
                row[PARAM_INDEX[f"{prefix}_z"]] = feet[f"{prefix}_z"]
        for name, value in {**root, **item.pose}.items():
            row[PARAM_INDEX[name]] = value
        values[k] = row
    beats = np.array([item.beat for item in keys])
    hits = np.array([item.hit for item in keys])
    return beats, values, hits


def mirrored(move: Move) -> Move:
    """The move danced on the other side (left ↔ right)."""
    keys = []
    _, values, _ = move.resolved()
    for item, row in zip(move.keys, mirror_params(values)):
        pose = {name: float(row[PARAM_INDEX[name]]) for name in PARAMS}
        keys.append(Key(item.beat, pose, item.hit))
    name = move.name[:-2] if move.name.endswith("~m") else move.name + "~m"
    return Move(name, move.family, move.beats, tuple(keys), move.energy, move.min_beat_s, move.genres)


# -- arm styles: the same steps danced with different arms --------------------------------------------
#: Arm parameters a style sets; a move whose own arms stay near the ready stance can take a style.
ARM_PARAMS = tuple(f"{side}_{name}" for side in "lr" for name in ("shrug", "raise", "fwd", "elbow", "twist", "wrist"))
#: Each style: the arm (and chest/head) poses of successive hit keys, cycled. Values are absolute.
ARM_STYLES: dict[str, tuple[dict[str, float], ...]] = {
    # Hip-hop pump: fists pump up in front on the beat.
    "pump": (
        {"l_raise": 70, "r_raise": 70, "l_fwd": 75, "r_fwd": 75, "l_elbow": 110, "r_elbow": 110, "head_nod": 8},
        {"l_raise": 35, "r_raise": 35, "l_fwd": 60, "r_fwd": 60, "l_elbow": 90, "r_elbow": 90},
    ),
    # Alternating diagonal reaches up and out.
    "reach": (
        {"l_raise": 145, "l_fwd": 35, "l_elbow": 8, "r_raise": 40, "r_elbow": 70, "side_bend": -8, "head_turn": 18},
        {"r_raise": 145, "r_fwd": 35, "r_elbow": 8, "l_raise": 40, "l_elbow": 70, "side_bend": 8, "head_turn": -18},
    ),
    # Alternating punches forward with the chest turning into them.
    "punch": (
        {"l_raise": 85, "l_fwd": 88, "l_elbow": 5, "r_raise": 45, "r_fwd": 60, "r_elbow": 115, "chest_twist": 16},
        {"r_raise": 85, "r_fwd": 88, "r_elbow": 5, "l_raise": 45, "l_fwd": 60, "l_elbow": 115, "chest_twist": -16},
    ),
    # Arms thrown wide, then pulled in to the chest.
    "open": (
        {"l_raise": 100, "r_raise": 100, "l_fwd": 10, "r_fwd": 10, "l_elbow": 10, "r_elbow": 10, "head_nod": -10,
         "lean": -3},
        {"l_raise": 60, "r_raise": 60, "l_fwd": 100, "r_fwd": 100, "l_elbow": 120, "r_elbow": 120, "head_nod": 8},
    ),
    # Big opposition swings, as in a strut.
    "swing": (
        {"l_raise": 55, "l_fwd": 95, "l_elbow": 60, "r_raise": 35, "r_fwd": -35, "r_elbow": 30, "chest_twist": -10},
        {"r_raise": 55, "r_fwd": 95, "r_elbow": 60, "l_raise": 35, "l_fwd": -35, "l_elbow": 30, "chest_twist": 10},
    ),
    # Locking-style points: one arm points out, the other hand at the chest.
    "point": (
        {"l_raise": 95, "l_fwd": 30, "l_elbow": 0, "l_wrist": -20, "r_raise": 60, "r_fwd": 95, "r_elbow": 125,
         "head_turn": 30},
        {"l_raise": 30, "r_raise": 30, "l_elbow": 100, "r_elbow": 100, "l_fwd": 70, "r_fwd": 70, "head_nod": 10},
        {"r_raise": 95, "r_fwd": 30, "r_elbow": 0, "r_wrist": -20, "l_raise": 60, "l_fwd": 95, "l_elbow": 125,
         "head_turn": -30},
        {"l_raise": 30, "r_raise": 30, "l_elbow": 100, "r_elbow": 100, "l_fwd": 70, "r_fwd": 70, "head_nod": 10},
    ),
    # Popping/tutting: arms in right angles, snapping between frames.
    "tut": (
        {"l_raise": 90, "l_fwd": 0, "l_elbow": 90, "r_raise": 90, "r_fwd": 90, "r_elbow": 90, "head_turn": 15},
        {"l_raise": 90, "l_fwd": 90, "l_elbow": 90, "r_raise": 90, "r_fwd": 0, "r_elbow": 90, "head_turn": -15},
    ),
    # Chinese classical: long, high, rounded arms with the wrists turning (sleeves), the head following.
    "sleeve": (
        {"l_raise": 140, "l_fwd": 45, "l_elbow": 35, "l_wrist": -35, "r_raise": 70, "r_fwd": 85, "r_elbow": 45,
         "r_wrist": 30, "head_turn": 20, "head_tilt": 8},
        {"r_raise": 140, "r_fwd": 45, "r_elbow": 35, "r_wrist": -35, "l_raise": 70, "l_fwd": 85, "l_elbow": 45,
         "l_wrist": 30, "head_turn": -20, "head_tilt": -8},
    ),
    # Jazz hands: arms thrown out on a high diagonal, wrists flexed back, chest lifted.
    "jazz": (
        {"l_raise": 125, "r_raise": 125, "l_fwd": 20, "r_fwd": 20, "l_elbow": 5, "r_elbow": 5, "l_wrist": -45,
         "r_wrist": -45, "lean": -5, "head_nod": -10},
        {"l_raise": 45, "r_raise": 45, "l_fwd": 50, "r_fwd": 50, "l_elbow": 30, "r_elbow": 30, "l_wrist": -40,
         "r_wrist": -40},
    ),
}  # fmt: skip
#: A move's own arms count as "quiet" (so a style may replace them) while they stay this close to the
#: ready stance, degrees.
QUIET_ARMS_DEG = 45.0


def has_quiet_arms(move: Move) -> bool:
    """True when the move leaves the arms near the ready stance (steps, grooves, leg moves)."""
    _, values, _ = move.resolved()
    columns = [PARAM_INDEX[f"{side}_{name}"] for side in "lr" for name in ("raise", "fwd")]
    return bool(np.abs(values[:, columns] - NEUTRAL[columns]).max() <= QUIET_ARMS_DEG)


def styled(move: Move, style: str) -> Move:
    """The move danced with the arms of ``ARM_STYLES[style]`` on its hit keys.

    Inner hit keys take the style's poses in turn (arm parameters replaced, torso/head accents added);
    passing keys keep the move's own quiet arms, so the arms pump in and out around the beat. The first
    and last keys stay in the ready stance (clean entry and exit). The name gets ``"+style"``.
    """
    poses = ARM_STYLES[style]
    keys, count = [move.keys[0]], 0
    for item in move.keys[1:-1]:
        pose = dict(item.pose)
        if item.hit:
            accent = poses[count % len(poses)]
            count += 1
            for name in ARM_PARAMS:
                pose.pop(name, None)
            for name, value in accent.items():
                base = pose.get(name, NEUTRAL[PARAM_INDEX[name]])
                pose[name] = value if name in ARM_PARAMS else base + value
        keys.append(Key(item.beat, pose, item.hit))
    keys.append(move.keys[-1])
    return Move(f"{move.name}+{style}", move.family, move.beats, tuple(keys), move.energy, move.min_beat_s, move.genres)


# -- the library -------------------------------------------------------------------------------------
# Angles in degrees, distances in metres. Arms: raise 0 = hanging, 90 = horizontal; fwd 90 = in front.
W = STANCE_HALF_WIDTH


def _moves() -> list[Move]:
    moves: list[Move] = []
    add = moves.append

    # ---- groove: calm basics that sit on the beat -------------------------------------------------
    add(Move("bounce", "groove", 2, (
        key(0),
        key(0.5, False, drop=0.0, lean=2),
        key(1, drop=0.11, lean=9, head_nod=10, l_elbow=45, r_elbow=45, l_fwd=35, r_fwd=35),
        key(1.5, False, drop=0.01, lean=3),
        key(2),
    ), energy=0.2))
    add(Move("side_sway", "groove", 4, (
        key(0),
        key(1, sway=0.07, hip_roll=7, side_bend=-5, head_tilt=-5, l_raise=28, r_raise=8, l_elbow=50, drop=0.07),
        key(2, drop=0.04),
        key(3, sway=-0.07, hip_roll=-7, side_bend=5, head_tilt=5, r_raise=28, l_raise=8, r_elbow=50, drop=0.07),
        key(4),
    ), energy=0.15))
    add(Move("hip_shake", "groove", 4, (
        key(0),
        key(0.5, False, hip_twist=-18, chest_twist=5, drop=0.08),
        key(1, hip_twist=18, chest_twist=-5, drop=0.06, l_elbow=80, r_elbow=80, l_raise=30, r_raise=30),
        key(1.5, False, hip_twist=-18, drop=0.08, l_elbow=80, r_elbow=80, l_raise=30, r_raise=30),
        key(2, hip_twist=18, drop=0.06, l_elbow=80, r_elbow=80, l_raise=30, r_raise=30),
        key(3, hip_twist=-14, drop=0.07, head_turn=-10, l_elbow=70, r_elbow=70),
        key(4),
    ), energy=0.35))
    add(Move("shoulder_shimmy", "groove", 2, (
        key(0),
        key(0.5, l_shrug=18, r_shrug=-4, chest_twist=8, drop=0.06, lean=10, l_elbow=60, r_elbow=60),
        key(1, r_shrug=18, l_shrug=-4, chest_twist=-8, drop=0.08, lean=10, l_elbow=60, r_elbow=60),
        key(1.5, l_shrug=18, r_shrug=-4, chest_twist=8, drop=0.06, lean=10, l_elbow=60, r_elbow=60),
        key(2),
    ), energy=0.3))
    add(Move("head_bop", "groove", 2, (
        key(0),
        key(1, head_nod=16, drop=0.08, lean=7, l_elbow=55, r_elbow=55, l_fwd=40, r_fwd=40, l_raise=20, r_raise=20),
        key(2),
    ), energy=0.1))

    add(Move("two_step", "groove", 4, (
        key(0),
        key(1, lf_x=W + 0.14, rf_x=-W, root_x=0.07, sway=0.04, hip_roll=5, drop=0.08, l_raise=30, r_raise=22,
            l_fwd=50, r_fwd=40, l_elbow=75, r_elbow=75, chest_twist=6, head_tilt=-4),
        key(2, lf_x=W + 0.14, rf_x=-W + 0.14, root_x=0.14, drop=0.05, l_elbow=60, r_elbow=60, l_raise=20,
            r_raise=20),
        key(3, lf_x=W + 0.14, rf_x=-W, root_x=0.07, sway=-0.04, hip_roll=-5, drop=0.08, l_raise=22, r_raise=30,
            l_fwd=40, r_fwd=50, l_elbow=75, r_elbow=75, chest_twist=-6, head_tilt=4),
        key(4, root_x=0.0),
    ), energy=0.3))

    # ---- steps and travel ----------------------------------------------------------------------------
    add(Move("box_step", "step", 8, (
        key(0),
        key(1, lf_x=-0.02, lf_z=0.16, lf_yaw=-10, rf_x=-W, root_x=-0.05, root_z=0.08, drop=0.08, hip_twist=-12,
            chest_twist=8, l_raise=40, l_fwd=70, l_elbow=70, r_raise=30, r_fwd=-10),
        key(2, lf_x=-0.02, lf_z=0.16, lf_yaw=-10, rf_x=-W, rf_z=-0.16, root_x=-0.06, root_z=0.0, drop=0.06,
            hip_twist=6, r_raise=40, r_fwd=70, r_elbow=70, l_raise=25),
        key(3, lf_x=W + 0.1, lf_z=0.0, rf_x=-W, rf_z=-0.16, root_x=0.05, root_z=-0.08, drop=0.09, hip_twist=10,
            chest_twist=-8, l_raise=50, l_elbow=40, r_raise=30),
        key(4, lf_x=W + 0.1, rf_x=-W + 0.1, rf_z=0.0, root_x=0.1, root_z=0.0, drop=0.06, head_nod=8,
            l_elbow=80, r_elbow=80, l_raise=25, r_raise=25),
        key(5, rf_x=0.12, rf_z=0.16, rf_yaw=10, lf_x=W + 0.1, root_x=0.15, root_z=0.08, drop=0.08, hip_twist=12,
            chest_twist=-8, r_raise=40, r_fwd=70, r_elbow=70, l_raise=30, l_fwd=-10),
        key(6, rf_x=0.12, rf_z=0.16, rf_yaw=10, lf_x=W + 0.1, lf_z=-0.16, root_x=0.16, root_z=0.0, drop=0.06,
            hip_twist=-6, l_raise=40, l_fwd=70, l_elbow=70, r_raise=25),
        key(7, rf_x=-W, rf_z=0.0, lf_x=W + 0.1, lf_z=-0.16, root_x=0.05, root_z=-0.08, drop=0.09, hip_twist=-10,
            chest_twist=8, r_raise=50, r_elbow=40, l_raise=30),
        key(8, root_x=0.0, root_z=0.0),
    ), energy=0.45))
    add(Move("step_touch", "step", 4, (
        key(0),
        key(0.5, False, lf_x=W + 0.16, rf_x=-W, lf_lift=0.07, root_x=0.08, sway=0.03, drop=0.05),
        key(1, lf_x=W + 0.30, rf_x=-W, root_x=0.15, sway=0.05, drop=0.09, l_raise=35, r_raise=35, l_elbow=70,
            r_elbow=70),
        key(2, lf_x=W + 0.30, rf_x=W + 0.30 - 2 * W, root_x=0.30, drop=0.05, head_nod=6, l_elbow=80, r_elbow=80),
        key(3, rf_x=-W, lf_x=W + 0.30, root_x=0.15, sway=-0.05, drop=0.09, l_raise=35, r_raise=35, l_elbow=70,
            r_elbow=70),
        key(4, root_x=0.0),
    ), energy=0.35))
    add(Move("side_walk", "step", 4, (
        key(0),
        key(1, lf_x=W + 0.3, rf_x=-W, root_x=0.15, drop=0.08, sway=0.04, l_raise=40, r_raise=25, chest_twist=8),
        key(2, lf_x=W + 0.3, rf_x=-W + 0.3, root_x=0.3, drop=0.05),
        key(3, lf_x=W + 0.6, rf_x=-W + 0.3, root_x=0.45, drop=0.08, sway=0.04, l_raise=40, r_raise=25,
            chest_twist=8),
        key(4, root_x=0.6),
    ), energy=0.4))
    add(_walk_out_and_back())
    add(Move("forward_back", "step", 4, (
        key(0),
        key(1, lf_z=0.28, rf_z=0.0, root_z=0.14, drop=0.08, lean=8, r_fwd=80, r_raise=45, l_raise=20, l_fwd=-20,
            r_elbow=60),
        key(2, root_z=0.0, drop=0.05),
        key(3, rf_z=-0.26, lf_z=0.0, root_z=-0.12, drop=0.1, lean=-2, l_fwd=80, l_raise=45, r_raise=20, r_fwd=-20,
            l_elbow=60),
        key(4, root_z=0.0),
    ), energy=0.4))
    add(Move("grapevine", "step", 8, (
        key(0),
        key(1, lf_x=0.33, rf_x=-W, root_x=0.11, drop=0.07, hip_twist=-8, l_raise=45, l_elbow=40),
        key(2, lf_x=0.33, rf_x=0.31, rf_z=-0.12, rf_yaw=-20, root_x=0.32, drop=0.08, hip_twist=12, r_raise=30,
            chest_twist=6),
        key(3, lf_x=0.59, rf_x=0.31, rf_z=-0.12, rf_yaw=-20, root_x=0.45, drop=0.07, l_raise=60, l_elbow=20),
        key(4, root_x=0.48, drop=0.12, lean=10, head_nod=10, l_raise=20, r_raise=20, l_elbow=90, r_elbow=90,
            l_fwd=70, r_fwd=70),
        key(5, rf_x=0.15, lf_x=0.59, root_x=0.37, drop=0.07, r_raise=45, r_elbow=40),
        key(6, rf_x=0.15, lf_x=0.17, lf_z=-0.12, lf_yaw=20, root_x=0.16, drop=0.08, hip_twist=-12, l_raise=30,
            chest_twist=-6),
        key(7, rf_x=-W, lf_x=0.17, lf_z=-0.12, lf_yaw=20, root_x=0.03, drop=0.07, r_raise=60, r_elbow=20),
        key(8, root_x=0.0),
    ), energy=0.5))
    add(Move("march", "step", 4, (
        key(0),
        *(
            key(b, False if b % 1 else True,
                **({"lf_lift": 0.12, "r_fwd": 70, "r_raise": 35, "l_fwd": -25, "l_raise": 20, "r_elbow": 80}
                   if b in (0.5, 2.5) else {"rf_lift": 0.12, "l_fwd": 70, "l_raise": 35, "r_fwd": -25,
                                              "r_raise": 20, "l_elbow": 80} if b in (1.5, 3.5) else
                   {"drop": 0.07}))
            for b in (0.5, 1, 1.5, 2, 2.5, 3, 3.5)
        ),
        key(4),
    ), energy=0.45))
    add(Move("cha_cha", "step", 4, (
        key(0),
        key(1, rf_z=-0.2, lf_z=0.0, root_z=-0.08, drop=0.08, hip_roll=6, l_raise=35, l_elbow=70, r_raise=20),
        key(2, root_z=0.0, drop=0.05),
        key(2.5, False, lf_x=W + 0.08, rf_x=-W, root_x=0.04, drop=0.08, hip_roll=-6),
        key(3, lf_x=W + 0.08, rf_x=-W + 0.08, root_x=0.08, drop=0.06),
        key(3.5, False, lf_x=W + 0.16, rf_x=-W + 0.08, root_x=0.12, drop=0.08, hip_roll=6),
        key(4, root_x=0.16),
    ), energy=0.45))

    # ---- arms ---------------------------------------------------------------------------------------
    add(Move("punch_forward", "arms", 2, (
        key(0),
        key(0.5, False, l_raise=60, l_fwd=90, l_elbow=110, chest_twist=-10, drop=0.05),
        key(1, l_raise=88, l_fwd=85, l_elbow=5, chest_twist=18, drop=0.1, r_raise=40, r_fwd=60, r_elbow=120,
            hip_twist=8),
        key(2),
    ), energy=0.6, min_beat_s=0.45))
    add(Move("punch_up", "arms", 4, (
        key(0),
        key(1, l_raise=165, l_fwd=20, l_elbow=5, side_bend=-6, drop=0.09, head_nod=-12, r_elbow=90, r_raise=30),
        key(2, drop=0.04, l_raise=40, l_elbow=90, r_elbow=80),
        key(3, r_raise=165, r_fwd=20, r_elbow=5, side_bend=6, drop=0.09, head_nod=-12, l_elbow=90, l_raise=30),
        key(4),
    ), energy=0.75))
    add(Move("cross_open", "arms", 4, (
        key(0),
        key(1, l_raise=70, r_raise=70, l_fwd=105, r_fwd=105, l_elbow=60, r_elbow=60, lean=10, drop=0.08,
            head_nod=12),
        key(2, l_raise=100, r_raise=100, l_fwd=0, r_fwd=0, l_elbow=5, r_elbow=5, lean=-6, drop=0.02,
            head_nod=-10, l_twist=-30, r_twist=-30),
        key(3, l_raise=70, r_raise=70, l_fwd=105, r_fwd=105, l_elbow=60, r_elbow=60, lean=10, drop=0.08),
        key(4),
    ), energy=0.35))
    add(Move("swim", "arms", 4, (
        key(0),
        key(0.5, False, l_raise=150, l_fwd=80, l_elbow=20, r_raise=30, r_fwd=10, drop=0.05),
        key(1, l_raise=90, l_fwd=90, l_elbow=10, r_raise=120, r_fwd=90, r_elbow=30, chest_twist=10, drop=0.09),
        key(1.5, False, l_raise=30, l_fwd=10, r_raise=150, r_fwd=80, r_elbow=20, drop=0.05),
        key(2, r_raise=90, r_fwd=90, r_elbow=10, l_raise=120, l_fwd=90, l_elbow=30, chest_twist=-10, drop=0.09),
        key(3, l_raise=90, l_fwd=90, l_elbow=10, r_raise=90, r_fwd=90, r_elbow=10, drop=0.06, lean=8),
        key(4),
    ), energy=0.5, min_beat_s=0.55))
    add(Move("windmill", "arms", 4, (
        key(0),
        key(1, False, l_raise=90, l_fwd=0, l_elbow=5, r_raise=40, drop=0.06, side_bend=4),
        key(2, l_raise=170, l_fwd=40, l_elbow=5, side_bend=-8, drop=0.1, head_turn=15),
        key(3, False, l_raise=90, l_fwd=100, l_elbow=10, drop=0.06),
        key(4),
    ), energy=0.7))
    add(Move("clap", "accent", 2, (
        key(0),
        key(0.5, False, l_raise=55, r_raise=55, l_fwd=45, r_fwd=45, l_elbow=80, r_elbow=80, drop=0.05),
        key(1, l_raise=62, r_raise=62, l_fwd=95, r_fwd=95, l_elbow=75, r_elbow=75, l_twist=-40, r_twist=-40,
            drop=0.11, lean=10, head_nod=8),
        key(2),
    ), energy=0.4))

    # ---- waves (flowing, passed through rather than hit) --------------------------------------------
    add(Move("body_roll", "wave", 4, (
        key(0),
        key(1, False, lean=-12, head_nod=-15, hip_pitch=-6, drop=0.03, l_raise=25, r_raise=25),
        key(2, False, lean=20, head_nod=5, hip_pitch=-10, drop=0.10),
        key(3, False, lean=8, head_nod=18, hip_pitch=12, drop=0.14, l_elbow=60, r_elbow=60),
        key(4),
    ), energy=0.35))
    add(Move("arm_wave", "wave", 4, (
        key(0),
        key(0.5, False, l_raise=80, l_elbow=30, l_wrist=30, r_raise=30),
        key(1, False, l_raise=95, l_elbow=5, l_wrist=-20, l_shrug=12, r_raise=70, r_elbow=40, drop=0.06),
        key(1.5, False, l_raise=90, l_wrist=10, l_shrug=-5, r_raise=95, r_elbow=5, r_shrug=12, side_bend=4),
        key(2, False, l_raise=70, l_elbow=30, r_raise=95, r_elbow=5, r_wrist=-30, r_shrug=-4, drop=0.06,
            side_bend=-4),
        key(3, r_raise=80, r_elbow=30, l_raise=80, l_elbow=30, drop=0.04),
        key(4),
    ), energy=0.4))
    add(Move("ribbon", "wave", 8, (
        key(0),
        key(1, False, l_raise=120, l_fwd=60, l_elbow=30, r_raise=40, chest_twist=15, hip_twist=-8, drop=0.06),
        key(2, False, l_raise=150, l_fwd=10, l_elbow=10, r_raise=60, side_bend=-10, head_turn=20, drop=0.03),
        key(3, False, l_raise=90, l_fwd=-20, l_elbow=20, r_raise=90, r_fwd=60, chest_twist=-10, drop=0.09),
        key(4, l_raise=60, r_raise=60, l_fwd=50, r_fwd=50, l_elbow=90, r_elbow=90, lean=12, drop=0.14),
        key(5, False, r_raise=120, r_fwd=60, r_elbow=30, l_raise=40, chest_twist=-15, hip_twist=8, drop=0.06),
        key(6, False, r_raise=150, r_fwd=10, r_elbow=10, l_raise=60, side_bend=10, head_turn=-20, drop=0.03),
        key(7, False, r_raise=90, r_fwd=-20, r_elbow=20, l_raise=90, l_fwd=60, chest_twist=10, drop=0.09),
        key(8),
    ), energy=0.45))

    # ---- bounce and jumps --------------------------------------------------------------------------
    add(Move("hop", "bounce", 2, (
        key(0),
        key(0.5, False, drop=0.16, lean=10, l_raise=20, r_raise=20, l_fwd=-30, r_fwd=-30),
        key(1, drop=-0.06, lf_lift=0.09, rf_lift=0.09, l_raise=50, r_raise=50, l_fwd=50, r_fwd=50, l_elbow=50,
            r_elbow=50, head_nod=-8),
        key(1.5, False, drop=0.18, lean=12, l_raise=30, r_raise=30),
        key(2),
    ), energy=0.85, min_beat_s=0.3))
    add(Move("jumping_jack", "bounce", 4, (
        key(0),
        key(0.5, False, drop=0.0, lf_lift=0.08, rf_lift=0.08, l_raise=70, r_raise=70),
        key(1, lf_x=W + 0.2, rf_x=-W - 0.2, drop=0.13, l_raise=150, r_raise=150, l_elbow=10, r_elbow=10),
        key(1.5, False, lf_x=W + 0.1, rf_x=-W - 0.1, drop=0.0, lf_lift=0.08, rf_lift=0.08, l_raise=70,
            r_raise=70),
        key(2, drop=0.1),
        key(3, lf_x=W + 0.2, rf_x=-W - 0.2, drop=0.15, l_raise=150, r_raise=150, l_elbow=10, r_elbow=10),
        key(4),
    ), energy=0.95, min_beat_s=0.4))
    add(Move("squat_pulse", "bounce", 4, (
        key(0),
        key(1, lf_x=W + 0.12, rf_x=-W - 0.12, drop=0.24, lean=18, l_raise=80, r_raise=80, l_fwd=90, r_fwd=90,
            l_elbow=30, r_elbow=30),
        key(2, lf_x=W + 0.12, rf_x=-W - 0.12, drop=0.12, lean=8, l_raise=40, r_raise=40, l_elbow=80, r_elbow=80),
        key(3, lf_x=W + 0.12, rf_x=-W - 0.12, drop=0.26, lean=20, l_raise=80, r_raise=80, l_fwd=90, r_fwd=90,
            l_elbow=30, r_elbow=30, head_nod=10),
        key(4),
    ), energy=0.6))

    # ---- legs -------------------------------------------------------------------------------------
    add(Move("kick", "legs", 4, (
        key(0),
        key(0.5, False, lf_lift=0.15, lf_z=0.08, drop=0.06, sway=-0.04),
        key(1, lf_lift=0.32, lf_z=0.42, lf_x=W, drop=0.05, sway=-0.05, lean=-6, r_raise=70, r_fwd=80, l_raise=60,
            l_fwd=-10),
        key(1.5, False, lf_lift=0.1, lf_z=0.1, drop=0.07, sway=-0.03),
        key(2, drop=0.09),
        key(3, drop=0.06, head_nod=8, l_elbow=70, r_elbow=70, l_raise=25, r_raise=25),
        key(4),
    ), energy=0.7))
    add(Move("knee_lift", "legs", 4, (
        key(0),
        key(1, lf_lift=0.30, lf_z=0.14, drop=0.04, sway=-0.05, lean=4, r_raise=95, r_fwd=75, r_elbow=100,
            l_raise=25, l_fwd=-20, chest_twist=-12),
        key(2, drop=0.08),
        key(3, lf_lift=0.30, lf_z=0.14, drop=0.04, sway=-0.05, lean=4, r_raise=95, r_fwd=75, r_elbow=100,
            l_raise=25, l_fwd=-20, chest_twist=-12),
        key(4),
    ), energy=0.6))
    add(Move("lunge_reach", "legs", 4, (
        key(0),
        key(1, rf_x=-W - 0.32, lf_x=W, root_x=-0.12, drop=0.2, sway=-0.06, side_bend=-16, l_raise=165, l_fwd=10,
            l_elbow=10, r_raise=25, r_elbow=60, head_tilt=-8),
        key(2, rf_x=-W - 0.32, lf_x=W, root_x=-0.12, drop=0.14, sway=-0.04, side_bend=-10, l_raise=150, l_elbow=20),
        key(3, rf_x=-W - 0.32, lf_x=W, root_x=-0.12, drop=0.21, sway=-0.07, side_bend=-18, l_raise=168, l_fwd=10,
            l_elbow=5, r_raise=25, r_elbow=60),
        key(4, root_x=0.0),
    ), energy=0.55))
    add(Move("heel_dig", "legs", 2, (
        key(0),
        key(1, lf_z=0.24, lf_x=W + 0.04, lf_yaw=25, drop=0.1, lean=-4, sway=-0.03, l_raise=30, r_raise=30,
            l_elbow=95, r_elbow=95, chest_twist=-10),
        key(2),
    ), energy=0.4))

    add(Move("hip_circle", "wave", 4, (
        key(0),
        key(1, False, sway=0.06, hip_roll=6, drop=0.07, l_raise=25, r_raise=25, l_elbow=60, r_elbow=60),
        key(2, False, hip_pitch=12, lean=-4, drop=0.09, l_raise=25, r_raise=25, l_elbow=60, r_elbow=60),
        key(3, False, sway=-0.06, hip_roll=-6, drop=0.07, l_raise=25, r_raise=25, l_elbow=60, r_elbow=60),
        key(4),
    ), energy=0.3))
    add(Move("fan_arms", "wave", 8, (
        key(0),
        key(1, False, l_raise=70, l_fwd=70, l_elbow=40, l_wrist=30, l_twist=-30, r_raise=30, r_fwd=-20,
            head_tilt=-8, head_turn=10, lean=6, drop=0.06),
        key(2, False, l_raise=130, l_fwd=40, l_elbow=20, l_wrist=-30, l_twist=20, r_raise=50, r_fwd=20, r_elbow=50,
            side_bend=-8, head_turn=20, drop=0.03),
        key(3, False, l_raise=100, l_fwd=-10, l_elbow=30, l_wrist=35, r_raise=90, r_fwd=60, r_elbow=30,
            chest_twist=12, head_turn=-10, drop=0.08),
        key(4, l_raise=60, l_fwd=40, l_elbow=70, r_raise=60, r_fwd=40, r_elbow=70, l_wrist=-20, r_wrist=-20,
            lean=12, head_nod=12, drop=0.13),
        key(5, False, r_raise=70, r_fwd=70, r_elbow=40, r_wrist=30, r_twist=-30, l_raise=30, l_fwd=-20,
            head_tilt=8, head_turn=-10, lean=6, drop=0.06),
        key(6, False, r_raise=130, r_fwd=40, r_elbow=20, r_wrist=-30, r_twist=20, l_raise=50, l_fwd=20, l_elbow=50,
            side_bend=8, head_turn=-20, drop=0.03),
        key(7, False, r_raise=100, r_fwd=-10, r_elbow=30, r_wrist=35, l_raise=90, l_fwd=60, l_elbow=30,
            chest_twist=-12, head_turn=10, drop=0.08),
        key(8),
    ), energy=0.3, min_beat_s=0.4))
    add(Move("robot_arms", "arms", 4, (
        key(0),
        key(1, l_raise=88, l_fwd=0, l_elbow=90, l_twist=-60, r_raise=20, r_elbow=90, r_fwd=90, head_turn=20,
            drop=0.06),
        key(2, l_raise=88, l_fwd=0, l_elbow=90, l_twist=60, r_raise=88, r_fwd=0, r_elbow=90, r_twist=-60,
            head_turn=0, drop=0.06),
        key(3, l_raise=20, l_elbow=90, l_fwd=90, r_raise=88, r_fwd=0, r_elbow=90, r_twist=60, head_turn=-20,
            drop=0.06),
        key(4),
    ), energy=0.5))

    # ---- turns (feet step around; the whole turn ends facing front again) ----------------------------
    add(_spin())
    add(_open_turn())
    add(_quarter_turn_pose())

    # ---- accents and poses ---------------------------------------------------------------------------
    add(Move("star_pose", "accent", 4, (
        key(0),
        key(1, lf_x=W + 0.18, rf_x=-W - 0.18, drop=0.08, l_raise=135, r_raise=135, l_fwd=5, r_fwd=5, l_elbow=5,
            r_elbow=5, head_nod=-10, lean=-4),
        key(2, lf_x=W + 0.18, rf_x=-W - 0.18, drop=0.1, l_raise=130, r_raise=130, l_fwd=5, r_fwd=5, l_elbow=8,
            r_elbow=8, head_nod=-8, lean=-3),
        key(3, drop=0.1, l_raise=30, r_raise=30, l_elbow=60, r_elbow=60, lean=8, head_nod=10),
        key(4),
    ), energy=0.8))
    add(Move("point_pose", "accent", 4, (
        key(0),
        key(1, l_raise=140, l_fwd=40, l_elbow=0, r_raise=35, r_fwd=-35, r_elbow=105, r_twist=40, hip_roll=8,
            sway=0.05, head_turn=25, head_nod=-14, drop=0.07),
        key(2.5, False, l_raise=135, l_fwd=45, l_elbow=5, r_raise=35, r_fwd=-35, r_elbow=105, r_twist=40,
            hip_roll=9, sway=0.06, head_turn=28, head_nod=-12, drop=0.08),
        key(3, l_raise=60, l_elbow=60, r_raise=30, drop=0.09, lean=8),
        key(4),
    ), energy=0.65))
    add(Move("chest_pop", "accent", 2, (
        key(0),
        key(0.5, False, lean=6, l_raise=40, r_raise=40, l_elbow=90, r_elbow=90, l_fwd=60, r_fwd=60, drop=0.05),
        key(1, lean=-10, hip_pitch=-6, head_nod=-8, l_shrug=8, r_shrug=8, l_raise=48, r_raise=48, l_elbow=95,
            r_elbow=95, l_fwd=45, r_fwd=45, drop=0.08),
        key(2),
    ), energy=0.55))
    add(Move("lock_point", "accent", 4, (
        key(0),
        key(1, l_raise=35, r_raise=35, l_fwd=70, r_fwd=70, l_elbow=120, r_elbow=120, l_wrist=40, r_wrist=40,
            drop=0.14, lean=14, head_nod=10),
        key(2, l_raise=100, l_fwd=60, l_elbow=0, r_raise=30, r_fwd=30, r_elbow=100, chest_twist=14, hip_twist=6,
            head_turn=25, drop=0.05),
        key(3, l_raise=20, r_raise=20, l_fwd=-10, r_fwd=-10, l_elbow=10, r_elbow=10, drop=0.1, head_nod=6),
        key(4),
    ), energy=0.7))
    add(Move("drop_freeze", "accent", 4, (
        key(0),
        key(1, drop=0.28, lean=25, head_nod=15, l_raise=70, r_raise=70, l_fwd=95, r_fwd=95, l_elbow=90,
            r_elbow=90, lf_x=W + 0.1, rf_x=-W - 0.1),
        key(2, drop=0.27, lean=24, head_nod=14, l_raise=70, r_raise=70, l_fwd=95, r_fwd=95, l_elbow=90,
            r_elbow=90, lf_x=W + 0.1, rf_x=-W - 0.1),
        key(3, drop=0.02, lean=-5, head_nod=-12, l_raise=120, r_raise=120, l_elbow=20, r_elbow=20),
        key(4),
    ), energy=0.9))
    add(Move("hit_combo", "accent", 4, (
        key(0),
        key(1, l_raise=150, r_raise=150, l_fwd=25, r_fwd=25, l_elbow=5, r_elbow=5, drop=0.06, head_nod=-14,
            lean=-4),
        key(2, l_raise=70, r_raise=70, l_fwd=110, r_fwd=110, l_elbow=125, r_elbow=125, drop=0.16, lean=14,
            head_nod=14),
        key(3, l_raise=92, l_fwd=0, l_elbow=0, r_raise=30, r_fwd=-25, r_elbow=100, head_turn=35, hip_roll=9,
            sway=0.05, drop=0.08),
        key(3.5, r_raise=92, r_fwd=0, r_elbow=0, l_raise=30, l_fwd=-25, l_elbow=100, head_turn=-35, hip_roll=-9,
            sway=-0.05, drop=0.1),
        key(4),
    ), energy=0.85))
    add(Move("chasse_travel", "step", 4, (
        key(0),
        key(1, lf_x=W + 0.3, rf_x=-W, root_x=0.15, drop=0.1, sway=0.04, l_raise=90, l_fwd=10, l_elbow=10,
            r_raise=40, r_elbow=80, head_turn=20),
        key(1.5, False, lf_x=W + 0.3, rf_x=-W + 0.25, root_x=0.28, drop=0.04),
        key(2, lf_x=W + 0.6, rf_x=-W + 0.25, root_x=0.45, drop=0.12, l_raise=125, l_fwd=20, l_elbow=5,
            r_raise=60, r_fwd=90, r_elbow=110, chest_twist=12, head_turn=25),
        key(3, lf_x=W + 0.6, rf_x=-W + 0.6, root_x=0.6, drop=0.06, l_raise=40, r_raise=40, l_elbow=90,
            r_elbow=90, l_fwd=60, r_fwd=60, head_nod=8),
        key(4, root_x=0.6),
    ), energy=0.65, min_beat_s=0.4))
    add(Move("running_man", "legs", 4, tuple(sorted((
        key(0),
        key(4),
        *(
            key(b, False, **({"lf_lift": 0.2, "lf_z": 0.1, "r_fwd": 85, "r_raise": 55, "r_elbow": 95,
                              "l_fwd": -30, "l_raise": 35, "l_elbow": 60, "chest_twist": 10, "drop": 0.03}
                             if b in (0.5, 2.5) else
                             {"rf_lift": 0.2, "rf_z": 0.1, "l_fwd": 85, "l_raise": 55, "l_elbow": 95,
                              "r_fwd": -30, "r_raise": 35, "r_elbow": 60, "chest_twist": -10, "drop": 0.03}))
            for b in (0.5, 1.5, 2.5, 3.5)
        ),
        *(key(b, drop=0.12, lean=8, head_nod=8, l_elbow=80, r_elbow=80, l_raise=35, r_raise=35) for b in (1, 2, 3)),
    ), key=lambda item: item.beat)), energy=0.85))
    add(Move("kick_ball_change", "legs", 2, (
        key(0),
        key(0.5, False, lf_lift=0.14, lf_z=0.24, drop=0.03, lean=-4, r_raise=55, r_fwd=85, r_elbow=90, l_raise=35,
            l_fwd=-25, l_elbow=50),
        key(0.75, False, lf_lift=0.07, lf_z=-0.1, drop=0.07),  # the foot travels back in the air
        key(1, lf_z=-0.14, drop=0.13, lean=8, sway=0.03, head_nod=10, l_raise=45, r_raise=45, l_elbow=95,
            r_elbow=95, l_fwd=60, r_fwd=60),
        key(2),
    ), energy=0.7))
    add(_jump_turn())
    # Leg vocabulary for loud music: the whole body travels, the arms go with the legs.
    add(Move("kick_step", "legs", 4, (
        key(0),
        # Each foot rises before it travels and lands straight down (no slide at take-off or landing).
        key(0.25, False, rf_lift=0.07, drop=0.03, sway=0.02),
        key(0.5, False, rf_lift=0.12, rf_z=0.3, drop=0.04, sway=0.03, l_fwd=60, l_raise=35, r_fwd=-20),
        key(1, rf_z=0.3, root_z=0.15, drop=0.12, lean=8, l_fwd=70, l_raise=40, l_elbow=80, r_fwd=-25, r_raise=25,
            head_nod=8),
        key(1.25, False, lf_lift=0.07, rf_z=0.3, root_z=0.17, drop=0.08),
        key(1.5, False, lf_lift=0.3, lf_z=0.55, rf_z=0.3, root_z=0.2, drop=0.05, lean=-6, r_raise=75, r_fwd=85,
            r_elbow=20, l_raise=45, l_fwd=-25),
        key(1.75, False, lf_lift=0.1, lf_z=0.3, rf_z=0.3, root_z=0.25, drop=0.08),
        key(2, lf_z=0.3, rf_z=0.3, root_z=0.3, drop=0.11, lean=6, head_nod=8, l_elbow=80, r_elbow=80, l_raise=30,
            r_raise=30),
        key(2.25, False, rf_lift=0.07, rf_z=0.3, lf_z=0.3, root_z=0.27, drop=0.07),
        key(2.5, False, rf_lift=0.1, rf_z=0.0, lf_z=0.3, root_z=0.2, drop=0.06),
        key(3, rf_z=0.0, lf_z=0.3, root_z=0.15, drop=0.1, sway=-0.03, r_fwd=60, r_raise=35, l_fwd=-20),
        key(3.25, False, lf_lift=0.07, lf_z=0.3, root_z=0.12, drop=0.07),
        key(3.5, False, lf_lift=0.1, lf_z=0.0, root_z=0.05, drop=0.06),
        key(4, root_z=0.0),
    ), energy=0.75))
    add(Move("knee_cross", "legs", 4, (
        key(0),
        key(0.5, False, l_raise=155, r_raise=155, l_fwd=40, r_fwd=40, l_elbow=15, r_elbow=15, drop=0.02, lean=-4,
            sway=0.03, rf_lift=0.06),  # arms reach high (the foot rising), then pull down to the knee
        key(1, rf_lift=0.28, rf_x=-0.02, rf_z=0.14, sway=0.05, drop=0.04, chest_twist=-22, hip_twist=-10, lean=10,
            l_raise=60, l_fwd=80, l_elbow=110, r_raise=40, r_fwd=-30, r_elbow=40),
        key(1.6, False, rf_lift=0.08, drop=0.06),
        key(2, drop=0.12, lean=6, head_nod=8, l_elbow=70, r_elbow=70, l_raise=30, r_raise=30),
        key(2.5, False, l_raise=155, r_raise=155, l_fwd=40, r_fwd=40, l_elbow=15, r_elbow=15, drop=0.02, lean=-4,
            sway=-0.03, lf_lift=0.06),
        key(3, lf_lift=0.28, lf_x=0.02, lf_z=0.14, sway=-0.05, drop=0.04, chest_twist=22, hip_twist=10, lean=10,
            r_raise=60, r_fwd=80, r_elbow=110, l_raise=40, l_fwd=-30, l_elbow=40),
        key(3.6, False, lf_lift=0.08, drop=0.06),
        key(4),
    ), energy=0.7))
    add(Move("side_kick", "legs", 4, (
        key(0),
        key(0.5, False, sway=0.07, hip_roll=-6, drop=0.06, rf_lift=0.06),
        key(1, rf_lift=0.2, rf_x=-W - 0.32, sway=0.08, side_bend=12, drop=0.06, r_raise=95, r_fwd=10, r_elbow=10,
            l_raise=35, l_elbow=90, head_turn=-20),
        key(1.6, False, rf_lift=0.08, sway=0.04, drop=0.08),
        key(2, drop=0.13, lean=8, head_nod=8, l_elbow=75, r_elbow=75, l_raise=30, r_raise=30),
        key(2.5, False, sway=-0.07, hip_roll=6, drop=0.06, lf_lift=0.06),
        key(3, lf_lift=0.2, lf_x=W + 0.32, sway=-0.08, side_bend=-12, drop=0.06, l_raise=95, l_fwd=10, l_elbow=10,
            r_raise=35, r_elbow=90, head_turn=20),
        key(3.6, False, lf_lift=0.08, sway=-0.04, drop=0.08),
        key(4),
    ), energy=0.8))
    add(_pivot_turn())
    add(Move("arm_sweep", "arms", 4, (
        key(0),
        key(1, False, l_raise=70, r_raise=70, l_fwd=90, r_fwd=90, l_elbow=25, r_elbow=25, lean=12, drop=0.1),
        key(2, l_raise=165, r_raise=165, l_fwd=30, r_fwd=30, l_elbow=5, r_elbow=5, lean=-6, head_nod=-16, drop=0.0),
        key(3, False, l_raise=100, r_raise=100, l_fwd=-5, r_fwd=-5, l_elbow=10, r_elbow=10, drop=0.08),
        key(3.5, l_raise=40, r_raise=40, l_fwd=20, r_fwd=20, l_elbow=70, r_elbow=70, drop=0.14, lean=10,
            head_nod=10),
        key(4),
    ), energy=0.6))
    moves += _genre_moves()
    return moves


def _genre_moves() -> list[Move]:
    """Signature vocabulary of the FineDance genres (what each style is known for; see docs/choreography.md)."""
    moves: list[Move] = []
    add = moves.append
    street = ("Hiphop", "Urban")
    chinese = ("ShenYun", "HanTang", "Kun", "Chinese", "DunHuang")
    # Locking: roll the wrists in front of the chest, then "lock" (freeze sitting low), point and clap.
    add(Move("wrist_roll_lock", "accent", 4, (
        key(0),
        key(0.5, False, l_raise=60, r_raise=60, l_fwd=90, r_fwd=90, l_elbow=120, r_elbow=120, l_wrist=40,
            r_wrist=-40, drop=0.06),
        key(1, l_raise=65, r_raise=65, l_fwd=90, r_fwd=90, l_elbow=115, r_elbow=115, l_wrist=-40, r_wrist=40,
            l_twist=30, r_twist=-30, drop=0.08),
        key(2, drop=0.2, lean=18, head_nod=12, l_raise=40, r_raise=40, l_fwd=60, r_fwd=60, l_elbow=130,
            r_elbow=130, l_shrug=15, r_shrug=15),
        key(3, l_raise=90, l_fwd=70, l_elbow=0, l_wrist=-30, r_raise=30, r_fwd=40, r_elbow=100, head_turn=35,
            chest_twist=12, drop=0.06),
        key(3.5, l_raise=55, r_raise=55, l_fwd=95, r_fwd=95, l_elbow=95, r_elbow=95, drop=0.1),
        key(4),
    ), energy=0.7, genres=("Locking",)))
    add(Move("scoobot_kick", "legs", 4, (
        key(0),
        key(1, rf_lift=0.12, rf_z=0.18, drop=0.1, lean=-6, l_raise=80, l_fwd=20, l_elbow=10, r_raise=80,
            r_fwd=20, r_elbow=10, head_nod=-8),
        key(2, drop=0.16, lean=16, l_raise=45, r_raise=45, l_fwd=80, r_fwd=80, l_elbow=120, r_elbow=120,
            l_wrist=40, r_wrist=40, head_nod=10),
        key(3, lf_lift=0.12, lf_z=0.18, drop=0.1, lean=-6, l_raise=95, l_fwd=60, l_elbow=0, r_raise=30,
            r_elbow=100, head_turn=-30),
        key(4),
    ), energy=0.75, genres=("Locking",)))
    # Popping: contract-and-release hits on every beat, arms in right angles (tutting).
    add(Move("pop_tut", "accent", 4, (
        key(0),
        key(1, l_raise=90, l_fwd=0, l_elbow=90, r_raise=90, r_fwd=0, r_elbow=90, chest_twist=-4, drop=0.07,
            head_turn=20, l_shrug=8),
        key(2, l_raise=90, l_fwd=90, l_elbow=90, r_raise=20, r_fwd=20, r_elbow=90, chest_twist=10, drop=0.09,
            head_turn=-20, lean=8),
        key(3, l_raise=150, l_fwd=30, l_elbow=90, r_raise=90, r_fwd=90, r_elbow=0, drop=0.06, head_nod=-6),
        key(3.5, l_raise=90, l_fwd=0, l_elbow=90, r_raise=90, r_fwd=0, r_elbow=90, drop=0.1, lean=10),
        key(4),
    ), energy=0.6, genres=("Popping",)))
    add(Move("pop_hit", "accent", 2, (
        key(0),
        key(0.5, False, drop=0.02, l_elbow=40, r_elbow=40),
        key(1, drop=0.1, lean=12, hip_pitch=8, head_nod=10, l_raise=50, r_raise=50, l_fwd=70, r_fwd=70,
            l_elbow=100, r_elbow=100, l_shrug=15, r_shrug=15),
        key(1.5, False, drop=0.04, l_elbow=50, r_elbow=50),
        key(2),
    ), energy=0.55, genres=("Popping",)))
    # Breaking: toprock (the "Indian step": cross in front, kick out, arms open), and going down to the floor.
    add(Move("toprock", "step", 4, (
        key(0),
        key(1, rf_x=0.05, rf_z=0.25, lean=10, chest_twist=20, l_raise=70, l_fwd=-20, l_elbow=40, r_raise=60,
            r_fwd=80, r_elbow=90, drop=0.12, head_turn=15),
        key(2, lean=2, l_raise=80, r_raise=80, l_fwd=10, r_fwd=10, l_elbow=30, r_elbow=30, drop=0.06),
        key(3, lf_x=-0.05, lf_z=0.25, lean=10, chest_twist=-20, r_raise=70, r_fwd=-20, r_elbow=40, l_raise=60,
            l_fwd=80, l_elbow=90, drop=0.12, head_turn=-15),
        key(4),
    ), energy=0.8, genres=("Breaking",)))
    add(Move("go_down", "accent", 4, (
        key(0),
        key(1, drop=0.36, lean=38, head_nod=20, lf_x=W + 0.15, rf_x=-W - 0.15, l_raise=40, r_raise=40,
            l_fwd=90, r_fwd=90, l_elbow=80, r_elbow=80),
        key(2, drop=0.38, lean=40, hip_twist=15, chest_twist=-20, lf_x=W + 0.15, rf_x=-W - 0.15, l_raise=20,
            r_raise=100, r_fwd=0, r_elbow=10, head_turn=-30),
        key(3, drop=0.1, lean=-4, l_raise=120, r_raise=120, l_elbow=30, r_elbow=30, head_nod=-10),
        key(4),
    ), energy=0.9, genres=("Breaking",)))
    # Hip-hop: the rock (chest rocks back and forth over a deep bounce), arms loose.
    add(Move("chest_rock", "groove", 4, tuple(
        key(b, lean=18 if b % 2 else -6, drop=0.16 if b % 2 else 0.05, head_nod=14 if b % 2 else -6,
            hip_pitch=-8 if b % 2 else 6, l_elbow=70 if b % 2 else 40, r_elbow=70 if b % 2 else 40,
            l_fwd=50, r_fwd=50, l_raise=30, r_raise=30) if 0 < b < 4 else key(b)
        for b in range(5)
    ), energy=0.6, genres=street + ("Breaking", "Korean")))
    # Jazz: the jazz square (cross, back, side, forward) with jazz hands.
    add(Move("jazz_square", "step", 4, (
        key(0),
        key(1, rf_x=W - 0.05, rf_z=0.22, chest_twist=-15, l_raise=100, l_fwd=20, l_elbow=10, l_wrist=40,
            r_raise=40, r_fwd=60, r_elbow=40, drop=0.08, head_turn=15),
        key(2, rf_x=W - 0.05, rf_z=0.22, lf_x=W + 0.1, lf_z=0.0, chest_twist=10, lean=-4, drop=0.06,
            l_raise=120, r_raise=120, l_fwd=10, r_fwd=10, l_elbow=5, r_elbow=5, l_wrist=45, r_wrist=45),
        key(3, rf_x=-W - 0.1, lf_x=W + 0.1, drop=0.1, l_raise=60, r_raise=60, l_elbow=60, r_elbow=60),
        key(4),
    ), energy=0.55, genres=("Jazz", "Choreography", "Korean")))
    # Korean (K-pop): sharp point choreography, hands framing the face, hip accents.
    add(Move("kpop_point", "arms", 4, (
        key(0),
        key(1, r_raise=100, r_fwd=80, r_elbow=0, l_raise=40, l_fwd=60, l_elbow=120, hip_roll=8, sway=0.06,
            head_turn=-20, drop=0.08),
        key(1.5, l_raise=130, r_raise=130, l_fwd=60, r_fwd=60, l_elbow=140, r_elbow=140, drop=0.05),
        key(2, r_raise=40, r_fwd=60, r_elbow=120, l_raise=100, l_fwd=80, l_elbow=0, hip_roll=-8, sway=-0.06,
            head_turn=20, drop=0.08),
        key(3, l_raise=160, r_raise=20, l_fwd=20, l_elbow=10, r_elbow=30, side_bend=-10, drop=0.12),
        key(4),
    ), energy=0.7, genres=("Korean", "Urban")))
    # Chinese classical: cloud hands (slow circles of the arms) over soft knees, and the sleeve toss.
    add(Move("cloud_hands", "wave", 8, (
        key(0),
        key(1, False, l_raise=90, l_fwd=80, l_elbow=50, l_wrist=30, r_raise=30, r_fwd=40, r_elbow=60, drop=0.12,
            chest_twist=15, head_turn=20, sway=0.05),
        key(2, False, l_raise=140, l_fwd=20, l_elbow=40, l_wrist=-20, r_raise=60, r_fwd=90, r_elbow=70,
            drop=0.15, chest_twist=20, side_bend=-8, head_turn=25, head_tilt=8),
        key(3, False, l_raise=80, l_fwd=-10, l_elbow=30, r_raise=90, r_fwd=80, r_elbow=50, drop=0.1,
            chest_twist=0),
        key(4, l_raise=40, r_raise=40, l_fwd=60, r_fwd=60, l_elbow=90, r_elbow=90, l_wrist=35, r_wrist=35,
            drop=0.18, lean=10, head_nod=10),
        key(5, False, r_raise=90, r_fwd=80, r_elbow=50, r_wrist=30, l_raise=30, l_fwd=40, l_elbow=60, drop=0.12,
            chest_twist=-15, head_turn=-20, sway=-0.05),
        key(6, False, r_raise=140, r_fwd=20, r_elbow=40, r_wrist=-20, l_raise=60, l_fwd=90, l_elbow=70,
            drop=0.15, chest_twist=-20, side_bend=8, head_turn=-25, head_tilt=-8),
        key(7, False, r_raise=80, r_fwd=-10, r_elbow=30, l_raise=90, l_fwd=80, l_elbow=50, drop=0.1),
        key(8),
    ), energy=0.35, min_beat_s=0.25, genres=chinese + ("Dai",)))
    add(Move("sleeve_toss", "arms", 4, (
        key(0),
        key(1, False, l_raise=40, l_fwd=100, l_elbow=110, r_raise=30, r_fwd=-20, drop=0.14, lean=10,
            chest_twist=-15, head_nod=10),
        key(2, l_raise=170, l_fwd=40, l_elbow=5, l_wrist=-40, r_raise=70, r_fwd=0, r_elbow=15, lean=-8,
            side_bend=-12, head_nod=-15, head_turn=20, drop=0.02, rf_lift=0.1, rf_z=-0.1),
        key(3, False, l_raise=110, l_fwd=-10, l_elbow=20, r_raise=90, r_fwd=30, drop=0.1, chest_twist=10),
        key(4),
    ), energy=0.5, genres=chinese))
    # DunHuang and Dai: the S-curve pose ("three bends": knees, waist and neck bent opposite ways), hands
    # shaped (one up and bent back, one low), held and turned through.
    add(Move("three_bends", "wave", 4, (
        key(0),
        key(1, False, sway=0.1, hip_roll=10, side_bend=14, head_tilt=-14, drop=0.14, lf_lift=0.05,
            l_raise=150, l_fwd=40, l_elbow=90, l_wrist=-45, r_raise=40, r_fwd=-20, r_elbow=60, r_wrist=45),
        key(2, sway=0.11, hip_roll=12, side_bend=16, head_tilt=-16, drop=0.16, l_raise=155, l_fwd=40,
            l_elbow=95, l_wrist=-45, r_raise=40, r_fwd=-20, r_elbow=60, r_wrist=45),
        key(3, False, sway=-0.1, hip_roll=-10, side_bend=-14, head_tilt=14, drop=0.14, rf_lift=0.05,
            r_raise=150, r_fwd=40, r_elbow=90, r_wrist=-45, l_raise=40, l_fwd=-20, l_elbow=60, l_wrist=45),
        key(4),
    ), energy=0.4, min_beat_s=0.25, genres=("DunHuang", "Dai", "HanTang")))
    # Dai peacock: soft knee bounces, elbows up and wrists bent into the peacock's head.
    add(Move("peacock", "bounce", 4, tuple(
        key(b, drop=0.17 if b % 2 else 0.07, l_raise=110, l_fwd=70 if b % 2 else 30, l_elbow=100, l_wrist=-45,
            r_raise=35, r_fwd=-30, r_elbow=40, r_wrist=40, head_turn=25 if b % 2 else 10, lean=8,
            hip_roll=6 if b % 2 else 0) if 0 < b < 4 else key(b)
        for b in range(5)
    ), energy=0.45, genres=("Dai",)))
    # Miao: festive stamping steps with the shoulders bouncing.
    add(Move("stamp_step", "legs", 4, (
        key(0),
        key(0.5, False, rf_lift=0.14, drop=0.08, l_shrug=12, r_shrug=12, l_raise=40, r_raise=40, l_elbow=80,
            r_elbow=80),
        key(1, drop=0.16, lean=10, head_nod=8, l_raise=30, r_raise=30, l_elbow=60, r_elbow=60),
        key(1.5, False, lf_lift=0.14, drop=0.08, l_shrug=12, r_shrug=12, l_raise=40, r_raise=40, l_elbow=80,
            r_elbow=80),
        key(2, drop=0.16, lean=10, head_nod=8, l_raise=30, r_raise=30, l_elbow=60, r_elbow=60),
        key(3, rf_lift=0.1, rf_z=0.15, drop=0.1, l_raise=70, r_raise=70, l_fwd=90, r_fwd=90, l_elbow=30,
            r_elbow=30),
        key(4),
    ), energy=0.65, genres=("Miao",)))
    # Wei (Uyghur): the neck slide with hands framing the head and wrists turning.
    add(Move("neck_slide", "accent", 4, (
        key(0),
        key(1, l_raise=150, r_raise=150, l_fwd=60, r_fwd=60, l_elbow=80, r_elbow=80, l_wrist=40, r_wrist=-40,
            head_turn=25, head_tilt=-10, drop=0.06),
        key(2, l_raise=150, r_raise=150, l_fwd=60, r_fwd=60, l_elbow=80, r_elbow=80, l_wrist=-40, r_wrist=40,
            head_turn=-25, head_tilt=10, drop=0.1),
        key(3, l_raise=120, r_raise=60, l_fwd=30, r_fwd=90, l_elbow=40, r_elbow=90, l_wrist=40, head_turn=20,
            chest_twist=10, drop=0.06),
        key(4),
    ), energy=0.5, genres=("Wei",)))
    # Kunqu opera: a slow, restrained step forward with the hands held in front, a small head turn.
    add(Move("opera_step", "step", 8, (
        key(0),
        key(2, False, lf_z=0.15, root_z=0.07, l_raise=45, r_raise=40, l_fwd=90, r_fwd=70, l_elbow=90, r_elbow=100,
            l_wrist=-30, drop=0.1, head_turn=15, head_tilt=5),
        key(4, lf_z=0.15, rf_z=0.15, root_z=0.15, l_raise=60, r_raise=35, l_fwd=80, r_fwd=60, l_elbow=70,
            r_elbow=110, l_wrist=-40, drop=0.12, head_turn=25, lean=6),
        key(6, False, lf_z=0.15, rf_z=0.15, root_z=0.15, l_raise=40, r_raise=55, l_fwd=60, r_fwd=80,
            l_elbow=100, r_elbow=80, r_wrist=-35, drop=0.1, head_turn=-20),
        key(8, root_z=0.15),
    ), energy=0.25, min_beat_s=0.2, genres=("Kun", "HanTang", "Chinese")))
    return moves


def _stepped_turn(name: str, steps: int, arms: dict[str, float], energy: float, min_beat_s: float) -> Move:
    """A full turn to the dancer's left over four beats in ``steps`` even steps, feet alternating, the
    arms gathering into ``arms`` over the first beat and opening over the last."""
    keys = [key(0)]
    for step in range(1, steps):
        facing = 360.0 * step / steps
        feet = stance_feet(0.0, 0.0, facing, half_width=0.09)
        # Alternate feet: on odd steps the right foot moves to the new stance, on even steps the left.
        previous = stance_feet(0.0, 0.0, 360.0 * (step - 1) / steps, half_width=0.09)
        moving = "rf" if step % 2 else "lf"
        planted = "lf" if moving == "rf" else "rf"
        beat = 4.0 * step / steps
        gather = min(1.0, beat, 4.0 - beat)
        pose = {
            f"{moving}_x": feet[f"{moving}_x"], f"{moving}_z": feet[f"{moving}_z"],
            f"{planted}_x": previous[f"{planted}_x"], f"{planted}_z": previous[f"{planted}_z"],
            "facing": facing, "drop": 0.06,
            **{name: NEUTRAL[PARAM_INDEX[name]] + (value - NEUTRAL[PARAM_INDEX[name]]) * gather
               for name, value in arms.items()},
        }  # fmt: skip
        keys.append(key(beat, False, **pose))  # the turn flows; the feet still land softly
    keys.append(key(4, facing=360.0))
    return Move(name, "turn", 4, tuple(keys), energy=energy, min_beat_s=min_beat_s)


def _spin() -> Move:
    """A full turn in eight half-beat steps, arms pulled in."""
    arms = {"l_raise": 55, "r_raise": 55, "l_fwd": 80, "r_fwd": 80, "l_elbow": 100, "r_elbow": 100}
    return _stepped_turn("spin", 8, arms, energy=0.7, min_beat_s=0.45)


def _open_turn() -> Move:
    """The same stepping turn with the arms open wide and high: a showy turn for big music."""
    arms = {"l_raise": 110, "r_raise": 95, "l_fwd": 25, "r_fwd": 20, "l_elbow": 15, "r_elbow": 25,
            "head_nod": -8}  # fmt: skip
    return _stepped_turn("open_turn", 8, arms, energy=0.75, min_beat_s=0.45)


def _pivot_turn() -> Move:
    """A full turn in six steps over four beats, weight low, arms loose: a pivoting step-around."""
    arms = {"l_raise": 40, "r_raise": 40, "l_fwd": 50, "r_fwd": 50, "l_elbow": 80, "r_elbow": 80, "lean": 8}
    return _stepped_turn("pivot_turn", 6, arms, energy=0.6, min_beat_s=0.3)


def _jump_turn() -> Move:
    """Two jumps, each turning half way round in the air (to the dancer's left), landing on beats 2 and 4."""
    keys = [key(0)]
    arms_in = {"l_raise": 60, "r_raise": 60, "l_fwd": 85, "r_fwd": 85, "l_elbow": 110, "r_elbow": 110}
    for half in (0, 1):
        start = 2.0 * half
        facing = 180.0 * half
        keys += [
            key(start + 0.5, False, facing=facing, drop=0.17, lean=14, l_raise=25, r_raise=25, l_fwd=-30, r_fwd=-30),
            key(start + 0.9, False, facing=facing + 20.0, **stance_feet(0.0, 0.0, facing), lf_lift=0.06,
                rf_lift=0.06, drop=0.02, lean=4),  # take-off: the feet leave the floor before they turn
            key(start + 1.25, False, facing=facing + 90.0, **stance_feet(0.0, 0.0, facing + 90.0), lf_lift=0.12,
                rf_lift=0.12, drop=-0.06, **arms_in),
            key(start + 2, facing=facing + 180.0, drop=0.18, lean=12, head_nod=10, l_raise=95, r_raise=95, l_fwd=40,
                r_fwd=40, l_elbow=20, r_elbow=20),
        ]  # fmt: skip
    keys[-1] = key(4, facing=360.0)
    return Move("jump_turn", "turn", 4, tuple(keys), energy=0.9, min_beat_s=0.45)


def _walk_out_and_back() -> Move:
    """Four steps forward towards the audience with swinging arms, four steps back."""
    feet_z = ((0.22, 0.0), (0.22, 0.44), (0.66, 0.44), (0.66, 0.66), (0.44, 0.66), (0.44, 0.22), (0.0, 0.22))
    keys = [key(0)]
    for beat, (left_z, right_z) in enumerate(feet_z, start=1):
        swing = 1.0 if beat % 2 else -1.0  # the arm opposite the stepping foot swings forward
        keys.append(key(
            beat, lf_x=W, lf_z=left_z, rf_x=-W, rf_z=right_z, root_z=(left_z + right_z) / 2, drop=0.07,
            l_fwd=15 - 40 * swing, r_fwd=15 + 40 * swing, l_raise=28, r_raise=28, l_elbow=55, r_elbow=55,
            chest_twist=-6 * swing, head_nod=4,
        ))  # fmt: skip
    keys.append(key(8, root_z=0.0))
    return Move("walk_out_and_back", "step", 8, tuple(keys), energy=0.5)


def _quarter_turn_pose() -> Move:
    """Step-turn a quarter to the left, hit a profile pose, and turn back to the front."""
    side = stance_feet(0.0, 0.0, 90.0)
    front = stance_feet(0.0, 0.0, 0.0)
    return Move("quarter_turn_pose", "turn", 8, (
        key(0),
        key(1, False, facing=45.0, rf_x=side["rf_x"], rf_z=side["rf_z"], lf_x=front["lf_x"], lf_z=front["lf_z"],
            drop=0.06),
        key(2, facing=90.0, **side, drop=0.1, lean=12, l_raise=80, l_fwd=90, l_elbow=10, r_raise=20, r_fwd=-30,
            head_turn=-40),
        key(3, facing=90.0, **side, drop=0.05, lean=-6, l_raise=150, l_fwd=60, r_raise=150, r_fwd=60, head_turn=-40),
        key(4, facing=90.0, **side, drop=0.12, lean=15, l_raise=30, r_raise=30, l_elbow=90, r_elbow=90,
            head_turn=-30),
        key(5, False, facing=45.0, lf_x=front["lf_x"], lf_z=front["lf_z"], rf_x=side["rf_x"], rf_z=side["rf_z"],
            drop=0.06),
        key(6, facing=0.0, drop=0.1, l_raise=90, r_raise=90, l_elbow=10, r_elbow=10),
        key(7, facing=0.0, drop=0.06, l_raise=30, r_raise=30),
        key(8, facing=0.0),
    ), energy=0.55)  # fmt: skip


#: Every authored move, by name (mirrored variants are made on demand with :func:`mirrored`).
MOVES: dict[str, Move] = {move.name: move for move in _moves()}

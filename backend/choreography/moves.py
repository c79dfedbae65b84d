"""Moves: short parametric dance clips authored in beats, and how a move's keys become full poses.

The moves themselves are data (:mod:`.vocabulary`); this module turns its rows into :class:`Move` objects.

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
from .vocabulary import ARM_STYLES, GENRE_MOVES, MOVE_TABLE

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


# -- the library: rows of .vocabulary made into moves --------------------------------------------------
def move_from_row(row: Mapping, family: str | None = None) -> Move:
    """A :class:`Move` from a vocabulary row (see :mod:`.vocabulary`); ``family`` when the row has none."""
    family = row.get("family", family)
    if "turn_steps" in row:
        return _stepped_turn(row["name"], row["turn_steps"], row["arms"], row["energy"], row["min_beat_s"])
    keys = tuple(
        key(item["beat"], item.get("hit", True), **{k: v for k, v in item.items() if k not in ("beat", "hit")})
        for item in row["keys"]
    )
    return Move(row["name"], family, row["beats"], keys, float(row["energy"]), float(row.get("min_beat_s", 0.34)),
                tuple(row.get("genres", ())))


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


#: Every authored move, by name (mirrored variants are made on demand with :func:`mirrored`).
MOVES: dict[str, Move] = {
    move.name: move
    for move in (
        *(move_from_row(row, family) for family, rows in MOVE_TABLE.items() for row in rows),
        *(move_from_row(row) for row in GENRE_MOVES),
    )
}

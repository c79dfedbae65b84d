"""How each FineDance genre dances: vocabulary, groove, tempo feel and arms.

What the styles are known for (dance references; summarised in docs/choreography.md):

* **Hiphop** — a loose, *down* groove (knees sink on the beat), rocks and bounces, relaxed pumping arms.
* **Urban** (urban / commercial choreography) — hip-hop grooves cut with sharp hits and points.
* **Breaking** — toprock (the "Indian step"), going down to the floor and back (level changes), big and
  athletic, open swinging arms.
* **Popping** — muscles *hit* on the beat (contract-and-release), waves and tutting (right-angle arms); the
  body stops dead between hits, little bounce.
* **Locking** — funk: wrist rolls, the "lock" (a sudden freeze sitting low), points, claps and kicks (the
  Scooby-Doo / Scoobot), bouncy and hard-hitting.
* **Korean** (K-pop) — sharp, synchronised arm choreography framing the face, hip accents, many hits.
* **Jazz** — jazz squares, kick-ball-changes, turns, jazz hands; lifted and showy, hits mixed with flow.
* **Choreography** (contemporary) — flow, reaches, turns and level changes, arms that follow through.
* **Chinese classical** (ShenYun, HanTang, Chinese, DunHuang) — flowing, circular arms (cloud hands, sleeve
  tosses), small quick steps, turns; no bounce, often a half-time feel. **Kun** (Kunqu opera) — slow,
  restrained, small. **DunHuang** — the S-shaped "three bends" poses of the Mogao murals.
* **Folk**: **Dai** — the peacock dance, soft knee bounces, three bends, shaped hands; **Miao** — festive
  stamping steps, bouncing shoulders; **Wei** (Uyghur) — the neck slide, hands framing the head, turning
  wrists, spins.

Each :class:`GenreStyle` turns that into numbers the planner and the synthesis use.
"""

from __future__ import annotations

from dataclasses import dataclass, field



@dataclass(frozen=True)
class GrooveShape:
    """The groove layered under every move (see ``synthesis.add_pulse``).

    Attributes:
        bounce: depth of the knee bounce on the beat (1 = nominal).
        sway: size of the weight shift from foot to foot.
        sharpness: 1 = a smooth sinusoidal bounce; larger = the body snaps into the beat (a hit) and floats
            between beats.
        arms: how much the arms ride the groove (carried, pumping, swinging).
    """

    bounce: float = 1.0
    sway: float = 1.0
    sharpness: float = 1.0
    arms: float = 1.0


@dataclass(frozen=True)
class GenreStyle:
    """How one genre dances.

    Attributes:
        family_weights: preference per move family (missing families weigh 1).
        favoured: general moves this genre uses a lot (weighted by ``FAVOURED_WEIGHT``).
        arm_styles: weight per ``moves.ARM_STYLES`` name (missing styles weigh ``OTHER_ARM_STYLE``).
        groove: the groove's shape.
        hit_tangent: range of the share of the smooth tangent kept at hit keys (small = hard hits).
        half_feel: chance that a section is danced in a half-time feel (any loudness; quiet sections
            always may be).
        amplitude: overall size of the moves.
    """

    family_weights: dict[str, float] = field(default_factory=dict)
    favoured: tuple[str, ...] = ()
    arm_styles: dict[str, float] = field(default_factory=dict)
    groove: GrooveShape = GrooveShape()
    hit_tangent: tuple[float, float] = (0.15, 0.45)
    half_feel: float = 0.0
    amplitude: float = 1.0


#: Weight of a genre's signature moves (``Move.genres``) and of its favoured general moves.
SIGNATURE_WEIGHT, FAVOURED_WEIGHT = 8.0, 3.0
#: Weight of an arm style a genre does not name.
OTHER_ARM_STYLE = 0.15

_STREET = {"groove": 1.5, "bounce": 1.5, "accent": 1.3, "legs": 1.2, "wave": 1.1, "turn": 1.0}
_CLASSICAL = {"wave": 2.0, "arms": 1.6, "turn": 1.4, "step": 1.0, "groove": 0.6, "bounce": 0.3, "legs": 0.6}
_SHOW = {"arms": 1.5, "step": 1.4, "accent": 1.4, "turn": 1.3, "legs": 1.1}
_FLOW = GrooveShape(bounce=0.3, sway=1.3, sharpness=1.0, arms=0.6)

GENRE_STYLES: dict[str, GenreStyle] = {
    "Hiphop": GenreStyle(
        _STREET, ("bounce", "two_step", "running_man", "head_bop", "squat_pulse"),
        {"pump": 3, "swing": 2}, GrooveShape(bounce=1.6, sway=1.1, sharpness=1.0, arms=1.2), (0.3, 0.5),
    ),
    "Urban": GenreStyle(
        {**_STREET, "accent": 1.8, "arms": 1.3}, ("hit_combo", "chest_pop", "two_step", "robot_arms"),
        {"punch": 2, "point": 2, "pump": 1}, GrooveShape(bounce=1.2, sway=1.0, sharpness=2.0, arms=1.0),
        (0.1, 0.3),
    ),
    "Breaking": GenreStyle(
        {**_STREET, "legs": 1.6, "turn": 1.5, "step": 1.3}, ("drop_freeze", "jump_turn", "kick", "hop"),
        {"open": 2, "swing": 2}, GrooveShape(bounce=1.3, sway=1.2, sharpness=1.5, arms=1.0), (0.2, 0.4),
        amplitude=1.1,
    ),
    "Popping": GenreStyle(
        {**_STREET, "wave": 2.0, "accent": 1.6, "bounce": 0.5, "step": 0.6}, ("arm_wave", "body_roll",
        "robot_arms", "chest_pop", "hit_combo"), {"tut": 3, "punch": 1},
        GrooveShape(bounce=0.7, sway=0.5, sharpness=4.0, arms=0.5), (0.0, 0.1),
    ),
    "Locking": GenreStyle(
        {**_STREET, "arms": 1.6, "accent": 1.8, "turn": 0.8}, ("lock_point", "point_pose", "clap", "kick",
        "knee_lift"), {"point": 3, "punch": 1}, GrooveShape(bounce=1.4, sway=0.7, sharpness=2.5, arms=1.2),
        (0.05, 0.2),
    ),
    "Korean": GenreStyle(
        {**_SHOW, "arms": 1.8, "accent": 1.6}, ("hit_combo", "robot_arms", "point_pose", "body_roll"),
        {"point": 2, "punch": 2, "pump": 1}, GrooveShape(bounce=0.9, sway=1.0, sharpness=2.5, arms=1.0),
        (0.05, 0.25),
    ),
    "Jazz": GenreStyle(
        {**_SHOW, "turn": 1.6, "legs": 1.4}, ("kick_ball_change", "chasse_travel", "kick", "open_turn", "spin",
        "star_pose"), {"jazz": 3, "open": 1}, GrooveShape(bounce=0.6, sway=1.0, sharpness=1.5, arms=0.8),
        (0.15, 0.35), amplitude=1.05,
    ),
    "Choreography": GenreStyle(
        {**_SHOW, "wave": 1.6, "turn": 1.5}, ("ribbon", "lunge_reach", "arm_sweep", "open_turn", "drop_freeze",
        "body_roll"), {"reach": 2, "open": 2}, GrooveShape(bounce=0.5, sway=1.2, sharpness=1.0, arms=0.8),
        (0.35, 0.6), half_feel=0.35, amplitude=1.05,
    ),
    "ShenYun": GenreStyle(
        {**_CLASSICAL, "turn": 1.8}, ("open_turn", "spin", "fan_arms", "ribbon", "jump_turn"),
        {"sleeve": 3, "open": 1}, _FLOW, (0.4, 0.7), half_feel=0.4, amplitude=1.05,
    ),
    "HanTang": GenreStyle(
        _CLASSICAL, ("ribbon", "fan_arms", "arm_sweep"), {"sleeve": 3, "reach": 1}, _FLOW, (0.5, 0.8),
        half_feel=0.6, amplitude=0.9,
    ),
    "Chinese": GenreStyle(
        _CLASSICAL, ("fan_arms", "ribbon", "spin", "arm_wave"), {"sleeve": 2, "reach": 1, "open": 1}, _FLOW,
        (0.4, 0.7), half_feel=0.45,
    ),
    "DunHuang": GenreStyle(
        {**_CLASSICAL, "turn": 0.8}, ("hip_circle", "arm_wave", "fan_arms"), {"sleeve": 2, "reach": 1},
        GrooveShape(bounce=0.2, sway=1.6, sharpness=1.0, arms=0.5), (0.5, 0.8), half_feel=0.6, amplitude=0.95,
    ),
    "Kun": GenreStyle(
        {**_CLASSICAL, "turn": 0.6, "step": 1.5, "legs": 0.3}, ("side_walk", "arm_sweep"), {"sleeve": 3},
        GrooveShape(bounce=0.1, sway=0.6, sharpness=1.0, arms=0.3), (0.6, 0.9), half_feel=0.9, amplitude=0.7,
    ),
    "Dai": GenreStyle(
        {**_CLASSICAL, "bounce": 1.2, "groove": 1.0}, ("hip_circle", "side_sway"), {"sleeve": 1, "reach": 1},
        GrooveShape(bounce=1.1, sway=1.4, sharpness=1.0, arms=0.6), (0.4, 0.7), half_feel=0.3,
    ),
    "Miao": GenreStyle(
        {"legs": 2.0, "bounce": 1.8, "step": 1.5, "groove": 1.2, "wave": 0.5}, ("march", "heel_dig", "hop",
        "step_touch", "clap"), {"swing": 2, "open": 1}, GrooveShape(bounce=1.5, sway=1.2, sharpness=1.5,
        arms=1.3), (0.2, 0.4),
    ),
    "Wei": GenreStyle(
        {"accent": 1.5, "turn": 1.8, "arms": 1.4, "wave": 1.2, "bounce": 0.6}, ("spin", "shoulder_shimmy",
        "head_bop", "open_turn"), {"reach": 1, "open": 1, "sleeve": 1},
        GrooveShape(bounce=0.8, sway=0.9, sharpness=2.0, arms=0.8), (0.2, 0.45),
    ),
}

#: The style of a dance with no genre: every move and arm style, the nominal groove.
DEFAULT_STYLE = GenreStyle()


def genre_style(genre: str | None) -> GenreStyle:
    """The style of ``genre`` (a ``shared.genres.GENRES`` name), or the default style for None/""."""
    return GENRE_STYLES.get(genre or "", DEFAULT_STYLE)

"""The planner: which move, on which beat, on which side, how big.

How a choreographer fills a song, and how this planner does it:

* **Beats and bars.** Moves start on bar lines (every 4 beats from the downbeat) of a beat grid that
  follows the music's tracked beats and extends them regularly over the intro and outro.
* **Sections.** Each musical section gets a move *family* (groove, steps, arms, waves, bounce, legs,
  turns, accents) chosen by its loudness and the genre, never the previous section's family.
* **Phrases.** A section is danced as a 4-bar phrase repeated on alternating sides (mirrored), the way
  8-counts are taught. A section whose music repeats an earlier one (same label) repeats that phrase.
  With a genre that has signature moves, each phrase opens with one of them.
* **Energy.** Louder music picks higher-energy moves and dances them bigger (amplitude follows the local
  loudness).
* **Stage.** A travelling move that would leave the stage circle is danced the other way or swapped for a
  move that stays in place.
* **Seeds.** Every random choice comes from one ``numpy`` generator seeded by the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.interpolate import PchipInterpolator

from backend.features import MusicFeatures

from .moves import ARM_STYLES, FAMILIES, MOVES, Move, has_quiet_arms, mirrored, styled
from .rig import PARAM_INDEX
from .styles import FAVOURED_WEIGHT, OTHER_ARM_STYLE, SIGNATURE_WEIGHT, genre_style
from .synthesis import Placement, end_state

BEATS_PER_BAR = 4
PHRASE_BEATS = 16
#: Smallest and largest move amplitude (1 = as authored).
AMPLITUDE_RANGE = (0.75, 1.8)
#: Sections quieter than this loudness may be danced in a half-time feel, on beats shorter than this (s).
QUIET_FEEL, HALF_FEEL_MAX_PERIOD = 0.4, 0.6
#: The dancer's root stays within this distance of centre stage, metres.
STAGE_RADIUS = 1.3
#: Moves whose root stays this close to where they start count as "in place" (stage-safe fillers).
STILL_REACH = 0.15
#: Typical loudness rank each family suits (0 quiet … 1 loud).
FAMILY_ENERGY = {
    "groove": 0.15, "wave": 0.3, "step": 0.6, "arms": 0.55, "legs": 0.65, "turn": 0.7, "bounce": 0.8,
    "accent": 0.75,
}  # fmt: skip
@dataclass(frozen=True)
class BeatGrid:
    """The music's beats, extended regularly before the first and after the last one.

    Attributes:
        times: (G,) increasing seconds (the first ones may be negative).
        first_bar: index of a grid beat that starts a bar.
    """

    times: np.ndarray
    first_bar: int

    @property
    def period(self) -> float:
        return float(np.median(np.diff(self.times)))

    def position(self, seconds: np.ndarray) -> np.ndarray:
        """Fractional grid index at ``seconds`` (monotone and C¹)."""
        return self._to_position(seconds)

    def time(self, positions: np.ndarray) -> np.ndarray:
        return self._to_time(positions)

    # The two monotone maps, built once per grid (the planner asks them a hundred times a song).
    @cached_property
    def _to_position(self) -> PchipInterpolator:
        return PchipInterpolator(self.times, np.arange(len(self.times)), extrapolate=True)

    @cached_property
    def _to_time(self) -> PchipInterpolator:
        return PchipInterpolator(np.arange(len(self.times)), self.times, extrapolate=True)

    def bar_start_at_or_before(self, seconds: float) -> int:
        index = int(np.searchsorted(self.times, seconds + 1e-6, side="right") - 1)
        return index - ((index - self.first_bar) % BEATS_PER_BAR)


def make_grid(features: MusicFeatures) -> BeatGrid:
    """A beat grid covering [−1 bar, duration + 2 bars] that passes through the tracked beats."""
    beats = np.asarray(features.beat_times, dtype=np.float64)
    if len(beats) < 4:  # too few beats found (very short or arhythmic music): a steady grid at the tempo
        period = 60.0 / (features.tempo if features.tempo > 30 else 120.0)
        beats = np.arange(0.0, features.duration + period, period)
    period = float(np.median(np.diff(beats)))
    before = np.arange(1, int(np.ceil((beats[0] + BEATS_PER_BAR * period) / period)) + 1)[::-1]
    after_count = int(np.ceil((features.duration + 2 * BEATS_PER_BAR * period - beats[-1]) / period))
    times = np.concatenate([beats[0] - before * period, beats, beats[-1] + np.arange(1, after_count + 1) * period])
    downbeats = np.asarray(features.downbeat_times, dtype=np.float64)
    first_downbeat = downbeats[0] if len(downbeats) else beats[0]
    first_bar = int(np.argmin(np.abs(times - first_downbeat)))
    return BeatGrid(times=times, first_bar=first_bar)


def beat_scale(move: Move, period: float) -> float:
    """Grid beats per move beat: half time for fast music, double time for very slow music."""
    if period < move.min_beat_s:
        return 2.0
    if period > 0.95:
        return 0.5
    return 1.0


@dataclass(frozen=True)
class Feel:
    """How a section is danced against the beat: the beat period (s) and whether in a half-time feel."""

    period: float
    half_time: bool = False

    def scale(self, move: Move) -> float:
        """Grid beats per move beat (the half-time feel slows in-tempo moves)."""
        scale = beat_scale(move, self.period)
        return 2.0 * scale if self.half_time and scale == 1.0 and self.period < HALF_FEEL_MAX_PERIOD else scale


class Planner:
    """Plans placements for one song; one instance per request."""

    def __init__(self, features: MusicFeatures, seed: int | np.random.SeedSequence = 0, genre: str | None = None):
        self.features = features
        self.rng = np.random.default_rng(seed)
        self.grid = make_grid(features)
        self.genre = genre or ""
        self.style = genre_style(genre)
        self.family_weights = self.style.family_weights
        # The genre's vocabulary: its signature moves (only it dances them) and the general moves it favours.
        self.vocabulary = {
            name: (SIGNATURE_WEIGHT if move.genres else FAVOURED_WEIGHT if name in self.style.favoured else 1.0)
            for name, move in MOVES.items()
            if not move.genres or self.genre in move.genres
        }
        self.loudness = loudness_rank(features.energy)  # (T,) 0 quiet … 1 loud, per music frame
        # A dancer's personal style for this seed: overall size of the moves and depth of the groove.
        self.amplitude_style = self.style.amplitude * float(self.rng.uniform(0.9, 1.1))
        self.groove_style = float(self.rng.uniform(0.8, 1.2))
        # Favourite moves and arm styles: two dancers (seeds) on the same song pick differently.
        self.move_taste = {name: float(w) for name, w in zip(MOVES, self.rng.lognormal(0.0, 0.7, len(MOVES)))}
        genre_arms = [self.style.arm_styles.get(name, OTHER_ARM_STYLE if self.style.arm_styles else 1.0)
                      for name in ARM_STYLES]  # fmt: skip
        self.style_taste = np.asarray(genre_arms) * self.rng.lognormal(0.0, 0.8, len(ARM_STYLES))
        # How hard this dancer hits the beat: share of the smooth tangent kept at hit keys (the genre's range).
        self.hit_tangent = float(self.rng.uniform(*self.style.hit_tangent))
        # Laid-back or driven: shifts the move energies (not the sizes) this dancer picks for the music.
        self.energy_bias = float(self.rng.uniform(-0.15, 0.2))

    def plan(self) -> list[Placement]:
        """Placements covering the music from its start to past its end."""
        grid, period = self.grid, self.grid.period
        start = grid.bar_start_at_or_before(0.0)
        end_position = float(grid.position(np.array([self.features.duration]))[0])
        section_starts, section_labels = self.sections_on_bars(start)

        placements: list[Placement] = []
        origin, facing = (0.0, 0.0), 0.0
        phrases: dict[int, tuple[list[tuple[Move, bool]], Feel]] = {}
        previous_family = None
        position = float(section_starts[0])
        for k, section_start in enumerate(section_starts):
            if section_start >= end_position:
                break
            section_end = section_starts[k + 1] if k + 1 < len(section_starts) else int(np.ceil(end_position)) + 1
            label = section_labels[k]
            loudness = self._mean_rank(grid.time(np.array([section_start]))[0], grid.time(np.array([section_end]))[0])
            drive = float(np.clip(loudness + self.energy_bias, 0.0, 1.0))  # how hard this dancer takes it
            if label not in phrases:
                family = self._pick_family(drive, exclude=previous_family)
                # A quiet section may be danced in a half-time feel (slow, flowing), as dancers often do.
                chance = max(self.style.half_feel, 0.5 if drive < QUIET_FEEL else 0.0)
                feel = Feel(period, half_time=bool(self.rng.random() < chance))
                phrases[label] = (self._phrase(family, drive, feel), feel)
            phrase, feel = phrases[label]  # a repeated section is danced as it was the first time
            previous_family = max(FAMILIES, key=lambda f: sum(m.family == f for m, _ in phrase))
            # A filler that overran the previous section shortens this one (never overlaps it).
            position, repeat = max(position, float(section_start)), 0
            while position < section_end - 1e-6:
                for move, flip in phrase:
                    move = mirrored(move) if flip != (repeat % 2 == 1) else move
                    span = move.beats * feel.scale(move)
                    if position + span > section_end + 1e-6:
                        move = self._filler(section_end - position, feel)
                        span = move.beats * feel.scale(move)
                    placement = self._place(move, position, origin, facing, feel)
                    placements.append(placement)
                    origin, facing = end_state(placement)
                    position += span
                    if position >= section_end - 1e-6:
                        break
                repeat += 1
        return placements

    # -- pieces ------------------------------------------------------------------------------------
    def sections_on_bars(self, start: int) -> tuple[list[int], list[int]]:
        """Grid index of each section's first bar (the first one is the dance's start) and its repeat
        label; a section too short to get its own bar merges into the one before it."""
        bounds = np.asarray(self.features.section_bounds, dtype=np.float64)
        labels = [int(label) for label in self.features.section_labels]
        starts, kept_labels = [start], [labels[0] if labels else 0]
        for seconds, label in zip(bounds[1:-1], labels[1:]):
            index = int(round(float(self.grid.position(np.array([seconds]))[0])))
            index -= (index - self.grid.first_bar) % BEATS_PER_BAR
            if index > starts[-1]:
                starts.append(index)
                kept_labels.append(label)
        return starts, kept_labels

    def _pick_family(self, loudness: float, exclude: str | None) -> str:
        weights = np.array([
            0.0 if family == exclude else
            self.family_weights.get(family, 1.0) * np.exp(-(((FAMILY_ENERGY[family] - loudness) / 0.3) ** 2))
            for family in FAMILIES
        ])  # fmt: skip
        return FAMILIES[int(self.rng.choice(len(FAMILIES), p=weights / weights.sum()))]

    def _phrase(self, family: str, loudness: float, feel: Feel) -> list[tuple[Move, bool]]:
        """Moves filling one 4-bar phrase, mostly from ``family``; each with a side (mirrored or not)."""
        phrase: list[tuple[Move, bool]] = []
        remaining = PHRASE_BEATS
        previous = None
        while remaining > 0:
            candidates = [
                m for m in (MOVES[name] for name in self.vocabulary)
                if m.beats * feel.scale(m) <= remaining and m.name != previous
                and (m.beats * feel.scale(m)) % 2 == 0
            ]  # fmt: skip
            if not candidates:
                break
            # A genre's phrase opens with one of its signature moves (when one fits): its dance says so.
            signature = [m for m in candidates if m.genres] if not phrase else []
            candidates = signature or candidates
            weights = np.array([
                (4.0 if m.family == family else 1.0) * self.family_weights.get(m.family, 1.0)
                * self.move_taste[m.name] * self.vocabulary[m.name] * np.exp(-(((m.energy - loudness) / 0.25) ** 2))
                * (1.0 + 3.0 * loudness**2 * _goes_places(m))  # loud music: more steps, travel, turns and jumps
                for m in candidates
            ])  # fmt: skip
            move = candidates[int(self.rng.choice(len(candidates), p=weights / weights.sum()))]
            remaining -= int(move.beats * feel.scale(move))
            previous = move.name
            phrase.append((self._arms_for(move, loudness), bool(self.rng.random() < 0.5)))
        return phrase or [(self._filler(PHRASE_BEATS, feel), False)]

    def _arms_for(self, move: Move, loudness: float) -> Move:
        """A move with quiet arms often gets an arm style (more often when the music is loud)."""
        if not has_quiet_arms(move) or self.rng.random() > 0.1 + 0.85 * loudness:
            return move
        names = list(ARM_STYLES)
        return styled(move, names[int(self.rng.choice(len(names), p=self.style_taste / self.style_taste.sum()))])

    def _filler(self, beats_left: float, feel: Feel) -> Move:
        """A calm in-place move that fits the beats left in a section."""
        fitting = [
            m for m in MOVES.values()
            if m.family == "groove" and not m.genres and m.beats * feel.scale(m) <= beats_left + 1e-6
        ]  # fmt: skip
        if not fitting:
            return min((m for m in MOVES.values() if m.family == "groove" and not m.genres), key=lambda m: m.beats)
        return fitting[int(self.rng.integers(len(fitting)))]

    def _place(self, move: Move, position: float, origin, facing: float, feel: Feel) -> Placement:
        """Place ``move``, turning a travelling move around (or swapping it) to stay on stage."""
        scale = feel.scale(move)
        t0, t1 = self.grid.time(np.array([position, position + move.beats * scale]))
        amplitude = float(np.clip(self.amplitude_style * (0.65 + 1.35 * self._mean_rank(t0, t1)), *AMPLITUDE_RANGE))
        for candidate in (move, mirrored(move)):
            placement = Placement(candidate, position, scale, amplitude, origin, facing)
            # Fine when it stays on stage, or at least takes the dancer no further out than now.
            if _reach(placement) <= max(STAGE_RADIUS, float(np.hypot(*origin)) + 1e-9):
                return placement
        still = [m for m in MOVES.values() if m.beats == move.beats and not m.genres and _reach(Placement(m, 0.0)) <= STILL_REACH]
        replacement = still[int(self.rng.integers(len(still)))]
        return Placement(replacement, position, scale, amplitude, origin, facing)

    def groove_gain(self, seconds: np.ndarray) -> np.ndarray:
        """(T,) depth of the on-beat groove at these times: this dancer's style, deeper when loud."""
        fps = self.features.fps
        index = np.clip(np.round(np.asarray(seconds) * fps).astype(np.int64), 0, len(self.loudness) - 1)
        return self.groove_style * (0.3 + 1.0 * self.loudness[index])

    def _mean_rank(self, t0: float, t1: float) -> float:
        """Mean loudness rank (0 … 1) of the music between two times."""
        fps = self.features.fps
        a = int(np.clip(np.floor(t0 * fps), 0, len(self.loudness) - 1))
        b = int(np.clip(np.ceil(t1 * fps), a + 1, len(self.loudness)))
        return float(self.loudness[a:b].mean())


def _goes_places(move: Move) -> float:
    """1 for moves that travel, turn or step (the whole body moves), else 0."""
    _, values, _ = move.resolved()
    feet = values[:, [PARAM_INDEX[n] for n in ("lf_x", "lf_z", "rf_x", "rf_z")]]
    steps = np.abs(np.diff(feet, axis=0)).max() > 0.05
    return float(steps or np.hypot(*move.travel) > 0.15 or abs(move.turn) > 0)


def _reach(placement: Placement) -> float:
    """Farthest the placement's root goes from centre stage at any of its keys, metres."""
    _, values, _ = placement.keys()
    return float(np.hypot(values[:, PARAM_INDEX["root_x"]], values[:, PARAM_INDEX["root_z"]]).max())


def loudness_rank(energy: np.ndarray) -> np.ndarray:
    """(T,) RMS → loudness in [0, 1], smoothed over about a second.

    Half of it is the frame's rank within the song (verse vs chorus), half the absolute level (−40 dBFS →
    0, −10 dBFS → 1), so a uniformly quiet song is not danced like a loud one.
    """
    energy = np.asarray(energy, dtype=np.float64)
    if energy.size == 0:
        return np.zeros(1)
    kernel = np.ones(31) / 31.0
    smooth = np.convolve(np.pad(energy, 15, mode="edge"), kernel, mode="valid")
    ranks = tied_ranks(smooth)
    level = np.clip((20.0 * np.log10(np.maximum(smooth, 1e-6)) + 40.0) / 30.0, 0.0, 1.0)
    return 0.5 * ranks + 0.5 * level


def tied_ranks(values: np.ndarray) -> np.ndarray:
    """(N,) rank of each value in [0, 1]; equal values (to 12 decimals) share their mean rank.

    A plain ``argsort`` of ``argsort`` orders equal values as its sort algorithm happens to (numpy picks a
    different one on AVX-512 CPUs), and values equal but for rounding noise by that noise: a steady passage
    of music would get ranks from 0 to 1 that differ between machines. Rounding first and averaging ties
    makes every machine rank alike.
    """
    values = np.round(np.asarray(values, dtype=np.float64), 12)
    if values.size < 2:
        return np.zeros(values.size)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts  # rank of each distinct value's first copy
    return (first + (counts - 1) / 2.0)[inverse] / (values.size - 1)

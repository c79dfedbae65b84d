"""The planner on hand-made music facts: bars, sections, repeats, energy, stage, tempo scaling.

What a dance looks like is a random draw: those tests check a property over many seeds (``SEEDS``, danced once
per session by the ``verse_chorus_dances`` fixture) with tests/over_seeds.py, never one seed's value."""

from __future__ import annotations

import numpy as np
import pytest

from backend.choreography import MOVES, Planner, choreograph
from backend.choreography.planner import STAGE_RADIUS, beat_scale, make_grid
from backend.choreography.rig import PARAM_INDEX
from tests.over_seeds import assert_over_seeds

from .conftest import FPS, SEEDS, music_facts


def _section_of(placement, grid, bounds):
    """Index of the section a placement starts in (the first move may start in the pickup before 0 s)."""
    start = max(grid.time(np.array([placement.start_beat]))[0], 0.0)
    return int(np.searchsorted(bounds, start + 1e-6, side="right") - 1)


def test_moves_start_on_bars_and_cover_the_song():
    features = music_facts()
    planner = Planner(features, seed=0)
    placements = planner.plan()
    grid = planner.grid
    assert grid.time(np.array([placements[0].start_beat]))[0] <= 0.0
    assert grid.time(np.array([placements[-1].end_beat]))[0] >= features.duration
    for a, b in zip(placements, placements[1:]):
        assert b.start_beat == pytest.approx(a.end_beat)  # no gaps, no overlaps
    # Sections start on bar lines, and every section's first move starts there.
    bars = {int(round(p.start_beat)) for p in placements if (round(p.start_beat) - grid.first_bar) % 4 == 0}
    for seconds in features.section_bounds[1:-1]:
        assert int(round(grid.position(np.array([seconds]))[0])) in bars


def test_repeated_music_gets_the_repeated_phrase():
    features = music_facts(labels=(0, 1, 0))
    for seed in range(4):
        planner = Planner(features, seed=seed)
        placements = planner.plan()
        by_section: dict[int, list[str]] = {}
        for p in placements:
            # Side aside: a travelling move may be danced the other way to stay on stage.
            name = p.move.name.removesuffix("~m")
            by_section.setdefault(_section_of(p, planner.grid, features.section_bounds), []).append(name)
        first, middle, last = by_section[0], by_section[1], by_section[2]
        assert first[:4] == last[:4], seed  # same phrase when the music comes back
        assert first[:4] != middle[:4], seed


def test_louder_music_dances_bigger_and_with_more_energy(verse_chorus):
    """Each dancer (seed) dances the loud chorus with bigger and higher-energy moves than the quiet verse."""
    bigger, livelier = [], []
    for seed in SEEDS:
        planner = Planner(verse_chorus, seed=seed)
        amplitudes, energies = {0: [], 1: []}, {0: [], 1: []}
        for p in planner.plan():
            section = _section_of(p, planner.grid, verse_chorus.section_bounds)
            if section in (0, 1):
                amplitudes[section].append(p.amplitude)
                energies[section].append(p.move.energy)
        bigger.append(np.mean(amplitudes[1]) - np.mean(amplitudes[0]))
        livelier.append(np.mean(energies[1]) - np.mean(energies[0]))
    assert_over_seeds(bigger, 0.1, label="chorus - verse mean amplitude", rate=0.9)
    assert_over_seeds(livelier, 0.0, label="chorus - verse mean move energy", rate=0.75)


def test_the_dancer_stays_on_stage_for_a_long_song():
    features = music_facts(seconds=240.0, bounds=(0.0, 60.5, 120.5, 180.5, 240.0), labels=(0, 1, 0, 1), loud=(1, 3))
    for seed in range(6):
        for p in Planner(features, seed=seed, genre="Jazz").plan():
            _, values, _ = p.keys()  # every key, not only where the move ends
            reach = np.hypot(values[:, PARAM_INDEX["root_x"]], values[:, PARAM_INDEX["root_z"]]).max()
            assert reach <= STAGE_RADIUS + 1e-6


def test_fast_music_is_danced_half_time_and_slow_music_double_time():
    spin = MOVES["spin"]
    assert beat_scale(spin, 60.0 / 170) == 2.0
    assert beat_scale(spin, 60.0 / 110) == 1.0
    assert beat_scale(spin, 60.0 / 55) == 0.5
    features = music_facts(bpm=180.0, seconds=20.0, bounds=(0.0, 20.0), labels=(0,), loud=())
    halved = [np.mean([p.scale == 2.0 for p in Planner(features, seed=seed).plan()]) for seed in SEEDS]
    assert_over_seeds(halved, 0.0, label="share of moves danced half time at 180 BPM", rate=0.9)
    motion, _ = choreograph(features, seed=1)
    assert motion.num_frames == features.num_frames


def test_grid_extends_the_beats_over_intro_and_outro():
    features = music_facts(seconds=10.0, bounds=(0.0, 10.0), labels=(0,), loud=())
    grid = make_grid(features)
    assert grid.times[0] < 0.0 and grid.times[-1] > features.duration
    np.testing.assert_allclose(np.diff(grid.times), 0.5, atol=1e-9)
    positions = grid.position(np.array([0.5, 1.0, 1.25]))
    np.testing.assert_allclose(np.diff(positions), [1.0, 0.5], atol=1e-6)


def test_too_few_beats_fall_back_to_a_steady_grid():
    features = music_facts(seconds=3.0, bounds=(0.0, 3.0), labels=(0,), loud=())
    features.beat_times = features.beat_times[:2]
    motion, placements = choreograph(features, seed=0)
    assert motion.num_frames == features.num_frames and placements


@pytest.mark.parametrize("bpm", [50.0, 75.0, 100.0, 133.0, 160.0, 200.0])
def test_any_tempo_gives_consecutive_moves(bpm):
    """Half time, double time and mixed spans never leave gaps or overlaps, even across short sections."""
    features = music_facts(bpm=bpm, seconds=30.0, bounds=(0.0, 7.3, 9.1, 30.0), labels=(0, 1, 0), loud=(1,))
    placements = Planner(features, seed=int(bpm)).plan()
    for a, b in zip(placements, placements[1:]):
        assert b.start_beat == pytest.approx(a.end_beat)


def _mean_speed(joints: np.ndarray, first_s: float, last_s: float) -> float:
    """Mean joint speed (m/s) between two times of a 30 fps motion."""
    speed = np.linalg.norm(np.diff(joints, axis=0), axis=-1).mean(axis=1) * FPS
    return float(speed[int(first_s * FPS) : int(last_s * FPS)].mean())


def _joints(dances) -> dict[int, np.ndarray]:
    return {seed: motion.joint_positions().astype(np.float64) for seed, (motion, _) in dances.items()}


def test_loud_chorus_is_danced_bigger_and_faster_than_a_quiet_verse(verse_chorus_dances):
    """Verse (RMS 0.02) 0–16.5 s, chorus (RMS 0.3) 16.5–32.5 s: dancers move clearly faster in the chorus,
    at real dance speed, with longer hand paths."""
    ratios, chorus_speeds, hand_ratios = [], [], []
    for seed, joints in _joints(verse_chorus_dances).items():
        verse, chorus = _mean_speed(joints, 1.0, 16.0), _mean_speed(joints, 17.5, 32.0)
        ratios.append(chorus / verse)
        chorus_speeds.append(chorus)
        # The hands' own paths (relative to the chest).
        hands = joints[:, [20, 21]] - joints[:, [9]]
        hand_speed = np.linalg.norm(np.diff(hands, axis=0), axis=-1).mean(axis=1) * FPS
        hand_ratios.append(hand_speed[525:960].mean() / hand_speed[30:480].mean())
    assert_over_seeds(ratios, 1.4, label="chorus / verse joint speed", rate=0.9, mean_bound=1.6)
    assert_over_seeds(chorus_speeds, 0.6, label="chorus joint speed (m/s)", rate=0.9)
    assert_over_seeds(hand_ratios, 1.1, label="chorus / verse hand speed", rate=0.9, mean_bound=1.3)


def test_arms_move_through_space(verse_chorus_dances):
    """On loud music the hands travel far from the body: raised above the shoulders at times, and the wrists
    move faster than the pelvis (the upper body dances, not only the legs)."""
    chorus = slice(int(17.5 * FPS), int(32.0 * FPS))
    raised, wrist_speeds, wrist_over_pelvis = [], [], []
    for joints in _joints(verse_chorus_dances).values():
        joints = joints[chorus]
        raised.append((joints[:, [20, 21], 1] > joints[:, [16, 17], 1]).any(axis=1).mean())
        wrist_speed = np.linalg.norm(np.diff(joints[:, [20, 21]], axis=0), axis=-1).mean() * FPS
        pelvis_speed = np.linalg.norm(np.diff(joints[:, 0], axis=0), axis=-1).mean() * FPS
        wrist_speeds.append(wrist_speed)
        wrist_over_pelvis.append(wrist_speed / pelvis_speed)
    assert_over_seeds(raised, 0.08, label="share of chorus frames with a wrist above its shoulder")
    assert_over_seeds(wrist_speeds, 1.0, label="chorus wrist speed (m/s)", rate=0.9)
    assert_over_seeds(wrist_over_pelvis, 1.5, label="chorus wrist / pelvis speed", rate=0.9)


def test_seeds_choose_different_moves_and_styles(verse_chorus_dances):
    """Different seeds on the same music dance different move sequences, with arm styles, and differ in
    their kinetic features (the Div_k feature), not only in size."""
    from backend.evaluation import CLEAN
    from backend.evaluation.kinetic import kinetic_features

    plans, kinetic = [], []
    for motion, placements in verse_chorus_dances.values():
        plans.append([p.move.name for p in placements])
        kinetic.append(kinetic_features(motion.joint_positions().astype(np.float64), CLEAN))
    bases = [{name.removesuffix("~m").split("+")[0] for name in plan} for plan in plans]
    overlaps = [len(bases[a] & bases[b]) / len(bases[a] | bases[b])
                for a in range(len(bases)) for b in range(a + 1, len(bases))]  # fmt: skip
    # Mostly different moves, not the same ones re-sized.
    assert_over_seeds(overlaps, 0.7, label="move overlap of two seeds' dances", above=False, rate=0.9, mean_bound=0.5,
                      of="pairs of seeds")
    assert np.mean([any("+" in name for name in plan) for plan in plans]) >= 0.75  # arm styles are used
    kinetic = np.array(kinetic)
    spread = kinetic.std(axis=0) / (kinetic.mean(axis=0) + 1e-9)
    print(f"kinetic features' spread over seeds (std / mean): median {np.median(spread):.2f} (bound 0.1)")
    assert np.median(spread) > 0.1


CORE_JOINTS = [0, 3, 6, 9, 4, 5]  # pelvis, spine1–3, knees


def _knee_flexion(joints: np.ndarray) -> np.ndarray:
    """(T, 2) knee flexion in degrees (0 = straight leg) from hip, knee and ankle positions."""
    thigh = joints[:, [4, 5]] - joints[:, [1, 2]]
    shin = joints[:, [7, 8]] - joints[:, [4, 5]]
    cos = (thigh * shin).sum(-1) / (np.linalg.norm(thigh, axis=-1) * np.linalg.norm(shin, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def test_loud_music_moves_the_hips_knees_and_feet_not_only_the_arms(verse_chorus_dances):
    """Verse (quiet) 0–16.5 s, chorus (loud) 16.5–32.5 s: in the chorus the body's core dances at real dance
    speed and clearly faster than in the verse, the pelvis bobs, the knees bend through a wide range, and the
    feet lift off and re-plant several times a bar. Checked over many seeds: most clear each bound, and the
    mean clears it by more than its uncertainty."""
    verse, chorus = slice(int(1.0 * FPS), int(16.0 * FPS)), slice(int(17.5 * FPS), int(32.0 * FPS))
    bars = (32.0 - 17.5) / 2.0  # 120 BPM: 2 s a bar
    core, core_ratio, bob_ratio, knee_range, steps = [], [], [], [], []
    for seed, (motion, _) in verse_chorus_dances.items():
        joints = motion.joint_positions().astype(np.float64)
        speed = np.linalg.norm(np.diff(joints, axis=0), axis=-1) * FPS  # (T-1, 24)
        core_verse, core_chorus = speed[verse][:, CORE_JOINTS].mean(), speed[chorus][:, CORE_JOINTS].mean()
        pelvis_up = np.abs(np.diff(joints[:, 0, 1])) * FPS
        knees = _knee_flexion(joints)
        core.append(core_chorus)
        core_ratio.append(core_chorus / core_verse)
        bob_ratio.append(pelvis_up[chorus].mean() / pelvis_up[verse].mean())
        knee_range.append(np.mean(np.percentile(knees[chorus], 95, axis=0) - np.percentile(knees[chorus], 5, axis=0)))
        steps.append(((motion.contacts[:-1, :2] > 0.5) & (motion.contacts[1:, :2] < 0.5))[chorus].sum() / bars)
    assert_over_seeds(core, 0.6, label="chorus core speed (m/s)", rate=0.9, mean_bound=0.7)
    assert_over_seeds(core_ratio, 1.5, label="chorus / verse core speed", rate=0.9)
    assert_over_seeds(bob_ratio, 1.5, label="chorus / verse pelvis vertical speed", rate=0.9)
    assert_over_seeds(knee_range, 40.0, label="chorus knee range (deg)", rate=0.75, mean_bound=45.0)
    assert_over_seeds(steps, 3.0, label="chorus lift-offs per bar", rate=0.75, mean_bound=3.5)

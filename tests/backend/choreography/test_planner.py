"""The planner on hand-made music facts: bars, sections, repeats, energy, stage, tempo scaling."""

from __future__ import annotations

import numpy as np
import pytest

from backend.choreography import MOVES, Planner, choreograph
from backend.choreography.planner import STAGE_RADIUS, beat_scale, make_grid
from backend.choreography.rig import PARAM_INDEX
from backend.features import MusicFeatures

FPS = 30.0


def music_facts(
    bpm: float = 120.0, seconds: float = 48.0, bounds=(0.0, 16.5, 32.5, 48.0), labels=(0, 1, 0), loud=(1,)
) -> MusicFeatures:
    """MusicFeatures without audio: steady beats from 0.5 s, bars from the first beat, sections as given (on
    bar lines, as analyze_music snaps them), RMS 0.02 (quiet) or 0.3 (loud) per section."""
    num_frames = int(seconds * FPS) + 1
    beats = np.arange(0.5, seconds, 60.0 / bpm)
    energy = np.full(num_frames, 0.02, dtype=np.float32)
    for k in loud:
        energy[int(bounds[k] * FPS) : int(bounds[k + 1] * FPS)] = 0.3
    edge35 = np.zeros((num_frames, 35), dtype=np.float32)
    edge35[np.round(beats * FPS).astype(int), 34] = 1.0
    return MusicFeatures(
        edge35=edge35, beat_times=beats, tempo=bpm, downbeat_times=beats[::4], onset_env=edge35[:, 0].copy(),
        energy=energy, section_bounds=np.asarray(bounds, dtype=np.float64),
        section_labels=np.asarray(labels, dtype=np.int64), duration=seconds, fps=FPS, num_frames=num_frames,
    )  # fmt: skip


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


def test_louder_music_dances_bigger_and_with_more_energy():
    features = music_facts(labels=(0, 1, 2), loud=(1,))
    amplitudes = {0: [], 1: []}
    energies = {0: [], 1: []}
    for seed in range(6):
        planner = Planner(features, seed=seed)
        for p in planner.plan():
            section = _section_of(p, planner.grid, features.section_bounds)
            if section in (0, 1):
                amplitudes[section].append(p.amplitude)
                energies[section].append(p.move.energy)
    assert np.mean(amplitudes[1]) > np.mean(amplitudes[0]) + 0.1
    assert np.mean(energies[1]) > np.mean(energies[0])


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
    motion, placements = choreograph(features, seed=1)
    assert any(p.scale == 2.0 for p in placements)
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


def test_loud_chorus_is_danced_bigger_and_faster_than_a_quiet_verse():
    """Verse (RMS 0.02) 0–16.5 s, chorus (RMS 0.3) 16.5–32.5 s: every dancer moves clearly faster in the
    chorus, with longer hand paths."""
    features = music_facts(labels=(0, 1, 2), loud=(1,))
    hand_ratios = []
    for seed in range(4):
        motion, _ = choreograph(features, seed=seed)
        joints = motion.joint_positions().astype(np.float64)
        verse, chorus = _mean_speed(joints, 1.0, 16.0), _mean_speed(joints, 17.5, 32.0)
        print(f"seed {seed}: verse {verse:.2f} m/s, chorus {chorus:.2f} m/s")
        assert chorus > 1.4 * verse, seed
        assert chorus > 0.6  # an energetic chorus is danced at real dance speed
        # The hands' own paths (relative to the chest) are longer in the chorus too.
        hands = joints[:, [20, 21]] - joints[:, [9]]
        hand_speed = np.linalg.norm(np.diff(hands, axis=0), axis=-1).mean(axis=1) * FPS
        hand_ratios.append(hand_speed[525:960].mean() / hand_speed[30:480].mean())
    print("chorus / verse hand speed", np.round(hand_ratios, 2))
    assert min(hand_ratios) > 1.1 and np.mean(hand_ratios) > 1.3


def test_arms_move_through_space():
    """On loud music the hands travel far from the body: raised above the shoulders at times, and the wrists
    move more than the pelvis (the upper body dances, not only the legs)."""
    features = music_facts(seconds=32.0, bounds=(0.0, 32.0), labels=(0,), loud=(0,))
    for seed in range(3):
        joints = choreograph(features, seed=seed)[0].joint_positions().astype(np.float64)
        wrists_above_shoulders = (joints[:, [20, 21], 1] > joints[:, [16, 17], 1]).any(axis=1).mean()
        assert wrists_above_shoulders > 0.08, seed
        wrist_speed = np.linalg.norm(np.diff(joints[:, [20, 21]], axis=0), axis=-1).mean() * FPS
        pelvis_speed = np.linalg.norm(np.diff(joints[:, 0], axis=0), axis=-1).mean() * FPS
        assert wrist_speed > 1.0 and wrist_speed > 2.0 * pelvis_speed, seed


def test_seeds_choose_different_moves_and_styles():
    """Different seeds on the same music dance different move sequences, with arm styles, and differ in
    their kinetic features (the Div_k feature), not only in size."""
    from backend.evaluation import CLEAN
    from backend.evaluation.kinetic import kinetic_features

    features = music_facts(labels=(0, 1, 2), loud=(1,))
    plans, kinetic = [], []
    for seed in range(5):
        motion, placements = choreograph(features, seed=seed)
        plans.append([p.move.name for p in placements])
        kinetic.append(kinetic_features(motion.joint_positions().astype(np.float64), CLEAN))
    bases = [{name.removesuffix("~m").split("+")[0] for name in plan} for plan in plans]
    for a in range(len(bases)):
        for b in range(a + 1, len(bases)):
            overlap = len(bases[a] & bases[b]) / len(bases[a] | bases[b])
            assert overlap < 0.7, (a, b, overlap)  # mostly different moves, not the same ones re-sized
    assert any("+" in name for plan in plans for name in plan)  # arm styles are used
    kinetic = np.array(kinetic)
    spread = kinetic.std(axis=0) / (kinetic.mean(axis=0) + 1e-9)
    assert np.median(spread) > 0.1


CORE_JOINTS = [0, 3, 6, 9, 4, 5]  # pelvis, spine1–3, knees


def _knee_flexion(joints: np.ndarray) -> np.ndarray:
    """(T, 2) knee flexion in degrees (0 = straight leg) from hip, knee and ankle positions."""
    thigh = joints[:, [4, 5]] - joints[:, [1, 2]]
    shin = joints[:, [7, 8]] - joints[:, [4, 5]]
    cos = (thigh * shin).sum(-1) / (np.linalg.norm(thigh, axis=-1) * np.linalg.norm(shin, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def test_loud_music_moves_the_hips_knees_and_feet_not_only_the_arms():
    """Verse (quiet) 0–16.5 s, chorus (loud) 16.5–32.5 s: in the chorus the body's core dances at real dance
    speed (pelvis, spine and knees about 0.8 m/s; before the loud groove got its deeper bounce, hip twist and
    steps it was 0.65), the pelvis bobs (vertical speed about 0.65 m/s, was 0.5), the knees bend through a
    wide range, and the feet lift off and re-plant several times a bar (was 3.6)."""
    features = music_facts(labels=(0, 1, 2), loud=(1,))
    verse, chorus = slice(int(1.0 * FPS), int(16.0 * FPS)), slice(int(17.5 * FPS), int(32.0 * FPS))
    bars = (32.0 - 17.5) / 2.0  # 120 BPM: 2 s a bar
    core, bob, steps = [], [], []
    for seed in range(4):
        motion, _ = choreograph(features, seed=seed)
        joints = motion.joint_positions().astype(np.float64)
        speed = np.linalg.norm(np.diff(joints, axis=0), axis=-1) * FPS  # (T-1, 24)
        core_verse, core_chorus = speed[verse][:, CORE_JOINTS].mean(), speed[chorus][:, CORE_JOINTS].mean()
        pelvis_up = np.abs(np.diff(joints[:, 0, 1])) * FPS
        knees = _knee_flexion(joints)
        knee_range = np.mean(np.percentile(knees[chorus], 95, axis=0) - np.percentile(knees[chorus], 5, axis=0))
        lift_offs = ((motion.contacts[:-1, :2] > 0.5) & (motion.contacts[1:, :2] < 0.5))[chorus].sum() / bars
        print(
            f"seed {seed}: core {core_verse:.2f} -> {core_chorus:.2f} m/s, pelvis vertical "
            f"{pelvis_up[verse].mean():.2f} -> {pelvis_up[chorus].mean():.2f} m/s, chorus knee range "
            f"{knee_range:.0f} deg, chorus lift-offs per bar {lift_offs:.1f}"
        )
        assert core_chorus > 0.6 and core_chorus > 1.5 * core_verse, seed
        assert pelvis_up[chorus].mean() > 1.5 * pelvis_up[verse].mean(), seed
        assert knee_range > 40.0, seed
        assert lift_offs >= 3.0, seed
        core.append(core_chorus)
        bob.append(pelvis_up[chorus].mean())
        steps.append(lift_offs)
    assert np.mean(core) > 0.72 and np.mean(bob) > 0.58 and np.mean(steps) > 4.2, (core, bob, steps)

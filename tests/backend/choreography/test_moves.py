"""The move library: enough distinct moves, clean entry/exit, mirroring, human limits."""

from __future__ import annotations

import numpy as np
import pytest

from backend.choreography import FAMILIES, MOVES, PARAMS, mirrored
from backend.choreography.moves import key, stance_feet
from backend.choreography.rig import LOWER, NEUTRAL, PARAM_INDEX, UPPER

FOOT = [PARAM_INDEX[n] for n in ("lf_x", "lf_z", "rf_x", "rf_z")]
BODY = [i for n, i in PARAM_INDEX.items() if not n.startswith(("root", "facing", "lf_", "rf_"))]


def test_library_size_and_families():
    assert len(MOVES) >= 24
    assert {m.family for m in MOVES.values()} == set(FAMILIES)
    # Distinct: no two moves share the same resolved keys.
    signatures = {m.resolved()[1].round(4).tobytes() for m in MOVES.values()}
    assert len(signatures) == len(MOVES)


@pytest.mark.parametrize("name", sorted(MOVES))
def test_clean_entry_and_exit(name):
    move = MOVES[name]
    beats, values, _ = move.resolved()
    assert beats[0] == 0 and beats[-1] == move.beats and np.all(np.diff(beats) > 0)
    for row in (values[0], values[-1]):
        np.testing.assert_allclose(row[BODY], NEUTRAL[BODY], atol=1e-9)  # ready stance body
        root_x, root_z, facing = row[PARAM_INDEX["root_x"]], row[PARAM_INDEX["root_z"]], row[PARAM_INDEX["facing"]]
        feet = stance_feet(root_x, root_z, facing)
        np.testing.assert_allclose(row[FOOT], [feet["lf_x"], feet["lf_z"], feet["rf_x"], feet["rf_z"]], atol=1e-9)
        assert row[PARAM_INDEX["lf_lift"]] == row[PARAM_INDEX["rf_lift"]] == 0.0
    np.testing.assert_allclose(values[0, [PARAM_INDEX["root_x"], PARAM_INDEX["root_z"], PARAM_INDEX["facing"]]], 0)
    assert values[-1, PARAM_INDEX["facing"]] % 360.0 == pytest.approx(0.0)
    # Authored values stay inside the human limits.
    assert np.all(values >= LOWER - 1e-9) and np.all(values <= UPPER + 1e-9)
    assert move.energy >= 0 and move.energy <= 1 and move.beats in (2, 4, 8)


@pytest.mark.parametrize("name", ["side_walk", "punch_up", "spin", "lunge_reach"])
def test_mirror_swaps_sides_and_is_an_involution(name):
    move = MOVES[name]
    twin = mirrored(move)
    assert twin.name == name + "~m" and mirrored(twin).name == name
    np.testing.assert_allclose(mirrored(twin).resolved()[1], move.resolved()[1], atol=1e-12)
    _, values, _ = move.resolved()
    _, mirror, _ = twin.resolved()
    np.testing.assert_allclose(mirror[:, PARAM_INDEX["l_raise"]], values[:, PARAM_INDEX["r_raise"]])
    np.testing.assert_allclose(mirror[:, PARAM_INDEX["lf_x"]], -values[:, PARAM_INDEX["rf_x"]])
    np.testing.assert_allclose(twin.travel, move.travel * [-1, 1])
    assert twin.turn == -move.turn


def test_unknown_parameter_is_refused():
    with pytest.raises(ValueError, match="unknown pose parameters"):
        key(1, l_rise=30)
    assert "l_raise" in PARAMS


def test_the_vocabulary_tables_give_the_moves_written_as_code_before():
    """The move vocabulary moved from code into tables (``vocabulary.py``): every move that existed then has
    the same family, length, energy, tempo limit, genres, hit keys and key poses (to 1e-12: stances computed
    when the move was written are stored rounded), and the arm styles are unchanged. The reference was saved
    from the code before the move (``data/moves_before_tables.npz``)."""
    import json
    from pathlib import Path

    from backend.choreography.moves import ARM_STYLES

    before = np.load(Path(__file__).with_name("data") / "moves_before_tables.npz")
    meta = json.loads(before["meta"].tobytes())
    assert set(meta) <= set(MOVES)
    for name, fields in meta.items():
        move = MOVES[name]
        assert (move.family, move.beats, move.energy, move.min_beat_s, list(move.genres)) == (
            fields["family"], fields["beats"], fields["energy"], fields["min_beat_s"], fields["genres"]), name
        beats, values, hits = move.resolved()
        np.testing.assert_array_equal(beats, before[f"{name}/beats"], err_msg=name)
        np.testing.assert_array_equal(hits, before[f"{name}/hits"], err_msg=name)
        np.testing.assert_allclose(values, before[f"{name}/values"], rtol=0, atol=1e-12, err_msg=name)
    assert json.loads(json.dumps(ARM_STYLES)) == json.loads(before["arm_styles"].tobytes())


def test_every_vocabulary_row_names_only_known_fields_and_pose_parameters():
    from backend.choreography.moves import move_from_row
    from backend.choreography.vocabulary import GENRE_MOVES, MOVE_TABLE

    assert set(MOVE_TABLE) <= set(FAMILIES)
    fields = {"name", "family", "beats", "energy", "min_beat_s", "genres", "keys", "turn_steps", "arms"}
    for family, rows in [*MOVE_TABLE.items(), *(("", (row,)) for row in GENRE_MOVES)]:
        for row in rows:
            assert set(row) <= fields, row["name"]
            move = move_from_row(row, family)  # unknown pose parameters raise here
            assert move.family in FAMILIES and move.keys[0].beat == 0 and move.keys[-1].beat == move.beats
    with pytest.raises(ValueError, match="unknown pose parameters"):
        move_from_row({"name": "x", "beats": 2, "energy": 0.5, "keys": ({"beat": 0}, {"beat": 2, "elbows": 3})},
                      "groove")

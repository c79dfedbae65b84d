"""Genres read as genres: own vocabulary, groove and arms, told apart by a simple classifier."""

from __future__ import annotations

import numpy as np
import pytest

from backend.choreography import MOVES, choreograph
from backend.choreography.styles import GENRE_STYLES
from backend.choreography.moves import ARM_STYLES, FAMILIES
from backend.evaluation.kinetic import kinetic_features
from backend.evaluation.protocol import CLEAN
from shared.genres import GENRES

TRAIN_SEEDS, HELD_SEEDS = (0, 1, 2, 3), (4, 5)


def test_every_genre_has_a_style_and_signature_moves():
    assert set(GENRE_STYLES) == set(GENRES)
    for genre, style in GENRE_STYLES.items():
        assert set(style.family_weights) <= set(FAMILIES), genre
        assert set(style.arm_styles) <= set(ARM_STYLES), genre
        assert set(style.favoured) <= {name for name, move in MOVES.items() if not move.genres}, genre
    signature_genres = {g for move in MOVES.values() for g in move.genres}
    assert signature_genres <= set(GENRES)
    # Most genres own at least one signature move (the rest differ by favoured moves, groove and arms).
    assert len(signature_genres) >= 12


def test_a_genre_dances_its_own_vocabulary_and_no_other_genres(click_features):
    for genre in ("Locking", "Popping", "Breaking", "Dai", "Kun"):
        names = set()
        for seed in range(3):
            _, placements = choreograph(click_features[120], seed=seed, genre=genre)
            names |= {p.move.name.split("+")[0].removesuffix("~m") for p in placements}
        own = {n for n in names if MOVES[n].genres}
        assert own, (genre, names)  # its signature moves appear
        assert all(genre in MOVES[n].genres for n in own), (genre, own)  # and no other genre's


@pytest.mark.slow  # dances many seeds of every genre to train and test the classifier
def test_a_simple_classifier_tells_the_genres_apart_on_held_out_seeds(click_features):
    """Nearest centroid on log kinetic features (the evaluation package's 72-d feature), trained on four
    seeds per genre, tested on two other seeds: chance is 1/16."""
    features = click_features[120]
    rows, labels, seeds = [], [], []
    for genre in GENRES:
        for seed in TRAIN_SEEDS + HELD_SEEDS:
            motion, _ = choreograph(features, seed=seed, genre=genre)
            rows.append(np.log(kinetic_features(motion.joint_positions(), CLEAN) + 1e-6))
            labels.append(genre)
            seeds.append(seed)
    x, y, s = np.array(rows), np.array(labels), np.array(seeds)
    train = np.isin(s, TRAIN_SEEDS)
    mean, std = x[train].mean(axis=0), x[train].std(axis=0) + 1e-9
    z = (x - mean) / std
    centroids = np.stack([z[train & (y == g)].mean(axis=0) for g in GENRES])
    predicted = np.array(GENRES)[np.argmin(np.linalg.norm(z[~train, None] - centroids[None], axis=-1), axis=1)]
    accuracy = float(np.mean(predicted == y[~train]))
    print(f"genre accuracy on held-out seeds {accuracy:.2f} (chance {1 / len(GENRES):.2f})")
    assert accuracy >= 4.0 / len(GENRES)

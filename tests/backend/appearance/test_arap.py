"""ARAP: exact on rigid motions, handles respected, weak edges let parts separate."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import Delaunay

from backend.appearance.arap import ARAPDeformer, mesh_edges
from shared.errors import InvalidInputError


def strip(columns: int = 21, rows: int = 5, length: float = 100.0, width: float = 20.0):
    xs, ys = np.meshgrid(np.linspace(0, length, columns), np.linspace(0, width, rows))
    points = np.stack([xs.ravel(), ys.ravel()], axis=1)
    return points, Delaunay(points).simplices


def rotation(angle: float) -> np.ndarray:
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def test_mesh_edges_of_two_triangles():
    edges, apexes = mesh_edges(np.array([[0, 1, 2], [2, 1, 3]]))
    assert edges.tolist() == [[0, 1], [0, 2], [1, 2], [1, 3], [2, 3]]
    shared = edges.tolist().index([1, 2])
    assert sorted(apexes[shared].tolist()) == [0, 3]  # the inner edge sees both apexes
    assert (apexes[[0, 1, 3, 4], 1] == -1).all()  # boundary edges see one


@pytest.mark.parametrize("angle,shift", [(0.0, (0.0, 0.0)), (0.7, (5.0, 7.0)), (-2.5, (-30.0, 12.0))])
def test_rigid_handle_motion_moves_the_mesh_rigidly(angle, shift):
    points, triangles = strip()
    handles = np.array([0, 20, 84, 104, 42])
    deformer = ARAPDeformer(points, triangles, handles)
    moved = points @ rotation(angle).T + shift
    np.testing.assert_allclose(deformer.deform(moved[handles]), moved, atol=1e-6)


def test_bending_keeps_edges_near_their_rest_length():
    points, triangles = strip()
    left, right = np.array([0, 21, 42, 63, 84]), np.array([20, 41, 62, 83, 104])
    deformer = ARAPDeformer(points, triangles, np.concatenate([left, right]))
    # Rotate the right end by 60 degrees about the strip's middle, keep the left end: a bend.
    targets = np.concatenate([points[left], (points[right] - [50, 10]) @ rotation(np.pi / 3).T + [50, 10]])
    deformed = deformer.deform(targets)
    np.testing.assert_allclose(deformed[deformer.handles], targets, atol=0.05)
    rest_lengths = np.linalg.norm(points[deformer.edges[:, 1]] - points[deformer.edges[:, 0]], axis=1)
    lengths = np.linalg.norm(deformed[deformer.edges[:, 1]] - deformed[deformer.edges[:, 0]], axis=1)
    assert np.median(np.abs(lengths / rest_lengths - 1)) < 0.1


def test_weak_edges_let_two_parts_separate():
    points, triangles = strip()
    right_part = points[:, 0] > 50
    handles = np.array([0, 84, 10, 94, 20, 104])  # both ends and the middle column of the strip
    cut = lambda edges: np.where(right_part[edges[:, 0]] != right_part[edges[:, 1]], 1e-4, 1.0)  # noqa: E731
    glued, split = ARAPDeformer(points, triangles, handles), ARAPDeformer(points, triangles, handles, edge_weights=cut)
    targets = points[handles].copy()
    targets[4:] += [0.0, 60.0]  # lift the right end only
    near_cut = np.flatnonzero(np.isclose(points[:, 0], 55.0))  # first column of the right part
    lift_glued = glued.deform(targets)[near_cut, 1].mean() - points[near_cut, 1].mean()
    lift_split = split.deform(targets)[near_cut, 1].mean() - points[near_cut, 1].mean()
    assert lift_split > lift_glued + 5.0  # the cut column follows its own part, not the glued middle


def test_needs_two_handles():
    points, triangles = strip()
    with pytest.raises(InvalidInputError):
        ARAPDeformer(points, triangles, np.array([0]))

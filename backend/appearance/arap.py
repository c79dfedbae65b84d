"""As-rigid-as-possible deformation of a 2D triangle mesh (Igarashi, Moscovich & Hughes, SIGGRAPH 2005).

Handles (here: the puppet's rig joints and points along its bones) are soft constraints with a large
weight, as in AnimatedDrawings. Each frame is two sparse least-squares solves whose matrices depend only on
the rest mesh and which vertices are handles, so both are factorised once in ``__init__``:

1. *Similarity step*: for every edge k = (i, j) with the apexes l (and r) of its one or two triangles,
   the deformed edge should be the rest edge under the similarity (c_k, s_k) that best maps the rest
   neighbourhood {i, j, l, r} onto its deformed positions. (c, s) is linear in the deformed positions
   (``(G^T G)^-1 G^T``, paper eq. 3), so the energy is a quadratic form ``||A1 x||^2`` in x = (x0, y0, x1, …).
2. *Scale step*: each edge's similarity from step 1 is normalised to a rotation R_k, and
   ``sum_k w_k ||(v_j - v_i) - R_k e_k||^2`` is minimised for x and y separately (paper eq. 8).

Edges may carry weights: the puppet gives edges between unrelated body parts (an arm touching the torso in
the reference photo) a small weight so those parts can separate.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu, spsolve

from shared.errors import InvalidInputError


def mesh_edges(triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique edges of a triangle mesh and the apex vertices of their triangles.

    Args:
        triangles: (F, 3) int vertex indices.
    Returns:
        edges: (E, 2) int, i < j.
        apexes: (E, 2) int, the third vertex of the (one or two) triangles sharing the edge, -1 if absent.
    """
    triangles = np.asarray(triangles, dtype=np.int64)
    half = np.concatenate([triangles[:, [0, 1, 2]], triangles[:, [1, 2, 0]], triangles[:, [2, 0, 1]]])
    ends, apex = np.sort(half[:, :2], axis=1), half[:, 2]
    edges, inverse = np.unique(ends, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    apexes = np.full((len(edges), 2), -1, dtype=np.int64)
    first = np.ones(len(order), dtype=bool)
    first[1:] = inverse[order][1:] != inverse[order][:-1]
    apexes[inverse[order][first], 0] = apex[order][first]
    second = ~first
    apexes[inverse[order][second], 1] = apex[order][second]
    return edges, apexes


class ARAPDeformer:
    """Prefactored two-step ARAP for one rest mesh and one set of handle vertices.

    Args:
        rest: (N, 2) float rest vertex positions (pixels).
        triangles: (F, 3) int.
        handles: (P,) int vertex indices constrained on every call.
        edge_weights: optional callable ``(edges (E, 2)) -> (E,)`` or array of per-edge weights (default 1).
        handle_weight: weight of the soft handle constraints (AnimatedDrawings uses 1000).
        prefactor: factorise both systems once (default); False solves from scratch on every call (only
            useful as a benchmark baseline).
    """

    def __init__(
        self,
        rest: np.ndarray,
        triangles: np.ndarray,
        handles: np.ndarray,
        edge_weights=None,
        handle_weight: float = 1000.0,
        prefactor: bool = True,
    ):
        self.rest = np.asarray(rest, dtype=np.float64)
        self.handles = np.asarray(handles, dtype=np.int64)
        num_vertices = len(self.rest)
        if len(self.handles) < 2:
            raise InvalidInputError("ARAP needs at least two handle vertices")
        self.edges, apexes = mesh_edges(triangles)
        num_edges = len(self.edges)
        if edge_weights is None:
            weights = np.ones(num_edges)
        elif callable(edge_weights):
            weights = np.asarray(edge_weights(self.edges), dtype=np.float64)
        else:
            weights = np.asarray(edge_weights, dtype=np.float64)
        self.edge_weights = weights
        sqrt_w = np.sqrt(weights)

        # Neighbourhood of each edge: i, j, l, r (r = -1 on boundary edges; its columns stay zero).
        self.neighbours = np.concatenate([self.edges, apexes], axis=1)  # (E, 4)
        present = self.neighbours >= 0
        points = self.rest[np.where(present, self.neighbours, 0)]  # (E, 4, 2)
        px, py = points[..., 0] * present, points[..., 1] * present
        # G: (E, 8, 4) rows [vx, vy, 1, 0] and [vy, -vx, 0, 1] per neighbour (paper eq. 3).
        G = np.zeros((num_edges, 8, 4))
        G[:, 0::2, 0], G[:, 0::2, 1], G[:, 0::2, 2] = px, py, present
        G[:, 1::2, 0], G[:, 1::2, 1], G[:, 1::2, 3] = py, -px, present
        GtG = np.einsum("eai,eaj->eij", G, G)
        # Boundary edges leave the translation block rank-deficient only if degenerate; pinv is safe.
        self._cs_from_neighbours = (np.linalg.pinv(GtG) @ np.swapaxes(G, 1, 2))[:, :2]  # (E, 2, 8)
        e = self.rest[self.edges[:, 1]] - self.rest[self.edges[:, 0]]  # (E, 2) rest edge vectors
        self._rest_edges = e
        E_mat = np.stack([np.stack([e[:, 0], e[:, 1]], -1), np.stack([e[:, 1], -e[:, 0]], -1)], 1)  # (E, 2, 2)
        # H = D - E (G^T G)^-1 G^T, D picks v_j - v_i out of the 8 neighbourhood coordinates.
        H = -np.einsum("eab,ebc->eac", E_mat, self._cs_from_neighbours)  # (E, 2, 8)
        H[:, 0, 0] -= 1.0
        H[:, 1, 1] -= 1.0
        H[:, 0, 2] += 1.0
        H[:, 1, 3] += 1.0
        H *= sqrt_w[:, None, None]
        columns = 2 * np.where(present, self.neighbours, 0)[:, :, None] + np.arange(2)[None, None, :]  # (E, 4, 2)
        columns = columns.reshape(num_edges, 8)
        valid = np.repeat(present, 2, axis=1)  # (E, 8)
        rows = 2 * np.arange(num_edges)[:, None, None] + np.arange(2)[None, :, None]  # (E, 2, 1)
        rows = np.broadcast_to(rows, (num_edges, 2, 8))
        mask = np.broadcast_to(valid[:, None, :], (num_edges, 2, 8))
        A1 = sp.csr_matrix(
            (H[mask], (rows[mask], np.broadcast_to(columns[:, None, :], (num_edges, 2, 8))[mask])),
            shape=(2 * num_edges, 2 * num_vertices),
        )

        self.handle_weight = float(handle_weight)
        w2 = self.handle_weight**2
        C1 = sp.csr_matrix(
            (np.ones(2 * len(self.handles)),
             (np.arange(2 * len(self.handles)), (2 * self.handles[:, None] + np.arange(2)).ravel())),
            shape=(2 * len(self.handles), 2 * num_vertices),
        )  # fmt: skip
        self._C1 = C1
        self._solve1 = _solver(((A1.T @ A1) + w2 * (C1.T @ C1)).tocsc(), prefactor)

        # Step 2: incidence matrix of the edges, weighted.
        A2 = sp.csr_matrix(
            (np.concatenate([-sqrt_w, sqrt_w]),
             (np.tile(np.arange(num_edges), 2), np.concatenate([self.edges[:, 0], self.edges[:, 1]]))),
            shape=(num_edges, num_vertices),
        )  # fmt: skip
        C2 = sp.csr_matrix(
            (np.ones(len(self.handles)), (np.arange(len(self.handles)), self.handles)),
            shape=(len(self.handles), num_vertices),
        )
        self._A2t_sqrtw = (A2.T @ sp.diags(sqrt_w)).tocsr()
        self._C2 = C2
        self._solve2 = _solver(((A2.T @ A2) + w2 * (C2.T @ C2)).tocsc(), prefactor)

    def deform(self, targets: np.ndarray) -> np.ndarray:
        """Deformed vertex positions for handle ``targets`` (P, 2). Returns (N, 2) float64."""
        targets = np.asarray(targets, dtype=np.float64)
        w2 = self.handle_weight**2
        # Step 1: free similarity per edge.
        x1 = self._solve1(w2 * (self._C1.T @ targets.ravel()))
        v1 = x1.reshape(-1, 2)
        present = self.neighbours >= 0
        neighbourhood = (v1[np.where(present, self.neighbours, 0)] * present[..., None]).reshape(-1, 8)
        cs = np.einsum("eak,ek->ea", self._cs_from_neighbours, neighbourhood)  # (E, 2) = (c, s)
        cs /= np.maximum(np.linalg.norm(cs, axis=1, keepdims=True), 1e-12)
        c, s = cs[:, 0], cs[:, 1]
        ex, ey = self._rest_edges[:, 0], self._rest_edges[:, 1]
        rotated = np.stack([c * ex + s * ey, -s * ex + c * ey], axis=1)  # R_k e_k
        # Step 2: fit edges to their rotated rest vectors, x and y separately.
        rhs = self._A2t_sqrtw @ rotated + w2 * (self._C2.T @ targets)
        return np.stack([self._solve2(rhs[:, 0]), self._solve2(rhs[:, 1])], axis=1)


def _solver(matrix: sp.csc_matrix, prefactor: bool):
    """``rhs -> solution`` for a sparse SPD system: a stored LU factorisation, or a fresh solve per call."""
    if prefactor:
        return splu(matrix).solve
    return lambda rhs: spsolve(matrix, rhs)

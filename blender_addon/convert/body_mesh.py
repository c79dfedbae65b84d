"""A body for the rig to wear, in pure numpy: a procedural low-poly one, or the SMPL mesh from a model file.

The procedural body is one tapered, elliptical tube per bone (in the bone's X/Z plane, so it follows the
bone's roll), closed at both ends, plus an ellipsoid head. Each tube's ring at the bone's head is shared
half with the parent bone, so joints bend smoothly; everything else follows its own bone. No licensed data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._shared import skeleton as smpl_skeleton
from .axes import smpl_to_blender_points

#: Half-widths (along the bone's X, along its Z) at the bone's head and tail, metres.
_RADII = {
    "pelvis": ((0.15, 0.10), (0.14, 0.095)), "spine1": ((0.14, 0.095), (0.14, 0.095)),
    "spine2": ((0.14, 0.095), (0.16, 0.10)), "spine3": ((0.17, 0.10), (0.07, 0.06)),
    "neck": ((0.055, 0.055), (0.05, 0.05)), "head": ((0.085, 0.1), (0.085, 0.1)),
    "hip": ((0.085, 0.085), (0.055, 0.055)), "knee": ((0.055, 0.055), (0.04, 0.04)),
    "ankle": ((0.04, 0.04), (0.04, 0.03)), "foot": ((0.04, 0.025), (0.035, 0.02)),
    "collar": ((0.05, 0.05), (0.05, 0.05)), "shoulder": ((0.05, 0.05), (0.04, 0.04)),
    "elbow": ((0.04, 0.04), (0.03, 0.03)), "wrist": ((0.03, 0.02), (0.035, 0.015)),
    "hand": ((0.035, 0.015), (0.02, 0.01)),
}  # fmt: skip
#: How far the pelvis tube reaches below the pelvis joint (over the hip joints), metres.
_PELVIS_DROP = 0.1
SIDES = 8


@dataclass(frozen=True)
class BodyMesh:
    """vertices: (V, 3) float64 armature space; faces: list of vertex-index tuples;
    weights: (V, B) float32 skin weights over the rig's bones (rows sum to 1)."""

    vertices: np.ndarray
    faces: list
    weights: np.ndarray


def _radii(name: str):
    return _RADII[name] if name in _RADII else _RADII[name.split("_", 1)[-1]]


def procedural_body(rest) -> BodyMesh:
    """Low-poly body around a :class:`.rig.RigRest` (bones 1.. are the SMPL joints)."""
    angles = 2 * np.pi * np.arange(SIDES) / SIDES
    circle = np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    vertices, faces, weights = [], [], []
    bones = len(rest.names)
    for b in range(1, bones):
        name = rest.names[b]
        x, y, z = rest.matrices[b].T
        head, tail = rest.heads[b], rest.tails[b]
        if name == "pelvis":
            head = head - _PELVIS_DROP * y
        (hx, hz), (tx, tz) = _radii(name)
        base = len(vertices)
        is_head = name == "head"
        rings = 6 if is_head else 3
        for r in range(rings):
            t = r / (rings - 1)
            if is_head:  # an ellipsoid: rings of a sphere between the caps
                t = 0.1 + 0.8 * t
                scale = np.sin(np.pi * t)
                rx, rz = hx * scale, hz * scale
            else:
                rx, rz = hx + (tx - hx) * t, hz + (tz - hz) * t
            centre = head + (tail - head) * t
            for c, s in circle:
                vertices.append(centre + c * rx * x + s * rz * z)
                row = np.zeros(bones, np.float32)
                parent = rest.parents[b]
                if r == 0 and parent > 0 and not is_head:
                    row[b] = row[parent] = 0.5
                else:
                    row[b] = 1.0
                weights.append(row)
        for r in range(rings - 1):
            for k in range(SIDES):
                a, c = base + r * SIDES + k, base + r * SIDES + (k + 1) % SIDES
                faces.append((a, c, c + SIDES, a + SIDES))
        for cap, ring in ((head, 0), (tail, rings - 1)):
            index = len(vertices)
            vertices.append(cap)
            row = np.zeros(bones, np.float32)
            row[b] = 1.0
            weights.append(row)
            ring_start = base + ring * SIDES
            for k in range(SIDES):
                a, c = ring_start + k, ring_start + (k + 1) % SIDES
                faces.append((c, a, index) if ring == 0 else (a, c, index))
    return BodyMesh(np.array(vertices), faces, np.array(weights))


def smpl_body(model: dict, betas, rest) -> BodyMesh:
    """The SMPL template mesh (shaped by ``betas``) on the rig ``rest`` built from the same model and betas.

    model: arrays of ``shared.smpl_model.load_smpl_model_arrays`` (needs ``f`` and ``weights``).
    """
    vertices = np.asarray(model["v_template"], dtype=np.float64)
    if betas is not None and len(betas) and "shapedirs" in model:
        shapedirs = np.asarray(model["shapedirs"], dtype=np.float64)
        n = min(len(betas), shapedirs.shape[2])
        vertices = vertices + np.einsum("vcb,b->vc", shapedirs[:, :, :n], np.asarray(betas, np.float64)[:n])
    skin = np.asarray(model["weights"], dtype=np.float32)
    weights = np.zeros((len(vertices), len(rest.names)), np.float32)
    weights[:, 1 : 1 + smpl_skeleton.NUM_JOINTS] = skin[:, : smpl_skeleton.NUM_JOINTS]
    faces = [tuple(int(i) for i in face) for face in np.asarray(model["f"])]
    return BodyMesh(smpl_to_blender_points(vertices) + rest.lift, faces, weights)

"""The body template, in pure numpy: the rig's rest layout and a body skinned to it (one home for the add-on,
which builds its armature and mesh from it, and the backend's 2.5-D photo body, which poses it to a photo).

Rest layout (:func:`rig_rest`): a ``root`` bone on the floor (head at the origin, pointing +Y, roll 0, so its
frame is the armature's) carries the translation; under it one bone per SMPL joint, head at the joint and tail
at the joint's child (the leaves -- head, hands, feet -- continue their limb). Bones are connected where SMPL's
joints chain. Rolls put each bone's X axis on its main bending axis: world X for the spine and legs (bending
forward), world +-Z for the arms (left and right mirrored, as Blender's X-mirror expects). Coordinates are
Blender's (Z-up, metres); the whole skeleton is lifted by ``lift`` so its lowest joint is
``FOOT_JOINT_HEIGHT`` above z = 0.

Body (:func:`procedural_body`): one tapered, elliptical tube per bone (in the bone's X/Z plane, so it follows
the bone's roll), closed at both ends, plus an ellipsoid head. Each tube's ring at the bone's head is shared
half with the parent bone, so joints bend smoothly; everything else follows its own bone. No licensed data.
Or the SMPL mesh from a model file (:func:`smpl_body`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import skeleton as smpl_skeleton
from .axes import Y_UP_TO_Z_UP
from .rotations import unit


def _to_z_up(points: np.ndarray) -> np.ndarray:
    """(..., 3) SMPL Y-up points -> Blender Z-up."""
    return np.asarray(points) @ Y_UP_TO_Z_UP.T


ROOT_BONE = "root"
#: Bone names of the rig: the root, then the SMPL joints in SMPL order (bone j + 1 is SMPL joint j).
BONE_NAMES: tuple[str, ...] = (ROOT_BONE, *smpl_skeleton.JOINT_NAMES)
#: Height of the lowest rest joint (the ball of the foot) above the floor, metres.
FOOT_JOINT_HEIGHT = 0.03
ROOT_LENGTH = 0.35

#: The child each joint's bone points at (joints with several children point along the spine).
_TAIL_CHILD = {"pelvis": "spine1", "spine3": "neck"}
#: Leaves: (length in metres, how the tail continues) -- "up", "limb" (along parent->joint) or "forward".
_LEAVES = {"head": (0.2, "up"), "left_hand": (0.09, "limb"), "right_hand": (0.09, "limb"),
           "left_foot": (0.08, "forward"), "right_foot": (0.08, "forward")}  # fmt: skip

ARM_PARTS = ("collar", "shoulder", "elbow", "wrist", "hand")
LEG_PARTS = ("hip", "knee", "ankle", "foot")

@dataclass(frozen=True)
class RigRest:
    """Rest layout of the rig (Blender Z-up, armature space, metres).

    Attributes:
        names: (B,) bone names (``BONE_NAMES``); parents: (B,) int, root -1.
        heads, tails: (B, 3) float64.
        matrices: (B, 3, 3) float64 rest orientations (columns: the bone's X, Y (along the bone), Z axes).
        connected: (B,) bool, the bone's head sits on its parent's tail.
        lift: (3,) float64, added to every SMPL rest joint (mapped to Z-up) to stand the rig on the floor.
    """

    names: tuple[str, ...]
    parents: np.ndarray
    heads: np.ndarray
    tails: np.ndarray
    matrices: np.ndarray
    connected: np.ndarray
    lift: np.ndarray

    @property
    def z_axes(self) -> np.ndarray:
        """(B, 3) each bone's Z axis (what ``EditBone.align_roll`` takes)."""
        return self.matrices[:, :, 2]


def bone_matrices(heads: np.ndarray, tails: np.ndarray, x_hints: np.ndarray) -> np.ndarray:
    """(B, 3, 3) bone frames: Y along head->tail, X as close to ``x_hints`` as is perpendicular, Z = X x Y."""
    y = unit(tails - heads)
    x = unit(x_hints - np.sum(x_hints * y, axis=-1, keepdims=True) * y)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=-1)


def rig_rest(skeleton=None) -> RigRest:
    """Rest layout from a ``shared.skeleton.Skeleton`` (default: the EDGE/MACE skeleton)."""
    skeleton = skeleton or smpl_skeleton.Skeleton.default()
    joints = _to_z_up(skeleton.rest_positions())
    lift = np.array([0.0, 0.0, FOOT_JOINT_HEIGHT - joints[:, 2].min()])
    joints = joints + lift
    index = smpl_skeleton.JOINT_INDEX
    children = {name: [] for name in smpl_skeleton.JOINT_NAMES}
    for j, parent in enumerate(skeleton.parents):
        if parent >= 0:
            children[smpl_skeleton.JOINT_NAMES[parent]].append(smpl_skeleton.JOINT_NAMES[j])

    heads = np.vstack([[0.0, 0.0, 0.0], joints])
    tails = np.empty_like(heads)
    tails[0] = [0.0, ROOT_LENGTH, 0.0]
    x_hints = np.tile([1.0, 0.0, 0.0], (len(BONE_NAMES), 1))
    for j, name in enumerate(smpl_skeleton.JOINT_NAMES):
        head = joints[j]
        if name in _LEAVES:
            length, how = _LEAVES[name]
            if how == "up":
                direction = np.array([0.0, 0.0, 1.0])
            else:
                direction = head - joints[skeleton.parents[j]]
                if how == "forward":
                    direction = direction * [1.0, 1.0, 0.0]
            tails[j + 1] = head + length * unit(direction)
        else:
            tails[j + 1] = joints[index[_TAIL_CHILD.get(name, children[name][0] if children[name] else name)]]
        if name.split("_", 1)[-1] in ARM_PARTS:  # bend axis vertical, mirrored left/right
            x_hints[j + 1] = [0.0, 0.0, 1.0 if name.startswith("left") else -1.0]
    parents = np.concatenate([[-1], np.asarray(skeleton.parents) + 1])
    parents[1] = 0  # the pelvis hangs from the root
    connected = np.zeros(len(BONE_NAMES), dtype=bool)
    for b in range(2, len(BONE_NAMES)):
        connected[b] = np.allclose(heads[b], tails[parents[b]], atol=1e-9)
    return RigRest(BONE_NAMES, parents, heads, tails, bone_matrices(heads, tails, x_hints), connected, lift)


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
    """Low-poly body around a :class:`RigRest` (bones 1.. are the SMPL joints)."""
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
    return BodyMesh(_to_z_up(vertices) + rest.lift, faces, weights)

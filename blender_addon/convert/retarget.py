"""Move an SMPL dance onto another armature (pure numpy): bone mapping and world-space transfer.

**Mapping.** Each SMPL joint drives the target bone that spans the same body segment (SMPL ``left_elbow``
turns the forearm, so it maps to Rigify ``forearm.L``, Mixamo ``LeftForeArm``, UE ``lowerarm_l``).
:func:`auto_map` recognises the common naming conventions by how many of their names an armature has; the
user can fix the result and save it.

**Transfer.** Rest poses differ (A-pose vs T-pose, bone rolls, lengths), so rotations are not copied as
numbers. Each mapped bone gets, per frame, the world rotation of its SMPL segment applied on top of the
smallest rotation that lays the bone's rest direction onto the SMPL rest direction: the bone then points
exactly where the SMPL segment points, whatever its rest pose, roll or length. The hips are placed so that the
target's own hip joints (thigh heads) follow the SMPL hip joints, scaled by the ratio of leg lengths (the path
starts where the character stands; the feet reach the floor whichever bone carries the hips). Wherever the
dance plants a foot (contact-aware feet), the leg is solved with two-bone IK so that the target's ankle stays
where it landed at its own rest height: the planted foot touches the floor and does not slide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._shared import errors, rig_names, rotations, skeleton as smpl_skeleton

J = smpl_skeleton.JOINT_INDEX

def auto_map(bone_names) -> tuple[str, dict[str, str]]:
    """The naming convention ``bone_names`` follows best, and SMPL joint -> bone for the joints it has.

    Raises ``InvalidInputError`` when no convention matches the limbs (the user then maps bones by hand).
    """
    by_key = {rig_names.normalise(name): name for name in bone_names}
    best = ("", {})
    for convention in rig_names.CONVENTIONS:
        found = {joint: by_key[rig_names.normalise(bone)] for joint, bone in rig_names.convention_names(convention).items()
                 if rig_names.normalise(bone) in by_key}  # fmt: skip
        if len(found) > len(best[1]):
            best = (convention, found)
    if len(best[1]) < 8:
        raise errors.InvalidInputError(
            f"the armature's bone names follow none of the known conventions ({', '.join(rig_names.CONVENTIONS)})",
            hint="map the SMPL joints to your bones by hand in the Retarget panel, then save the mapping")
    return best


@dataclass(frozen=True)
class TargetRig:
    """A target armature at rest, in its armature space.

    Attributes:
        names: (B,) bone names, every parent before its children; parents: (B,) int, -1 for a root bone.
        rest: (B, 4, 4) float64 ``Bone.matrix_local``.
        lengths: (B,) bone lengths.
        world: (4, 4) the armature object's world matrix.
        local_location: (B,) bool, ``Bone.use_local_location`` (location along the bone's own axes; else along
            its parent's posed axes, as Rigify's IK controls); None: all True.
    """

    names: tuple[str, ...]
    parents: np.ndarray
    rest: np.ndarray
    lengths: np.ndarray
    world: np.ndarray
    local_location: np.ndarray | None = None


@dataclass(frozen=True)
class SourceDance:
    """The SMPL dance in Blender world space (Z-up, floor at z = 0).

    Attributes:
        rotations: (T, 24, 3, 3) world rotation of every SMPL segment relative to its rest orientation.
        positions: (T, 24, 3) joint positions.
        rest_directions: (24, 3) unit direction of each SMPL segment at rest (joint -> child; see ``rig``).
        rest_positions: (24, 3) rest joint positions standing on the floor.
        fps: frames per second; contacts: optional (T, 4) foot contacts (ankles, feet; EDGE order).
    """

    rotations: np.ndarray
    positions: np.ndarray
    rest_directions: np.ndarray
    rest_positions: np.ndarray
    fps: float
    contacts: np.ndarray | None = None


@dataclass(frozen=True)
class Retargeted:
    """Keys for the target: ``bones`` (bone indices), ``quaternions`` (T, len(bones), 4) pose-bone rotations
    (w, x, y, z), hemisphere-continuous; ``located`` the indices of the bones that also get ``locations``
    (T, len(located), 3) (the hips; for a control rig also IK controls and poles); ``scaled`` those that also
    get a uniform ``scales`` (T, len(scaled)) (a control rig's IK bases, see ``control_rig.IkResponse``)."""

    bones: np.ndarray
    quaternions: np.ndarray
    located: np.ndarray
    locations: np.ndarray
    scaled: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    scales: np.ndarray | None = None


@dataclass(frozen=True)
class Posed:
    """The target's bones posed in its armature space, per frame: ``orient`` (T, B, 3, 3) world orientation
    (unit columns), ``heads`` (T, B, 3); valid for ``bones`` (the mapped bones and the chains above them).
    ``hips`` is the bone that carries the translation."""

    orient: np.ndarray
    heads: np.ndarray
    bones: tuple[int, ...]
    hips: int


def leg_length(rig: TargetRig, mapping: dict[str, int], side: str = "left") -> float:
    """World length of the thigh + shin of a target."""
    scale = np.linalg.norm(rig.world[:3, :3], axis=0).mean()
    return float(scale * (rig.lengths[mapping[f"{side}_hip"]] + rig.lengths[mapping[f"{side}_knee"]]))


def planted(source: SourceDance, joint: int, speed_m_s: float = 0.3, height_m: float = 0.06) -> np.ndarray:
    """(T,) bool: frames on which the source keeps ``joint`` (an ankle) on the floor: its contact flag when the
    motion has them, else low and slow."""
    if source.contacts is not None:
        return np.asarray(source.contacts)[:, smpl_skeleton.FOOT_JOINTS.index(joint)] > 0.5
    p = source.positions[:, joint]
    speed = np.zeros(len(p))
    if len(p) > 1:
        step = np.linalg.norm(np.diff(p[:, :2], axis=0), axis=-1) * source.fps
        speed[1:], speed[0] = step, step[0]
        speed[1:-1] = np.minimum(step[:-1], step[1:])
    return (speed < speed_m_s) & (p[:, 2] < source.rest_positions[joint, 2] + height_m)


def _times(batch: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``batch @ matrix`` for (..., 3, 3) @ (3, 3) or (3,), as one matrix product (numpy's batched matmul of
    3x3 blocks is several times slower)."""
    if matrix.ndim == 1:
        return (batch.reshape(-1, 3) @ matrix).reshape(batch.shape[:-1])
    return (batch.reshape(-1, 3) @ matrix).reshape(batch.shape)


def _between(left: np.ndarray, batch: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``left @ batch @ right`` for (3, 3) ``left``/``right`` and a (..., 3, 3) batch, as matrix products."""
    return np.swapaxes(_times(np.swapaxes(_times(batch, right), -1, -2), left.T), -1, -2)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    padded = np.concatenate([[0], mask.astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[0::2], edges[1::2]))


def _two_bone_ik(hip, knee, ankle, goal, upper: float, lower: float):
    """New knee for a leg whose ankle must reach ``goal`` (T, 3), bending the way ``knee`` bends."""
    reach = goal - hip
    distance = np.clip(np.linalg.norm(reach, axis=-1), abs(upper - lower) + 1e-6, upper + lower - 1e-6)
    n = rotations.unit(reach)
    pole = knee - hip
    m = rotations.unit(pole - np.sum(pole * n, axis=-1, keepdims=True) * n)
    cos = np.clip((upper**2 + distance**2 - lower**2) / (2 * upper * distance), -1.0, 1.0)
    new_knee = hip + upper * (cos[:, None] * n + np.sqrt(1 - cos**2)[:, None] * m)
    new_ankle = hip + distance[:, None] * n
    return new_knee, new_ankle


def retarget(source: SourceDance, rig: TargetRig, mapping: dict[str, str], *, lock_feet: bool = True,
             blend_frames: int = 4) -> Retargeted:
    """World-space transfer of ``source`` onto ``rig`` (see the module docstring): keys on the mapped bones
    (rotations) and the hips (location). Arguments as :func:`pose`."""
    index = {name: b for b, name in enumerate(rig.names)}
    # Only the mapped bones and the chains above them move (a Rigify metarig has ~140 more bones): pose those.
    kept = set()
    for bone in mapping.values():
        b = index.get(bone, -1)
        while b >= 0 and b not in kept:
            kept.add(b)
            b = rig.parents[b]
    kept = np.array(sorted(kept), dtype=int)
    if len(kept) < len(rig.names) and len(kept):
        position = {b: k for k, b in enumerate(kept)}
        rig = TargetRig(tuple(rig.names[b] for b in kept), np.array([position.get(rig.parents[b], -1) for b in kept]),
                        rig.rest[kept], rig.lengths[kept], rig.world,
                        None if rig.local_location is None else rig.local_location[kept])
    else:
        kept = np.arange(len(rig.names))
    posed = pose(source, rig, mapping, lock_feet=lock_feet, blend_frames=blend_frames)
    sub_index = {name: b for b, name in enumerate(rig.names)}
    result = keys(rig, posed, sorted(sub_index[bone] for bone in mapping.values()), [posed.hips])
    return Retargeted(kept[result.bones], result.quaternions, kept[result.located], result.locations)


#: The limbs as (upper, lower) SMPL joints: elbows and knees.
LIMB_JOINTS = tuple((f"{side}_{upper}", f"{side}_{lower}") for side in ("left", "right")
                    for upper, lower in (("shoulder", "elbow"), ("hip", "knee")))


def pose(source: SourceDance, rig: TargetRig, mapping: dict[str, str], *, lock_feet: bool = True,
         blend_frames: int = 4, hinges: bool = False) -> Posed:
    """The target's bones posed like ``source`` (see the module docstring).

    Args:
        mapping: SMPL joint name -> target bone name; must include the pelvis (it carries the translation).
        lock_feet: keep each ankle still while the source plants it (legs solved by two-bone IK), fading in
            and out over ``blend_frames`` frames.
        hinges: bend elbows and knees only about the lower bone's X axis (what an IK limb can do, Rigify's
            among them): each limb keeps its shoulder/hip, elbow/knee and wrist/ankle points, its upper bone
            turned about itself so that the bend is a hinge. Then the IK and FK controls give the same pose.
    """
    index = {name: b for b, name in enumerate(rig.names)}
    missing = [bone for bone in mapping.values() if bone not in index]
    if missing:
        raise errors.InvalidInputError(f"the bone mapping names bones the armature lacks: {', '.join(missing)}",
                                       hint="fix the mapping in the Retarget panel (or Auto-map again)")
    if "pelvis" not in mapping:
        raise errors.InvalidInputError("the bone mapping has no bone for the SMPL pelvis (the hips)",
                                       hint="map the pelvis to the bone that carries the character's hips")
    bone_of = {J[joint]: index[bone] for joint, bone in mapping.items()}
    joint_of = {b: j for j, b in bone_of.items()}
    frames = len(source.rotations)

    # Work in the target's armature space: source rotations conjugated by the object's rotation; positions
    # scaled by the leg-length ratio (root height and stride fit the character).
    world_scale = np.linalg.norm(rig.world[:3, :3], axis=0)
    object_rot = rig.world[:3, :3] / world_scale
    inverse_world = np.linalg.inv(rig.world)
    smpl_leg = np.linalg.norm(source.rest_positions[J["left_hip"]] - source.rest_positions[J["left_knee"]]) + \
        np.linalg.norm(source.rest_positions[J["left_knee"]] - source.rest_positions[J["left_ankle"]])
    index_map = {joint: bone_of[J[joint]] for joint in mapping}
    has_legs = all(f"{s}_{j}" in mapping for s in ("left", "right") for j in ("hip", "knee", "ankle"))
    scale = leg_length(rig, index_map) / smpl_leg if has_legs else float(world_scale.mean())

    def to_world(points: np.ndarray) -> np.ndarray:
        return points @ rig.world[:3, :3].T + rig.world[:3, 3]

    def to_armature(points: np.ndarray) -> np.ndarray:
        return points @ inverse_world[:3, :3].T + inverse_world[:3, 3]

    segment_rot = _between(object_rot.T, source.rotations, object_rot)
    rest_dirs = source.rest_directions @ object_rot  # = object_rot.T @ d

    rest_rot = rig.rest[:, :3, :3]
    rest_rot = rest_rot / np.linalg.norm(rest_rot, axis=-2, keepdims=True)
    rest_head = rig.rest[:, :3, 3]
    # World (armature-space) orientation and head of every bone, per frame, parents first.
    orient = np.empty((frames, len(rig.names), 3, 3))
    heads = np.empty((frames, len(rig.names), 3))
    hips = bone_of[J["pelvis"]]

    def place(b: int) -> None:
        parent = rig.parents[b]
        if b in joint_of:
            j = joint_of[b]
            align = rotations.rotation_between(rest_rot[b][:, 1], rest_dirs[j])
            orient[:, b] = _times(segment_rot[:, j], align @ rest_rot[b])
        elif parent >= 0:
            orient[:, b] = _times(orient[:, parent], rest_rot[parent].T @ rest_rot[b])
        else:
            orient[:, b] = rest_rot[b]
        if b == hips:
            heads[:, b] = 0.0  # placed below, once the legs hang from it
        elif parent >= 0:
            offset = rest_rot[parent].T @ (rest_head[b] - rest_head[parent])
            heads[:, b] = heads[:, parent] + _times(orient[:, parent], offset)
        else:
            heads[:, b] = rest_head[b]

    # Only the mapped bones and the chains above them matter (a Rigify metarig has ~140 more bones).
    needed = set()
    for b in joint_of:
        while b >= 0 and b not in needed:
            needed.add(b)
            b = rig.parents[b]
    for b in sorted(needed):
        place(b)

    # The hips go where the target's own hip joints (thigh heads) follow the SMPL hip joints: the character dances
    # where it stands, its hip joints as far above their rest height as the SMPL's, scaled by the leg lengths --
    # so the feet reach the floor whatever bone carries the hips and wherever its head sits.
    anchors = ["left_hip", "right_hip"] if has_legs else ["pelvis"]
    smpl_anchor = source.positions[:, [J[a] for a in anchors]].mean(axis=1)
    smpl_anchor_rest = source.rest_positions[[J[a] for a in anchors]].mean(axis=0)
    anchor_bones = [bone_of[J[a]] for a in anchors]
    wanted = to_armature(to_world(rest_head[anchor_bones].mean(axis=0)) + scale * (smpl_anchor - smpl_anchor_rest))
    below_hips = {hips}
    for b in sorted(needed):
        if rig.parents[b] in below_hips:
            below_hips.add(b)
    moved = sorted(below_hips)
    heads[:, moved] += (wanted - heads[:, anchor_bones].mean(axis=1))[:, None]

    if lock_feet and has_legs:
        for side in ("left", "right"):
            hip_b, knee_b, ankle_b = (bone_of[J[f"{side}_{j}"]] for j in ("hip", "knee", "ankle"))
            # While the source plants the foot, the target's ankle stays where it lands (no sliding), at its own
            # rest height above the floor: contact is kept whatever the proportions.
            ankle = to_world(heads[:, ankle_b])
            # Its own rest height, plus what the source's ankle is above its own (scaled; never below the floor).
            joint = J[f"{side}_ankle"]
            lift = scale * np.maximum(source.positions[:, joint, 2] - source.rest_positions[joint, 2], 0.0)
            rest_height = to_world(rest_head[ankle_b])[2]
            goal = ankle.copy()
            weight = np.zeros(frames)
            for start, stop in _runs(planted(source, joint)):
                anchor = ankle[(start + stop - 1) // 2]
                goal[start:stop] = anchor
                goal[start:stop, 2] = rest_height + lift[start:stop]
                weight[start:stop] = 1.0
                for k in range(1, blend_frames + 1):  # fade the lock in and out
                    fade = 1.0 - k / (blend_frames + 1)
                    for t, edge in ((start - k, start), (stop - 1 + k, stop - 1)):
                        if 0 <= t < frames and fade > weight[t]:
                            weight[t], goal[t] = fade, goal[edge] + ankle[t] - ankle[edge]
            if not weight.any():
                continue
            target = to_armature(ankle + weight[:, None] * (goal - ankle))
            upper = np.linalg.norm(heads[:, knee_b] - heads[:, hip_b], axis=-1).mean()
            lower = np.linalg.norm(heads[:, ankle_b] - heads[:, knee_b], axis=-1).mean()
            knee, ankle = _two_bone_ik(heads[:, hip_b], heads[:, knee_b], heads[:, ankle_b], target, upper, lower)
            orient[:, hip_b] = rotations.rotation_between(heads[:, knee_b] - heads[:, hip_b], knee - heads[:, hip_b]) @ orient[:, hip_b]
            orient[:, knee_b] = rotations.rotation_between(heads[:, ankle_b] - heads[:, knee_b], ankle - knee) @ orient[:, knee_b]
            # Everything below the knee keeps its world rotation; recompute heads down the leg.
            heads[:, knee_b], heads[:, ankle_b] = knee, ankle
            below = {ankle_b}
            for b in sorted(needed):
                if b > ankle_b and rig.parents[b] in below:
                    below.add(b)
                    if b not in joint_of:
                        orient[:, b] = orient[:, rig.parents[b]] @ rest_rot[rig.parents[b]].T @ rest_rot[b]
                    offset = rest_rot[rig.parents[b]].T @ (rest_head[b] - rest_head[rig.parents[b]])
                    heads[:, b] = heads[:, rig.parents[b]] + orient[:, rig.parents[b]] @ offset

    if hinges:
        for upper, lower in LIMB_JOINTS:
            if upper in mapping and lower in mapping:
                _hinge(orient, heads, rig, bone_of[J[upper]], bone_of[J[lower]], rest_rot)
    return Posed(orient, heads, tuple(sorted(needed)), int(hips))


def _hinge(orient, heads, rig: TargetRig, upper: int, lower: int, rest_rot) -> None:
    """Turn ``upper`` about its own axis and re-bend ``lower`` about its X axis (in place; both keep their
    directions wherever the limb is bent)."""
    axis_rest = rest_rot[lower][:, 0]  # the hinge: the lower bone's X axis, fixed in the upper bone
    in_upper = rest_rot[upper].T @ axis_rest
    lower_y = orient[:, lower][..., 1]
    upper_y = orient[:, upper][..., 1]
    normal = np.cross(upper_y, lower_y)
    rest_normal = np.cross(rest_rot[upper][:, 1], rest_rot[lower][:, 1])
    sign = 1.0 if rest_normal @ axis_rest >= 0 else -1.0
    bent = np.linalg.norm(normal, axis=-1) > 1e-3
    current = orient[:, upper] @ in_upper
    wanted = np.where(bent[:, None], sign * rotations.unit(normal), current)
    orient[:, upper] = rotations.rotation_between(current, wanted) @ orient[:, upper]
    relative = rest_rot[upper].T @ rest_rot[lower]
    straight = orient[:, upper] @ relative
    orient[:, lower] = rotations.rotation_between(straight[..., 1], lower_y) @ straight


def keys(rig: TargetRig, posed: Posed, bones, located) -> Retargeted:
    """Pose-bone channels that give ``bones`` their posed orientation (``located`` also their head) under their
    posed parents: basis = rest_b^-1 rest_p pose_p^-1 pose_b."""
    rest_rot = rig.rest[:, :3, :3] / np.linalg.norm(rig.rest[:, :3, :3], axis=-2, keepdims=True)
    rest_head = rig.rest[:, :3, 3]
    orient, heads = posed.orient, posed.heads
    bones, located = np.asarray(bones, dtype=int), np.asarray(located, dtype=int)
    parents = rig.parents[bones]
    relative = np.swapaxes(orient[:, np.maximum(parents, 0)], -1, -2) @ orient[:, bones]  # pose_p^-1 pose_b
    roots = np.flatnonzero(parents < 0)
    relative[:, roots] = orient[:, bones[roots]]
    parent_rest = np.where((parents >= 0)[:, None, None], rest_rot[np.maximum(parents, 0)], np.eye(3))
    basis = (np.swapaxes(rest_rot[bones], -1, -2) @ parent_rest) @ relative
    quats = rotations.make_quaternions_continuous(rotations.matrix_to_quaternion(basis))
    locations = np.empty((len(orient), len(located), 3))
    for k, b in enumerate(located):
        parent = rig.parents[b]
        if parent >= 0:  # the head in its parent's posed frame, relative to where it rests
            offset = np.einsum("tji,tj->ti", orient[:, parent], heads[:, b] - heads[:, parent])
            rest_offset = rest_rot[parent].T @ (rest_head[b] - rest_head[parent])
            locations[:, k] = (offset - rest_offset) @ rest_rot[parent].T @ rest_rot[b]
        else:
            locations[:, k] = (heads[:, b] - rest_head[b]) @ rest_rot[b]
    return Retargeted(bones, quats, located, locations)


def source_from_local(local: np.ndarray, trans: np.ndarray, fps: float, skeleton=None,
                      contacts: np.ndarray | None = None) -> SourceDance:
    """An SMPL dance on ``skeleton`` (default: the standard one) as a :class:`SourceDance`.

    Args:
        local: (T, J, 3, 3) SMPL local rotations (Y-up); or (T, J, 3) axis-angle (a ``shared.motion.Motion``'s
            poses). trans: (T, 3) metres, Y-up. contacts: optional (T, 4) foot contacts.
    """
    from .._shared import body_mesh, kinematics
    from .axes import SMPL_TO_BLENDER

    skeleton = skeleton or smpl_skeleton.Skeleton.default()
    global_rot = kinematics.global_rotations(local, skeleton)
    positions = kinematics.forward_kinematics(None, trans, skeleton, rotations=global_rot)
    rest = body_mesh.rig_rest(skeleton)
    return SourceDance(
        rotations=_between(SMPL_TO_BLENDER, global_rot, SMPL_TO_BLENDER.T),
        positions=positions @ SMPL_TO_BLENDER.T,
        rest_directions=rotations.unit(rest.tails[1:] - rest.heads[1:]),
        rest_positions=rest.heads[1:],
        fps=float(fps),
        contacts=contacts,
    )

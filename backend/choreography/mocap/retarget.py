"""From another skeleton's joint positions to SMPL rotations.

1. **Name mapping** (:func:`smpl_positions_from_bvh`): BVH joints of the common conventions — CMU (``Hips,
   LHipJoint, LeftUpLeg, LeftLeg, LeftFoot, LeftToeBase, LowerBack, Spine, Spine1, Neck, Head,
   LeftShoulder, LeftArm, LeftForeArm, LeftHand``), LAFAN-style (``LeftToe``, ``Spine2``), Mixamo
   (``mixamorig:`` prefixes) and MotionBuilder/Vicon-style (``Ab, Chest, LeftCollar, LeftShoulder,
   LeftElbow, LeftWrist, LeftHip, LeftKnee, LeftAnkle, LeftToes``) — become the 24 SMPL joint positions.
   SMPL's three spine joints are placed along the source's hips-to-neck chain at SMPL's own proportions.
2. **Retargeting by joint directions** (:func:`rotations_from_positions`): every SMPL joint is turned so its
   bones point where the source's bones point. Joints with several children (pelvis, upper spine) get the
   best-fitting rotation of all their bones (Kabsch); single-bone joints the smallest turn from their
   parent's frame (so twist is inherited, not invented); leaves keep their parent's frame.

The result is a Y-up SMPL :class:`shared.motion.Motion` on the default skeleton; the source's bone lengths
are not kept (the dance is what carries over, not the performer's proportions).
"""

from __future__ import annotations

import numpy as np

from shared import rig_names
from shared.errors import InvalidInputError
from shared.motion import Motion
from shared.rotations import matrix_to_axis_angle, rotation_between, unit
from shared.skeleton import JOINT_INDEX, NUM_JOINTS, PARENTS, REST_OFFSETS

from .bvh import BvhMotion

#: Longest take the library reads (seconds).
MAX_TAKE_S = 3600.0

#: Candidate source names (normalised: ``shared.rig_names.normalise``) per SMPL joint besides the Mixamo name,
#: which is tried first, per side ("{s}" = left/right, "{c}" = l/r); the first present wins.
_NAMES: dict[str, tuple[str, ...]] = {
    "pelvis": ("pelvis", "root", "hip"),
    "{side}_hip": ("{s}thigh", "{s}hip", "{s}upperleg", "{c}thigh", "{c}upleg"),
    "{side}_knee": ("{s}knee", "{s}shin", "{s}lowleg", "{s}lowerleg", "{c}shin", "{c}leg"),
    "{side}_ankle": ("{s}ankle", "{c}foot"),
    "{side}_foot": ("{s}toe", "{s}toes", "{s}footend", "{c}toes", "{c}toe"),
    "neck": ("neck1", "neckbase"),
    "head": (),
    "{side}_elbow": ("{s}elbow", "{s}lowarm", "{s}lowerarm", "{c}forearm"),
    "{side}_wrist": ("{s}wrist", "{c}hand"),
}
#: Collar and shoulder: where the Mixamo upper arm (``…Arm``) exists, ``…Shoulder`` is the collar bone (CMU,
#: LAFAN, Mixamo); otherwise ``…Collar``/``…Clavicle`` is the collar and ``…Shoulder`` the shoulder (Vicon-style).
_UPPER_ARM = ("{s}uparm", "{s}upperarm", "{c}uparm")
_COLLAR = ("{s}collar", "{s}clavicle", "{c}collar", "{c}clavicle")
_MIXAMO = rig_names.convention_names("mixamo")


def _candidates(joint: str, side: str, others: tuple[str, ...]) -> tuple[str, ...]:
    """The normalised names that may carry ``joint`` (side spelled out; its Mixamo name first)."""
    return (rig_names.normalise(_MIXAMO[joint]),) + tuple(_expand(c, side) for c in others)


def _expand(pattern: str, side: str) -> str:
    return pattern.format(s=side, c=side[:1])


def smpl_positions_from_bvh(bvh: BvhMotion) -> tuple[np.ndarray, dict[str, str]]:
    """The 24 SMPL joint positions of a BVH take, in the file's units and axes.

    Returns:
        (T, 24, 3) positions and the mapping used ({smpl joint: source description}).
    Raises:
        InvalidInputError: when the skeleton lacks a joint SMPL needs (names the joint and what was looked for).
    """
    found = {rig_names.normalise(name): i for i, name in enumerate(bvh.names) if not name.endswith("_end")}
    positions = bvh.positions
    out = np.empty(positions.shape[:1] + (NUM_JOINTS, 3))
    mapping: dict[str, str] = {}

    def pick(joint: str, candidates: tuple[str, ...]) -> int:
        for candidate in candidates:
            if candidate in found:
                return found[candidate]
        raise InvalidInputError(
            f"the BVH skeleton has no joint for SMPL's {joint} (looked for {', '.join(candidates)}; it has "
            f"{', '.join(n for n in bvh.names if not n.endswith('_end'))})",
            hint="use a CMU, LAFAN, Mixamo or Vicon-style skeleton, or rename the joints to one of those",
        )

    def put(joint: str, index: int) -> None:
        out[:, JOINT_INDEX[joint]] = positions[:, index]
        mapping[joint] = bvh.names[index]

    for pattern, candidates in _NAMES.items():
        for side in ("left", "right") if "{side}" in pattern else ("",):
            joint = pattern.format(side=side)
            put(joint, pick(joint, _candidates(joint, side, candidates)))
    for side in ("left", "right"):
        arm = _candidates(f"{side}_shoulder", side, _UPPER_ARM)
        mixamo_collar = _candidates(f"{side}_collar", side, ())  # Mixamo's ``…Shoulder``
        if any(name in found for name in arm):
            put(f"{side}_shoulder", pick(f"{side}_shoulder", arm))
            put(f"{side}_collar", pick(f"{side}_collar", mixamo_collar + tuple(_expand(c, side) for c in _COLLAR)))
        else:
            put(f"{side}_shoulder", pick(f"{side}_shoulder", mixamo_collar))
            put(f"{side}_collar", pick(f"{side}_collar", tuple(_expand(c, side) for c in _COLLAR)))
        # SMPL's hand joint sits a third of a forearm beyond the wrist, along the forearm.
        wrist, elbow = out[:, JOINT_INDEX[f"{side}_wrist"]], out[:, JOINT_INDEX[f"{side}_elbow"]]
        out[:, JOINT_INDEX[f"{side}_hand"]] = wrist + (wrist - elbow) / 3.0
        mapping[f"{side}_hand"] = f"{mapping[f'{side}_wrist']} + forearm/3"
    # The spine: SMPL's spine1..3 along the source's chain from the hips to the neck.
    neck = found[rig_names.normalise(mapping["neck"])]
    chain = [neck]
    while bvh.parents[chain[-1]] >= 0:
        chain.append(int(bvh.parents[chain[-1]]))
    chain = chain[::-1]  # root … neck
    if found.get(rig_names.normalise(mapping["pelvis"])) not in chain:
        raise InvalidInputError("the BVH neck does not descend from its hips", hint="check the joint hierarchy")
    chain = chain[chain.index(found[rig_names.normalise(mapping["pelvis"])]) :]
    smpl_lengths = np.linalg.norm(REST_OFFSETS[[3, 6, 9, 12]], axis=1)
    fractions = np.cumsum(smpl_lengths)[:3] / smpl_lengths.sum()
    points = positions[:, chain]  # (T, C, 3)
    seg = np.linalg.norm(np.diff(points, axis=1), axis=-1)  # (T, C-1)
    arc = np.concatenate([np.zeros((len(points), 1)), np.cumsum(seg, axis=1)], axis=1)
    for joint, fraction in zip(("spine1", "spine2", "spine3"), fractions):
        target = fraction * arc[:, -1:]
        k = np.clip((arc < target).sum(axis=1) - 1, 0, len(chain) - 2)  # (T,)
        rows = np.arange(len(points))
        span = np.maximum(arc[rows, k + 1] - arc[rows, k], 1e-9)
        w = ((target[:, 0] - arc[rows, k]) / span)[:, None]
        out[:, JOINT_INDEX[joint]] = (1 - w) * points[rows, k] + w * points[rows, k + 1]
        mapping[joint] = f"{fraction:.2f} of the chain {' > '.join(bvh.names[c] for c in chain)}"
    return out, mapping


def _children() -> list[list[int]]:
    children: list[list[int]] = [[] for _ in range(NUM_JOINTS)]
    for j, parent in enumerate(PARENTS):
        if parent >= 0:
            children[parent].append(j)
    return children


#: The bones (child joints) that set each joint's rotation.
_BONES = _children()
#: Joints turned by two directions: their bone to ``up`` and the line from ``across[1]`` to ``across[0]``.
#: The upper spine uses its collars when they are as far apart as SMPL's, else the shoulders (some
#: skeletons, e.g. CMU's, put the collars on the neck, where they tell nothing about the chest's turn).
_FRAMES = {
    JOINT_INDEX["pelvis"]: ("spine1", ("left_hip", "right_hip")),
    JOINT_INDEX["spine3"]: ("neck", ("left_collar", "right_collar")),
}
_SHOULDERS = ("left_shoulder", "right_shoulder")
#: Joints whose frame is their parent's (leaves: nothing beyond them to point).
_LEAVES = {JOINT_INDEX[n] for n in ("head", "left_foot", "right_foot", "left_hand", "right_hand")}


def _narrower_than_smpl(joints: np.ndarray, pair: tuple[str, str]) -> bool:
    """True when the two joints sit much closer together (median) than on SMPL's rest skeleton."""
    a, b = JOINT_INDEX[pair[0]], JOINT_INDEX[pair[1]]
    width = np.median(np.linalg.norm(joints[:, a] - joints[:, b], axis=-1))
    return bool(width < 0.6 * np.linalg.norm(_rest_position(a) - _rest_position(b)))


def _rest_position(joint: int) -> np.ndarray:
    """Rest-pose position of a joint of the default skeleton (pelvis at the origin)."""
    position = np.zeros(3)
    while joint > 0:
        position = position + REST_OFFSETS[joint]
        joint = int(PARENTS[joint])
    return position


def _kabsch(rest: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(B, 3) rest vectors, (T, B, 3) targets → (T, 3, 3) rotations best turning rest onto target."""
    h = np.einsum("bi,tbj->tij", rest, target)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.transpose(vt, (0, 2, 1)) @ np.transpose(u, (0, 2, 1))))
    fix = np.ones((len(h), 3))
    fix[:, 2] = d
    return np.transpose(vt, (0, 2, 1)) @ (fix[:, :, None] * np.transpose(u, (0, 2, 1)))


def rotations_from_positions(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SMPL local rotations and root translation whose bones point like ``joints``' bones.

    Args:
        joints: (T, 24, 3) SMPL-ordered positions, metres, Y-up, +X = the performer's left, facing any way.
    Returns:
        poses (T, 24, 3) axis-angle, trans (T, 3) (the pelvis position; the default skeleton's root offset is 0).
    """
    joints = np.asarray(joints, dtype=np.float64)
    frames = len(joints)
    world = np.empty((frames, NUM_JOINTS, 3, 3))
    for j in range(NUM_JOINTS):
        parent = PARENTS[j]
        parent_rot = world[:, parent] if parent >= 0 else np.broadcast_to(np.eye(3), (frames, 3, 3))
        bones = _BONES[j]
        if j in _FRAMES:
            across = _FRAMES[j][1]
            if across != _SHOULDERS and _narrower_than_smpl(joints, across):
                across = _SHOULDERS
            up, (a, b) = JOINT_INDEX[_FRAMES[j][0]], (JOINT_INDEX[n] for n in across)
            rest = np.stack([REST_OFFSETS[up], _rest_position(a) - _rest_position(b)])
            target = np.stack([joints[:, up] - joints[:, j], joints[:, a] - joints[:, b]], axis=1)
            world[:, j] = _kabsch(rest / np.linalg.norm(rest, axis=1, keepdims=True), unit(target))
        elif j in _LEAVES or not bones:
            world[:, j] = parent_rot
        elif len(bones) == 1:
            child = bones[0]
            rest = np.einsum("tij,j->ti", parent_rot, unit(REST_OFFSETS[child]))
            target = unit(joints[:, child] - joints[:, j])
            world[:, j] = rotation_between(rest, target) @ parent_rot
        else:
            rest = REST_OFFSETS[bones]
            target = np.stack([joints[:, c] - joints[:, j] for c in bones], axis=1)
            world[:, j] = _kabsch(rest, target)
    local = world.copy()
    for j in range(1, NUM_JOINTS):
        local[:, j] = np.swapaxes(world[:, PARENTS[j]], -1, -2) @ world[:, j]
    return matrix_to_axis_angle(local), joints[:, 0].copy()


def bvh_to_motion(bvh: BvhMotion, fps: float = 30.0, name: str = "") -> Motion:
    """A BVH take as a Y-up SMPL motion at ``fps``, in metres, feet on y = 0."""
    joints, mapping = smpl_positions_from_bvh(bvh)
    # Units: scale so the legs are as long as SMPL's (BVH files come in cm, inches, metres or CMU units).
    legs = []
    for side in ("left", "right"):
        hip, knee, ankle = (joints[0, JOINT_INDEX[f"{side}_{n}"]] for n in ("hip", "knee", "ankle"))
        legs.append(np.linalg.norm(knee - hip) + np.linalg.norm(ankle - knee))
    smpl_leg = np.linalg.norm(REST_OFFSETS[[4, 7]], axis=1).sum()
    if not np.mean(legs) > 0:
        raise InvalidInputError(f"{name or 'BVH'}: the legs have no length in the first frame")
    joints = joints * (smpl_leg / np.mean(legs))
    # Up axis: the one the spine points along (Y in most files, Z in some).
    spine = np.median(joints[:, JOINT_INDEX["neck"]] - joints[:, JOINT_INDEX["pelvis"]], axis=0)
    if abs(spine[2]) > abs(spine[1]):  # Z-up → Y-up: (x, y, z) → (x, z, -y)
        joints = np.stack([joints[..., 0], joints[..., 2], -joints[..., 1]], axis=-1)
    return motion_from_joints(joints, bvh.fps, fps, {"source_file": name, "mapping": mapping})


def motion_from_joints(joints: np.ndarray, source_fps: float, fps: float, metadata: dict | None = None) -> Motion:
    """SMPL-ordered joint positions (metres, Y-up) → a :class:`Motion` at ``fps`` with the lowest toe on y = 0.

    The take's frame rate must lie in [1, 1000] fps and it may last an hour at most, so resampling is bounded
    whatever a file says (``InvalidInputError`` naming the file otherwise).
    """
    name = (metadata or {}).get("source_file", "the take")
    if np.shape(joints)[1:] != (NUM_JOINTS, 3) or len(joints) < 1:
        raise InvalidInputError(f"{name}: joints of shape {np.shape(joints)}, not (T, {NUM_JOINTS}, 3)",
                                hint="SMPL-ordered joint positions in metres, Y-up")
    if not (np.isfinite(source_fps) and 1.0 <= source_fps <= 1000.0):
        raise InvalidInputError(f"{name}: frame rate {source_fps:g} fps is not within [1, 1000]",
                                hint="check the file's fps / Frame Time")
    if len(joints) / source_fps > MAX_TAKE_S:
        raise InvalidInputError(f"{name}: {len(joints)} frames at {source_fps:g} fps last more than "
                                f"{MAX_TAKE_S / 3600:g} hour", hint="cut the take into shorter clips")
    joints = np.asarray(joints, dtype=np.float64)
    if abs(source_fps - fps) > 1e-6 and len(joints) > 1:
        t = np.arange(int(np.floor((len(joints) - 1) * fps / source_fps)) + 1) / fps
        src = np.arange(len(joints)) / source_fps
        flat = joints.reshape(len(joints), -1)
        joints = np.stack([np.interp(t, src, flat[:, k]) for k in range(flat.shape[1])], axis=1).reshape(
            len(t), NUM_JOINTS, 3
        )
    joints = joints.copy()
    joints[..., 1] -= np.percentile(joints[:, [JOINT_INDEX["left_foot"], JOINT_INDEX["right_foot"]], 1], 2)
    poses, trans = rotations_from_positions(joints)
    return Motion(poses=poses, trans=trans, fps=fps, metadata=dict(metadata or {}))


__all__ = ["bvh_to_motion", "motion_from_joints", "rotations_from_positions", "smpl_positions_from_bvh"]

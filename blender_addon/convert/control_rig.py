"""Keys on a generated rig's animator controls (pure numpy): Rigify's FK and IK controls.

Animators do not key the bones that deform a generated rig; they key its controls, which drive those bones
through helper (MCH) bones and constraints. The retarget poses the rig's *skeleton* (Rigify's ``ORG-`` bones,
the metarig's bones inside the generated rig; see :mod:`.retarget`), and this module finds the control poses
that reproduce it.

A layout lists :class:`Frame`\\ s, evaluated in order, each a bone posed from bones posed before it:

* it moves **rigidly with** a ``base`` bone, keeping their rest relation (a control with the skeleton bone it
  drives; a helper with the bone it hangs from);
* then, optionally, it **aims** its Y axis at a bone's head by the smallest rotation (Blender's Damped Track:
  Rigify's IK swing bones), or **follows** another bone's world rotation by an ``influence`` (Copy Rotation in
  world space: Rigify's neck and head follow the torso);
* or it is an IK **pole**: placed in the plane of the limb, in front of its bend, one limb length from the
  limb's middle (where Rigify's own IK->FK snap puts it).

A keyed control's channels are then its pose under its parent frame, exactly as Blender composes them:
``basis = rest_c^-1 rest_p pose_p^-1 pose_c``. What Rigify's FK<->IK switch then shows is the same pose both
ways, because the FK controls and the IK controls are taken from the same skeleton pose.

**IK stretch.** Rigify's IK limbs let Blender's IK solver stretch their bones (``ik_stretch`` 0.1 on both, the
rig's default). Blender's solver (selectively damped least squares) starts from the chain's rest bend and damps
the rotations but not the stretch, so a target within reach is met by bending *and* stretching: limbs bent
further than at rest settle 2-4 % shorter and a few degrees straighter than the keyed pose, near-straight ones a
little longer and more bent. Where it settles depends only on the reach ratio (target distance over the chain's
length before IK), because the pole pre-rotates the chain onto the target: an :class:`IkResponse`, measured on
the rig itself. The IK base control's scale then sets that ratio so that the solver settles on the skeleton's
bend at (nearly) its own length, as Rigify's own IK->FK snap scales the IK base (``correct_scale``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._shared import rotations
from .retarget import Posed, Retargeted, TargetRig


@dataclass(frozen=True)
class IkResponse:
    """Where a rig's IK solver settles a two-bone limb whose target is at ``rho`` times the chain's length before
    IK (its rest length times the base's scale): the ``bend`` (radians between the two bones) and each bone's
    ``stretch`` (its length over its length before IK).

    Attributes:
        rho: (N,) increasing reach ratios; bend: (N,) radians, decreasing; stretch: (N, 2) upper, lower.
        length: the chain's rest length (upper + lower bone), in armature units.
    """

    rho: np.ndarray
    bend: np.ndarray
    stretch: np.ndarray
    length: float

    def base_scale(self, bend: np.ndarray, reach: np.ndarray) -> np.ndarray:
        """The IK base's scale that makes the solver bend the limb by ``bend`` (radians) with its target
        ``reach`` away: the reach ratio with that bend, read off the measured response (bends past the measured
        range get its ends)."""
        order = np.argsort(self.rho)[::-1]  # the bend grows as the reach shrinks
        bends = np.maximum.accumulate(self.bend[order])
        last = np.r_[np.diff(bends) > 0, True]  # of equal bends (a straight limb's) the shortest reach
        rho = np.interp(bend, bends[last], self.rho[order][last])
        return reach / (rho * self.length)


@dataclass(frozen=True)
class Frame:
    """One bone of a control rig and how it is posed (see the module docstring).

    Attributes:
        name: the bone.
        base: the bone it moves rigidly with ("" = it stays at rest).
        aim: a bone whose head it points its Y axis at, after moving with ``base``.
        follow, influence: a bone whose world rotation it takes, by ``influence`` (0..1).
        pole: (upper, lower) skeleton bones of a limb whose IK pole this bone is.
        parent: for a keyed control, the frame its channels are relative to ("" = a parent that stays at rest).
        keyed: key its rotation; located: also key its location.
        limb, response: for an IK base control, the (upper, lower) skeleton bones of its limb and how the rig's
            IK solver stretches that limb: its (uniform) scale is keyed too, so that the solver settles on the
            skeleton's bend (see the module docstring).
    """

    name: str
    base: str = ""
    aim: str = ""
    follow: str = ""
    influence: float = 0.0
    pole: tuple[str, ...] = ()
    parent: str = ""
    keyed: bool = False
    located: bool = False
    limb: tuple[str, ...] = ()
    response: IkResponse | None = None


@dataclass
class _Poses:
    """World (armature-space) orientation and head per frame of the bones posed so far, by name."""

    rig: TargetRig
    index: dict[str, int]
    orient: dict[str, np.ndarray] = field(default_factory=dict)
    heads: dict[str, np.ndarray] = field(default_factory=dict)
    scales: dict[str, np.ndarray] = field(default_factory=dict)

    def rest(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        matrix = self.rig.rest[self.index[name]]
        return matrix[:3, :3] / np.linalg.norm(matrix[:3, :3], axis=0), matrix[:3, 3]


def _slerp_matrices(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    qa, qb = rotations.matrix_to_quaternion(a), rotations.matrix_to_quaternion(b)
    return rotations.quaternion_to_matrix(rotations.quaternion_slerp(qa, qb, t))


def _pose_frame(poses: _Poses, frame: Frame, count: int) -> None:
    rest_rot, rest_head = poses.rest(frame.name)
    if frame.pole:
        upper, lower = frame.pole
        hip, knee = poses.heads[upper], poses.heads[lower]
        length = poses.rig.lengths[poses.index[lower]]
        ankle = knee + length * poses.orient[lower][..., 1]
        reach = ankle - hip
        # In the plane of the limb, in front of its bend: the limb bends about its hinge (see ``pose(...,
        # hinges=True)``), so Blender's IK, which turns the chain until the pole faces its bend, bends it so.
        def across(v):
            return v - np.sum(v * rotations.unit(reach), axis=-1, keepdims=True) * rotations.unit(reach)

        # A straight limb has no bend to face: the pole goes where its bend faces at rest, turned with the bone.
        lower_rot, lower_head = poses.rest(lower)
        upper_head = poses.rest(upper)[1]
        rest_bend = lower_head - upper_head
        rest_reach = rotations.unit(lower_head + length * lower_rot[:, 1] - upper_head)
        rest_bend = lower_rot.T @ (rest_bend - (rest_bend @ rest_reach) * rest_reach)
        bend = across(knee - hip)
        straight = np.linalg.norm(bend, axis=-1, keepdims=True) < 1e-4 * length
        bend = np.where(straight, across(poses.orient[lower] @ rest_bend), bend)
        limb = poses.rig.lengths[poses.index[upper]] + length
        poses.orient[frame.name] = np.broadcast_to(rest_rot, (count, 3, 3))
        poses.heads[frame.name] = hip + reach / 2 + limb * rotations.unit(bend)
        return
    if frame.base:
        base_rest_rot, base_rest_head = poses.rest(frame.base)
        relative = base_rest_rot.T @ rest_rot
        orient = poses.orient[frame.base] @ relative
        heads = poses.heads[frame.base] + poses.orient[frame.base] @ (base_rest_rot.T @ (rest_head - base_rest_head))
    else:
        orient, heads = np.broadcast_to(rest_rot, (count, 3, 3)), np.broadcast_to(rest_head, (count, 3))
    if frame.aim:
        orient = rotations.rotation_between(orient[..., 1], poses.heads[frame.aim] - heads) @ orient
    if frame.follow and frame.influence > 0:
        orient = _slerp_matrices(orient, poses.orient[frame.follow], frame.influence)
    poses.orient[frame.name], poses.heads[frame.name] = orient, heads
    if frame.response is not None:
        upper, lower = frame.limb
        lower_y = poses.orient[lower][..., 1]
        end = poses.heads[lower] + poses.rig.lengths[poses.index[lower]] * lower_y
        bend = np.arccos(np.clip(np.sum(poses.orient[upper][..., 1] * lower_y, axis=-1), -1.0, 1.0))
        reach = np.linalg.norm(end - poses.heads[upper], axis=-1)
        poses.scales[frame.name] = frame.response.base_scale(bend, reach)


def control_keys(rig: TargetRig, skeleton: TargetRig, posed: Posed, layout: list[Frame]) -> Retargeted:
    """Keys on the controls of ``rig`` (the whole generated armature) that pose its skeleton as ``posed``.

    Args:
        skeleton: the sub-rig the retarget posed (:func:`skeleton_of`); its bones keep their names in ``rig``.
        layout: the frames to evaluate (:func:`rigify_layout`).
    """
    index = {name: b for b, name in enumerate(rig.names)}
    poses = _Poses(rig, index)
    for b in posed.bones:
        poses.orient[skeleton.names[b]], poses.heads[skeleton.names[b]] = posed.orient[:, b], posed.heads[:, b]
    count = len(posed.orient)
    for frame in layout:
        _pose_frame(poses, frame, count)
    keyed = [frame for frame in layout if frame.keyed]
    quats = np.empty((count, len(keyed), 4))
    located = [k for k, frame in enumerate(keyed) if frame.located]
    locations = np.empty((count, len(located), 3))
    for k, frame in enumerate(keyed):
        rest_rot, rest_head = poses.rest(frame.name)
        if frame.parent:
            parent_rot, parent_head = poses.rest(frame.parent)
            world_rot, world_head = poses.orient[frame.parent], poses.heads[frame.parent]
        else:
            parent_rot, parent_head = np.eye(3), np.zeros(3)
            world_rot, world_head = np.eye(3), np.zeros(3)
        # Pose relative to the parent's pose, mapped into the parent's rest frame, relative to the bone's rest.
        local_rot = np.swapaxes(world_rot, -1, -2) @ poses.orient[frame.name]
        local_head = np.einsum("...ji,...j->...i", world_rot, poses.heads[frame.name] - world_head)
        in_rest_rot = parent_rot @ local_rot
        in_rest_head = parent_rot @ local_head[..., None]
        basis = rest_rot.T @ in_rest_rot
        quats[:, k] = rotations.make_quaternions_continuous(rotations.matrix_to_quaternion(basis))
        if frame.located and (rig.local_location is None or rig.local_location[index[frame.name]]):
            head = in_rest_head[..., 0] + parent_head
            locations[:, located.index(k)] = (head - rest_head) @ rest_rot
        elif frame.located:  # along the parent's posed axes, from where the rest head rides with the parent
            locations[:, located.index(k)] = local_head - parent_rot.T @ (rest_head - parent_head)
    bones = np.array([index[frame.name] for frame in keyed])
    scaled = [frame.name for frame in keyed if frame.name in poses.scales]
    return Retargeted(bones, quats, bones[located], locations, np.array([index[name] for name in scaled], dtype=int),
                      np.stack([poses.scales[name] for name in scaled], axis=-1) if scaled else None)


def skeleton_of(rig: TargetRig, mapping: dict[str, str]) -> TargetRig:
    """The mapped bones of ``rig`` as a rig of their own, each hanging from the bone of its nearest mapped SMPL
    ancestor (a generated rig hangs its skeleton from helper bones; the retarget needs the body's chain)."""
    from .._shared import skeleton as smpl_skeleton

    index = {name: b for b, name in enumerate(rig.names)}
    joints = [j for j in smpl_skeleton.JOINT_NAMES if j in mapping]
    parents = []
    for joint in joints:
        parent = smpl_skeleton.PARENTS[smpl_skeleton.JOINT_INDEX[joint]]
        while parent >= 0 and smpl_skeleton.JOINT_NAMES[parent] not in mapping:
            parent = smpl_skeleton.PARENTS[parent]
        parents.append(joints.index(smpl_skeleton.JOINT_NAMES[parent]) if parent >= 0 else -1)
    bones = [index[mapping[joint]] for joint in joints]
    return TargetRig(names=tuple(mapping[joint] for joint in joints), parents=np.array(parents),
                     rest=rig.rest[bones], lengths=rig.lengths[bones], world=rig.world)


#: Rigify's limbs by the name of their first bone; each has a ``<limb>_parent.<side>`` control holding its
#: ``IK_FK`` switch (0 = IK, 1 = FK).
RIGIFY_LIMBS = tuple(f"{limb}.{side}" for limb in ("upper_arm", "thigh") for side in ("L", "R"))
#: Each limb's lower bone and end (hand/foot), by its first bone.
RIGIFY_LIMB_PARTS = {"upper_arm": ("forearm", "hand"), "thigh": ("shin", "foot")}


@dataclass(frozen=True)
class RigifyIkChain:
    """The bones of one Rigify IK limb (``limb`` as in :data:`RIGIFY_LIMBS`): ``base`` (the IK base control, the
    chain's first bone), ``lower`` (the helper that is its second), ``target`` (the helper the IK constraint
    reaches for), ``end`` (the hand/foot control), ``pole`` and ``switch`` (the control holding ``IK_FK`` and
    ``pole_vector``)."""

    base: str
    lower: str
    target: str
    end: str
    pole: str
    switch: str

    @classmethod
    def of(cls, limb: str) -> RigifyIkChain:
        upper, side = limb.split(".")
        lower, end = RIGIFY_LIMB_PARTS[upper]
        return cls(f"{upper}_ik.{side}", f"MCH-{lower}_ik.{side}", f"MCH-{upper}_ik_target.{side}",
                   f"{end}_ik.{side}", f"{upper}_ik_target.{side}", f"{upper}_parent.{side}")


#: Auto-Rig Pro: per FK limb (its first FK control), the control holding the limb's ``ik_fk_switch`` (1 = FK,
#: 0 = IK; by default the legs are in IK) -- ``c_hand_ik``/``c_foot_ik`` in its rig_functions.py (older rigs:
#: ``c_ikfk_arm``/``c_ikfk_leg``). Its FK controls are keyed directly (``shared.rig_names``), so the retarget
#: switches those limbs to FK in the new action.
AUTO_RIG_PRO_SWITCHES = {f"c_{fk}_fk.{side}": (f"c_{ik}_ik.{side}", f"c_ikfk_{old}.{side}")
                         for side in ("l", "r") for fk, ik, old in (("arm", "hand", "arm"), ("thigh", "foot", "leg"))}


def rigify_layout(follow: dict[str, tuple[str, float]], ik_limbs=RIGIFY_LIMBS,
                  parents: dict[str, str] | None = None,
                  responses: dict[str, IkResponse] | None = None) -> list[Frame]:
    """The frames of a rig Rigify generated from its human metarig (bone names as Rigify 0.6+ makes them).

    Keys: ``torso`` (location, and the rotation of the middle of the back: Rigify's torso pivots there),
    the spine's FK controls below it (``spine_fk.001``, ``spine_fk``: the lower back and, with it, the pelvis)
    and above it (``spine_fk.002``, ``.003``), ``neck``, ``head``, the shoulders and every limb's FK chain; for the limbs in ``ik_limbs`` (see :data:`RIGIFY_LIMBS`) also the IK controls: the end control
    (hand/foot), the pole, the IK base (its twist where no pole is used) and the IK toe. ``follow`` is {helper:
    (bone, influence)} as the rig's own Copy Rotation constraints say (``MCH-ROT-neck``, ``MCH-ROT-head``);
    ``parents`` {helper: bone} says which bone each parent-switch helper (``MCH-torso.parent``,
    ``MCH-hand_ik.parent.L`` ...) follows now (its Armature constraint's target; ``root`` = it stays).
    ``responses`` {limb: how the rig's IK solver stretches it}: those limbs' IK bases get their scale keyed
    (see :class:`IkResponse`); without one the solver is taken not to stretch.
    """
    parents = parents or {}
    responses = responses or {}

    def switch(name: str) -> Frame:
        bone = parents.get(name, "root")
        return Frame(name, base="" if bone == "root" else bone)


    def follows(name: str, base: str) -> Frame:
        bone, influence = follow.get(name, ("", 0.0))
        return Frame(name, base=base, follow=bone, influence=influence)

    def key(name: str, base: str, parent: str = "", located: bool = False) -> Frame:
        return Frame(name, base=base, parent=parent, keyed=True, located=located)

    frames = [
        switch("MCH-torso.parent"),
        key("torso", "ORG-spine.002", "MCH-torso.parent", located=True),
        Frame("MCH-spine.001", base="torso"),
        key("spine_fk.001", "ORG-spine.001", "MCH-spine.001"),
        Frame("MCH-spine", base="spine_fk.001"),
        key("spine_fk", "ORG-spine", "MCH-spine"),
        Frame("MCH-spine.002", base="torso"),
        key("spine_fk.002", "ORG-spine.002", "MCH-spine.002"),
        Frame("MCH-spine.003", base="spine_fk.002"),
        key("spine_fk.003", "ORG-spine.003", "MCH-spine.003"),
        follows("MCH-ROT-neck", "spine_fk.003"),
        key("neck", "ORG-spine.004", "MCH-ROT-neck"),
        follows("MCH-ROT-head", "neck"),
        key("head", "ORG-spine.006", "MCH-ROT-head"),
    ]
    for s in ("L", "R"):
        frames += [
            key(f"shoulder.{s}", f"ORG-shoulder.{s}", "ORG-spine.003"),
            Frame(f"MCH-upper_arm_parent.{s}", base=f"ORG-shoulder.{s}"),
            key(f"upper_arm_fk.{s}", f"ORG-upper_arm.{s}", f"MCH-upper_arm_parent.{s}"),
            key(f"forearm_fk.{s}", f"ORG-forearm.{s}", f"upper_arm_fk.{s}"),
            Frame(f"MCH-hand_fk.{s}", base=f"forearm_fk.{s}"),
            key(f"hand_fk.{s}", f"ORG-hand.{s}", f"MCH-hand_fk.{s}"),
            Frame(f"MCH-thigh_parent.{s}", base="ORG-spine"),
            key(f"thigh_fk.{s}", f"ORG-thigh.{s}", f"MCH-thigh_parent.{s}"),
            key(f"shin_fk.{s}", f"ORG-shin.{s}", f"thigh_fk.{s}"),
            Frame(f"MCH-foot_fk.{s}", base=f"shin_fk.{s}"),
            key(f"foot_fk.{s}", f"ORG-foot.{s}", f"MCH-foot_fk.{s}"),
            Frame(f"MCH-toe_fk.{s}", base=f"foot_fk.{s}"),
            key(f"toe_fk.{s}", f"ORG-toe.{s}", f"MCH-toe_fk.{s}"),
        ]
        for upper, (lower, end) in RIGIFY_LIMB_PARTS.items():
            if f"{upper}.{s}" not in ik_limbs:
                continue
            limb = (f"ORG-{upper}.{s}", f"ORG-{lower}.{s}")
            frames += [  # the end control, the pole, the IK base under its swing helper (aimed at the end)
                switch(f"MCH-{end}_ik.parent.{s}"),
                key(f"{end}_ik.{s}", f"ORG-{end}.{s}", f"MCH-{end}_ik.parent.{s}", located=True),
                switch(f"MCH-{upper}_ik_target.parent.{s}"),
                Frame(f"{upper}_ik_target.{s}", pole=limb, keyed=True, located=True,
                      parent=f"MCH-{upper}_ik_target.parent.{s}"),
                Frame(f"MCH-{upper}_ik_swing.{s}", base=f"MCH-{upper}_parent.{s}", aim=f"ORG-{end}.{s}"),
                Frame(f"{upper}_ik.{s}", base=f"ORG-{upper}.{s}", parent=f"MCH-{upper}_ik_swing.{s}", keyed=True,
                      limb=limb, response=responses.get(f"{upper}.{s}")),
            ]
            if end == "foot":
                frames += [Frame(f"MCH-toe_ik_parent.{s}", base=f"ORG-foot.{s}"),
                           key(f"toe_ik.{s}", f"ORG-toe.{s}", f"MCH-toe_ik_parent.{s}")]
    return frames

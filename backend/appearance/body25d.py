"""The 2.5-D body: the person in a photo lifted onto a posable body and animated in 3D (Photo Wake-Up).

After Weng, Curless and Kemelmacher-Shlizerman, "Photo Wake-Up" (CVPR 2019, arXiv 1812.02246), with the part
layers and occlusion order of Meta's Animated Drawings, on the CPU:

1. **Fit** (:func:`photo_joints`) -- the 24 SMPL joints of the person in the photo's camera: x, y from the
   detected 2D keypoints, depth from the pose model's 3D world landmarks (weak perspective: one scale, pixels
   per metre, fitted between the two); spine, collars, hands and feet placed between the detected points.
2. **Template** (:func:`template_in_photo_pose`) -- the project's body (``shared.body_mesh``: the add-on's
   skinned low-poly body) built on those joints, so it stands in the photo's pose, and rasterised: per-pixel
   body part (the bone skinned most) and depth, once for the whole body and once per part alone.
3. **Warp to the silhouette** (:func:`body_parts`) -- every pixel of the person's real mask takes the part
   and depth of the nearest template pixel; template pixels outside the mask are dropped. Pixels far from the
   template that touch a hand are what the hand holds: they ride on the hand, rigidly, in front of it.
   Each part (torso + head, two arms, two legs) is a layer holding its visible pixels and the pixels another
   part hides in the photo (where the template's part lies under it, inside the mask), textured by the
   patch inpainter from the part's own pixels, with the template's depth there.
4. **Lift and skin** (:class:`PhotoBody`) -- one grid mesh per layer (a vertex every few pixels, its depth and
   photo position), skinning weights from the part labels smoothed within the layer.
5. **Animate** (:class:`BodyAnimation`) -- every bone turns from its photo orientation (bone directions of the
   fitted joints; the pelvis and chest as frames) to the motion's (slerped in over the wake-up), the joints
   follow by forward kinematics (limb bones easing from the photo's lengths into ones the body's proportions
   allow, :func:`limb_stretch`), and linear blend skinning moves the mesh;
   a z-buffer rasteriser (numba) decides per pixel which surface is in front, with the layers' exact masks
   as alpha test; the frame is the layers' texture over the background plate. Frame 0 is the photo's pose,
   rendered from the lifted body. The dance is kept in shot by the puppet's stage fit, worked out on the
   fitted pose alone (:class:`PhotoPose`), so the textured body is built once, where the photo is placed; a
   waist-up body, which stays on the frame's bottom edge, keeps its hands in shot instead (:func:`arms_in_frame`).

Not done here: the body has no back -- it is a relief of the photo's front, so the dancer's turn away from the
camera is limited to :data:`_MAX_TURN_DEG` (a spin becomes a sway) -- and the camera options (perspective,
yaw) are not applied (orthographic front view).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
from scipy import ndimage

import backend.features  # noqa: F401, I001 -- points numba's JIT cache at the per-user folder before numba loads
import numba  # noqa: E402
from shared import body_mesh
from shared.axes import Y_UP_TO_Z_UP
from shared.errors import InvalidInputError
from shared.kinematics import forward_kinematics, global_rotations
from shared.motion import Motion
from shared.rotations import (axis_angle_to_matrix, matrix_to_quaternion, quaternion_slerp, quaternion_to_matrix,
                             rotation_between, unit)
from shared.skeleton import JOINT_INDEX as J, NUM_JOINTS, PARENTS, Skeleton

from .inpaint import PATCH, WORK_SIDE, inpaint
from .keypoints import FACE_KEYPOINTS, KP
from .puppet import RIG_NAMES, PuppetAnimation, rig_from_keypoints

#: Body parts (layers), by SMPL joint: a joint's bone runs from it to its child.
PARTS: dict[str, tuple[str, ...]] = {
    "torso": ("pelvis", "spine1", "spine2", "spine3", "neck", "left_collar", "right_collar", "head"),
    "left_arm": ("left_shoulder", "left_elbow", "left_wrist", "left_hand"),
    "right_arm": ("right_shoulder", "right_elbow", "right_wrist", "right_hand"),
    "left_leg": ("left_hip", "left_knee", "left_ankle", "left_foot"),
    "right_leg": ("right_hip", "right_knee", "right_ankle", "right_foot"),
}
PART_OF_JOINT = np.zeros(NUM_JOINTS, np.int64)
for _p, _names in enumerate(PARTS.values()):
    PART_OF_JOINT[[J[n] for n in _names]] = _p
#: Joints of the parts a photo can cut off (``ReferencePerson.cut_off``): they keep the photo's pose.
#: Without legs the pelvis is a guess below the frame and the body's cut edge must stay on the frame's edge, so
#: the spine keeps the photo's pose too (the neck, head and arms dance).
_CUT_OFF_JOINTS = {"legs": PARTS["left_leg"] + PARTS["right_leg"] + ("pelvis", "spine1", "spine2", "spine3"),
                   "arms": PARTS["left_arm"] + PARTS["right_arm"], "head": ("head",)}  # fmt: skip
#: Where the synthesised joints sit: fractions of pelvis -> neck (spine), of neck -> shoulder (collars), and
#: how far the hand's joint lies past the wrist, in forearms.
_SPINE = {"spine1": 0.3, "spine2": 0.55, "spine3": 0.8}
_COLLAR = 0.4
_HAND = 0.35
#: Held objects: silhouette pixels this far (in upper-arm lengths) from every template pixel, in a piece
#: that touches a hand.
_FAR = 0.25
#: Something held sits this far in front of the hand holding it, metres.
_HELD_IN_FRONT_M = 0.05
#: Pixels another part hides are pushed this far back, metres (never in front of what covered them).
_HIDDEN_BACK_M = 0.01
#: How much wider than the template's tubes each part is drawn (clothes, and arms seen across the body must
#: claim their whole width, or their edges stay behind on the torso).
_WIDER = {"torso": 1.1, "left_arm": 1.5, "right_arm": 1.5, "left_leg": 1.2, "right_leg": 1.2}
#: How far past the shoulder-hip quadrilateral the torso reaches under the arms, metres.
_TORSO_UNDER_ARMS_M = 0.06
#: The most the body turns away from the camera (:func:`facing_limited`), degrees.
_MAX_TURN_DEG = 35.0
#: Depth smoothed within each layer over this many metres.
_DEPTH_SMOOTH_M = 0.06
#: Skinning: part labels smoothed over this fraction of the person's height.
_SMOOTH = 0.04
#: Template depth when the pose model gave no 3D points (a drawing, given keypoints): a flat body.
_ASSUMED_TORSO_M = 0.5
#: Limb bones, by the joint they end at, whose length in the dance is bounded by the body's proportions
#: (:func:`limb_stretch`); each with the bone after it that is placed along it (the hand along the forearm).
_LIMB_BONES = {"elbow": None, "wrist": "hand", "knee": None, "ankle": None}
#: A limb bone's length in the dance stays within these fractions of the template's proportion for it.
_LIMB_RANGE = (0.85, 1.1)
#: A cut-off body's hands stay this far inside the canvas (:func:`arms_in_frame`), fraction of its short side.
_IN_FRAME_MARGIN = 0.04


# --- 1. the joints in the photo's camera -------------------------------------------------------------------


def photo_joints(keypoints: np.ndarray, world: np.ndarray | None) -> tuple[np.ndarray, float]:
    """The 24 SMPL joints of the person in the photo, and the scale.

    Args:
        keypoints: (20, 2) canvas pixels (KEYPOINT_NAMES order).
        world: (20, 3) the pose model's 3D points (metres, x right, y down, z away from the camera), or None.
    Returns:
        joints: (24, 3) pixels (x right, y down) and depth in pixels towards the camera.
        scale: pixels per metre.
    """
    kp = np.asarray(keypoints, np.float64)
    body = [KP[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_elbow", "right_elbow",
                            "left_knee", "right_knee")]  # fmt: skip
    depth, scale = np.zeros(len(kp)), 0.0
    if world is not None and np.isfinite(world[body]).all():
        a = world[body, :2] - world[body, :2].mean(axis=0)
        b = kp[body] - kp[body].mean(axis=0)
        scale = float(np.sum(a * b) / max(np.sum(a * a), 1e-12))  # least squares, weak perspective
        depth = -np.nan_to_num(world[:, 2]) * scale
    if scale <= 0:  # no usable 3D points: a flat body of an assumed torso height
        neck = 0.5 * (kp[KP["left_shoulder"]] + kp[KP["right_shoulder"]])
        pelvis = 0.5 * (kp[KP["left_hip"]] + kp[KP["right_hip"]])
        scale = float(np.linalg.norm(neck - pelvis)) / _ASSUMED_TORSO_M
    points = np.concatenate([kp, depth[:, None]], axis=1)
    joints = np.zeros((NUM_JOINTS, 3))

    def at(name: str) -> np.ndarray:
        return points[KP[name]]

    for side in ("left", "right"):
        for joint in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist"):  # the same names in both
            joints[J[f"{side}_{joint}"]] = at(f"{side}_{joint}")
        wrist, elbow = at(f"{side}_wrist"), at(f"{side}_elbow")
        joints[J[f"{side}_hand"]] = wrist + _HAND * (wrist - elbow)
        toe = at(f"{side}_toe")
        joints[J[f"{side}_foot"]] = toe if np.isfinite(toe).all() else at(f"{side}_ankle") + [0.0, 0.0, 0.1 * scale]
    pelvis = 0.5 * (at("left_hip") + at("right_hip"))
    neck = 0.5 * (at("left_shoulder") + at("right_shoulder"))
    joints[J["pelvis"]], joints[J["neck"]] = pelvis, neck
    for name, f in _SPINE.items():
        joints[J[name]] = pelvis + f * (neck - pelvis)
    for side in ("left", "right"):
        joints[J[f"{side}_collar"]] = neck + _COLLAR * (at(f"{side}_shoulder") - neck)
    ears = np.array([at("left_ear"), at("right_ear")])
    face = points[list(FACE_KEYPOINTS)]
    head = ears if np.isfinite(ears).all() else face[np.isfinite(face).all(axis=1)]
    joints[J["head"]] = head.mean(axis=0) if len(head) else neck + 0.5 * (neck - pelvis)
    if not np.isfinite(joints).all():
        raise InvalidInputError("the reference keypoints miss joints the body needs",
                                hint="give shoulders, elbows, wrists, hips, knees, ankles and a face point")
    return joints, scale


def limb_stretch(joints: np.ndarray) -> np.ndarray:
    """(24,) per joint, the factor its bone (parent -> joint) is stretched by once dancing: limb bones get a
    length the body's proportions allow, not the one the pose model's depth gives.

    A bone's 3D length in the photo comes from its 2D length and the pose model's depth, and that depth is
    unreliable for a limb pointing at the camera (a forearm seen end-on can come out far too long, and the
    dance lowering it then reaches out of a waist-up frame). So each upper arm, forearm, thigh and shin takes
    its photo length clipped to :data:`_LIMB_RANGE` of the template's proportion scaled to the person --
    the body's size measured by what foreshortening can only shorten: the larger of the shoulders' width
    (2D and 3D) and the torso's 2D height. Frame 0 keeps the photo's lengths; the dance eases into these.

    Args:
        joints: (24, 3) the photo's joints (:func:`photo_joints`), pixels.
    """
    rest = Skeleton.default().rest_positions()

    def width(points, dims):
        return np.linalg.norm(points[J["left_shoulder"], :dims] - points[J["right_shoulder"], :dims])

    def torso(points):
        hips = 0.5 * (points[J["left_hip"], :2] + points[J["right_hip"], :2])
        shoulders = 0.5 * (points[J["left_shoulder"], :2] + points[J["right_shoulder"], :2])
        return np.linalg.norm(shoulders - hips)

    size = max(width(joints, 2) / width(rest, 3), width(joints, 3) / width(rest, 3), torso(joints) / torso(rest))
    lengths = np.linalg.norm(joints[1:] - joints[PARENTS[1:]], axis=1)  # bone of joint j at j - 1
    stretch = np.ones(NUM_JOINTS)
    for end, after in _LIMB_BONES.items():
        sides = [J[f"{side}_{end}"] for side in ("left", "right")]
        proportional = size * np.linalg.norm(rest[sides] - rest[PARENTS[sides]], axis=1)
        photo = lengths[np.array(sides) - 1]
        stretch[sides] = np.clip(photo, *np.multiply.outer(_LIMB_RANGE, proportional)) / np.maximum(photo, 1e-6)
        if after:
            stretch[[J[f"{side}_{after}"] for side in ("left", "right")]] = stretch[sides]
    return stretch


def to_metres(points: np.ndarray, scale: float) -> np.ndarray:
    """(..., 3) photo camera pixels (x right, y down, depth towards the camera) -> SMPL metres (Y-up, +Z at the
    camera)."""
    return np.asarray(points) * np.array([1.0, -1.0, 1.0]) / scale


def to_pixels(points: np.ndarray, scale: float) -> np.ndarray:
    """The inverse of :func:`to_metres`."""
    return np.asarray(points) * np.array([1.0, -1.0, 1.0]) * scale


# --- 2. the template in the photo's pose ----------------------------------------------------------------------


@dataclass
class Template:
    """The body template standing in the photo's pose, in photo camera pixels.

    Attributes:
        vertices: (V, 3) x, y, depth towards the camera (pixels); triangles: (F, 3) int;
        triangle_joint: (F,) the SMPL joint whose bone each triangle is skinned to most.
    """

    vertices: np.ndarray
    triangles: np.ndarray
    triangle_joint: np.ndarray


def template_in_photo_pose(joints: np.ndarray, scale: float) -> Template:
    """``shared.body_mesh.procedural_body`` built on the photo's joints (the rest layout *is* the photo pose)."""
    metres = to_metres(joints, scale)
    rest = body_mesh.rig_rest(Skeleton.from_joint_positions(metres))
    # Bone rolls: across the body (world X) unless the bone itself lies along X, then the depth axis -- the rig's
    # own rolls assume the rest pose (arms would have no cross-section hanging down).
    along = unit(rest.tails - rest.heads)
    hints = np.where(np.abs(along[:, :1]) > 0.8, [[0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]])
    rest = replace(rest, matrices=body_mesh.bone_matrices(rest.heads, rest.tails, hints))
    body = body_mesh.procedural_body(rest)
    owner = np.argmax(body.weights[:, 1:], axis=1)  # column b + 1 = SMPL joint b
    # Clothed people are wider than the template's bare tubes: each vertex moves out from its bone's axis.
    head, tail = rest.heads[owner + 1], rest.tails[owner + 1]
    axis = tail - head
    t = np.clip(np.sum((body.vertices - head) * axis, axis=1) / np.maximum(np.sum(axis * axis, axis=1), 1e-12), 0, 1)
    centre = head + t[:, None] * axis
    widen = np.array([_WIDER[list(PARTS)[p]] for p in PART_OF_JOINT[owner]])
    vertices = centre + widen[:, None] * (body.vertices - centre)
    vertices = to_pixels((vertices - rest.lift) @ Y_UP_TO_Z_UP, scale)
    triangles, joint = [], []
    for face in body.faces:
        corners = np.array(face)
        # The face's bone: the one most of its corners follow (ring corners shared with the parent are split).
        votes = np.bincount(owner[corners], weights=body.weights[corners, 1:].max(axis=1), minlength=NUM_JOINTS)
        for k in range(1, len(face) - 1):
            triangles.append((face[0], face[k], face[k + 1]))
            joint.append(int(np.argmax(votes)))
    return Template(vertices, np.array(triangles, np.int64), np.array(joint, np.int64))


# --- the rasteriser ---------------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _rasterise(x, y, z, u, v, triangles, alpha, zbuf, umap, vmap, ids):  # pragma: no cover - compiled
    height, width = zbuf.shape
    ah, aw = alpha.shape
    for f in range(triangles.shape[0]):
        a, b, c = triangles[f, 0], triangles[f, 1], triangles[f, 2]
        x0, y0, x1, y1, x2, y2 = x[a], y[a], x[b], y[b], x[c], y[c]
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if abs(area) < 1e-9:
            continue
        inv = 1.0 / area
        lo_x = max(int(np.floor(min(x0, x1, x2))), 0)
        hi_x = min(int(np.ceil(max(x0, x1, x2))), width - 1)
        lo_y = max(int(np.floor(min(y0, y1, y2))), 0)
        hi_y = min(int(np.ceil(max(y0, y1, y2))), height - 1)
        for py in range(lo_y, hi_y + 1):
            for px in range(lo_x, hi_x + 1):
                w0 = ((x1 - px) * (y2 - py) - (x2 - px) * (y1 - py)) * inv
                w1 = ((x2 - px) * (y0 - py) - (x0 - px) * (y2 - py)) * inv
                w2 = 1.0 - w0 - w1
                if w0 < -1e-6 or w1 < -1e-6 or w2 < -1e-6:
                    continue
                depth = w0 * z[a] + w1 * z[b] + w2 * z[c]
                if depth <= zbuf[py, px]:
                    continue
                tu = w0 * u[a] + w1 * u[b] + w2 * u[c]
                tv = w0 * v[a] + w1 * v[b] + w2 * v[c]
                iu, iv = int(tu + 0.5), int(tv + 0.5)
                if iu < 0 or iv < 0 or iu >= aw or iv >= ah or alpha[iv, iu] == 0:
                    continue  # alpha test: the layer's exact outline, whatever the mesh's grid
                zbuf[py, px] = depth
                umap[py, px] = tu
                vmap[py, px] = tv
                ids[py, px] = f


def rasterise(vertices: np.ndarray, triangles: np.ndarray, size: tuple[int, int], uv: np.ndarray | None = None,
              alpha: np.ndarray | None = None):
    """Z-buffer rasterisation of triangles (nearest = largest depth wins), pixel centres at integer coordinates.

    Args:
        vertices: (N, 3) x, y pixels and depth (larger = nearer); triangles: (F, 3) int.
        size: (height, width).
        uv: (N, 2) texture coordinates to interpolate (None = none); alpha: (h, w) uint8 texture mask, a pixel
            whose ``uv`` lands on 0 there is not drawn (None = all drawn).
    Returns:
        ``(depth, u, v, triangle)``: (H, W) float32 depth (-inf = nothing), texture coordinates (-1 = nothing),
        and the triangle drawn (-1 = none).
    """
    height, width = size
    zbuf = np.full((height, width), -np.inf, np.float32)
    umap = np.full((height, width), -1.0, np.float32)
    vmap = np.full((height, width), -1.0, np.float32)
    ids = np.full((height, width), -1, np.int32)
    vertices = np.ascontiguousarray(vertices, np.float32)
    if uv is None:
        uv = np.zeros((len(vertices), 2), np.float32)
        alpha = np.ones((1, 1), np.uint8)
    uv = np.ascontiguousarray(uv, np.float32)
    _rasterise(vertices[:, 0], vertices[:, 1], vertices[:, 2], uv[:, 0].copy(), uv[:, 1].copy(),
               np.ascontiguousarray(triangles, np.int64), np.ascontiguousarray(alpha, np.uint8), zbuf, umap, vmap,
               ids)  # fmt: skip
    return zbuf, umap, vmap, ids


# --- 3. parts on the real silhouette ----------------------------------------------------------------------------


@dataclass
class PartLayer:
    """One body part as the photo shows it, plus what other parts hide of it.

    Attributes:
        part: index into :data:`PARTS`.
        mask: (H, W) bool, the layer's pixels; visible: (H, W) bool, those the photo shows (the rest is filled).
        texture: (H, W, 3) uint8; depth: (H, W) float32 pixels towards the camera (valid on ``mask``);
        joint: (H, W) int, the SMPL joint each pixel follows; rigid: (H, W) bool, held things (one bone only).
    """

    part: int
    mask: np.ndarray
    visible: np.ndarray
    texture: np.ndarray
    depth: np.ndarray
    joint: np.ndarray
    rigid: np.ndarray


def body_parts(image: np.ndarray, silhouette: np.ndarray, template: Template, joints: np.ndarray,
               scale: float) -> list[PartLayer]:
    """The template's parts and depth warped onto the person's real silhouette, one layer per part."""
    height, width = silhouette.shape
    size = (height, width)
    depth, _, _, ids = rasterise(template.vertices, template.triangles, size)
    covered = ids >= 0
    label = np.where(covered, template.triangle_joint[np.maximum(ids, 0)], -1)
    if not covered.any():
        raise InvalidInputError("the body fitted to the photo lies outside the picture", hint="check the keypoints")
    distance, (ny, nx) = ndimage.distance_transform_edt(~covered, return_indices=True)
    joint = np.where(silhouette, label[ny, nx], -1)
    warped_depth = depth[ny, nx]
    rigid = np.zeros(size, bool)
    # Held things: pieces of the silhouette far from the whole template that touch a hand ride on that hand.
    upper_arm = np.mean([np.linalg.norm(joints[J[f"{s}_elbow"], :2] - joints[J[f"{s}_shoulder"], :2]) for s in ("left", "right")])
    far = (silhouette & (distance > _FAR * upper_arm)).astype(np.uint8)
    count, pieces = cv2.connectedComponents(far, connectivity=8)
    for piece in range(1, count):
        region = pieces == piece
        ys, xs = np.nonzero(region)
        best, best_gap = None, np.inf
        for side in ("left", "right"):
            hand, wrist = joints[J[f"{side}_hand"], :2], joints[J[f"{side}_wrist"], :2]
            gap = np.min(np.hypot(xs - hand[0], ys - hand[1]))
            if gap < best_gap and gap <= 1.5 * np.linalg.norm(hand - wrist) + _FAR * upper_arm:
                best, best_gap = side, gap
        if best is None:
            continue
        # The whole piece plus the silhouette around it that the template's hand claims, as one rigid thing.
        joint[region] = J[f"{best}_hand"]
        rigid[region] = True
        warped_depth[region] = max(joints[J[f"{best}_hand"], 2], float(np.max(warped_depth[region]))) \
            + _HELD_IN_FRONT_M * scale
    layers = []
    for p, names in enumerate(PARTS.values()):
        part_joints = [J[n] for n in names]
        triangles = np.isin(template.triangle_joint, part_joints)
        alone_depth, _, _, alone_ids = rasterise(template.vertices, template.triangles[triangles], size)
        alone_label = np.where(alone_ids >= 0, template.triangle_joint[triangles][np.maximum(alone_ids, 0)], -1)
        visible = silhouette & np.isin(joint, part_joints)
        if visible.sum() < 16:
            continue
        behind = alone_ids >= 0
        if names == PARTS["torso"]:
            # The torso goes on under the arms' roots (armpits, shoulders) further than the template's tapered
            # chest: when an arm lifts, what it uncovers there is torso, not background.
            quad = joints[[J[n] for n in ("left_shoulder", "right_shoulder", "right_hip", "left_hip")], :2]
            polygon = np.zeros(size, np.uint8)
            cv2.fillConvexPoly(polygon, np.round(quad).astype(np.int32), 1)
            grow = max(int(_TORSO_UNDER_ARMS_M * scale), 1)
            polygon = cv2.dilate(polygon, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
            extra = (polygon > 0) & ~behind
            if extra.any():
                _, (ny2, nx2) = ndimage.distance_transform_edt(~behind, return_indices=True)
                alone_depth = np.where(extra, alone_depth[ny2, nx2], alone_depth)
                alone_label = np.where(extra, alone_label[ny2, nx2], alone_label)
                behind |= extra
        hidden = silhouette & behind & ~visible
        mask = visible | hidden
        texture = image
        if hidden.any():
            texture = _fill_hidden(image, visible, hidden)
        layer_depth = np.where(visible, warped_depth, alone_depth - _HIDDEN_BACK_M * scale).astype(np.float32)
        layer_depth = _smooth_within(layer_depth, mask, _DEPTH_SMOOTH_M * scale)
        layer_joint = np.where(visible, joint, alone_label)
        layers.append(PartLayer(p, mask, visible, texture, layer_depth, layer_joint, rigid & visible))
    # What a part hides stays behind it in the photo's pose, smoothing or not: frame 0 is the photo.
    front = np.full(size, np.inf, np.float32)
    for layer in layers:
        front[layer.visible] = layer.depth[layer.visible]
    for layer in layers:
        hidden = layer.mask & ~layer.visible
        layer.depth[hidden] = np.minimum(layer.depth[hidden], front[hidden] - _HIDDEN_BACK_M * scale)
    return layers


def _smooth_within(values: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """``values`` blurred over ``mask`` only (a normalised Gaussian): the template's steep tube edges and the
    warp's steps become slopes a turn does not fold over."""
    weight = mask.astype(np.float32)
    total = cv2.GaussianBlur(np.where(mask, values, 0.0).astype(np.float32), (0, 0), sigma)
    norm = cv2.GaussianBlur(weight, (0, 0), sigma)
    return np.where(mask, total / np.maximum(norm, 1e-6), values).astype(np.float32)


def _fill_hidden(image: np.ndarray, visible: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """``image`` with ``hidden`` filled from the part's ``visible`` pixels (patch-based), in the part's box."""
    height, width = visible.shape
    ys, xs = np.nonzero(visible | hidden)
    pad = 8
    y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, height)
    x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, width)
    crop_visible = visible[y0:y1, x0:x1]
    # The hidden pixels and a ring of what is not the part around them (a patch wide at the inpainter's working
    # size) are unknown, so neither the estimate nor the patches take the covering arm's or the background's
    # colours; patches come from the part's own pixels; only the hidden pixels are kept.
    ring = int(np.ceil(PATCH * max(y1 - y0, x1 - x0) / WORK_SIDE))
    near = cv2.dilate(hidden[y0:y1, x0:x1].astype(np.uint8), np.ones((2 * ring + 1, 2 * ring + 1), np.uint8)) > 0
    filled = inpaint(np.ascontiguousarray(image[y0:y1, x0:x1]), near & ~crop_visible, source=crop_visible)
    out = image.copy()
    box = out[y0:y1, x0:x1]
    box[hidden[y0:y1, x0:x1]] = filled[hidden[y0:y1, x0:x1]]
    return out


# --- 4. the lifted, skinned body ------------------------------------------------------------------------------


class PhotoPose:
    """The person of a canvas reference fitted with the body's joints: everything the animation
    (:class:`BodyAnimation`) and the stage fit need, cheap to make (the textured body, :class:`PhotoBody`, is
    built once, at the placement the stage fit settles on). Offers what the renderers' tests read off a
    :class:`~.puppet.Puppet` too: ``image``, ``soft_mask``, ``keypoints``, ``rig`` (the 15 rig joints in the
    photo), ``cut_off``, ``background``.

    Args:
        reference: the person on the output canvas (:meth:`RenderRequest.canvas_reference`).
    """

    def __init__(self, reference):
        self.image = reference.image
        self.soft_mask = reference.mask
        self.background = reference.background
        if not (self.soft_mask > 0.5).any():
            raise InvalidInputError("the person's mask is empty on the canvas", hint="check the reference image")
        self.keypoints = np.asarray(reference.keypoints, np.float64)
        self.keypoints_source = reference.person.source
        self.cut_off = tuple(reference.person.cut_off)
        self.pinned = "legs" in self.cut_off  # a waist-up photo stays on the frame's bottom edge
        self.rig = rig_from_keypoints(self.keypoints)
        self.joints, self.scale = photo_joints(self.keypoints, reference.person.world)
        self.photo_rotations = photo_rotations(to_metres(self.joints, self.scale))
        self.limb_stretch = limb_stretch(self.joints)


class PhotoBody(PhotoPose):
    """The person of a canvas reference lifted to a skinned 2.5-D body: the fitted pose (:class:`PhotoPose`)
    with its template, part layers (hidden parts filled: the costly part) and meshes.

    Args:
        reference: the person on the output canvas (:meth:`RenderRequest.canvas_reference`).

    The meshes have a vertex every 1/150 of the person's height (at least every 2 pixels).
    """

    def __init__(self, reference):
        super().__init__(reference)
        silhouette = self.soft_mask > 0.5
        self.template = template_in_photo_pose(self.joints, self.scale)
        self.layers = body_parts(self.image, silhouette, self.template, self.joints, self.scale)
        rows = np.flatnonzero(silhouette.any(axis=1))
        person_height = rows[-1] - rows[0] + 1
        step = int(max(round(person_height / 150.0), 2))
        self._build_mesh(step, _SMOOTH * person_height)

    def _build_mesh(self, step: int, smooth_px: float) -> None:
        """One grid mesh per layer, textures side by side in one atlas (u offset by the layer's index)."""
        height, width = self.soft_mask.shape
        vertices, uv, weights, triangles, textures, alphas = [], [], [], [], [], []
        gy, gx = np.mgrid[0:height + step:step, 0:width + step:step]
        gy, gx = np.minimum(gy, height - 1), np.minimum(gx, width - 1)
        rows, cols = gy.shape
        base = 0
        for k, layer in enumerate(self.layers):
            grown = cv2.dilate(layer.mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=step + 1) > 0
            valid = grown[gy, gx]
            _, (ny, nx) = ndimage.distance_transform_edt(~layer.mask, return_indices=True)
            sy, sx = ny[gy, gx], nx[gy, gx]  # each grid point's nearest pixel of the layer
            index = np.full((rows, cols), -1, np.int64)
            index[valid] = base + np.arange(valid.sum())
            quads = valid[:-1, :-1] & valid[1:, :-1] & valid[:-1, 1:] & valid[1:, 1:]
            a, b = index[:-1, :-1][quads], index[:-1, 1:][quads]
            c, d = index[1:, :-1][quads], index[1:, 1:][quads]
            triangles.append(np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)]))
            px, py = gx[valid].astype(np.float64), gy[valid].astype(np.float64)
            vertices.append(np.stack([px, py, layer.depth[sy, sx][valid]], axis=1))
            uv.append(np.stack([px + k * width, py], axis=1))
            # Skinning weights: the part's joint labels, smoothed within the layer (joints bend softly, parts
            # never blend into each other); held things follow their hand alone.
            labels = layer.joint[sy, sx]
            one_hot = np.zeros((rows, cols, NUM_JOINTS), np.float32)
            one_hot[np.arange(rows)[:, None], np.arange(cols)[None, :], np.maximum(labels, 0)] = valid
            sigma = max(smooth_px / step, 0.5)
            blurred = ndimage.gaussian_filter(one_hot, (sigma, sigma, 0), mode="constant")
            norm = np.maximum(blurred.sum(axis=2, keepdims=True), 1e-6)
            w = (blurred / norm)[valid]
            rigid_grid = layer.rigid[sy, sx] & valid
            if rigid_grid.any():
                # A held thing moves as one piece with the hand where it touches it: every vertex of it takes the
                # mean weights of the hand's vertices around it (one blended transform for the whole thing).
                ring = ndimage.binary_dilation(rigid_grid, iterations=2) & valid & ~rigid_grid
                rigid = rigid_grid[valid]
                hold = (blurred / norm)[ring].mean(axis=0) if ring.any() else \
                    np.eye(NUM_JOINTS, dtype=np.float32)[labels[rigid_grid][0]]
                w[rigid] = hold
            weights.append(w)
            textures.append(layer.texture)
            alphas.append(layer.mask.astype(np.uint8))
            base += int(valid.sum())
        self.vertices = np.concatenate(vertices)
        self.uv = np.concatenate(uv).astype(np.float32)
        self.weights = np.concatenate(weights).astype(np.float32)
        self.triangles = np.concatenate(triangles)
        self._atlas = np.ascontiguousarray(np.concatenate(textures, axis=1))
        self._alpha = np.ascontiguousarray(np.concatenate(alphas, axis=1))

    def draw(self, vertices: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The body with its vertices at ``vertices`` (N, 3) over the background plate: (H, W, 3) uint8."""
        height, width = self.soft_mask.shape
        frame = self.background.copy() if out is None else out
        if out is not None:
            np.copyto(out, self.background)
        # Only the box the body covers is drawn; the rest of the frame is the plate.
        x0, y0 = np.maximum(np.floor(vertices[:, :2].min(axis=0)).astype(int) - 2, 0)
        x1, y1 = np.minimum(np.ceil(vertices[:, :2].max(axis=0)).astype(int) + 3, [width, height])
        if x1 <= x0 or y1 <= y0:
            return frame
        shifted = vertices - np.array([x0, y0, 0.0])
        _, umap, vmap, _ = rasterise(shifted, self.triangles, (y1 - y0, x1 - x0), self.uv, self._alpha)
        drawn = cv2.remap(self._atlas, umap, vmap, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        coverage = cv2.GaussianBlur((umap >= 0).astype(np.float32), (3, 3), 0.6)  # a soft edge, not stairs
        box = frame[y0:y1, x0:x1]
        box[...] = cv2.blendLinear(drawn, box.copy(), coverage, 1.0 - coverage)
        return frame


# --- 5. the animation -----------------------------------------------------------------------------------------


def photo_rotations(joints: np.ndarray) -> np.ndarray:
    """(24, 3, 3) world rotation of each joint in the photo, from the rest skeleton (SMPL metres, Y-up): a limb
    bone turns its rest direction onto the photo's (no twist: a photo does not show it); the pelvis and the
    chest take whole frames (hips across, spine up; shoulders across, neck up), so the body's facing is kept."""
    rest = Skeleton.default().rest_positions()
    rotations = np.zeros((NUM_JOINTS, 3, 3))
    children = {j: [c for c in range(NUM_JOINTS) if PARENTS[c] == j] for j in range(NUM_JOINTS)}

    def frame(points, across, up):
        x = unit(points[J[across[0]]] - points[J[across[1]]])
        y = unit(points[J[up[1]]] - points[J[up[0]]])
        z = unit(np.cross(x, y))
        return np.stack([unit(np.cross(y, z)), y, z], axis=1)

    hips = frame(joints, ("left_hip", "right_hip"), ("pelvis", "neck")) @ \
        frame(rest, ("left_hip", "right_hip"), ("pelvis", "neck")).T
    chest = frame(joints, ("left_shoulder", "right_shoulder"), ("pelvis", "neck")) @ \
        frame(rest, ("left_shoulder", "right_shoulder"), ("pelvis", "neck")).T
    for name, j in J.items():
        if name in ("pelvis", "spine1", "spine2"):
            rotations[j] = hips
        elif name in ("spine3", "neck", "left_collar", "right_collar"):
            rotations[j] = chest
        elif children[j]:
            child = children[j][0]
            rotations[j] = rotation_between(rest[child] - rest[j], joints[child] - joints[j])
        else:  # hands, feet, head: turn with the bone before them
            rotations[j] = rotation_between(rest[j] - rest[PARENTS[j]], joints[j] - joints[PARENTS[j]])
    return rotations


def facing_limited(rotations: np.ndarray, max_turn_deg: float = _MAX_TURN_DEG) -> np.ndarray:
    """Global joint rotations (T, 24, 3, 3) with the body's turn away from the camera limited: the dancer's yaw
    ``a`` (about the vertical, 0 = facing the camera) becomes ``max_turn * sin(a)``, smooth and continuous
    through whole spins. The 2.5-D body is a relief seen from the front: turned much further it becomes a
    sliver, and it has no back to show."""
    forward = rotations[:, 0] @ np.array([0.0, 0.0, 1.0])
    yaw = np.arctan2(forward[:, 0], forward[:, 2])
    change = np.deg2rad(max_turn_deg) * np.sin(yaw) - yaw
    about_y = axis_angle_to_matrix(change[:, None] * np.array([0.0, 1.0, 0.0]))
    return about_y[:, None] @ rotations


def arms_in_frame(turn: np.ndarray, posed: np.ndarray, scale: float, size: tuple[int, int], ease: np.ndarray,
                  margin: float = _IN_FRAME_MARGIN) -> np.ndarray:
    """``turn`` with each arm swung towards the camera about its shoulder, per frame, just enough that its hand
    stays inside the canvas (``margin`` of its short side from every edge): seen from the front the arm then
    looks shorter along the same direction, and the hand -- which a waist-up frame would cut off when the dance
    lowers the arm -- stays in shot. Scaled by ``ease`` (0 on frame 0: the photo's own pose is kept).

    Args:
        turn: (T, 24, 3, 3) per joint, the photo -> frame rotation; posed: (T, 24, 3) the joints it places,
            SMPL metres (Y-up, +Z at the camera) of the canvas; scale: pixels per metre;
        size: (width, height) of the canvas, pixels; ease: (T,) the wake-up's 0..1.
    """
    turn = turn.copy()
    pad = margin * min(size)
    lo = np.array([pad, -(size[1] - pad)]) / scale  # the canvas in metres (x right, y up)
    hi = np.array([size[0] - pad, -pad]) / scale
    toward_camera = np.array([0.0, 0.0, 1.0])
    for side in ("left", "right"):
        shoulder, hand = posed[:, J[f"{side}_shoulder"]], posed[:, J[f"{side}_hand"]]
        arm = hand - shoulder
        length = np.linalg.norm(arm[:, :2], axis=1)  # the arm as seen, along ``direction``
        direction = arm[:, :2] / np.maximum(length, 1e-9)[:, None]
        # The longest the seen arm may be along its direction before the hand crosses an edge of the room.
        with np.errstate(divide="ignore", invalid="ignore"):
            reach = np.where(direction > 0, (hi - shoulder[:, :2]) / direction,
                             np.where(direction < 0, (lo - shoulder[:, :2]) / direction, np.inf))  # fmt: skip
        allowed = np.clip(reach.min(axis=1), 0.0, length)
        # Swing in the plane of the seen direction and the camera axis: seen length R cos(a + angle).
        radius = np.hypot(length, arm[:, 2])
        angle = np.arccos(np.clip(allowed / np.maximum(radius, 1e-9), -1.0, 1.0)) - np.arctan2(arm[:, 2], length)
        angle = np.maximum(angle, 0.0) * ease
        axis = unit(np.cross(np.concatenate([direction, np.zeros((len(arm), 1))], axis=1), toward_camera))
        swing = axis_angle_to_matrix(axis * angle[:, None])
        for name in PARTS[f"{side}_arm"]:
            turn[:, J[name]] = swing @ turn[:, J[name]]
    return turn


@dataclass
class BodyAnimation:
    """Per frame, one affine map per joint taking the photo's body to the dancing one (photo camera pixels).

    Attributes:
        affines: (T, 24, 3, 4) float32; joints: (T, 24, 3) the posed joints, pixels.
        wake_frames: frames over which the photo's pose turns into the dance.
    """

    affines: np.ndarray
    joints: np.ndarray
    wake_frames: int = 0

    @classmethod
    def from_motion(cls, motion: Motion, body: PhotoPose, wake_up_s: float = 0.5) -> "BodyAnimation":
        frames = len(motion.poses)
        motion_rotations = facing_limited(global_rotations(motion.poses))  # (T, 24, 3, 3)
        wake_frames = max(min(int(round(wake_up_s * motion.fps)), frames - 1), 0)
        ease = np.ones(frames)
        if wake_frames:
            t = np.arange(frames) / wake_frames
            ease = np.where(t < 1.0, t * t * (3.0 - 2.0 * t), 1.0)
        photo = body.photo_rotations
        frozen = np.zeros(NUM_JOINTS, bool)
        for part in body.cut_off:
            frozen[[J[n] for n in _CUT_OFF_JOINTS[part]]] = True
        q_photo = matrix_to_quaternion(photo)
        q_motion = matrix_to_quaternion(motion_rotations)
        target = quaternion_to_matrix(quaternion_slerp(np.broadcast_to(q_photo, q_motion.shape), q_motion,
                                                       ease[:, None]))  # fmt: skip
        target[:, frozen] = photo[frozen]
        turn = target @ np.swapaxes(photo, -1, -2)  # (T, 24, 3, 3) photo -> frame, per joint
        rest = to_metres(body.joints, body.scale)
        skeleton = Skeleton.from_joint_positions(rest)  # the photo's joints as the rest pose
        trans = np.asarray(motion.trans, np.float64)
        travel = (trans - trans[0]) * ease[:, None]  # the pelvis moves with the root translation
        if "legs" in body.cut_off:
            travel[:] = 0.0  # a waist-up photo keeps its hips where the frame cuts them
        # Limb bones ease from the photo's lengths into the proportional ones (frozen parts keep the photo's): a
        # bone's joint stretches its part of the mesh along the bone, so the part and the joint after it agree.
        stretch = 1.0 + ease[:, None] * np.where(frozen, 0.0, body.limb_stretch - 1.0)
        for j in np.flatnonzero((stretch != 1.0).any(axis=0)):
            along = unit(rest[j] - rest[PARENTS[j]])
            turn[:, PARENTS[j]] = turn[:, PARENTS[j]] @ (np.eye(3) + (stretch[:, j, None, None] - 1.0) *
                                                         np.outer(along, along))  # fmt: skip
        posed = forward_kinematics(None, travel, skeleton, rotations=turn)
        if body.pinned and "arms" not in body.cut_off:
            # A cut-off body stays where the frame cuts it (no stage fit can make room): its hands stay in shot
            # (arms the frame cuts off keep the photo's pose, outside it).
            height, width = body.soft_mask.shape
            turn = arms_in_frame(turn, posed, body.scale, (width, height), ease)
            posed = forward_kinematics(None, travel, skeleton, rotations=turn)
        # In pixels: p' = D R D (p - P_j) + Q_j with D = diag(1, -1, 1) (y down) and the scale cancelling.
        flip = np.diag([1.0, -1.0, 1.0])
        linear = flip @ turn @ flip
        q = to_pixels(posed, body.scale)
        offset = q - np.einsum("tjab,jb->tja", linear, body.joints)
        affines = np.concatenate([linear, offset[..., None]], axis=-1).astype(np.float32)
        return cls(affines, q, wake_frames)

    def __len__(self) -> int:
        return len(self.affines)

    #: Where the photo must sit for the dance to stay in shot: the puppet's rule, on this body's posed rig.
    stage_fit = PuppetAnimation.stage_fit

    def posed_rig(self, body: PhotoPose, index: int) -> np.ndarray:
        """(15, 2) the puppet rig's joints (:data:`~.puppet.RIG_NAMES`) as posed in frame ``index``, pixels."""
        joints = self.joints[index]
        rig = np.empty((len(RIG_NAMES), 2))
        for r, name in enumerate(RIG_NAMES):
            rig[r] = joints[J[name], :2] if name in J else joints[J["neck"], :2]
        # The rig's head and neck are the photo's face centre and shoulders' midpoint: moved as the head/neck move.
        for name, joint in (("head", "head"), ("neck", "neck")):
            rig[RIG_NAMES.index(name)] = (body.rig[RIG_NAMES.index(name)] - body.joints[J[joint], :2]) @ \
                self.affines[index, J[joint], :2, :2].T + joints[J[joint], :2]
        return rig

    def frame(self, body: PhotoBody, index: int, out: np.ndarray | None = None) -> np.ndarray:
        """Draw frame ``index``: linear blend skinning of the mesh, then the z-buffer. (H, W, 3) uint8 RGB."""
        blended = (body.weights @ self.affines[index].reshape(NUM_JOINTS, 12)).reshape(-1, 3, 4)
        vertices = np.einsum("nab,nb->na", blended[:, :, :3], body.vertices) + blended[:, :, 3]
        return body.draw(vertices, out)

"""The CPU default renderer: the reference person as a 2D puppet, deformed by the motion.

AnimatedDrawings' recipe, without OpenGL:

* **Character** — the reference photo on the canvas with the person's mask and keypoints (found by
  :mod:`.perception`, or given by the user), a rig of 15 joints, part layers (the body, and each arm with
  what its hand holds, so an arm in front of the body can move away from it: :func:`occlusion_layers`), a
  triangle mesh per layer (contour + interior grid + rig joints, Delaunay), and a background plate with the
  person inpainted away.
* **Retargeting** — every rig bone takes the 2D direction of the matching SMPL bone in the front view and
  keeps the photo's bone length, shortened by the bone's foreshortening (a forearm pointing at the camera
  looks short); the pelvis follows the motion's root, scaled by the character's size. While the dancer's
  back is to the camera, left and right are swapped (the photo has no back; limbs must not cross).
* **Deformation** — ARAP (:mod:`arap`) with the rig joints and points along each bone as handles. Mesh edges
  between body parts that are not connected in the skeleton (an arm resting on the torso in the photo) are
  weak, so those parts can separate.
* **Drawing** — per frame each triangle maps its deformed pixels back to its layer's texture (one inverse
  affine per triangle, then one ``cv2.remap``); triangles are drawn far to near by the depth of their bone,
  so an arm in front of the body covers it and one behind it is covered; an arm layer counts as
  :data:`_ARM_IN_FRONT_M` nearer (the photo showed it in front of the body), so the first frame is the photo.
* **Waking up** — the first ``wake_up_s`` seconds ease from the photo's own pose into the dance.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import cv2
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay

from shared.errors import InvalidInputError
from shared.motion import Motion
from shared.skeleton import HEAD, Skeleton

from .arap import ARAPDeformer
from .inpaint import inpaint
from .keypoints import CV2_SHIFT, FACE_KEYPOINTS, KP, Camera, cv2_fixed_point, motion_keypoints, pelvis_facing, project

if TYPE_CHECKING:
    from backend.progress import JobContext

    from .perception import ReferencePerson
    from .request import CanvasReference, RenderRequest, RenderResult

logger = logging.getLogger(__name__)

#: Rig joints: (name, parent). Positions come from the keypoint of the same name, except the pelvis (mid-hip)
#: and the head (mean of the face points).
RIG: tuple[tuple[str, str | None], ...] = (
    ("pelvis", None), ("neck", "pelvis"), ("head", "neck"),
    ("right_shoulder", "neck"), ("right_elbow", "right_shoulder"), ("right_wrist", "right_elbow"),
    ("left_shoulder", "neck"), ("left_elbow", "left_shoulder"), ("left_wrist", "left_elbow"),
    ("right_hip", "pelvis"), ("right_knee", "right_hip"), ("right_ankle", "right_knee"),
    ("left_hip", "pelvis"), ("left_knee", "left_hip"), ("left_ankle", "left_knee"),
)  # fmt: skip
RIG_NAMES = tuple(name for name, _ in RIG)
RIG_INDEX = {name: i for i, name in enumerate(RIG_NAMES)}
RIG_PARENTS = np.array([-1 if parent is None else RIG_INDEX[parent] for _, parent in RIG])
#: Bones as (parent, child) rig indices; bone b ends at rig joint b + 1.
BONES = np.array([(RIG_PARENTS[j], j) for j in range(1, len(RIG))])
#: Left/right partner of each rig joint and each bone.
RIG_MIRROR = np.array([
    RIG_INDEX[name.replace("left_", "#").replace("right_", "left_").replace("#", "right_")] for name in RIG_NAMES
])  # fmt: skip
BONE_MIRROR = RIG_MIRROR[1:] - 1
# Bones that end in a free limb get a handle past their end (hand, foot, top of head), this far along.
_EXTENSIONS = {"right_wrist": 0.35, "left_wrist": 0.35, "head": 0.9, "right_ankle": 0.12, "left_ankle": 0.12}
_MIN_FORESHORTENING = 0.35
# Shoulder and hip girdles narrow less than limbs when the dancer turns: a torso seen from the side is still
# a torso, and squeezing a wide photo torso into a line makes ARAP bulge it.
_GIRDLE_JOINTS = ("right_shoulder", "left_shoulder", "right_hip", "left_hip")
_MIN_GIRDLE_FORESHORTENING = 0.75
#: Rig joints whose bones stay as in the photo when the frame cuts that part off (perception.BODY_PARTS).
_PART_JOINTS = {
    "legs": ("right_hip", "left_hip", "right_knee", "left_knee", "right_ankle", "left_ankle"),
    "head": ("head",),
    "arms": ("right_elbow", "left_elbow", "right_wrist", "left_wrist"),
}


def rig_from_keypoints(keypoints: np.ndarray) -> np.ndarray:
    """(15, 2) rig joint positions from (20, 2) body keypoints; raises if a rig joint is unknown."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    rig = np.empty((len(RIG), keypoints.shape[-1]))
    for j, name in enumerate(RIG_NAMES):
        if name == "pelvis":
            rig[j] = 0.5 * (keypoints[..., KP["left_hip"], :] + keypoints[..., KP["right_hip"], :])
        elif name == "head":
            face = keypoints[list(FACE_KEYPOINTS)]
            face = face[np.isfinite(face).all(axis=-1)]
            rig[j] = face.mean(axis=0) if len(face) else np.nan
        elif name == "neck" and not np.isfinite(keypoints[KP["neck"]]).all():
            rig[j] = 0.5 * (keypoints[KP["left_shoulder"]] + keypoints[KP["right_shoulder"]])
        else:
            rig[j] = keypoints[KP[name]]
    missing = [RIG_NAMES[j] for j in range(len(RIG)) if not np.isfinite(rig[j]).all()]
    if missing:
        raise InvalidInputError(
            f"the reference keypoints miss {missing}",
            hint="give shoulders, elbows, wrists, hips, knees, ankles and at least one face point",
        )
    return rig


def motion_rig_points(keypoints3d: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """(T, 15, 3) rig joints of a motion: body keypoints, mid-hip pelvis, head from SMPL's head joint.

    The face points of the reference average to roughly the SMPL head joint pushed forward; using the joint
    itself keeps the head bone's direction stable when the dancer turns.
    """
    rig = np.empty((len(keypoints3d), len(RIG), 3))
    for j, name in enumerate(RIG_NAMES):
        if name == "pelvis":
            rig[:, j] = 0.5 * (keypoints3d[:, KP["left_hip"]] + keypoints3d[:, KP["right_hip"]])
        elif name == "head":
            rig[:, j] = joints[:, HEAD]
        else:
            rig[:, j] = keypoints3d[:, KP[name]]
    return rig


def bone_of_points(points: np.ndarray, rig: np.ndarray, bones: np.ndarray | None = None) -> np.ndarray:
    """Index of the nearest bone (segment) for each of (M, 2) points, among ``bones`` (default all).
    Returns (M,) int bone indices."""
    bones = np.arange(len(BONES)) if bones is None else np.asarray(bones)
    return bones[np.argmin(bone_distances(points, rig)[:, bones], axis=1)]


def bone_distances(points: np.ndarray, rig: np.ndarray) -> np.ndarray:
    """(M, B) distance of each point to each bone segment (the free ends' extensions included)."""
    a, b = rig[BONES[:, 0]], rig[BONES[:, 1]]  # (B, 2)
    b = a + (b - a) * (1.0 + np.array([_EXTENSIONS.get(RIG_NAMES[child], 0.0) for child in BONES[:, 1]]))[:, None]
    ab = b - a
    t = np.clip(np.einsum("mbk,bk->mb", points[:, None] - a[None], ab) / np.maximum((ab**2).sum(-1), 1e-9), 0, 1)
    nearest = a[None] + t[..., None] * ab[None]
    return np.linalg.norm(points[:, None] - nearest, axis=-1)


# Body-part groups for the mesh's edge weights: each limb is one group, anchored at the joint where it meets
# the torso; everything else is the torso.
_LIMB_GROUPS = {
    "right_arm": ("right_shoulder", ("right_elbow", "right_wrist")),
    "left_arm": ("left_shoulder", ("left_elbow", "left_wrist")),
    "right_leg": ("right_hip", ("right_knee", "right_ankle")),
    "left_leg": ("left_hip", ("left_knee", "left_ankle")),
}
_WEAK_EDGE = 0.02


def part_edge_weights(vertices: np.ndarray, edges: np.ndarray, rig: np.ndarray) -> np.ndarray:
    """ARAP weight of each mesh edge: 1 inside a body part, weak between parts away from where they join.

    A photo often shows an arm against the torso or the legs touching; the mesh then ties them together.
    Weak edges let them separate, except near the limb's root joint (within 60 % of its first bone), where
    the limb really is attached.

    Args:
        vertices: (N, 2) rest pixels; edges: (E, 2) vertex indices; rig: (15, 2) rest rig joints.
    Returns:
        (E,) float64.
    """
    bone_group = np.zeros(len(BONES), dtype=np.int64)  # 0 = torso
    anchors, radii = [np.zeros(2)], [0.0]
    for g, (anchor, members) in enumerate(_LIMB_GROUPS.values(), start=1):
        for name in members:
            bone_group[RIG_INDEX[name] - 1] = g  # bone b ends at rig joint b + 1
        first = RIG_INDEX[members[0]]
        anchors.append(rig[RIG_INDEX[anchor]])
        radii.append(0.6 * np.linalg.norm(rig[first] - rig[RIG_INDEX[anchor]]))
    anchors, radii = np.array(anchors), np.array(radii)
    group = bone_group[bone_of_points(vertices, rig)]
    a, b = group[edges[:, 0]], group[edges[:, 1]]
    midpoint = 0.5 * (vertices[edges[:, 0]] + vertices[edges[:, 1]])
    near_a = np.linalg.norm(midpoint - anchors[a], axis=1) <= radii[a]
    near_b = np.linalg.norm(midpoint - anchors[b], axis=1) <= radii[b]
    joined = (a == b) | near_a | near_b
    return np.where(joined, 1.0, _WEAK_EDGE)


@dataclass
class PuppetMesh:
    """The puppet's triangle mesh in photo (canvas) pixels.

    Attributes:
        vertices: (N, 2) float64 pixels; the first P are the handles.
        triangles: (F, 3) int vertex indices.
        handles: (P,) int vertex indices of the handles (0 .. P-1).
        handle_bones: (P,) int bone of each handle.
        handle_fractions: (P,) float position along that bone (0 = parent joint, 1 = child joint, > 1 = past it).
        triangle_bones: (F,) int nearest bone of each triangle (its draw order and depth).
    """

    vertices: np.ndarray
    triangles: np.ndarray
    handles: np.ndarray
    handle_bones: np.ndarray
    handle_fractions: np.ndarray
    triangle_bones: np.ndarray


def build_mesh(mask: np.ndarray, rig: np.ndarray, spacing: float, bones: np.ndarray | None = None) -> PuppetMesh:
    """Triangulate the silhouette with the rig's handle points as vertices.

    Args:
        mask: (H, W) bool silhouette (its largest blob is meshed).
        rig: (15, 2) rig joints in pixels.
        spacing: interior grid spacing in pixels.
        bones: the bones that carry this mesh (default all).
    """
    bones = np.arange(len(BONES)) if bones is None else np.asarray(bones)
    mask_u8 = mask.astype(np.uint8)
    contours, _ = cv2.findContours(mask_u8, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        raise InvalidInputError("the person's silhouette is empty")
    contour = max(contours, key=cv2.contourArea)
    outline = cv2.approxPolyDP(contour, 0.15 * spacing, True)[:, 0].astype(np.float64)
    outline = _resample_polyline(outline, 0.5 * spacing)

    # Handles: every joint, points at thirds of every bone, and points past the free ends.
    handle_points, handle_bones, handle_fractions = [], [], []
    for b in bones:
        parent, child = BONES[b]
        fractions = [0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0]
        extension = _EXTENSIONS.get(RIG_NAMES[child])
        if extension:
            fractions.append(1.0 + extension)
        for f in fractions:
            handle_points.append(rig[parent] + f * (rig[child] - rig[parent]))
            handle_bones.append(b)
            handle_fractions.append(f)
    handle_points = np.array(handle_points)
    inside = _inside(mask, handle_points)
    # A joint shared by several bones is one handle (the first bone listing it).
    _, unique_index = np.unique(np.round(handle_points, 3), axis=0, return_index=True)
    keep = np.zeros(len(handle_points), dtype=bool)
    keep[unique_index] = True
    keep &= inside
    if keep.sum() < 4:
        raise InvalidInputError(
            "the reference keypoints do not lie on the person's silhouette",
            hint="check the keypoints file, or use a photo with a plain background so the person can be cut out",
        )
    handle_points = handle_points[keep]
    handle_bones = np.array(handle_bones)[keep]
    handle_fractions = np.array(handle_fractions)[keep]

    eroded = cv2.erode(mask_u8, np.ones((3, 3), np.uint8), iterations=max(int(0.3 * spacing), 1))
    ys, xs = np.mgrid[spacing / 2 : mask.shape[0] : spacing, spacing / 2 : mask.shape[1] : spacing]
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
    grid = grid[_inside(eroded > 0, grid)]
    # Drop grid points that crowd a handle, and outline points that (nearly) coincide with one.
    def handle_distance(points: np.ndarray) -> np.ndarray:
        return np.min(np.linalg.norm(points[:, None] - handle_points[None], axis=-1), axis=1)

    grid = grid[handle_distance(grid) >= 0.4 * spacing] if len(grid) else grid
    outline = outline[handle_distance(outline) >= 0.15 * spacing]
    vertices = np.concatenate([handle_points, outline, grid])

    triangles = Delaunay(vertices).simplices
    corners = vertices[triangles]  # (F, 3, 2)
    samples = np.concatenate([corners.mean(axis=1, keepdims=True), 0.5 * (corners + np.roll(corners, 1, axis=1))], 1)
    # Keep triangles that lie on the silhouette give or take a quarter spacing: a sliver hanging over the
    # edge costs nothing (the texture's alpha is 0 there), a missing one leaves a notch in the body.
    dilated = cv2.dilate(mask_u8, np.ones((3, 3), np.uint8), iterations=max(int(0.25 * spacing), 1)) > 0
    keep_tri = _inside(dilated, samples.reshape(-1, 2)).reshape(len(triangles), 4).all(axis=1)
    triangles = triangles[keep_tri]
    # Dropping triangles can leave islands (a thin wrist, a gap between fingers); one without a handle could
    # not be placed (and makes the ARAP system singular), so it goes.
    adjacency = sp.coo_matrix((np.ones(triangles.size), (np.repeat(triangles[:, 0], 3), triangles.ravel())),
                              shape=(len(vertices), len(vertices)))  # fmt: skip
    _, component = connected_components(adjacency, directed=False)
    anchored = np.unique(component[: len(handle_points)])
    triangles = triangles[np.isin(component[triangles[:, 0]], anchored)]
    used = np.zeros(len(vertices), dtype=bool)
    used[triangles] = True
    used[: len(handle_points)] = True  # handles keep their indices 0..P-1
    remap = np.cumsum(used) - 1
    vertices, triangles = vertices[used], remap[triangles]
    triangle_bones = bone_of_points(vertices[triangles].mean(axis=1), rig, bones)
    return PuppetMesh(vertices, triangles, np.arange(len(handle_points)), handle_bones, handle_fractions,
                      triangle_bones)  # fmt: skip


#: Arms as (upper arm, forearm) bone indices (bone b ends at rig joint b + 1).
_ARM_BONES = {side: (RIG_INDEX[f"{side}_elbow"] - 1, RIG_INDEX[f"{side}_wrist"] - 1) for side in ("right", "left")}
_ARM_RADIUS = 0.3  # half-thickness of an arm (sleeve included), in upper-arm lengths
_HAND_RADIUS = 0.6  # reach around the hand for what it holds, in forearm lengths
_ARM_ROOT = 0.3  # the first 30 % of the upper arm belongs to the torso too (the layers overlap there)
_ARM_IN_FRONT_M = 0.15  # an arm layer goes behind the body only when the motion puts it this much further back


@dataclass
class PuppetLayer:
    """One separately meshed part of the puppet (AnimatedDrawings-style part layers).

    Attributes:
        mask: (H, W) bool, where the layer has texture.
        texture: (H, W, 4) uint8 RGBA.
        bones: bone indices that carry the layer.
    """

    mask: np.ndarray
    texture: np.ndarray
    bones: np.ndarray


def occlusion_layers(image: np.ndarray, soft_mask: np.ndarray, rig: np.ndarray) -> list[PuppetLayer]:
    """Split the person into a body layer and one layer per arm, so an arm held in front of the body (crossed
    arms, hands holding something) can move away and show a body under it instead of dragging it along.

    An arm's layer is the silhouette along its bones (within about an arm's thickness) plus what the hand
    holds (silhouette near the hand). The body layer is everything else, its root of each arm (so the two
    overlap at the shoulder and no gap opens when the arm turns), and the body *under* the arm: where the arm
    covered the torso, the torso's texture is inpainted (patch-based, :mod:`.inpaint`) from the torso around it.

    Returns:
        [body, right arm, left arm] (an arm that was not found in the silhouette is left in the body layer).
    """
    height, width = image.shape[:2]
    mask = soft_mask > 0.5
    ys, xs = np.nonzero(mask)
    points = np.stack([xs, ys], axis=1).astype(np.float64)
    distances = bone_distances(points, rig)
    # The torso's bones do not compete for pixels: an arm across the chest lies over the spine's line too.
    torso_bones = [RIG_INDEX[n] - 1 for n in ("neck", "right_shoulder", "left_shoulder", "right_hip", "left_hip")]
    competing = np.setdiff1d(np.arange(len(BONES)), torso_bones)
    nearest = competing[np.argmin(distances[:, competing], axis=1)]
    lengths = np.linalg.norm(rig[BONES[:, 1]] - rig[BONES[:, 0]], axis=1)
    torso_polygon = np.round(rig[[RIG_INDEX[n] for n in ("right_shoulder", "left_shoulder", "left_hip", "right_hip")]])
    torso = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(torso, torso_polygon.astype(np.int32), 1)

    arms, roots = [], np.zeros((height, width), bool)
    for upper, fore in _ARM_BONES.values():
        near = ((distances[:, upper] <= _ARM_RADIUS * lengths[upper])
                | (distances[:, fore] <= _ARM_RADIUS * lengths[upper]))  # fmt: skip
        hand = rig[BONES[fore, 1]] + _EXTENSIONS["right_wrist"] * (rig[BONES[fore, 1]] - rig[BONES[fore, 0]])
        held = np.linalg.norm(points - hand, axis=1) <= _HAND_RADIUS * lengths[fore]
        own = np.isin(nearest, (upper, fore)) & (near | held)
        region = np.zeros((height, width), np.uint8)
        region[ys[own], xs[own]] = 1
        count, labels, stats, _ = cv2.connectedComponentsWithStats(region, connectivity=8)
        if count <= 1:
            continue
        region = labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        shoulder, elbow = rig[BONES[upper, 0]], rig[BONES[upper, 1]]
        along = ((np.stack(np.nonzero(region)[::-1], 1) - shoulder) @ (elbow - shoulder)) / max(lengths[upper] ** 2, 1e-9)
        root = np.zeros_like(region)
        root[np.nonzero(region)] = along < _ARM_ROOT
        if (region & ~root).sum() < 0.2 * region.sum():
            continue  # (nearly) no arm beyond its root: nothing to separate
        arms.append((region, (upper, fore)))
        roots |= root

    if not arms:
        texture = np.dstack([image, np.round(soft_mask * 255).astype(np.uint8)])
        return [PuppetLayer(mask, texture, np.arange(len(BONES)))]
    any_arm = np.zeros((height, width), bool)
    for region, _ in arms:
        any_arm |= region
    hole = any_arm & ~roots
    covered = hole & (torso > 0)
    body_image = image
    if covered.any():
        grown = cv2.dilate(hole.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2)
        y0, y1 = np.flatnonzero(grown.any(axis=1))[[0, -1]]
        x0, x1 = np.flatnonzero(grown.any(axis=0))[[0, -1]]
        pad = 8
        y0, x0, y1, x1 = max(y0 - pad, 0), max(x0 - pad, 0), min(y1 + pad + 1, height), min(x1 + pad + 1, width)
        body_image = image.copy()
        body_image[y0:y1, x0:x1] = inpaint(np.ascontiguousarray(image[y0:y1, x0:x1]), grown[y0:y1, x0:x1] > 0)
    body_alpha = np.where(hole & ~covered, 0.0, soft_mask)
    body_alpha[covered] = 1.0
    body_bones = np.setdiff1d(np.arange(len(BONES)), [b for _, bones in arms for b in bones])
    layers = [PuppetLayer(body_alpha > 0.5, np.dstack([body_image, np.round(body_alpha * 255).astype(np.uint8)]),
                          body_bones)]  # fmt: skip
    for region, bones in arms:
        alpha = np.where(region, soft_mask, 0.0)
        layers.append(PuppetLayer(region, np.dstack([image, np.round(alpha * 255).astype(np.uint8)]), np.array(bones)))
    return layers


def merge_meshes(meshes: list[PuppetMesh]) -> tuple[PuppetMesh, np.ndarray]:
    """One mesh made of several unconnected ones (handles first, as PuppetMesh wants).

    Returns:
        the mesh and (F,) int: which input mesh each triangle came from.
    """
    handle_counts = [len(m.handles) for m in meshes]
    total_handles = sum(handle_counts)
    handle_start = np.cumsum([0] + handle_counts[:-1])
    other_counts = [len(m.vertices) - h for m, h in zip(meshes, handle_counts)]
    other_start = total_handles + np.cumsum([0] + other_counts[:-1])
    vertices, triangles, layer = [], [], []
    for k, mesh in enumerate(meshes):
        count = handle_counts[k]
        index = np.concatenate([handle_start[k] + np.arange(count), other_start[k] + np.arange(other_counts[k])])
        triangles.append(index[mesh.triangles])
        layer.append(np.full(len(mesh.triangles), k))
    vertices = np.concatenate([m.vertices[: len(m.handles)] for m in meshes]
                              + [m.vertices[len(m.handles) :] for m in meshes])  # fmt: skip
    merged = PuppetMesh(
        vertices, np.concatenate(triangles), np.arange(total_handles),
        np.concatenate([m.handle_bones for m in meshes]), np.concatenate([m.handle_fractions for m in meshes]),
        np.concatenate([m.triangle_bones for m in meshes]),
    )  # fmt: skip
    return merged, np.concatenate(layer)


def _inside(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    xy = np.round(points).astype(np.int64)
    ok = (xy[:, 0] >= 0) & (xy[:, 1] >= 0) & (xy[:, 0] < mask.shape[1]) & (xy[:, 1] < mask.shape[0])
    result = np.zeros(len(points), dtype=bool)
    result[ok] = mask[xy[ok, 1], xy[ok, 0]] > 0
    return result


def _resample_polyline(closed: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` pixels along a closed polyline (its corners kept)."""
    points = []
    for a, b in zip(closed, np.roll(closed, -1, axis=0)):
        count = max(int(np.ceil(np.linalg.norm(b - a) / step)), 1)
        points.extend(a + (b - a) * (k / count) for k in range(count))
    return np.array(points)


class Puppet:
    """A reference person rigged for deformation (everything that does not change per frame).

    Args:
        reference: the person on the output canvas (:meth:`RenderRequest.canvas_reference`): photo, soft mask,
            keypoints, background plate and what the analysis found (parts cut off by the frame stay put).
        mesh_spacing: interior vertex spacing in pixels (None = 1/40 of the silhouette's height).
        layers: mesh the arms as their own layers (:func:`occlusion_layers`); False = one mesh.
    """

    def __init__(self, reference: "CanvasReference", mesh_spacing: float | None = None, layers: bool = True):
        self.image = reference.image
        self.soft_mask = reference.mask
        mask = self.soft_mask > 0.5
        if not mask.any():
            raise InvalidInputError("the person's mask is empty on the canvas", hint="check the reference image")
        self.keypoints_source = reference.person.source
        self.cut_off = tuple(reference.person.cut_off)
        self.keypoints = np.asarray(reference.keypoints, np.float64)
        self.rig = rig_from_keypoints(self.keypoints)
        rows = np.flatnonzero(mask.any(axis=1))
        spacing = mesh_spacing or max((rows[-1] - rows[0]) / 40.0, 3.0)
        single = [PuppetLayer(mask, np.dstack([self.image, np.round(self.soft_mask * 255).astype(np.uint8)]),
                              np.arange(len(BONES)))]  # fmt: skip
        self.layers = occlusion_layers(self.image, self.soft_mask, self.rig) if layers else single
        try:
            meshes = [build_mesh(layer.mask, self.rig, spacing, layer.bones) for layer in self.layers]
        except InvalidInputError:
            if len(self.layers) == 1:
                raise
            # An arm the photo hardly shows (hidden behind something) cannot carry a layer of its own.
            self.layers = single
            meshes = [build_mesh(mask, self.rig, spacing)]
        self.mesh, triangle_layer = merge_meshes(meshes)
        self.deformer = ARAPDeformer(
            self.mesh.vertices, self.mesh.triangles, self.mesh.handles,
            edge_weights=lambda edges: part_edge_weights(self.mesh.vertices, edges, self.rig),
        )  # fmt: skip
        self.bone_lengths = np.linalg.norm(self.rig[BONES[:, 1]] - self.rig[BONES[:, 0]], axis=1)
        girdle = np.isin(np.array(RIG_NAMES)[BONES[:, 1]], _GIRDLE_JOINTS)
        self._min_ratio = np.where(girdle, _MIN_GIRDLE_FORESHORTENING, _MIN_FORESHORTENING)
        # Bones of parts the photo does not show keep the photo's pose (and the hips stay put without legs).
        self.frozen = np.zeros(len(BONES), dtype=bool)
        for part in self.cut_off:
            for joint in _PART_JOINTS[part]:
                self.frozen[RIG_INDEX[joint] - 1] = True
        self.pinned = "legs" in self.cut_off
        self.background = reference.background
        # RGBA textures of the layers side by side (photo + soft silhouette as alpha, sampled together by remap);
        # each triangle reads its own layer's texture.
        self._texture = np.concatenate([layer.texture for layer in self.layers], axis=1)
        atlas_offset = np.stack([triangle_layer * self.image.shape[1], np.zeros_like(triangle_layer)], axis=1)
        self._triangle_rest = self.mesh.vertices[self.mesh.triangles] + atlas_offset[:, None, :]  # (F, 3, 2)
        # The photo shows each arm layer in front of the body (that is why its pixels are the arm's): it stays
        # in front unless the motion takes it clearly behind (draw-order bias, metres of depth).
        self._depth_bias = np.where(triangle_layer > 0, _ARM_IN_FRONT_M, 0.0)

    @classmethod
    def from_photo(cls, image: np.ndarray, keypoints: np.ndarray | None = None, alpha: np.ndarray | None = None,
                   mesh_spacing: float | None = None) -> "Puppet":
        """A puppet of a photo as it is (the canvas is the photo): for tests, benchmarks and notebooks."""
        from .request import RenderOptions, RenderRequest

        height, width = image.shape[:2]
        if (width % 2, height % 2) != (0, 0):
            raise InvalidInputError("Puppet.from_photo needs an image with even sides")
        options = RenderOptions(reference_alpha=alpha, reference_keypoints=keypoints)
        request = RenderRequest(None, image, width=width, height=height, options=options)
        return cls(request.canvas_reference(), mesh_spacing)

    # -- retargeting -------------------------------------------------------------------------------------
    def pose_rig(self, rig_plane: np.ndarray, rig_depth_lengths: np.ndarray, root_offset: np.ndarray) -> np.ndarray:
        """Rig joint pixels for one frame.

        Args:
            rig_plane: (15, 2) the motion's rig joints projected to the camera plane (metres, y down).
            rig_depth_lengths: (14,) the motion's 3D bone lengths (metres), to measure foreshortening.
            root_offset: (2,) pixels to add to the photo's pelvis.
        Returns:
            (15, 2) pixels.
        """
        posed = np.empty_like(self.rig)
        posed[0] = self.rig[0] + (0.0 if self.pinned else root_offset)
        for b, (parent, child) in enumerate(BONES):
            if self.frozen[b]:
                posed[child] = posed[parent] + self.rig[child] - self.rig[parent]
                continue
            vector = rig_plane[child] - rig_plane[parent]
            length = np.linalg.norm(vector)
            ratio = np.clip(length / max(rig_depth_lengths[b], 1e-6), self._min_ratio[b], 1.0)
            if length < 0.05 * rig_depth_lengths[b]:  # seen end-on: its direction is noise, keep the photo's
                direction = (self.rig[child] - self.rig[parent]) / max(self.bone_lengths[b], 1e-6)
            else:
                direction = vector / length
            posed[child] = posed[parent] + direction * self.bone_lengths[b] * ratio
        return posed

    def handle_targets(self, posed_rig: np.ndarray) -> np.ndarray:
        """(P, 2) handle positions along the posed bones."""
        bones = BONES[self.mesh.handle_bones]
        start, end = posed_rig[bones[:, 0]], posed_rig[bones[:, 1]]
        return start + self.mesh.handle_fractions[:, None] * (end - start)

    # -- drawing -------------------------------------------------------------------------------------------
    def draw(self, vertices: np.ndarray, bone_depth: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Render the deformed puppet over the background plate.

        Args:
            vertices: (N, 2) deformed vertex pixels.
            bone_depth: (14,) depth of each bone towards the camera (larger = nearer, drawn later).
        Returns:
            (H, W, 3) uint8 RGB.
        """
        height, width = self.image.shape[:2]
        frame = self.background.copy() if out is None else out
        if out is not None:
            np.copyto(out, self.background)
        # Work inside the deformed mesh's bounding box only: the rest of the frame is background.
        x0, y0 = np.maximum(np.floor(vertices.min(axis=0)).astype(int) - 1, 0)
        x1, y1 = np.minimum(np.ceil(vertices.max(axis=0)).astype(int) + 2, [width, height])
        if x1 <= x0 or y1 <= y0:
            return frame
        triangles = self.mesh.triangles
        order = np.argsort(bone_depth[self.mesh.triangle_bones] + self._depth_bias, kind="stable")
        index_map = np.zeros((y1 - y0, x1 - x0), dtype=np.int32)
        corners = cv2_fixed_point(vertices[triangles] - (x0, y0))
        for t in order:
            cv2.fillConvexPoly(index_map, corners[t], int(t) + 1, lineType=cv2.LINE_8, shift=CV2_SHIFT)
        # Per-pixel source coordinates: look up the pixel's triangle's affine (row 0 = no triangle -> (-1, -1),
        # outside the texture, so remap gives alpha 0 there).
        coefficients = np.zeros((len(triangles) + 1, 6), dtype=np.float32)
        coefficients[0] = (0, 0, -1, 0, 0, -1)
        coefficients[1:] = _inverse_affines(vertices[triangles] - (x0, y0), self._triangle_rest).reshape(-1, 6)
        c = coefficients[index_map]  # (h, w, 6)
        xs = np.arange(x1 - x0, dtype=np.float32)[None, :]
        ys = np.arange(y1 - y0, dtype=np.float32)[:, None]
        map_x = c[..., 0] * xs + c[..., 1] * ys + c[..., 2]
        map_y = c[..., 3] * xs + c[..., 4] * ys + c[..., 5]
        warped = cv2.remap(self._texture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        alpha = warped[:, :, 3].astype(np.float32) * (1.0 / 255.0)
        box = frame[y0:y1, x0:x1]
        box[...] = cv2.blendLinear(cv2.cvtColor(warped, cv2.COLOR_RGBA2RGB), box.copy(), alpha, 1.0 - alpha)
        return frame


def _inverse_affines(deformed: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Affine maps taking each deformed triangle onto its rest triangle. (F, 3, 2) x2 -> (F, 2, 3).

    Closed form: with edge matrices D = [d1 - d0, d2 - d0] and R = [r1 - r0, r2 - r0] (columns), the linear
    part is R D^-1 and the offset r0 - R D^-1 d0. Collapsed triangles (det ~ 0) map everything to r0.
    """
    d0, r0 = deformed[:, 0], rest[:, 0]
    D = np.stack([deformed[:, 1] - d0, deformed[:, 2] - d0], axis=2)  # (F, 2, 2) columns = edges
    R = np.stack([rest[:, 1] - r0, rest[:, 2] - r0], axis=2)
    det = D[:, 0, 0] * D[:, 1, 1] - D[:, 0, 1] * D[:, 1, 0]
    safe = np.where(np.abs(det) > 1e-9, det, np.inf)
    D_inv = np.stack([np.stack([D[:, 1, 1], -D[:, 0, 1]], -1), np.stack([-D[:, 1, 0], D[:, 0, 0]], -1)], 1) / safe[:, None, None]
    linear = R @ D_inv
    offset = r0 - np.einsum("fij,fj->fi", linear, d0)
    return np.concatenate([linear, offset[:, :, None]], axis=2)


def facing_away(keypoints3d: np.ndarray, camera: Camera, hysteresis: float = 0.2) -> np.ndarray:
    """(T,) bool: the dancer's back is to the camera.

    The facing direction comes from the hips; the state only flips once the cosine to the camera passes
    ``hysteresis`` the other way, so a dancer in profile does not flicker between the two.
    """
    facing = pelvis_facing(keypoints3d, camera)
    away = np.empty(len(facing), dtype=bool)
    state = bool(facing[0] < 0)
    for t, cosine in enumerate(facing):
        if state and cosine > hysteresis:
            state = False
        elif not state and cosine < -hysteresis:
            state = True
        away[t] = state
    return away


@dataclass
class PuppetAnimation:
    """The per-frame inputs of a puppet for a motion: rig joints in the camera plane, bone lengths, depths."""

    rig_plane: np.ndarray  # (T, 15, 2) metres, y down
    bone_lengths: np.ndarray  # (T, 14) metres
    bone_depth: np.ndarray  # (T, 14) metres towards the camera
    scale: float  # pixels per metre of the camera plane
    wake_frames: int = 0  # frames over which the photo's own pose eases into the dance (0 = from frame 0)

    @classmethod
    def from_motion(cls, motion: Motion, puppet: Puppet, camera: Camera | None = None,
                    skeleton: Skeleton | None = None, wake_up_s: float = 0.0) -> "PuppetAnimation":  # fmt: skip
        """The animation of ``puppet`` by ``motion``; the first ``wake_up_s`` seconds ease from the photo's
        own pose (frame 0 is the photo) into the dance."""
        camera = camera or Camera()
        keypoints3d, _, joints = motion_keypoints(motion, skeleton, camera)
        rig3d = motion_rig_points(keypoints3d, joints)  # (T, 15, 3)
        centre = joints[:, 0].mean(axis=0)
        rig_plane = project(rig3d, camera, centre)
        bone_vectors = rig3d[:, BONES[:, 1]] - rig3d[:, BONES[:, 0]]
        bone_lengths = np.linalg.norm(bone_vectors, axis=-1)
        midpoints = 0.5 * (rig3d[:, BONES[:, 1]] + rig3d[:, BONES[:, 0]])
        bone_depth = (midpoints - centre) @ camera.view_direction()
        # A photo has no back: while the dancer faces away, drive each side of the puppet with the limbs on
        # its side of the screen (the dancer's other side), so the limbs never cross over the body.
        away = facing_away(keypoints3d, camera)
        rig_plane[away] = rig_plane[away][:, RIG_MIRROR]
        bone_lengths[away] = bone_lengths[away][:, BONE_MIRROR]
        bone_depth[away] = bone_depth[away][:, BONE_MIRROR]
        # Character size: torso + mean leg, in photo pixels and in motion metres (bone b ends at joint b + 1).
        torso = RIG_INDEX["neck"] - 1
        legs = [RIG_INDEX[name] - 1 for name in ("left_knee", "left_ankle", "right_knee", "right_ankle")]
        pixels = puppet.bone_lengths[torso] + 0.5 * puppet.bone_lengths[legs].sum()
        metres = bone_lengths[0, torso] + 0.5 * bone_lengths[0, legs].sum()
        wake_frames = min(int(round(wake_up_s * motion.fps)), len(rig_plane) - 1)
        return cls(rig_plane, bone_lengths, bone_depth, float(pixels / max(metres, 1e-6)), max(wake_frames, 0))

    def __len__(self) -> int:
        return len(self.rig_plane)

    def posed_rig(self, puppet: Puppet, index: int) -> np.ndarray:
        """(15, 2) rig joint pixels of frame ``index``."""
        root_offset = (self.rig_plane[index, 0] - self.rig_plane[0, 0]) * self.scale
        posed = puppet.pose_rig(self.rig_plane[index], self.bone_lengths[index], root_offset)
        if index < self.wake_frames:  # waking up: from the photo's pose into the dance, smoothly
            t = index / self.wake_frames
            posed = puppet.rig + (t * t * (3.0 - 2.0 * t)) * (posed - puppet.rig)
        return posed

    def stage_fit(self, puppet: Puppet, width: int, height: int, margin: float = 0.03
                  ) -> tuple[float, tuple[float, float]]:
        """How to place the photo so the dancing body stays inside the canvas for the whole motion.

        The body's extent is the posed rig of every frame padded by how far the silhouette reaches past the
        rest rig (head, hands, shoes). Returns ``(zoom, shift)`` for :meth:`~.request.RenderRequest.canvas_reference`:
        zoom < 1 when the dance needs more room than the canvas has, shift to bring it inside.
        """
        posed = np.stack([self.posed_rig(puppet, index) for index in range(len(self))])  # (T, 15, 2)
        rows, cols = np.nonzero(puppet.soft_mask > 0.5)
        rest_lo, rest_hi = puppet.rig.min(axis=0), puppet.rig.max(axis=0)
        side = max(rest_lo[0] - cols.min(), cols.max() - rest_hi[0], 0.0)  # limbs swing either way
        pad_lo = np.array([side, max(rest_lo[1] - rows.min(), 0.0)])
        pad_hi = np.array([side, max(rows.max() - rest_hi[1], 0.0)])
        lo = posed.reshape(-1, 2).min(axis=0) - pad_lo
        hi = posed.reshape(-1, 2).max(axis=0) + pad_hi
        size = np.array([width, height], dtype=np.float64)
        room_lo, room_hi = margin * size, (1.0 - margin) * size
        zoom = float(min(1.0, np.min((room_hi - room_lo) / np.maximum(hi - lo, 1e-6))))
        centre = size / 2.0  # the photo is zoomed about the canvas centre
        lo, hi = centre + zoom * (lo - centre), centre + zoom * (hi - centre)
        shift = np.maximum(room_lo - lo, 0.0) - np.maximum(hi - room_hi, 0.0)
        return zoom, (float(shift[0]), float(shift[1]))

    def frame(self, puppet: Puppet, index: int, out: np.ndarray | None = None) -> np.ndarray:
        """Draw frame ``index``: (H, W, 3) uint8 RGB."""
        posed = self.posed_rig(puppet, index)
        vertices = puppet.deformer.deform(puppet.handle_targets(posed))
        return puppet.draw(vertices, self.bone_depth[index], out)


#: How the puppet renderer builds the body, each with its words for the user (``RenderResult.made_by``): flat
#: layers deformed in 2D, or the 2.5-D body (:mod:`.body25d`).
BODY_WORDS = {"2d": "2D puppet", "2.5d": "2.5-D body"}
BODIES = tuple(BODY_WORDS)


@dataclass
class PuppetOptions:
    """The puppet renderer's own options (the common ones are :class:`~.request.RenderOptions`).

    Attributes:
        mesh_spacing: interior mesh vertex spacing in pixels, 2..200 (None = 1/40 of the person's height).
        layers: mesh each arm as its own layer over the body (see :func:`occlusion_layers`).
        wake_up_s: seconds over which the video eases from the photo as it is into the dance (0..5; 0.5 s is
            a beat at 120 BPM).
        body: "2d" (this module's flat puppet) or "2.5d" (:mod:`.body25d`: the person lifted onto a posed 3D
            body template, skinned, animated in 3D with a z-buffer; ``mesh_spacing`` and ``layers`` do not
            apply there); None = :func:`default_body`: 2.5d for a photographed person, 2d for a drawing.
    """

    mesh_spacing: float | None = None
    layers: bool = True
    wake_up_s: float = 0.5
    body: str | None = None

    def __post_init__(self) -> None:
        spacing = self.mesh_spacing
        if spacing is not None and (isinstance(spacing, bool) or not isinstance(spacing, (int, float))
                                    or not 2 <= spacing <= 200):  # fmt: skip
            raise InvalidInputError(f"mesh_spacing must be a number of pixels in [2, 200], got {spacing!r}")
        if not isinstance(self.layers, (bool, np.bool_)):
            raise InvalidInputError(f"layers must be true or false, got {self.layers!r}")
        wake = self.wake_up_s
        if isinstance(wake, bool) or not isinstance(wake, (int, float)) or not 0 <= wake <= 5:
            raise InvalidInputError(f"wake_up_s must be a number of seconds in [0, 5], got {wake!r}")
        if self.body is not None and self.body not in BODIES:
            raise InvalidInputError(f"body must be one of {', '.join(BODIES)}, got {self.body!r}")


def default_body(image: np.ndarray, person: "ReferencePerson") -> str:
    """The body a reference gets unless asked otherwise: the 2.5-D body for a person the pose model found in a
    photo (it keeps arms in front of the body and held things whole); the flat 2D puppet for a drawing (flat
    colour fills, :func:`~.perception.looks_drawn`) and for a skeleton guessed from a silhouette or given by the
    user (no 3D points to lift the body with)."""
    from .perception import looks_drawn

    return "2.5d" if person.source == "detected" and not looks_drawn(image, person.mask) else "2d"


class PuppetRenderer:
    """The default renderer: needs no weights and no GPU (see the module docstring).

    Its own options: :class:`PuppetOptions` (``request.renderer_options``).
    """

    name = "puppet"
    OPTION_NAMES = tuple(f.name for f in fields(PuppetOptions))

    def request_options(self, values: dict) -> PuppetOptions:
        """Per-video options from a flat mapping (see :func:`~.request.parse_render_options`)."""
        from .request import options_from_mapping

        return options_from_mapping(PuppetOptions, values)

    def prepare(self, request: "RenderRequest", ctx: "JobContext | None" = None) -> tuple:
        """The rigged person and its animation for ``request`` (what :meth:`render` draws frame by frame): a
        :class:`Puppet` and :class:`PuppetAnimation`, or for the 2.5-D body (by default for a photo,
        :func:`default_body`) a :class:`~.body25d.PhotoBody` and :class:`~.body25d.BodyAnimation`."""
        from backend.progress import ensure_context

        ctx = ensure_context(ctx)
        request.validate()
        options = request.options_for(PuppetOptions)
        ctx.report(0.0, "finding the person in the reference photo")
        motion = request.timed_motion()
        spacing = options.mesh_spacing
        reference = request.canvas_reference()
        for note in reference.person.notes:
            logger.warning("%s", note)
            ctx.report(0.0, note)
        body = options.body or default_body(request.reference_image, request.reference_person())
        if body == "2.5d":
            from .body25d import BodyAnimation, PhotoBody, PhotoPose

            ctx.report(0.01, "lifting the person onto a 3D body")

            def build(reference: "CanvasReference", zoom: float):
                body = PhotoBody(reference)
                return body, BodyAnimation.from_motion(motion, body, wake_up_s=options.wake_up_s)

            def sketch(reference: "CanvasReference"):  # what the stage fit needs: the fitted pose alone, cheap
                pose = PhotoPose(reference)
                return pose, BodyAnimation.from_motion(motion, pose, wake_up_s=options.wake_up_s)
        else:
            def build(reference: "CanvasReference", zoom: float):
                puppet = Puppet(reference, None if spacing is None else spacing * zoom, options.layers)
                return puppet, PuppetAnimation.from_motion(motion, puppet, request.options.camera,
                                                           wake_up_s=options.wake_up_s)  # fmt: skip

            def sketch(reference: "CanvasReference"):  # the puppet's stage fit needs the built puppet
                return build(reference, 1.0)

        puppet, animation = sketch(reference)
        zoom, shift = animation.stage_fit(puppet, request.width, request.height)
        if not puppet.pinned and (zoom < 0.999 or max(abs(shift[0]), abs(shift[1])) >= 1.0):
            # The dance travels further than the photo leaves room for: re-place the photo so it stays in shot
            # (the person found in the photo is reused, not searched for again).
            ctx.report(0.02, f"making room for the dance (zoom {zoom:.2f})")
            puppet, animation = build(request.canvas_reference(zoom, shift), zoom)
        elif body == "2.5d":  # the textured body built once, where it stays (the sketch's animation is its own)
            puppet = PhotoBody(reference)
        ctx.check_cancelled()
        ctx.report(0.05, f"rigged the reference ({puppet.keypoints_source} keypoints, {body} body)")
        return puppet, animation

    def render(self, request: "RenderRequest", ctx: "JobContext | None" = None) -> "RenderResult":
        from backend.progress import ensure_context

        from .request import OutputVideos

        ctx = ensure_context(ctx)
        puppet, animation = self.prepare(request, ctx)
        motion = request.timed_motion()
        with OutputVideos(request) as outputs:
            pose = request.pose_video(motion, puppet.keypoints) if outputs.wants_pose_frames else None
            num_frames = len(animation)
            for index in range(num_frames):
                frame = animation.frame(puppet, index)
                outputs.write(frame, None if pose is None else pose.frame(index))
                ctx.report(0.05 + 0.95 * (index + 1) / num_frames, f"frame {index + 1}/{num_frames}")
                ctx.check_cancelled()
        return outputs.result(self.name, num_frames, request.output_fps, "2d" if isinstance(puppet, Puppet) else "2.5d")

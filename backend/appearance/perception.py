"""Seeing the person in a reference photo: who is there, where their joints are, which pixels are theirs.

The detector is MediaPipe's BlazePose (``mediapipe==0.10.21``, whose wheel ships ``pose_detection.tflite``,
``pose_landmark_full.tflite`` and the segmentation model, so nothing is downloaded at run time): one person
per pass, 33 landmarks and a soft person mask. Its 33 landmarks become the project's 20 body keypoints
(:data:`~.pose_video.KEYPOINT_NAMES`: COCO-18 + toes; the neck is the shoulders' midpoint, as in DWPose).

BlazePose finds one person per image, so :func:`detect_people` looks again after painting out everyone it
has found, until nobody new turns up: several people are found one by one, largest first by mask area.

:func:`analyse_reference` turns that into the reference the renderers use, and decides honestly:

* a person was detected -> their keypoints and mask (the largest, or the one asked for), with notes on other
  people and on body parts the frame cuts off;
* nobody was detected, but the image is a PNG with transparency or a drawing on a plain background (what a
  person detector is not trained on) -> the older silhouette cut-out + body-proportion fit, which *guesses*
  and says so;
* nobody, on a photo -> :class:`NoPersonError` (exit code 3) naming the fix.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import threading
from dataclasses import dataclass, field

import cv2
import numpy as np

from shared.errors import InvalidInputError

from .keypoints import FACE_KEYPOINTS, KEYPOINT_NAMES, KP, NUM_KEYPOINTS
from .reference import fill_holes, segment_person, template_keypoints

logger = logging.getLogger(__name__)

#: The wheel version whose package carries the pose and segmentation models (later ones download them).
MEDIAPIPE_VERSION = "0.10.21"
MEDIAPIPE_INSTALL = f'pip install --no-deps "mediapipe=={MEDIAPIPE_VERSION}" (scripts/setup.sh does it)'

#: BlazePose landmark index of each keypoint (the neck is the shoulders' midpoint; toes = "foot index").
BLAZEPOSE_FOR_KEYPOINT: dict[int, int] = {
    KP["nose"]: 0, KP["left_eye"]: 2, KP["right_eye"]: 5, KP["left_ear"]: 7, KP["right_ear"]: 8,
    KP["left_shoulder"]: 11, KP["right_shoulder"]: 12, KP["left_elbow"]: 13, KP["right_elbow"]: 14,
    KP["left_wrist"]: 15, KP["right_wrist"]: 16, KP["left_hip"]: 23, KP["right_hip"]: 24,
    KP["left_knee"]: 25, KP["right_knee"]: 26, KP["left_ankle"]: 27, KP["right_ankle"]: 28,
    KP["left_toe"]: 31, KP["right_toe"]: 32,
}  # fmt: skip

#: A landmark counts as seen when BlazePose's visibility is at least this and it lies inside the image.
MIN_VISIBILITY = 0.5
MAX_PEOPLE = 4
_MIN_DETECTION_CONFIDENCE = 0.5
_FACE = tuple(KEYPOINT_NAMES[i] for i in FACE_KEYPOINTS)
#: Body parts the frame can cut off, and the keypoints that must be seen for the part to be in the photo.
BODY_PARTS = {
    "head": _FACE,
    "legs": ("right_knee", "left_knee", "right_ankle", "left_ankle"),
    "arms": ("right_elbow", "left_elbow", "right_wrist", "left_wrist"),
}


class NoPersonError(InvalidInputError):
    """The reference image shows nobody the renderer could animate."""


@dataclass
class DetectedPerson:
    """One person found by the detector.

    Attributes:
        keypoints: (20, 2) image pixels in KEYPOINT_NAMES order; points the frame cuts off are BlazePose's
            estimate outside the image.
        visibility: (20,) in [0, 1]; 0 for points outside the image.
        mask: (H, W) float32 soft mask of this person.
        world: (20, 3) the pose model's 3D estimate of the same points (BlazePose's world landmarks), metres,
            origin between the hips, axes as the image's (x right, y down) and z away from the camera; None
            when the model gave none.
    """

    keypoints: np.ndarray
    visibility: np.ndarray
    mask: np.ndarray
    world: np.ndarray | None = None

    @property
    def area(self) -> float:
        return float((self.mask > 0.5).sum())

    @property
    def seen(self) -> np.ndarray:
        """(20,) bool: the keypoint is inside the image and visible."""
        return self.visibility >= MIN_VISIBILITY

    def centre(self) -> tuple[int, int]:
        ys, xs = np.nonzero(self.mask > 0.5)
        if not len(xs):
            return tuple(int(v) for v in np.nanmean(self.keypoints, axis=0))
        return int(xs.mean()), int(ys.mean())


@dataclass
class ReferencePerson:
    """The person to animate, as the renderers need them.

    Attributes:
        keypoints: (20, 2) image pixels (NaN = unknown).
        mask: (H, W) float32 soft mask in [0, 1].
        source: "detected" (the pose model saw them), "given" (keypoints from the user) or "guessed"
            (silhouette + body proportions, for drawings and cut-outs the detector cannot read).
        people: how many people the detector found (0 when it found none).
        index: which of them this is, 1 = the largest.
        cut_off: body parts outside the frame ("head", "legs", "arms").
        world: (20, 3) the pose model's 3D keypoints (:attr:`DetectedPerson.world`), None when not detected.
        notes: what the user should know about this reference (shown as warnings / progress messages).
        seconds: time the analysis took.
    """

    keypoints: np.ndarray
    mask: np.ndarray
    source: str
    people: int = 1
    index: int = 1
    cut_off: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    world: np.ndarray | None = None


# --- the detector -----------------------------------------------------------------------------------------------


#: Lines MediaPipe's C++ side (absl, glog, TensorFlow Lite) writes to the process's stderr on every run.
_NATIVE_NOISE = re.compile(r"^([IWEF]\d{4} |WARNING: All log messages before absl|INFO: Created TensorFlow Lite"
                           r"|INFO: Initialized TensorFlow Lite)")


@contextlib.contextmanager
def _quiet_native_stderr():
    """Keep the third-party native log lines off the terminal: file descriptor 2 goes to a temporary file
    while MediaPipe runs, and what was written there is passed back to stderr minus :data:`_NATIVE_NOISE`
    (anything else, e.g. another thread's message, still reaches the terminal)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (an embedded interpreter): nothing to keep quiet
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().decode("utf-8", "replace").splitlines(keepends=True)
                    if not _NATIVE_NOISE.match(line)]  # fmt: skip
            if kept:
                sys.stderr.write("".join(kept))


class PoseDetector:
    """MediaPipe BlazePose (full model, static images, with segmentation), created once per process.

    The MediaPipe graph is not thread-safe: calls are serialised with a lock (the backend may render
    several jobs at once).
    """

    _instance: "PoseDetector | None" = None
    _instance_lock = threading.Lock()

    def __init__(self):
        try:
            with _quiet_native_stderr():
                from mediapipe.python.solutions import pose as mp_pose
        except ImportError as exc:
            raise InvalidInputError(
                f"the person detector (mediapipe {MEDIAPIPE_VERSION}) is not installed ({exc})",
                hint=f"{MEDIAPIPE_INSTALL}; or give --keypoints and a PNG whose transparency marks the person",
            ) from exc
        # model_complexity=1 is the model inside the wheel (0 and 2 are downloaded on first use).
        with _quiet_native_stderr():
            self._pose = mp_pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=True,
                                      min_detection_confidence=_MIN_DETECTION_CONFIDENCE)  # fmt: skip
        self._lock = threading.Lock()

    @classmethod
    def shared(cls) -> "PoseDetector":
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def detect_one(self, image: np.ndarray) -> DetectedPerson | None:
        """The most prominent person in an (H, W, 3) uint8 RGB image, or None."""
        height, width = image.shape[:2]
        with self._lock, _quiet_native_stderr():
            result = self._pose.process(np.ascontiguousarray(image))
        if result.pose_landmarks is None:
            return None
        landmarks = np.array([(p.x * width, p.y * height, p.visibility) for p in result.pose_landmarks.landmark])
        keypoints = np.full((NUM_KEYPOINTS, 2), np.nan)
        visibility = np.zeros(NUM_KEYPOINTS)
        for kp_index, lm_index in BLAZEPOSE_FOR_KEYPOINT.items():
            keypoints[kp_index] = landmarks[lm_index, :2]
            visibility[kp_index] = landmarks[lm_index, 2]
        keypoints[KP["neck"]] = 0.5 * (keypoints[KP["left_shoulder"]] + keypoints[KP["right_shoulder"]])
        visibility[KP["neck"]] = min(visibility[KP["left_shoulder"]], visibility[KP["right_shoulder"]])
        world = None
        if result.pose_world_landmarks is not None:
            world_landmarks = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark])
            world = np.full((NUM_KEYPOINTS, 3), np.nan)
            for kp_index, lm_index in BLAZEPOSE_FOR_KEYPOINT.items():
                world[kp_index] = world_landmarks[lm_index]
            world[KP["neck"]] = 0.5 * (world[KP["left_shoulder"]] + world[KP["right_shoulder"]])
        inside = (keypoints[:, 0] >= 0) & (keypoints[:, 0] < width) & (keypoints[:, 1] >= 0) & (keypoints[:, 1] < height)
        visibility = np.where(inside, visibility, 0.0)
        segmentation = result.segmentation_mask
        mask = _person_mask(np.zeros((height, width), np.float32) if segmentation is None else segmentation,
                            keypoints, visibility >= MIN_VISIBILITY)  # fmt: skip
        return DetectedPerson(keypoints, visibility, mask, world)


def _person_mask(segmentation: np.ndarray, keypoints: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """This person's part of the segmentation: the blobs that hold their seen keypoints (or, failing that, the
    largest), holes filled. The segmentation may also cover a bystander standing apart."""
    binary = (segmentation > 0.5).astype(np.uint8)
    count, labels = cv2.connectedComponents(binary, connectivity=8)
    if count <= 1:
        return np.zeros_like(segmentation, dtype=np.float32)
    points = np.round(keypoints[seen]).astype(int)
    hit = np.unique(labels[points[:, 1], points[:, 0]]) if len(points) else np.array([], int)
    hit = hit[hit > 0]
    if not len(hit):
        hit = [1 + int(np.argmax(np.bincount(labels.ravel())[1:]))]
    keep = np.isin(labels, hit).astype(np.uint8)
    keep = fill_holes(keep)
    # The model's soft edge; holes inside the person (filled above) count as the person.
    soft = np.where(keep > 0, np.maximum(segmentation, 0.5 + 0.5 * (binary == 0)), segmentation * 0.0)
    return np.clip(soft, 0.0, 1.0).astype(np.float32)


def detect_people(image: np.ndarray, max_people: int = MAX_PEOPLE, detector: PoseDetector | None = None
                  ) -> list[DetectedPerson]:
    """Everyone the detector finds in ``image``, largest (by mask area) first.

    Each pass finds one person; they are then painted out (their dilated mask filled from the surrounding
    background) and the detector looks again, until it finds nobody, finds someone already found, or has found
    ``max_people``.
    """
    detector = detector or PoseDetector.shared()
    height, width = image.shape[:2]
    people: list[DetectedPerson] = []
    work = image
    covered = np.zeros((height, width), np.uint8)
    grow = max(int(0.02 * max(height, width)), 3)
    for _ in range(max_people):
        person = detector.detect_one(work)
        if person is None:
            break
        hard = (person.mask > 0.5).astype(np.uint8)
        if hard.sum() < 0.002 * height * width:
            # Landmarks without a mask (e.g. a painted-out person's ghost): only keep it if its seen keypoints
            # fall outside everyone found so far.
            points = np.round(person.keypoints[person.seen]).astype(int)
            if not len(points) or covered[points[:, 1], points[:, 0]].mean() > 0.5:
                break
            box_mask = np.zeros_like(hard)
            (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
            box_mask[max(y0 - grow, 0) : y1 + grow, max(x0 - grow, 0) : x1 + grow] = 1
            hard = box_mask
        elif people and (hard & covered).sum() > 0.5 * hard.sum():
            break  # the same person again
        else:
            people.append(person)
        hole = cv2.dilate(hard, np.ones((3, 3), np.uint8), iterations=grow)
        covered |= hole
        work = _paint_out(work, covered)
    people.sort(key=lambda p: p.area, reverse=True)
    return people


def _paint_out(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The image with ``hole`` filled by a flat, blurred guess of the background (no body shapes left)."""
    filled = image.copy()
    small_side = 96
    factor = small_side / max(image.shape[:2])
    size = (max(int(image.shape[1] * factor), 8), max(int(image.shape[0] * factor), 8))
    small = cv2.inpaint(cv2.resize(image, size, interpolation=cv2.INTER_AREA),
                        cv2.resize(hole, size, interpolation=cv2.INTER_NEAREST), 3, cv2.INPAINT_TELEA)  # fmt: skip
    guess = cv2.GaussianBlur(cv2.resize(small, image.shape[1::-1], interpolation=cv2.INTER_LINEAR), (0, 0), 3)
    filled[hole > 0] = guess[hole > 0]
    return filled


# --- the reference ----------------------------------------------------------------------------------------------


def cut_off_parts(person: DetectedPerson) -> tuple[str, ...]:
    """Body parts the photo does not show.

    * legs: an ankle lies outside the frame (BlazePose extrapolates it), or the person's mask runs off the
      bottom edge over more than 0.8 shoulder widths (thighs cut, not just shoes touching the edge);
    * head: no face point is seen, or the mask runs off the top edge over more than half a shoulder width
      (more than hair touching the edge);
    * arms: none of the elbows and wrists is seen.
    """
    height, width = person.mask.shape
    seen = person.seen
    kp = person.keypoints
    shoulders = float(np.linalg.norm(kp[KP["left_shoulder"]] - kp[KP["right_shoulder"]]))
    mask = person.mask > 0.5
    band = max(int(0.01 * height), 1)
    top_contact = float(mask[:band].any(axis=0).sum())
    bottom_contact = float(mask[-band:].any(axis=0).sum())

    def outside(name: str) -> bool:
        x, y = kp[KP[name]]
        return not (0 <= x < width and 0 <= y < height)

    cut = []
    if not any(seen[KP[n]] for n in _FACE) or top_contact > 0.5 * shoulders:
        cut.append("head")
    if outside("left_ankle") or outside("right_ankle") or bottom_contact > 0.8 * shoulders:
        cut.append("legs")
    if not any(seen[KP[n]] for n in BODY_PARTS["arms"]):
        cut.append("arms")
    return tuple(cut)


def plain_background(image: np.ndarray) -> bool:
    """True when the image's border has no texture (flat colour or a smooth gradient): a drawing or a studio
    cut-out, not a photographed scene. Measured as colour steps between neighbouring border pixels."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    ring = max(int(0.02 * min(image.shape[:2])), 2)
    steps = []
    for strip in (lab[:ring], lab[-ring:], lab[:, :ring].transpose(1, 0, 2), lab[:, -ring:].transpose(1, 0, 2)):
        steps.append(np.linalg.norm(np.diff(strip, axis=1), axis=-1).ravel())
    return bool(np.percentile(np.concatenate(steps), 90) < 4.0)


def analyse_reference(image: np.ndarray, alpha: np.ndarray | None = None, keypoints: np.ndarray | None = None,
                      person: int = 1, name: str = "the reference image",
                      detector: PoseDetector | None = None) -> ReferencePerson:
    """Find the person to animate in a reference image (see the module docstring for the decisions).

    Args:
        image: (H, W, 3) uint8 RGB.
        alpha: optional (H, W) uint8 mask (a PNG's transparency): the person's mask as given.
        keypoints: optional (20, 2) image pixels from the user (NaN = unknown): used instead of detected ones.
        person: which person to animate when there are several, 1 = the largest.
        name: how to call the image in messages (its file name).
    Raises:
        NoPersonError: nobody found in a photo.
        InvalidInputError: ``person`` is more than the number of people found.
    """
    import time

    start = time.perf_counter()
    if person < 1:
        raise InvalidInputError(f"person must be 1 or more (1 = the largest), got {person}")
    notes: list[str] = []
    try:
        people = detect_people(image, detector=detector)
    except InvalidInputError as exc:  # the detector is not installed
        if alpha is None and keypoints is None and not plain_background(image):
            raise
        logger.warning("%s", exc)
        people = []

    if people:
        if person > len(people):
            raise InvalidInputError(
                f"asked for person {person}, but {_count(len(people))} found in {name}",
                hint=f"use a number from 1 to {len(people)} (1 = the largest)",
            )
        chosen = people[person - 1]
        if len(people) > 1:
            x, y = chosen.centre()
            notes.append(
                f"{_count(len(people))} found in {name}; animating person {person} (counted by size, "
                f"{'the largest' if person == 1 else 'not the largest'}, around x={x}, y={y}); pick another with "
                f"--person N (1 to {len(people)})"
            )
        cut = cut_off_parts(chosen)
        for part in cut:
            notes.append(_CUT_OFF_NOTES[part].format(name=name))
        notes += photo_quality_notes(chosen, cut, name)
        mask = chosen.mask if alpha is None else alpha.astype(np.float32) / 255.0
        points = chosen.keypoints.copy() if keypoints is None else np.asarray(keypoints, np.float64)
        source = "detected" if keypoints is None else "given"
        return ReferencePerson(points, mask, source, len(people), person, cut, notes, time.perf_counter() - start,
                               chosen.world)

    if alpha is None and keypoints is None and not plain_background(image):
        raise NoPersonError(
            f"no person found in {name}",
            hint="use a photo of one person, whole body in view (or give --keypoints for a drawn character "
            "on a plain background, or a PNG whose transparency marks the character)",
        )
    # What a person detector cannot read: a drawing on a plain background, or a cut-out with transparency.
    mask = segment_person(image, alpha)
    if keypoints is None:
        points = template_keypoints(mask > 0.5)
        source = "guessed"
        notes.append(
            f"no person detected in {name}; guessed the joints from the silhouette's proportions (best for a "
            "character standing upright, facing the camera); give --keypoints to place them"
        )
    else:
        points, source = np.asarray(keypoints, np.float64), "given"
    return ReferencePerson(points, mask, source, 0, 1, (), notes, time.perf_counter() - start)


#: A drawing's flat fills: at least this fraction of the person's pixels have exactly the colour of their right
#: and lower neighbours (photos measure under 5 % -- sensor noise, compression -- the drawn example 96 %).
_DRAWN_FLAT = 0.5


def looks_drawn(image: np.ndarray, mask: np.ndarray) -> bool:
    """Whether the person in ``image`` (under ``mask`` > 0.5) is drawn in flat colours rather than photographed."""
    image = np.asarray(image, np.int16)
    same = (image[:-1, :-1] == image[:-1, 1:]).all(axis=2) & (image[:-1, :-1] == image[1:, :-1]).all(axis=2)
    person = np.asarray(mask)[:-1, :-1] > 0.5
    return bool(person.any() and same[person].mean() >= _DRAWN_FLAT)


#: The body joints the puppet is rigged on (the face aside).
_BODY_JOINTS = ("right_shoulder", "left_shoulder", "right_elbow", "left_elbow", "right_wrist", "left_wrist",
                "right_hip", "left_hip", "right_knee", "left_knee", "right_ankle", "left_ankle")  # fmt: skip
#: Refused: a person this small (mask height / image height) or with fewer body joints seen cannot be rigged.
MIN_PERSON_HEIGHT = 0.08
MIN_JOINTS_SEEN = 2


def photo_quality_notes(person: DetectedPerson, cut: tuple[str, ...], name: str) -> list[str]:
    """What will look wrong in a video made from this person, one line each with how to get a better photo:
    joints hidden inside the frame (occlusion), a side-on pose, arms across the body, a small person.

    Raises:
        NoPersonError: only for what cannot work at all (a person too small or too hidden to rig).
    """
    height, width = person.mask.shape
    kp, seen = person.keypoints, person.seen
    rows = np.flatnonzero((person.mask > 0.5).any(axis=1))
    person_height = (rows[-1] - rows[0] + 1) / height if len(rows) else 0.0
    expected = [n for n in _BODY_JOINTS if not any(n in _PART_JOINT_NAMES[p] for p in cut)]
    seen_joints = [n for n in expected if seen[KP[n]]]
    if person_height < MIN_PERSON_HEIGHT or len(seen_joints) < min(MIN_JOINTS_SEEN, len(expected)):
        raise NoPersonError(
            f"the person in {name} is too {'small' if person_height < MIN_PERSON_HEIGHT else 'hidden'} to animate "
            f"({100 * person_height:.0f} % of the image's height, {len(seen_joints)} of {len(expected)} body joints seen)",
            hint="use a photo where the person fills at least a third of the height, whole body in view",
        )
    notes = []
    hidden = [n.replace("_", " ") for n in expected if not seen[KP[n]]]
    if hidden:
        notes.append(f"{name}: {', '.join(hidden)} hidden (occluded or unclear): those limbs will be guessed and "
                     f"may look bent or smeared; use a photo with every limb in clear view")
    shoulders = np.linalg.norm(kp[KP["left_shoulder"]] - kp[KP["right_shoulder"]])
    hips = 0.5 * (kp[KP["left_hip"]] + kp[KP["right_hip"]])
    torso = np.linalg.norm(0.5 * (kp[KP["left_shoulder"]] + kp[KP["right_shoulder"]]) - hips)
    if np.isfinite(shoulders) and np.isfinite(torso) and torso > 0 and shoulders < 0.35 * torso:
        notes.append(f"{name}: the person stands side-on: the body will look squashed when it turns to the camera; "
                     f"use a photo facing the camera")
    crossed = []
    polygon = kp[[KP[n] for n in ("right_shoulder", "left_shoulder", "left_hip", "right_hip")]].astype(np.float32)
    if np.isfinite(polygon).all():
        for side in ("right", "left"):
            wrist = kp[KP[f"{side}_wrist"]]
            if seen[KP[f"{side}_wrist"]] and cv2.pointPolygonTest(polygon, (float(wrist[0]), float(wrist[1])), False) >= 0:
                crossed.append(side)
    if crossed:
        notes.append(f"{name}: the {' and '.join(crossed)} hand{'s are' if len(crossed) == 2 else ' is'} in front of the "
                     f"body: what the arm covers is invented when it moves away; use a photo with the arms away "
                     f"from the body")
    if person_height < 0.33:
        notes.append(f"{name}: the person fills only {100 * person_height:.0f} % of the image's height: the dancer "
                     f"will be small and blurry; use a closer photo")
    return notes


_PART_JOINT_NAMES = {"head": (), "legs": BODY_PARTS["legs"] + ("right_hip", "left_hip"),
                     "arms": BODY_PARTS["arms"]}  # fmt: skip

_CUT_OFF_NOTES = {
    "legs": "the legs are cut off by the frame of {name}: only the upper body dances (hips and legs stay put); "
    "use a full-body photo to see the whole dance",
    "head": "the head is cut off by the frame of {name}: the head is not animated; use a full-body photo",
    "arms": "the arms are out of the frame of {name}: they are not animated; use a full-body photo",
}


def _count(n: int) -> str:
    return "1 person" if n == 1 else f"{n} people"

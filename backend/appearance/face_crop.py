"""Wan-Animate's face input: a crop of the reference person's face, found from the body keypoints.

SMPL has no facial expression, so the same crop is repeated on every frame (a static expression).
"""

from __future__ import annotations

import cv2
import numpy as np

from .keypoints import FACE_KEYPOINTS


def face_box_from_keypoints(keypoints: np.ndarray, image_shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Square crop (x0, y0, x1, y1) around a reference person's face from nose/eyes/ears keypoints.

    Mirrors Wan-Animate's face crop (face area x 1.3, more margin above than below) with the five face
    points a body skeleton has. Returns None when fewer than two face points are known.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    face = keypoints[list(FACE_KEYPOINTS)]
    face = face[np.isfinite(face).all(axis=1) & (face >= 0).all(axis=1)]
    if len(face) < 2:
        return None
    lo, hi = face.min(axis=0), face.max(axis=0)
    side = max(hi[0] - lo[0], hi[1] - lo[1]) * 1.3 * 1.6  # ears-to-ears is about 60 % of the face box
    cx, cy = 0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1]) - 0.05 * side
    height, width = image_shape
    x0, y0 = int(round(max(cx - side / 2, 0))), int(round(max(cy - side / 2, 0)))
    x1, y1 = int(round(min(cx + side / 2, width))), int(round(min(cy + side / 2, height)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return x0, y0, x1, y1


def face_image(reference: np.ndarray, box: tuple[int, int, int, int] | None, size: int = 512) -> np.ndarray:
    """The face crop Wan-Animate's face encoder expects: (size, size, 3) uint8; black when ``box`` is None.

    SMPL has no facial expression, so the same crop is repeated for every frame (a static expression);
    black is DiffSynth's "no face" input.
    """
    if box is None:
        return np.zeros((size, size, 3), dtype=np.uint8)
    x0, y0, x1, y1 = box
    return cv2.resize(reference[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)

"""Patch-based (exemplar) inpainting: fill a hole in a photo with texture copied from the rest of it.

What takes the person out of the background plate and continues the scene into canvas margins. The method
is the nearest-neighbour-field one of PatchMatch / "Space-Time Completion" (Wexler et al. 2007), small and
on the CPU:

* at a working size (long side :data:`WORK_SIDE`, coarse to fine in two scales) the hole starts from a smooth
  Telea fill; every patch that touches the hole then finds its most similar patch lying wholly in the known
  part of the photo (a k-d tree over PCA-reduced patches), and each hole pixel takes the mean of the colours
  the overlapping matches put there (voting); a few rounds make the texture coherent;
* at full size every hole pixel copies the photo's own pixel at the offset its working-size match found, so
  the fill is as sharp as the photo (not an upscaled blur), with a feathered seam.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.spatial import cKDTree

WORK_SIDE = 160
PATCH = 7
_SCALES = (0.25, 0.5, 1.0)
_ROUNDS = (6, 4, 2)
_PCA_DIMS = 16
_MAX_SOURCES = 20000


def inpaint(image: np.ndarray, hole: np.ndarray, seed: int = 0, source: np.ndarray | None = None) -> np.ndarray:
    """``image`` (H, W, 3) uint8 with the pixels where ``hole`` (H, W) is true filled from the rest of it.

    ``source``: (H, W) bool, where patches may be copied from (default: everywhere outside the hole), e.g. a
    body part's own pixels when what the part hides is filled. Deterministic for a given ``seed`` (the sample
    of source patches on large photos).
    """
    hole = np.asarray(hole, bool)
    if not hole.any():
        return image.copy()
    height, width = hole.shape
    factor = min(1.0, WORK_SIDE / max(height, width))
    work = (max(int(round(width * factor)), 16), max(int(round(height * factor)), 16))
    small = cv2.resize(image, work, interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole.astype(np.uint8), work, interpolation=cv2.INTER_AREA) > 0
    small_source = ~small_hole
    if source is not None:
        small_source &= cv2.resize(np.asarray(source, np.uint8), work, interpolation=cv2.INTER_AREA) > 0
    if small_hole.all() or small_source.sum() < PATCH * PATCH:
        return _telea(image, hole)
    rng = np.random.default_rng(seed)
    estimate, offsets = None, None
    for scale, rounds in zip(_SCALES, _ROUNDS):
        size = (max(int(round(work[0] * scale)), 16), max(int(round(work[1] * scale)), 16))
        level = cv2.resize(small, size, interpolation=cv2.INTER_AREA).astype(np.float32)
        level_hole = cv2.resize(small_hole.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        level_source = cv2.resize(small_source.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        if estimate is None:
            estimate = cv2.inpaint(level.astype(np.uint8), level_hole.astype(np.uint8), 3, cv2.INPAINT_TELEA)
            estimate = estimate.astype(np.float32)
        else:
            estimate = cv2.resize(estimate, size, interpolation=cv2.INTER_LINEAR)
        estimate[~level_hole] = level[~level_hole]
        result = _complete(level, level_hole, estimate, rounds, rng, level_source & ~level_hole)
        if result is None:
            return _telea(image, hole)
        estimate, offsets = result
    return _full_size(image, hole, estimate, offsets, small_hole.shape)


def _patches(image: np.ndarray) -> np.ndarray:
    """(h, w, PATCH * PATCH * C) patch around every pixel (edges replicated)."""
    r = PATCH // 2
    padded = cv2.copyMakeBorder(image, r, r, r, r, cv2.BORDER_REFLECT)
    windows = sliding_window_view(padded, (PATCH, PATCH), axis=(0, 1))  # (h, w, C, P, P)
    return windows.reshape(image.shape[0], image.shape[1], -1)


def _complete(image: np.ndarray, hole: np.ndarray, estimate: np.ndarray, rounds: int,
              rng: np.random.Generator, source: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Rounds of match-and-vote at one scale; returns the filled image and (h, w, 2) source offsets (dy, dx)
    for hole pixels, or None when the ``source`` part has no whole patch to copy."""
    h, w = hole.shape
    r = PATCH // 2
    known = cv2.erode(source.astype(np.uint8), np.ones((PATCH, PATCH), np.uint8), borderValue=0) > 0
    known[:r], known[-r:], known[:, :r], known[:, -r:] = False, False, False, False
    sources = np.flatnonzero(known)
    if len(sources) < 8:
        return None
    if len(sources) > _MAX_SOURCES:
        sources = np.sort(rng.choice(sources, _MAX_SOURCES, replace=False))
    source_patches = _patches(image).reshape(h * w, -1)[sources]
    mean = source_patches.mean(axis=0)
    sample = source_patches[rng.choice(len(sources), min(len(sources), 3000), replace=False)] - mean
    _, _, vt = np.linalg.svd(sample, full_matrices=False)
    basis = vt[:_PCA_DIMS].T
    tree = cKDTree((source_patches - mean) @ basis)
    # Target patches: every centre whose patch touches the hole.
    touching = cv2.dilate(hole.astype(np.uint8), np.ones((PATCH, PATCH), np.uint8)) > 0
    targets = np.flatnonzero(touching)
    ty, tx = np.divmod(targets, w)
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    dy, dx = dy.reshape(-1, 1), dx.reshape(-1, 1)  # (P * P, 1): offset by offset, target by target
    # Every target patch's footprint (the pixels inside the image), fixed over the rounds.
    py, px = ty + dy, tx + dx
    inside = (py >= 0) & (py < h) & (px >= 0) & (px < w)
    footprint = (py * w + px)[inside]
    count = np.bincount(footprint, minlength=h * w).reshape(h, w)
    current = estimate.copy()
    for _ in range(rounds):
        target_patches = _patches(current).reshape(h * w, -1)[targets]
        _, nearest = tree.query((target_patches - mean) @ basis, k=1)
        sy, sx = np.divmod(sources[nearest], w)
        # Voting: each target patch puts its match's pixels over its own footprint (summed per pixel).
        votes = image[(sy + dy)[inside], (sx + dx)[inside]].astype(np.float64)
        total = np.stack([np.bincount(footprint, votes[:, c], h * w) for c in range(3)], axis=-1).reshape(h, w, 3)
        filled = total / np.maximum(count, 1)[:, :, None]
        current = np.where(hole[:, :, None], filled, image).astype(np.float32)
    # Offsets for the full-size copy: each hole pixel's own centred match.
    offsets = np.zeros((h, w, 2), np.float32)
    own = hole[ty, tx]
    offsets[ty[own], tx[own], 0], offsets[ty[own], tx[own], 1] = (sy - ty)[own], (sx - tx)[own]
    return current, offsets


def _full_size(image: np.ndarray, hole: np.ndarray, estimate: np.ndarray, offsets: np.ndarray,
               work_shape: tuple[int, int]) -> np.ndarray:
    """The hole at full size: the photo's pixels at the working-size match offsets (sharp texture), falling back
    to the upscaled estimate where the copy would land in the hole or outside; feathered into the photo."""
    height, width = hole.shape
    sy, sx = height / work_shape[0], width / work_shape[1]
    up_offsets = cv2.resize(offsets, (width, height), interpolation=cv2.INTER_NEAREST)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    map_y = ys + up_offsets[:, :, 0] * sy
    map_x = xs + up_offsets[:, :, 1] * sx
    copied = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    lands_in_hole = cv2.remap(hole.astype(np.uint8), map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=1) > 0  # fmt: skip
    smooth = cv2.resize(np.clip(estimate, 0, 255).astype(np.uint8), (width, height), interpolation=cv2.INTER_CUBIC)
    fill = np.where(lands_in_hole[:, :, None], smooth, copied)
    # Blocks of one offset meet in seams; a blur of about one block hides them without smearing the texture.
    block = max(sy, sx)
    if block > 1.5:
        fill = cv2.addWeighted(fill, 0.5, cv2.GaussianBlur(fill, (0, 0), 0.5 * block), 0.5, 0)
    feather = cv2.GaussianBlur(hole.astype(np.float32), (0, 0), max(block, 1.0))
    blend = np.maximum(feather, hole.astype(np.float32))[:, :, None]
    return np.clip(image * (1.0 - blend) + fill * blend, 0, 255).astype(np.uint8)


def _telea(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Smooth fill for holes with too little around them to copy from."""
    return cv2.inpaint(image, hole.astype(np.uint8), 5, cv2.INPAINT_TELEA)

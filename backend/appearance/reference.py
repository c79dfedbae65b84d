"""The reference image: loading it, reading user keypoints, placing it on the canvas (cropped around the
person, margins continued by inpainting), taking the person out of it (the background plate), and the fallback cut-out for what
the person detector (:mod:`.perception`) cannot read.

Keypoints are (20, 2) float pixels in :data:`backend.appearance.keypoints.KEYPOINT_NAMES` order with NaN for
unknown points. They come from the detector, from the user (a JSON file of named points, e.g. placed in an
image editor or in the Blender add-on) or, for a drawing on a plain background or a PNG with transparency,
from :func:`template_keypoints`, which fits human proportions to the silhouette of a person standing upright
and facing the camera (arms down, in an A-pose or a T-pose).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from shared.errors import InvalidInputError, TooLargeError

from .keypoints import KEYPOINT_NAMES, KP, NUM_KEYPOINTS

MIN_REFERENCE_SIDE = 64
#: Largest reference photo decoded (pixels), as the backend's upload limit.
MAX_REFERENCE_PIXELS = 8192 * 8192
_SEGMENT_SIDE = 320  # silhouette work happens at this size (long side) and is scaled back up


@dataclass
class ReferenceImage:
    """A loaded reference photo: rgb (H, W, 3) uint8 and, for images with transparency, alpha (H, W) uint8."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None


#: Image formats a reference photo may come in (PIL's names); others (GIF: a palette of 256 colours, often an
#: animation) are refused with one clear message before anything is decoded.
REFERENCE_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP", "TIFF": "TIFF", "BMP": "BMP"}
REFERENCE_FORMATS_HINT = "send a PNG, JPEG or WebP photo (TIFF and BMP work too)"
#: EXIF orientation -> how to turn the stored pixels upright (1, or none, is upright already).
_EXIF_UPRIGHT = {
    2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1), 7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}


def probe_reference_image(path: str | Path, max_pixels: int, name: str | None = None) -> tuple[int, int]:
    """(width, height) of the photo as it will be shown (upright), from its header; refuses a format the
    reference loader does not take and images of more than ``max_pixels`` pixels, before any decoding."""
    from PIL import Image, UnidentifiedImageError

    label = name or f"the reference image {path}"
    try:
        with Image.open(path) as image:
            kind, (width, height) = image.format, image.size
            orientation = image.getexif().get(0x0112, 1)
    except UnidentifiedImageError:
        raise InvalidInputError(f"cannot read {label}: it is no image format the backend knows",
                                hint=REFERENCE_FORMATS_HINT) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInputError(f"cannot read {label} ({exc})", hint=REFERENCE_FORMATS_HINT) from None
    if kind not in REFERENCE_FORMATS:
        raise InvalidInputError(f"{label} is a {kind} image; a reference photo cannot be {kind}",
                                hint=REFERENCE_FORMATS_HINT)
    if width * height > max_pixels:
        raise TooLargeError(f"{label} is {width}x{height} pixels, above {max_pixels:,}",
                            hint="scale the reference image down")
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def load_reference_image(path: str | Path, max_pixels: int = MAX_REFERENCE_PIXELS) -> ReferenceImage:
    """Read a reference photo (PNG, JPEG, WebP, TIFF, BMP); keeps a PNG's alpha channel as the person's mask.

    The photo is turned upright as its EXIF orientation says (phones store portraits sideways), 16-bit
    images are scaled by 255/65535 (their brightness kept, not stretched to their own maximum) and the format
    and size are checked from the header (:func:`probe_reference_image`) before the pixels are decoded.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"reference image not found: {path}")
    from PIL import Image

    probe_reference_image(path, max_pixels)
    data = np.fromfile(str(path), dtype=np.uint8)
    # UNCHANGED keeps 16 bits and alpha, and leaves the EXIF orientation to us (applied below).
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise InvalidInputError(
            f"cannot read the reference image {path}", hint="use a PNG or JPEG photo of the person"
        )
    if image.dtype == np.uint16:
        image = np.round(image.astype(np.float32) * (255.0 / 65535.0)).astype(np.uint8)
    elif image.dtype != np.uint8:  # float (HDR/TIFF) in [0, 1]
        image = np.round(np.clip(np.nan_to_num(image.astype(np.float32)), 0.0, 1.0) * 255.0).astype(np.uint8)
    with Image.open(path) as header:
        upright = _EXIF_UPRIGHT.get(header.getexif().get(0x0112, 1))
    if upright is not None:
        image = np.ascontiguousarray(upright(image))
    alpha = None
    if image.ndim == 2:
        rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    elif image.shape[2] == 4:
        rgb, alpha = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB), image[:, :, 3].copy()
        if alpha.min() == 255:
            alpha = None  # an opaque alpha channel says nothing about the person
    else:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    check_reference_image(rgb)
    return ReferenceImage(rgb, alpha)


def check_reference_image(image: np.ndarray) -> None:
    """Raise InvalidInputError unless ``image`` is a usable (H, W, 3) uint8 photo."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        raise InvalidInputError(f"reference image must be an (H, W, 3) uint8 RGB array, got {shape}")
    if min(image.shape[:2]) < MIN_REFERENCE_SIDE:
        raise InvalidInputError(
            f"reference image is too small ({image.shape[1]}x{image.shape[0]} pixels)",
            hint=f"use a photo at least {MIN_REFERENCE_SIDE} pixels on each side (ideally 720x1280)",
        )


def load_keypoints_json(path: str | Path) -> np.ndarray:
    """Read reference keypoints: ``{"right_shoulder": [x, y], …}`` (names of KEYPOINT_NAMES) or a list of 18/20
    ``[x, y]`` pairs in that order (OpenPose ``[x, y, score]`` triples also work; score 0 = unknown).

    Returns (20, 2) float64 image pixels, NaN where unknown.
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read keypoints file {path}: {exc}") from exc
    return parse_keypoints(data)


def parse_keypoints(data) -> np.ndarray:
    """Keypoints from a name -> [x, y] dict or a list of pairs (see :func:`load_keypoints_json`)."""
    keypoints = np.full((NUM_KEYPOINTS, 2), np.nan)
    if isinstance(data, dict):
        unknown = sorted(set(data) - set(KEYPOINT_NAMES))
        if unknown:
            raise InvalidInputError(f"unknown keypoint names {unknown}", hint=f"use names from {list(KEYPOINT_NAMES)}")
        items = [(KP[name], value) for name, value in data.items()]
    elif isinstance(data, (list, tuple)) or isinstance(data, np.ndarray):
        if len(data) not in (18, 20):
            raise InvalidInputError(f"a keypoint list must have 18 or 20 entries, got {len(data)}")
        items = list(enumerate(data))
    else:
        raise InvalidInputError(f"keypoints must be a dict or a list, got {type(data).__name__}")
    for index, value in items:
        if value is None:
            continue
        point = np.asarray(value, dtype=np.float64).ravel()
        if point.size in (2, 3) and np.isnan(point[:2]).all():
            continue  # NaN marks an unknown point, as load_keypoints_json writes it
        if point.size not in (2, 3) or not np.isfinite(point).all():
            raise InvalidInputError(f"keypoint {KEYPOINT_NAMES[index]} must be [x, y], got {value!r}")
        if point.size == 3 and point[2] <= 0:
            continue
        if point[0] >= 0 and point[1] >= 0:
            keypoints[index] = point[:2]
    return keypoints


# --- placing the photo on the canvas -----------------------------------------------------------------------


@dataclass(frozen=True)
class CanvasPlacement:
    """canvas pixel = scale * image pixel + offset."""

    scale: float
    offset: np.ndarray

    def apply(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points, dtype=np.float64) * self.scale + self.offset


def canvas_placement(image_shape: tuple[int, ...], width: int, height: int, zoom: float = 1.0,
                     shift: tuple[float, float] = (0.0, 0.0),
                     focus: tuple[float, float, float, float] | None = None) -> CanvasPlacement:
    """Where a photo goes on a W x H canvas, then scaled by ``zoom`` about the canvas centre and moved by
    ``shift`` (dx, dy) pixels; the offset is whole pixels.

    Without ``focus`` the whole photo fits (keeping its aspect), centred. With ``focus`` = (x0, y0, x1, y1)
    photo pixels (the person) the photo fills the canvas, cropping what does not fit, as centred on the focus
    box as the photo allows, but never cropping the box: a box too large for that makes the photo smaller
    (never smaller than fitting it whole), and :func:`extend_to_canvas` continues the scene in the margins.
    For a canvas of the photo's own aspect both are the same: the whole photo.
    """
    h, w = image_shape[:2]
    size, extent = np.array([width, height], np.float64), np.array([w, h], np.float64)
    fit = float(np.min(size / extent))
    if focus is None:
        scale, centre = fit, extent / 2.0
    else:
        x0, y0, x1, y1 = focus
        box = np.array([x1 - x0, y1 - y0], np.float64) * 1.06 + 2.0  # a little room around the person
        scale = max(fit, min(float(np.max(size / extent)), float(np.min(size / np.maximum(box, 1.0)))))
        centre = np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0])
    new = np.maximum(np.round(extent * scale), 1.0)
    offset = np.where(new >= size, np.clip(size / 2.0 - centre * new / extent, size - new, 0.0), (size - new) / 2.0)
    new_zoomed = np.maximum(np.round(extent * scale * zoom), 1.0)
    offset = np.round(size / 2.0 + zoom * (offset - size / 2.0) + np.asarray(shift, np.float64))
    return CanvasPlacement(float(new_zoomed[0] / w), offset)


def person_box(mask: np.ndarray) -> tuple[float, float, float, float] | None:
    """(x0, y0, x1, y1) pixel box of a soft mask's person (> 0.5), None when it is empty."""
    ys, xs = np.nonzero(np.asarray(mask) > 0.5)
    if not len(xs):
        return None
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def warp_to_canvas(array: np.ndarray, placement: CanvasPlacement, width: int, height: int,
                   border: int = cv2.BORDER_CONSTANT) -> np.ndarray:
    """``array`` (an image or a mask) resized and moved to its place on the canvas; outside it ``border``."""
    h, w = array.shape[:2]
    new_w, new_h = max(int(round(w * placement.scale)), 1), max(int(round(h * placement.scale)), 1)
    interpolation = cv2.INTER_AREA if placement.scale < 1 else cv2.INTER_CUBIC if array.ndim == 3 else cv2.INTER_LINEAR
    resized = cv2.resize(array, (new_w, new_h), interpolation=interpolation)
    # An integer translation after the resize copies pixels exactly.
    translate = np.array([[1.0, 0.0, placement.offset[0]], [0.0, 1.0, placement.offset[1]]])
    return cv2.warpAffine(resized, translate, (width, height), flags=cv2.INTER_NEAREST, borderMode=border,
                          borderValue=0)  # fmt: skip


def extend_to_canvas(image: np.ndarray, placement: CanvasPlacement, width: int, height: int) -> np.ndarray:
    """The photo on the canvas with its margins (if any) continued from the photo's own scene by patch-based
    inpainting (:func:`~.inpaint.inpaint`): texture and colour carried outwards, not mirrored copies."""
    from .inpaint import inpaint

    canvas = warp_to_canvas(image, placement, width, height, cv2.BORDER_REPLICATE)
    inside = warp_to_canvas(np.ones(image.shape[:2], np.uint8), placement, width, height) > 0
    if inside.all():
        return canvas
    return inpaint(canvas, ~inside)


def remove_person(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The photo with the person taken out: what the background would look like where they stood.

    The hole is the person's mask grown by about 2.5 % of the image (hair, soft edges, the mask's own
    uncertainty, so no outline of the person is left behind), filled by patch-based inpainting
    (:func:`~.inpaint.inpaint`: texture from the rest of the photo, not a smooth smear).
    """
    from .inpaint import inpaint

    height, width = image.shape[:2]
    grow = max(int(round(0.025 * max(height, width))), 2)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    hole = cv2.dilate((mask > 0.1).astype(np.uint8), kernel) > 0
    return inpaint(image, hole)


# --- silhouette ----------------------------------------------------------------------------------------------


def segment_person(image: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
    """The person's soft mask (H, W) float32 in [0, 1].

    With an alpha channel it is used as is. Otherwise the background is modelled from the image border
    (colour distance, Otsu threshold) and refined with GrabCut at low resolution; the largest blob is kept
    and its holes filled. Works for a person in front of a plain or uncluttered background.
    """
    height, width = image.shape[:2]
    if alpha is not None:
        soft = alpha.astype(np.float32) / 255.0
        _check_mask(soft > 0.5)
        return soft
    factor = _SEGMENT_SIDE / max(height, width)
    small = cv2.resize(image, (max(int(width * factor), 8), max(int(height * factor), 8)), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    ring = max(int(0.03 * min(sh, sw)), 2)
    border = np.zeros((sh, sw), dtype=bool)
    border[:ring], border[-ring:], border[:, :ring], border[:, -ring:] = True, True, True, True
    # The background each pixel would have if the person were not there: the border ring's colours carried
    # smoothly into the interior (inpainting at low resolution), so a wall with a gradient or a floor
    # meeting the frame's sides is predicted too. A pixel is surely not background when it differs from that
    # prediction by more than the border's own noise.
    smooth = cv2.GaussianBlur(lab, (5, 5), 0)
    tiny = (max(sw // 4, 8), max(sh // 4, 8))
    interior = cv2.resize((~border).astype(np.uint8), tiny, interpolation=cv2.INTER_NEAREST)
    interior[0, :], interior[-1, :], interior[:, 0], interior[:, -1] = 0, 0, 0, 0
    lab8 = cv2.resize(np.clip(smooth, 0, 255).astype(np.uint8), tiny, interpolation=cv2.INTER_AREA)
    expected = cv2.inpaint(lab8, interior, 3, cv2.INPAINT_TELEA)
    expected = cv2.resize(expected, (sw, sh), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    distance = np.linalg.norm(smooth - expected, axis=-1)
    threshold = max(1.5 * float(np.percentile(distance[border], 99)), 10.0)
    foreground = cv2.medianBlur((distance > threshold).astype(np.uint8), 3)

    grab = np.where(foreground > 0, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    # The border is surely background only where it looks like it: hands or feet may touch the frame.
    grab[border & (foreground == 0)] = cv2.GC_BGD
    if (grab == cv2.GC_PR_FGD).any() and (grab != cv2.GC_PR_FGD).any():
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.setRNGSeed(0)  # GrabCut's colour models start from k-means: same photo, same cut-out
        cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), grab, None, bgd, fgd, 4, cv2.GC_INIT_WITH_MASK)
    mask = ((grab == cv2.GC_FGD) | (grab == cv2.GC_PR_FGD)).astype(np.uint8)
    mask = _largest_blob(cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)))
    soft = cv2.resize(mask.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    soft = cv2.GaussianBlur(soft, (3, 3), 0)
    _check_mask(soft > 0.5)
    return soft


def _largest_blob(mask: np.ndarray) -> np.ndarray:
    """Keep the largest 8-connected component of a 0/1 mask and fill its holes."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return mask
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return fill_holes((labels == largest).astype(np.uint8))


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """A 0/1 uint8 mask with the holes inside its blobs filled."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros(mask.shape, np.uint8)
    cv2.drawContours(filled, contours, -1, 1, thickness=-1)
    return filled


def _check_mask(mask: np.ndarray) -> None:
    fraction = float(mask.mean())
    if not 0.01 <= fraction <= 0.9:
        raise InvalidInputError(
            f"could not separate the person from the background (silhouette covers {100 * fraction:.0f} % of the image)",
            hint="use a photo of one person in front of a plain background, or a PNG whose transparency marks "
            "the person",
        )


# --- template keypoints -------------------------------------------------------------------------------------

# Heights below the top of the head as fractions of body height (standing adult, anthropometric averages;
# shoulders a little lower than the acromion, where pose detectors put the shoulder keypoint).
_LEVELS = {
    "eye": 0.065, "ear": 0.075, "nose": 0.09, "shoulder": 0.2, "elbow": 0.37, "wrist": 0.515,
    "hip": 0.49, "knee": 0.715, "ankle": 0.955,
}  # fmt: skip


def _run_around(row: np.ndarray, x: float) -> tuple[float, float]:
    """(first, last) column of the run of True pixels in ``row`` that contains (or is nearest to) ``x``."""
    columns = np.flatnonzero(row)
    if not len(columns):
        return x, x
    breaks = np.flatnonzero(np.diff(columns) > 1)
    starts = np.concatenate([[columns[0]], columns[breaks + 1]])
    ends = np.concatenate([columns[breaks], [columns[-1]]])
    distance = np.maximum(starts - x, 0) + np.maximum(x - ends, 0)
    k = int(np.argmin(distance))
    return float(starts[k]), float(ends[k])


def template_keypoints(mask: np.ndarray) -> np.ndarray:
    """Body keypoints of an upright, frontal person fitted to their silhouette.

    Vertical positions follow body proportions within the silhouette's height; horizontal ones follow the
    silhouette (head and torso centre, leg runs, and each arm's farthest point from its shoulder when the arm
    is held away from the body). Toes are left unknown.

    Args:
        mask: (H, W) bool or float silhouette.
    Returns:
        (20, 2) float64 pixels, NaN where unknown.
    """
    mask = np.asarray(mask) > 0.5
    rows = np.flatnonzero(mask.any(axis=1))
    top, bottom = rows[0], rows[-1]
    height = float(bottom - top + 1)

    def level(name: str) -> int:
        return int(round(top + _LEVELS[name] * height))

    def band_centre(y0: float, y1: float) -> float:
        ys, xs = np.nonzero(mask[int(top + y0 * height) : int(top + y1 * height) + 1])
        return float(np.median(xs)) if len(xs) else float(np.median(np.nonzero(mask)[1]))

    head_x = band_centre(0.0, 0.12)
    torso_x = band_centre(0.22, 0.45)
    keypoints = np.full((NUM_KEYPOINTS, 2), np.nan)

    def put(name: str, x: float, y: float) -> None:
        keypoints[KP[name]] = (x, y)

    unit = 0.01 * height
    put("nose", head_x, level("nose"))
    put("right_eye", head_x - 2.2 * unit, level("eye"))
    put("left_eye", head_x + 2.2 * unit, level("eye"))
    put("right_ear", head_x - 4.5 * unit, level("ear"))
    put("left_ear", head_x + 4.5 * unit, level("ear"))

    # Shoulders: 11 % of height either side, pulled in to the torso run at chest height.
    chest_left, chest_right = _run_around(mask[level("shoulder") + int(3 * unit)], torso_x)
    half = min(11.0 * unit, max(torso_x - chest_left, chest_right - torso_x))
    shoulder_y = level("shoulder")
    put("right_shoulder", torso_x - half, shoulder_y)
    put("left_shoulder", torso_x + half, shoulder_y)
    put("neck", torso_x, shoulder_y)

    hip_half = 6.0 * unit
    hip_y = level("hip")
    put("right_hip", torso_x - hip_half, hip_y)
    put("left_hip", torso_x + hip_half, hip_y)

    # Legs: the silhouette's left and right halves near the ankles and knees.
    for side, sign in (("right", -1.0), ("left", 1.0)):
        for joint, default in (("ankle", 7.0), ("knee", 6.5)):
            y = min(level(joint), bottom)
            row = np.flatnonzero(mask[y])
            half_row = row[(row - torso_x) * sign > 0]
            x = float(np.median(half_row)) if len(half_row) else torso_x + sign * default * unit
            put(f"{side}_{joint}", x, y)

    # Arms: the farthest silhouette point from the shoulder, outside the torso band, above the knees.
    ys, xs = np.nonzero(mask[: level("knee")])
    torso_half = max(half, hip_half) + 2.0 * unit
    for side, sign in (("right", -1.0), ("left", 1.0)):
        shoulder = keypoints[KP[f"{side}_shoulder"]]
        outside = (xs - torso_x) * sign > torso_half
        wrist = np.array([shoulder[0] + sign * 2.0 * unit, level("wrist")], dtype=np.float64)
        if outside.sum() > (2.0 * unit) ** 2:
            candidates = np.stack([xs[outside], ys[outside]], axis=1).astype(np.float64)
            distances = np.linalg.norm(candidates - shoulder, axis=1)
            tip = candidates[np.argmax(distances)]
            reach = distances.max()
            if reach > 20.0 * unit:  # an outstretched arm: step back from the fingertips to the wrist
                wrist = tip + (shoulder - tip) * (9.0 * unit / reach)
        elbow = 0.5 * (shoulder + wrist)
        elbow[0] += sign * 1.0 * unit
        put(f"{side}_wrist", *wrist)
        put(f"{side}_elbow", *elbow)
    return keypoints

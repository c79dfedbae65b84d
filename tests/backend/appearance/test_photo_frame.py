"""The photo's own frame: by default a video has the photo's aspect and its whole content (no padding band);
a size of another aspect crops around the person; margins, when the dance needs some, continue the scene
(patch-based inpainting), never mirrored copies; the background plate has nobody left in it."""

from __future__ import annotations

import numpy as np
import pytest

from backend.appearance.inpaint import inpaint
from backend.appearance.perception import analyse_reference, detect_people
from backend.appearance.reference import canvas_placement, remove_person, warp_to_canvas
from backend.appearance.request import RenderOptions, RenderRequest

from .test_perception import PERSON_PHOTOS, PHOTOS, photo

SHAPES = [(435, 215), (302, 430), (512, 512), (600, 512), (3000, 4000), (100, 1900), (64, 64)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("multiple, max_pixels", [(2, None), (16, 1280 * 720)])
def test_the_default_frame_has_the_photos_aspect(shape, multiple, max_pixels):
    h, w = shape
    width, height = RenderOptions().frame_size((h, w, 3), multiple=multiple, max_pixels=max_pixels)
    assert width % multiple == 0 and height % multiple == 0
    # Rounding each side to `multiple` moves the aspect by at most half a step per side.
    assert abs(width / height - w / h) <= (w / h) * (multiple / min(width, height)) + 1e-9
    long_side = max(width, height)
    if max_pixels is None:
        assert RenderOptions.MIN_LONG_SIDE - multiple <= long_side <= RenderOptions.MAX_LONG_SIDE + multiple
    else:
        assert width * height <= max_pixels * 1.05


def test_one_given_side_keeps_the_photos_aspect_and_both_are_kept_as_given():
    options = RenderOptions()
    assert options.frame_size((400, 200, 3), width=300) == (300, 600)
    assert options.frame_size((400, 200, 3), height=300) == (150, 300)
    assert options.frame_size((400, 200, 3), width=64, height=96) == (64, 96)


@pytest.mark.parametrize("seed", range(20))
def test_another_aspect_crops_around_the_person_and_covers_the_canvas(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(200, 900, size=2)
    bw, bh = rng.uniform(0.1, 0.5) * w, rng.uniform(0.2, 0.9) * h
    x0, y0 = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
    width, height = 2 * rng.integers(40, 400, size=2)
    placement = canvas_placement((h, w, 3), width, height, focus=(x0, y0, x0 + bw, y0 + bh))
    corners = placement.apply(np.array([[x0, y0], [x0 + bw, y0 + bh]]))
    assert (corners[0] >= -1).all() and (corners[1] <= np.array([width, height]) + 1).all(), "the person is cropped"
    photo_corners = placement.apply(np.array([[0, 0], [w, h]]))
    covered = (photo_corners[0] <= 1).all() and (photo_corners[1] >= np.array([width, height]) - 1).all()
    person_fits_a_cover = min(width / bw, height / bh) / 1.07 >= max(width / w, height / h)
    if person_fits_a_cover:
        assert covered, "a band of margin although the photo could fill the canvas"


@pytest.mark.parametrize("seed", range(4))
def test_inpainting_copies_texture_instead_of_smearing(seed):
    """A striped wall with a hole: the fill keeps the stripes' contrast (a smooth fill would be grey)."""
    rng = np.random.default_rng(seed)
    period = int(rng.integers(6, 12))
    xs = np.arange(160)
    stripes = np.where((xs // period) % 2 == 0, 40, 210).astype(np.uint8)
    image = np.repeat(np.repeat(stripes[None, :, None], 120, axis=0), 3, axis=2)
    image = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    hole = np.zeros((120, 160), bool)
    y, x = rng.integers(20, 50), rng.integers(30, 90)
    hole[y : y + 50, x : x + 40] = True
    filled = inpaint(image, hole, seed=seed)
    near = np.zeros_like(hole)
    near[max(y - 4, 0) : y + 54, max(x - 4, 0) : x + 44] = True  # the feathered seam
    assert (filled[~near] == image[~near]).all()
    inside = filled[hole][:, 0].astype(float)
    assert inside.std() > 0.6 * image[~hole][:, 0].astype(float).std(), "the hole was smeared flat"


pytestmark_photos = pytest.mark.skipif(not PHOTOS.is_dir(), reason="needs ../shared/data/photos beside the clone")


@pytestmark_photos
@pytest.mark.parametrize("name", [PERSON_PHOTOS[0], *(  # the pose model on each further photo, ~1 s each: slow
    pytest.param(name, marks=pytest.mark.slow) for name in PERSON_PHOTOS[1:])])
def test_the_default_canvas_is_the_whole_photo_without_a_band(name):
    image = photo(name)
    request = RenderRequest(None, image, options=RenderOptions(reference_name=name))
    h, w = image.shape[:2]
    assert abs(request.width / request.height - w / h) < 2.0 / min(request.width, request.height) * (w / h) + 1e-9
    reference = request.canvas_reference()
    # The canvas is the photo scaled (no padding band): compare with the photo resized to the canvas.
    expected = warp_to_canvas(image, canvas_placement(image.shape, request.width, request.height),
                              request.width, request.height)  # fmt: skip
    outside_person = reference.mask < 0.01
    diff = np.abs(reference.image.astype(int) - expected.astype(int)).max(axis=-1)
    assert np.mean(diff[outside_person] <= 2) > 0.99
    for edge in (diff[:, :4], diff[:, -4:], diff[:4], diff[-4:]):
        assert np.median(edge) <= 2, "a band at the canvas's edge"


@pytestmark_photos
@pytest.mark.slow  # the pose model twice per photo, and the inpainting at full size: about 3 s each on 2 cores
@pytest.mark.parametrize("name", PERSON_PHOTOS)
def test_nobody_is_left_in_the_background_plate(name):
    image = photo(name)
    person = analyse_reference(image, name=name)
    plate = remove_person(image, person.mask)
    left = [found for found in detect_people(plate) if found.area > 0.1 * (person.mask > 0.5).sum()]
    assert not left, f"the pose model still finds a person in the plate of {name}"

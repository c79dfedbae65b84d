"""The one reference loader reads photos as people see them: upright, true brightness, clear refusals."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from backend.appearance.reference import load_reference_image, probe_reference_image
from shared.errors import InvalidInputError, TooLargeError


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_as_viewers_do(tmp_path, orientation):
    rng = np.random.default_rng(orientation)
    image = Image.fromarray(rng.integers(0, 256, (70, 100, 3), dtype=np.uint8))
    exif = image.getexif()
    exif[0x0112] = orientation
    path = tmp_path / "phone.png"
    image.save(path, exif=exif)
    upright = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    loaded = load_reference_image(path).rgb
    assert np.array_equal(loaded, upright)
    assert probe_reference_image(path, 10**6) == (upright.shape[1], upright.shape[0])


@pytest.mark.parametrize("value", [1000, 30000, 65535])
def test_16_bit_photos_keep_their_brightness(tmp_path, value):
    path = tmp_path / "deep.png"
    gray = np.full((80, 80), value, np.uint16)
    gray[0, 0] = value // 2  # not a flat image: its own maximum is `value`, not 65535
    cv2.imwrite(str(path), np.dstack([gray] * 3))
    loaded = load_reference_image(path).rgb
    assert loaded[40, 40].tolist() == [round(value * 255 / 65535)] * 3


def test_gif_is_refused_with_one_clear_message(tmp_path):
    path = tmp_path / "dance.gif"
    Image.fromarray(np.zeros((80, 80, 3), np.uint8)).save(path)
    with pytest.raises(InvalidInputError, match="GIF image; a reference photo cannot be GIF") as caught:
        load_reference_image(path)
    assert "PNG, JPEG or WebP" in caught.value.hint


def test_pixel_bombs_are_refused_from_the_header(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("L", (4000, 3000)).save(path, optimize=True)
    with pytest.raises(TooLargeError, match="4000x3000 pixels"):
        load_reference_image(path, max_pixels=10**6)

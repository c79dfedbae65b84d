"""Reference-photo perception on real photos (../shared/data/photos): joints against hand-placed ones, the
person's mask, several people, people cut off by the frame, and refusing a photo with nobody in it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from backend.appearance.perception import NoPersonError, analyse_reference, detect_people
from backend.appearance.keypoints import KP
from backend.appearance.reference import load_reference_image
from backend.cli import main
from shared.errors import InvalidInputError
from shared.motion_io import save_motion

ROOT = Path(__file__).resolve().parents[3]
PHOTOS = Path(os.environ.get("MACE_SHARED_DATA", ROOT.parent / "shared" / "data")) / "photos"
FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "photo_keypoints.json").read_text())
PERSON_PHOTOS = sorted(FIXTURE["photos"])
#: Toes: BlazePose marks the tip of the index toe; on a boot the hand-placed point is the boot's tip, further
#: out, so toes get twice the body joints' tolerance.
TOES = ("left_toe", "right_toe")

pytestmark = pytest.mark.skipif(not PHOTOS.is_dir(), reason="needs ../shared/data/photos beside the clone")


def photo(name: str) -> np.ndarray:
    return load_reference_image(PHOTOS / name).rgb


@pytest.mark.parametrize("name", PERSON_PHOTOS)
def test_detected_joints_match_the_hand_placed_ones(name):
    spec = FIXTURE["photos"][name]
    person = analyse_reference(photo(name), name=name)
    assert person.source == "detected" and person.people == 1
    checked = 0
    for joint, point in spec["keypoints"].items():
        if point is None:
            continue
        tolerance = (0.10 if joint in TOES else 0.05) * spec["person_height_px"]
        error = float(np.linalg.norm(person.keypoints[KP[joint]] - point))
        assert error <= tolerance, f"{name}: {joint} is {error:.1f} px from the hand-placed point (> {tolerance:.1f})"
        checked += 1
    assert checked >= 8


@pytest.mark.parametrize("name", PERSON_PHOTOS)
def test_the_3d_keypoints_are_kept_in_metres_and_agree_with_the_2d_ones(name):
    person = analyse_reference(photo(name), name=name)
    world = person.world
    assert world is not None and world.shape == (20, 3) and np.isfinite(world).all()
    # A person's shoulders are 0.25-0.5 m apart; the world points are in metres, not pixels.
    shoulders = np.linalg.norm(world[KP["left_shoulder"]] - world[KP["right_shoulder"]])
    assert 0.2 < shoulders < 0.6, f"{name}: shoulders {shoulders:.2f} m apart"
    # Seen the same way up and the same way round: the image-plane part of each body segment points the way the
    # 2D segment does (weak perspective), for the torso and the upper limbs the photo shows.
    seen = (person.keypoints[:, 0] >= 0) & np.isfinite(person.keypoints).all(axis=1)
    for a, b in (("neck", "left_hip"), ("neck", "right_hip"), ("right_shoulder", "left_shoulder"),
                 ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow")):
        if not (seen[KP[a]] and seen[KP[b]]):
            continue
        flat = person.keypoints[KP[b]] - person.keypoints[KP[a]]
        deep = world[KP[b], :2] - world[KP[a], :2]
        cosine = flat @ deep / max(np.linalg.norm(flat) * np.linalg.norm(deep), 1e-9)
        assert cosine > 0.7, f"{name}: {a}->{b} points another way in 3D (cos {cosine:.2f})"


@pytest.mark.parametrize("name", PERSON_PHOTOS)
def test_the_mask_covers_the_person_and_not_the_scene(name):
    spec = FIXTURE["photos"][name]
    image = photo(name)
    mask = analyse_reference(image, name=name).mask > 0.5
    on_body = [point for joint, point in spec["keypoints"].items() if point is not None and joint not in TOES
               and "ear" not in joint]  # fmt: skip
    inside = [mask[int(y), int(x)] for x, y in on_body]
    assert np.mean(inside) >= 0.9, f"{name}: only {np.mean(inside):.0%} of the hand-placed joints are on the mask"
    # The corners of each photo are scene, not person.
    corners = mask[:10, :10], mask[:10, -10:]
    assert max(float(c.mean()) for c in corners) < 0.05
    assert 0.05 < mask.mean() < 0.6


@pytest.mark.parametrize("name", PERSON_PHOTOS)
def test_cut_off_parts_are_reported(name):
    spec = FIXTURE["photos"][name]
    person = analyse_reference(photo(name), name=name)
    assert list(person.cut_off) == spec["cut_off"]
    if spec["cut_off"]:
        assert any("cut off by the frame" in note and "full-body photo" in note for note in person.notes)


def test_a_photo_cut_at_the_knees_or_the_forehead_says_so():
    full = photo("basketball_man.png")
    legless = analyse_reference(full[:300].copy(), name="legless.png")  # cut through the thighs
    assert legless.cut_off == ("legs",)
    assert any("legs are cut off by the frame of legless.png" in note for note in legless.notes)
    assert analyse_reference(full[50:].copy(), name="forehead.png").cut_off == ("head",)
    assert analyse_reference(full[45:].copy(), name="hair.png").cut_off == ()  # only hair touches the edge


def test_without_the_detector_photos_are_refused_with_the_install_command(monkeypatch):
    from backend.appearance import perception

    def missing(cls):
        raise InvalidInputError("the person detector (mediapipe 0.10.21) is not installed",
                                hint=perception.MEDIAPIPE_INSTALL)  # fmt: skip

    monkeypatch.setattr(perception.PoseDetector, "shared", classmethod(missing))
    with pytest.raises(InvalidInputError, match="not installed") as info:
        analyse_reference(photo("messi.png"), name="messi.png")
    assert "pip install --no-deps" in info.value.hint
    # A drawing on a plain background is still read, by the guessing path, which says so.
    guessed = analyse_reference(load_reference_image(ROOT / "examples" / "reference.png").rgb, name="reference.png")
    assert guessed.source == "guessed"


def test_the_cat_is_refused():
    with pytest.raises(NoPersonError, match="no person found in cat_chelsea.png") as info:
        analyse_reference(photo("cat_chelsea.png"), name="cat_chelsea.png")
    assert info.value.exit_code == 3 and "photo of one person" in info.value.hint


def two_people() -> np.ndarray:
    """The basketball player twice, the second smaller, side by side on his own wall."""
    first = photo("basketball_man.png")
    second = cv2.resize(first, (int(first.shape[1] * 0.8), int(first.shape[0] * 0.8)), interpolation=cv2.INTER_AREA)
    canvas = cv2.resize(first[:40, :40], (470, first.shape[0]))
    canvas[:, : first.shape[1]] = first
    canvas[-second.shape[0] :, -second.shape[1] :] = second
    return canvas


def test_several_people_are_found_and_the_largest_is_used():
    image = two_people()
    people = detect_people(image)
    assert len(people) == 2
    assert people[0].centre()[0] < 215 < people[1].centre()[0]  # largest first: the full-size one on the left
    largest = analyse_reference(image, name="two.png")
    assert largest.people == 2 and largest.index == 1
    assert any("2 people found in two.png" in note and "--person" in note for note in largest.notes)
    other = analyse_reference(image, person=2, name="two.png")
    assert np.nanmean(other.keypoints[:, 0]) > 215
    with pytest.raises(InvalidInputError, match="asked for person 3"):
        analyse_reference(image, person=3, name="two.png")


def test_a_drawn_character_on_a_plain_background_still_works():
    # The example character is read by the detector; one the detector cannot read (here: a blob of colour
    # with transparency) falls back to the silhouette and says it guessed.
    person = analyse_reference(load_reference_image(ROOT / "examples" / "reference.png").rgb, name="reference.png")
    assert person.source == "detected"
    image = np.full((200, 120, 3), 240, np.uint8)
    alpha = np.zeros((200, 120), np.uint8)
    cv2.ellipse(alpha, (60, 100), (25, 90), 0, 0, 360, 255, -1)
    image[alpha > 0] = (30, 120, 200)
    guessed = analyse_reference(image, alpha=alpha, name="blob.png")
    assert guessed.source == "guessed" and any("guessed" in note for note in guessed.notes)


def test_render_cli_exits_3_on_the_cat(tmp_path, make_dance, capsys):
    motion = save_motion(make_dance(5), tmp_path / "dance.npz")
    out = tmp_path / "cat.mp4"
    code = main(["render", str(motion), "--reference", str(PHOTOS / "cat_chelsea.png"), "-o", str(out),
                 "--renderer", "puppet", "--width", "64", "--height", "96"])  # fmt: skip
    assert code == 3
    err = capsys.readouterr().err
    assert "no person found in cat_chelsea.png" in err and "photo of one person" in err
    assert not out.exists()

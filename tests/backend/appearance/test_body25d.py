"""The 2.5-D body (backend/appearance/body25d.py) on a drawn hard case the test builds: a person whose right
forearm crosses in front of the shirt and whose left hand holds a green ball. No pose model: the keypoints and
their 3D points are the drawing's own, so these tests are cheap and exact."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from backend.appearance.body25d import (BodyAnimation, PhotoBody, facing_limited, limb_stretch, photo_joints,
                                        photo_rotations, rasterise, to_metres)
from backend.appearance.keypoints import KP, NUM_KEYPOINTS
from backend.appearance.perception import analyse_reference
from backend.appearance.puppet import BODIES, RIG_INDEX, PuppetOptions, default_body
from backend.appearance.reference import load_reference_image
from shared.errors import InvalidInputError
from shared.kinematics import global_rotations
from shared.motion import Motion
from shared.skeleton import JOINT_INDEX, PARENTS, Skeleton

from .conftest import BACKGROUND, PANTS, SHIRT, SHOE, SKIN, dance_motion
from .test_perception import PERSON_PHOTOS, PHOTOS, photo

REPO = Path(__file__).resolve().parents[3]
BALL = (40, 200, 60)
WIDTH, HEIGHT = 180, 240
#: The drawing's keypoints in units of 1 % of the height, x from the centre line (the person's right is the
#: viewer's left).
POINTS = {
    "nose": (0, 12), "right_eye": (-2, 9.5), "left_eye": (2, 9.5), "right_ear": (-5, 11), "left_ear": (5, 11),
    "neck": (0, 22.5), "right_shoulder": (-10, 23), "left_shoulder": (10, 23), "right_elbow": (-15, 40),
    "left_elbow": (20, 36), "right_wrist": (5, 38), "left_wrist": (26, 46), "right_hip": (-5, 55),
    "left_hip": (5, 55), "right_knee": (-5, 74), "left_knee": (5, 74), "right_ankle": (-6, 92),
    "left_ankle": (6, 92), "right_toe": (-8, 95), "left_toe": (8, 95),
}  # fmt: skip
#: Metres towards the camera of the points nearer than the body's plane: the crossing forearm.
NEARER = {"right_wrist": 0.25, "right_elbow": 0.08}


def at(x: float, y: float) -> tuple[int, int]:
    unit = HEIGHT / 100.0
    return int(round(WIDTH / 2 + x * unit)), int(round(y * unit))


def crossed_arm_person() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image, keypoints (20, 2) pixels, world (20, 3) metres as the pose model gives them)."""
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    image[:] = BACKGROUND
    thick = max(int(3.2 * HEIGHT / 100), 2)
    for side in (-1, 1):
        cv2.line(image, at(5 * side, 55), at(6 * side, 92), PANTS, thick + 2)
        cv2.line(image, at(6 * side, 92), at(8 * side, 95), SHOE, thick)
    cv2.fillConvexPoly(image, np.array([at(-10, 22), at(10, 22), at(9, 57), at(-9, 57)]), SHIRT)
    cv2.line(image, at(0, 16), at(0, 23), SKIN, thick)
    cv2.ellipse(image, at(0, 11), (int(5 * HEIGHT / 100), int(6.5 * HEIGHT / 100)), 0, 0, 360, SKIN, -1)
    cv2.line(image, at(10, 23), at(20, 36), SHIRT, thick)  # left arm, held out, holding the ball
    cv2.line(image, at(20, 36), at(26, 46), SKIN, thick)
    cv2.circle(image, at(31, 52), int(5 * HEIGHT / 100), BALL, -1)
    cv2.circle(image, at(27, 48), int(2.2 * HEIGHT / 100), SKIN, -1)
    cv2.line(image, at(-10, 23), at(-15, 40), SHIRT, thick)  # right arm: down, then across the shirt
    cv2.line(image, at(-15, 40), at(5, 38), SKIN, thick)
    keypoints = np.array([at(*POINTS[name]) for name in POINTS], np.float64)
    order = [list(POINTS).index(name) for name in
             ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
              "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
              "right_eye", "left_eye", "right_ear", "left_ear", "left_toe", "right_toe")]  # fmt: skip
    keypoints = keypoints[order]
    assert keypoints.shape == (NUM_KEYPOINTS, 2) and np.allclose(keypoints[KP["left_wrist"]], at(26, 46))
    pelvis = 0.5 * (keypoints[KP["left_hip"]] + keypoints[KP["right_hip"]])
    world = np.zeros((NUM_KEYPOINTS, 3))
    world[:, :2] = (keypoints - pelvis) / HEIGHT * 1.7  # a 1.7 m person, metres
    for name, nearer in NEARER.items():
        world[KP[name], 2] = -nearer  # the pose model's z grows away from the camera
    return image, keypoints, world


def canvas_reference(image, keypoints, world):
    """What :meth:`RenderRequest.canvas_reference` hands a renderer, for the drawing as it is."""
    mask = (np.abs(image.astype(int) - BACKGROUND).sum(axis=2) > 30).astype(np.float32)
    background = np.empty_like(image)
    background[:] = BACKGROUND
    person = SimpleNamespace(source="given", cut_off=(), world=world)
    return SimpleNamespace(image=image, mask=mask, keypoints=keypoints, background=background, person=person)


def arms_down(frames: int = 30) -> Motion:
    poses = np.zeros((frames, 24, 3), np.float32)
    poses[:, JOINT_INDEX["left_shoulder"], 2] = -1.2
    poses[:, JOINT_INDEX["right_shoulder"], 2] = 1.2
    return Motion(poses, np.tile([0.0, 0.95, 0.0], (frames, 1)).astype(np.float32), 30.0)


@pytest.fixture(scope="module")
def lifted():
    image, keypoints, world = crossed_arm_person()
    body = PhotoBody(canvas_reference(image, keypoints, world))
    return image, body, BodyAnimation.from_motion(arms_down(), body, wake_up_s=0.3)


def colour_distance(pixels, colour) -> np.ndarray:
    return np.linalg.norm(np.asarray(pixels, float) - colour, axis=-1)


def test_the_first_frame_is_the_drawing_rendered_from_the_lifted_body(lifted):
    image, body, animation = lifted
    frame = animation.frame(body, 0)
    person = body.soft_mask > 0.5
    inside = cv2.erode(person.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0  # the outline is anti-aliased
    for where, floor in ((person, 25.0), (inside, 32.0)):
        error = (frame.astype(float) - image.astype(float))[where]
        psnr = 10 * np.log10(255.0**2 / max(float(np.mean(error**2)), 1e-9))
        assert psnr >= floor, f"frame 0 is {psnr:.1f} dB from the drawing (< {floor})"


def test_the_crossing_forearm_is_the_arms_and_the_shirt_under_it_is_filled(lifted):
    image, body, _ = lifted
    layers = {layer.part: layer for layer in body.layers}
    torso, right_arm = layers[0], layers[2]
    forearm = np.zeros(image.shape[:2], np.uint8)
    cv2.line(forearm, at(-8, 39.6), at(4, 38.2), 1, 2)  # the forearm's middle, over the shirt
    forearm = forearm > 0
    assert right_arm.visible[forearm].mean() > 0.9  # arm pixels in front, not torso shards
    under = forearm & torso.mask & ~torso.visible
    assert under.sum() >= 0.8 * forearm.sum()  # the shirt exists under the forearm...
    assert np.median(colour_distance(torso.texture[under], SHIRT)) < 40  # ... in the shirt's colour
    assert (torso.depth[under] < right_arm.depth[under]).all()  # behind the arm


def test_when_the_arm_drops_the_shirt_shows_where_it_was_and_the_body_is_one_piece(lifted):
    image, body, animation = lifted
    frame = animation.frame(body, len(animation) - 1)
    strip = np.zeros(image.shape[:2], np.uint8)
    cv2.line(strip, at(-6, 39.4), at(3, 38.3), 1, 1)
    shown = frame[strip > 0]
    assert np.median(colour_distance(shown, SHIRT)) < 40, "the shirt under the forearm is not filled"
    assert (colour_distance(shown, BACKGROUND) > 60).all(), "background shows through the body"
    person = (colour_distance(frame, BACKGROUND) > 30).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(person, connectivity=8)
    assert stats[1:, cv2.CC_STAT_AREA].max() >= 0.97 * person.sum()


def test_the_held_ball_moves_with_its_hand_as_one_piece(lifted):
    image, body, animation = lifted
    before = colour_distance(image, BALL) < 40
    for index in (len(animation) // 2, len(animation) - 1):
        frame = animation.frame(body, index)
        ball = (colour_distance(frame, BALL) < 40).astype(np.uint8)
        count, _, stats, centroids = cv2.connectedComponentsWithStats(ball, connectivity=8)
        assert count == 2, f"frame {index}: the ball is in {count - 1} pieces"
        assert 0.8 * before.sum() <= ball.sum() <= 1.2 * before.sum()  # rigid: its size kept
        wrist = animation.posed_rig(body, index)[RIG_INDEX["left_wrist"]]
        reach = np.linalg.norm(body.rig[RIG_INDEX["left_wrist"]] - np.argwhere(before).mean(axis=0)[::-1])
        assert np.linalg.norm(centroids[1] - wrist) <= 1.3 * reach, "the ball left the hand"
    moved = np.argwhere(ball).mean(axis=0) - np.argwhere(before).mean(axis=0)
    assert np.linalg.norm(moved) > 5  # it really moved with the arm


def test_the_wrists_follow_the_motion_and_frame_zero_is_the_photos_pose(lifted):
    image, body, animation = lifted
    np.testing.assert_allclose(animation.posed_rig(body, 0), body.rig, atol=1e-6)
    last = animation.posed_rig(body, len(animation) - 1)
    for side in ("left", "right"):
        shoulder, wrist = last[RIG_INDEX[f"{side}_shoulder"]], last[RIG_INDEX[f"{side}_wrist"]]
        assert wrist[1] - shoulder[1] > 0.8 * np.linalg.norm(wrist - shoulder)  # hanging down, as the motion's


def test_a_spin_turns_the_body_at_most_the_limit_and_smoothly():
    frames = 120
    poses = np.zeros((frames, 24, 3))
    poses[:, 0, 1] = np.linspace(0, 2 * np.pi, frames)  # a whole turn about the vertical
    limited = facing_limited(global_rotations(poses), max_turn_deg=35.0)
    forward = limited[:, 0] @ np.array([0.0, 0.0, 1.0])
    yaw = np.rad2deg(np.arctan2(forward[:, 0], forward[:, 2]))
    assert np.abs(yaw).max() <= 35.0 + 1e-6 and np.abs(yaw).max() > 34.0
    assert np.abs(np.diff(yaw)).max() < 5.0  # no jump when the dancer passes facing away
    np.testing.assert_allclose(limited[:, 5], limited[:, 0] @ global_rotations(poses)[:, 0].transpose(0, 2, 1)
                               @ global_rotations(poses)[:, 5], atol=1e-9)  # limbs keep their pose to the body


def test_the_nearer_triangle_wins_whatever_the_drawing_order():
    near = np.array([[2, 2, 5.0], [18, 2, 5.0], [2, 18, 5.0]])
    far = np.array([[2, 2, 1.0], [18, 2, 1.0], [18, 18, 1.0]])
    for order in ((0, 1), (1, 0)):
        vertices = np.concatenate([near, far])
        triangles = np.array([[0, 1, 2], [3, 4, 5]])[list(order)]
        depth, _, _, ids = rasterise(vertices, triangles, (20, 20))
        assert depth[4, 4] == 5.0 and depth[4, 17] == 1.0 and depth[19, 19] == -np.inf
        assert ids[4, 4] == (0 if order == (0, 1) else 1)


def test_without_3d_points_the_body_is_flat_and_sized_by_the_torso():
    _, keypoints, _ = crossed_arm_person()
    joints, scale = photo_joints(keypoints, None)
    assert (joints[:, 2] == 0).all()
    torso = np.linalg.norm(joints[JOINT_INDEX["neck"], :2] - joints[JOINT_INDEX["pelvis"], :2])
    assert scale == pytest.approx(torso / 0.5)
    bad = keypoints.copy()
    bad[KP["left_elbow"]] = np.nan
    with pytest.raises(InvalidInputError, match="miss"):
        photo_joints(bad, None)


def test_the_body_option_is_checked():
    assert BODIES == ("2d", "2.5d") and PuppetOptions(body="2.5d").body == "2.5d" and PuppetOptions().body is None
    with pytest.raises(InvalidInputError, match="body must be one of"):
        PuppetOptions(body="3d")


def test_the_default_body_is_the_2_5d_one_for_photos_and_the_puppet_for_drawings():
    image, keypoints, world = crossed_arm_person()
    reference = canvas_reference(image, keypoints, world)
    for source in ("detected", "given", "guessed"):  # a drawing, whoever placed its joints
        assert default_body(image, SimpleNamespace(source=source, mask=reference.mask)) == "2d"
    demo = load_reference_image(REPO / "examples" / "reference.png").rgb  # the demo's drawn character
    assert default_body(demo, analyse_reference(demo, name="reference.png")) == "2d"
    if PHOTOS.is_dir():
        for name in PERSON_PHOTOS:
            person = analyse_reference(photo(name), name=name)
            assert default_body(photo(name), person) == "2.5d", name
            assert default_body(photo(name), replace(person, source="given")) == "2d", name  # no 3D points


#: Limb bones by the joint they end at, and the joint they start from.
LIMB_BONES = {f"{side}_{end}": f"{side}_{start}" for side in ("left", "right")
              for start, end in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))}


@pytest.mark.skipif(not PHOTOS.is_dir(), reason="needs ../shared/data/photos beside the clone")
@pytest.mark.parametrize("name", PERSON_PHOTOS)
def test_on_real_photos_the_dancing_limbs_have_the_bodys_proportions(name):
    """The pose model's depth makes a limb seen end-on unreliably long (the astronaut's right arm came out a
    third longer than the body allows, and the dance lowered its wrist out of the waist-up frame). Once
    dancing, every limb bone is within a quarter of the template's proportion for it, scaled by the person's
    shoulder width; frame 0 is still the photo's pose; and a waist-up photo's hands stay in its frame (the stage
    fit cannot make room for them: the cut stays on the frame's edge), clear of its edges."""
    person = analyse_reference(photo(name), name=name)
    joints, scale = photo_joints(person.keypoints, person.world)
    body = SimpleNamespace(joints=joints, scale=scale, cut_off=person.cut_off, limb_stretch=limb_stretch(joints),
                           photo_rotations=photo_rotations(to_metres(joints, scale)), soft_mask=person.mask,
                           pinned="legs" in person.cut_off)  # fmt: skip
    animation = BodyAnimation.from_motion(dance_motion(90), body, wake_up_s=0.3)
    assert np.allclose(animation.joints[0], joints, atol=1e-6)
    rest = Skeleton.default().rest_positions()
    shoulders = np.linalg.norm(person.world[KP["left_shoulder"]] - person.world[KP["right_shoulder"]]) * scale
    size = shoulders / np.linalg.norm(rest[JOINT_INDEX["left_shoulder"]] - rest[JOINT_INDEX["right_shoulder"]])
    frozen = {"legs": ("hip", "knee", "ankle"), "arms": ("elbow", "wrist")}
    for end, start in LIMB_BONES.items():
        if any(part in end for cut in person.cut_off for part in frozen.get(cut, ())):
            continue  # a part the frame cuts off keeps the photo's pose
        proportional = size * np.linalg.norm(rest[JOINT_INDEX[end]] - rest[JOINT_INDEX[start]])
        dancing = np.linalg.norm(animation.joints[10:, JOINT_INDEX[end]] - animation.joints[10:, JOINT_INDEX[start]],
                                 axis=1)  # fmt: skip
        assert 0.75 < dancing.min() / proportional and dancing.max() / proportional < 1.25, \
            f"{name}: the {end}'s bone is {dancing.max() / proportional:.2f} of its proportional length"
    if body.pinned and "arms" not in person.cut_off:
        height, width = person.mask.shape
        hands = animation.joints[animation.wake_frames:, [JOINT_INDEX["left_hand"], JOINT_INDEX["right_hand"]], :2]
        clear = 0.02 * min(height, width)  # half the margin the renderer keeps
        assert hands.min() > clear and (hands[..., 0].max() < width - clear) and hands[..., 1].max() < height - clear, \
            f"{name}: the dance takes a hand of the waist-up body to the frame's edge"


@pytest.mark.slow  # ~5 s: the pose model loads to count the people, and the plate and the re-placed margins are inpainted
def test_a_travelling_dance_builds_the_body_once_where_the_stage_fit_places_it(monkeypatch):
    """The stage fit needs only the fitted pose; the textured body (its hidden-part fills: most of its cost) is
    built once, on the re-placed canvas, not once for the photo's placement and again for the new one."""
    from backend.appearance import body25d
    from backend.appearance.puppet import PuppetRenderer
    from backend.appearance.request import RenderOptions, RenderRequest

    image, keypoints, _ = crossed_arm_person()
    alpha = (np.abs(image.astype(int) - BACKGROUND).sum(axis=2) > 30).astype(np.uint8) * 255
    motion = arms_down(24)
    motion.trans[:, 0] = np.linspace(-1.5, 1.5, motion.num_frames)  # sideways across the stage
    request = RenderRequest(motion, image, width=WIDTH, height=HEIGHT,
                            options=RenderOptions(reference_keypoints=keypoints, reference_alpha=alpha),
                            renderer_options=PuppetOptions(body="2.5d"))  # fmt: skip
    built, parts = [], body25d.body_parts

    def counted(*args):
        built.append(args[0].shape)
        return parts(*args)

    monkeypatch.setattr(body25d, "body_parts", counted)
    body, animation = PuppetRenderer().prepare(request)
    assert isinstance(body, PhotoBody) and len(built) == 1
    zoom, shift = animation.stage_fit(body, request.width, request.height)
    assert zoom > 0.99 and max(map(abs, shift)) < 1.0  # built where the dance stays in shot: nothing to re-place
    assert not np.array_equal(body.keypoints, keypoints)  # ...which is not the photo's own placement


def test_arms_the_frame_cuts_off_keep_the_photos_pose_while_the_waist_up_body_dances():
    """A waist-up frame that also cuts the arms off (Grace Hopper's portrait): the arms stay as the photo has
    them, outside the frame, rather than being swung into it to keep their hands in shot."""
    image, keypoints, world = crossed_arm_person()
    joints, scale = photo_joints(keypoints, world)
    hands = [JOINT_INDEX["left_hand"], JOINT_INDEX["right_hand"]]
    canvas = np.zeros((int(joints[hands, 1].min()) - 4, WIDTH), np.float32)  # the frame ends above both hands
    body = SimpleNamespace(joints=joints, scale=scale, cut_off=("legs", "arms"), limb_stretch=limb_stretch(joints),
                           photo_rotations=photo_rotations(to_metres(joints, scale)), soft_mask=canvas,
                           pinned=True)  # fmt: skip
    animation = BodyAnimation.from_motion(dance_motion(60), body, wake_up_s=0.3)
    arms = [JOINT_INDEX[n] for side in ("left", "right") for n in (f"{side}_elbow", f"{side}_wrist", f"{side}_hand")]
    bones = animation.joints[:, arms] - animation.joints[:, PARENTS[arms]]  # they hang off the dancing shoulders
    assert np.abs(bones - (joints[arms] - joints[PARENTS[arms]])).max() < 1e-6
    assert np.abs(animation.joints[:, JOINT_INDEX["head"]] - joints[JOINT_INDEX["head"]]).max() > 1.0  # it dances

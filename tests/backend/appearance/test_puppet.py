"""The CPU default renderer: silhouette, template rig, puppet deformation, and the finished mp4."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from backend.appearance import RenderOptions, RenderRequest, parse_render_options, select_renderer
from backend.appearance.keypoints import KP
from backend.appearance.puppet import RIG_INDEX, Puppet, PuppetAnimation, PuppetOptions, PuppetRenderer
from backend.appearance.reference import (
    load_keypoints_json,
    load_reference_image,
    segment_person,
    template_keypoints,
)
from backend.appearance.video_io import probe, read_frames
from backend.config import BackendConfig
from backend.progress import JobContext
from shared.errors import InvalidInputError, JobCancelledError



AAC_FRAME_S = 1024 / 48000


BACKGROUND = (235, 235, 225)  # draw_person's background


def person_mask(image: np.ndarray) -> np.ndarray:
    return (np.abs(image.astype(int) - BACKGROUND).sum(axis=-1) > 30)


def test_silhouette_matches_the_drawn_person(make_person):
    image = make_person(200, 320)
    found = segment_person(image) > 0.5
    truth = person_mask(image)
    iou = (found & truth).sum() / (found | truth).sum()
    assert iou > 0.9


def test_silhouette_on_a_wall_with_a_gradient_a_floor_and_noise(make_person):
    image = make_person(240, 400)
    background = (np.abs(image.astype(int) - BACKGROUND).sum(axis=-1) <= 30)
    height, width = background.shape
    ys, xs = np.mgrid[0:height, 0:width]
    wall = np.stack([120 + 60 * ys / height, 140 + 40 * xs / width, 160 - 50 * ys / height], axis=-1)
    wall[int(0.8 * height):] = (90, 80, 70)  # a floor meeting both sides of the frame
    wall += np.random.default_rng(0).normal(0, 8, wall.shape)
    image[background] = np.clip(wall[background], 0, 255).astype(np.uint8)
    found, truth = segment_person(image) > 0.5, ~background
    assert (found & truth).sum() / (found | truth).sum() > 0.9


def test_silhouette_from_alpha_and_a_clear_error_without_a_person(make_person):
    image = make_person(200, 320)
    alpha = (person_mask(image) * 255).astype(np.uint8)
    np.testing.assert_array_equal(segment_person(image, alpha) > 0.5, person_mask(image))
    with pytest.raises(InvalidInputError, match="background"):
        segment_person(np.full((320, 200, 3), 128, np.uint8))


def test_template_keypoints_land_on_the_drawn_joints(make_person):
    height = 400
    image = make_person(250, height)
    keypoints = template_keypoints(segment_person(image) > 0.5)
    unit, cx = height / 100.0, 125.0
    drawn = {  # where draw_person puts them (x from the centre, y from the top, in body units)
        "right_ankle": (-6, 92), "left_ankle": (6, 92), "right_shoulder": (-10, 23), "left_shoulder": (10, 23),
        "right_wrist": (-26, 46), "left_wrist": (26, 46), "nose": (0, 11),
    }  # fmt: skip
    for name, (x, y) in drawn.items():
        error = np.linalg.norm(keypoints[KP[name]] - (cx + x * unit, y * unit)) / height
        assert error < 0.06, name


def test_puppet_follows_its_rig_and_draws_the_person(make_person, make_dance):
    image = make_person(64, 96)
    puppet = Puppet.from_photo(image)
    rest_targets = puppet.mesh.vertices[puppet.mesh.handles]
    # Undeformed, the puppet redraws the photo (edges are soft, so compare inside the body only).
    frame = puppet.draw(puppet.deformer.deform(rest_targets), np.zeros(14))
    inside = cv2.erode(person_mask(image).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert np.abs(frame[inside].astype(int) - image[inside].astype(int)).mean() < 4
    # Raise the left wrist above the head: the sleeve/skin colour appears up there, not where the arm was.
    posed = puppet.rig.copy()
    shoulder = posed[RIG_INDEX["left_shoulder"]]
    posed[RIG_INDEX["left_elbow"]] = shoulder + [5, -6]
    posed[RIG_INDEX["left_wrist"]] = shoulder + [7, -15]
    frame = puppet.draw(puppet.deformer.deform(puppet.handle_targets(posed)), np.zeros(14))
    wrist_before = np.round(puppet.rig[RIG_INDEX["left_wrist"]]).astype(int)
    wrist_after = np.round(posed[RIG_INDEX["left_wrist"]]).astype(int)
    differs = lambda p: np.abs(frame[p[1], p[0]].astype(int) - BACKGROUND).sum() > 60  # noqa: E731
    assert differs(wrist_after) and not differs(wrist_before)


def test_default_renderer_makes_an_mp4_matching_motion_and_music(tmp_path, make_person, make_dance, make_music):
    motion = make_dance(20, fps=30.0)
    music = make_music(tmp_path / "music.wav", 2.0)
    request = RenderRequest(motion, make_person(64, 96), audio_path=music, width=64, height=96,
                            out_path=tmp_path / "dance.mp4", options=RenderOptions(pose_video=True, side_by_side=True))  # fmt: skip
    reports = []
    result = select_renderer(BackendConfig(home=tmp_path / "empty")).render(
        request, JobContext(report=lambda f, m="": reports.append(f))
    )
    assert result.renderer == "puppet"
    info = probe(result.path)  # what a player sees, not what the writer claims
    assert (info.frames, info.width, info.height) == (motion.num_frames, 64, 96)
    assert info.fps == pytest.approx(motion.fps)
    assert info.audio_duration_s == pytest.approx(motion.duration, abs=AAC_FRAME_S + 1e-3)
    assert probe(result.pose_video_path).frames == 20 and probe(result.side_by_side_path).width == 128
    assert reports[-1] == pytest.approx(1.0) and all(a <= b for a, b in zip(reports, reports[1:]))


@pytest.mark.slow  # a puppet render (the person found, the plate inpainted)
def test_output_fps_resamples_the_motion(tmp_path, make_person, make_dance):
    request = RenderRequest(make_dance(30, fps=30.0), make_person(128, 192), width=64, height=96, fps=15.0,
                            out_path=tmp_path / "half.mp4")  # fmt: skip
    result = PuppetRenderer().render(request)
    info = probe(result.path)
    assert info.frames == 15 and info.fps == pytest.approx(15.0) and result.frames == 15


def test_user_keypoints_drive_the_rig(tmp_path, make_person, make_dance):
    image = make_person(64, 96)
    keypoints = template_keypoints(segment_person(image) > 0.5)
    path = tmp_path / "keypoints.json"
    names = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
             "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle")  # fmt: skip
    path.write_text(json.dumps({name: keypoints[KP[name]].tolist() for name in names}))
    loaded = load_keypoints_json(path)
    reference = RenderRequest(make_dance(3), image, width=64, height=96,
                              options=RenderOptions(reference_keypoints=loaded)).canvas_reference()  # fmt: skip
    puppet, placement = Puppet(reference), reference.placement
    assert puppet.keypoints_source == "given"
    np.testing.assert_allclose(puppet.rig[RIG_INDEX["left_wrist"]], placement.apply(keypoints[KP["left_wrist"]]))
    animation = PuppetAnimation.from_motion(make_dance(3), puppet)
    assert animation.frame(puppet, 2).shape == (96, 64, 3)


@pytest.mark.slow  # prepares a whole puppet render before it cancels
def test_cancelling_stops_the_render_and_leaves_no_file(tmp_path, make_person, make_dance):
    request = RenderRequest(make_dance(20), make_person(128, 192), width=64, height=96, out_path=tmp_path / "x.mp4")
    calls = []
    ctx = JobContext(report=lambda f, m="": calls.append(f), is_cancelled=lambda: len(calls) > 3)
    with pytest.raises(JobCancelledError):
        PuppetRenderer().render(request, ctx)
    assert not any(p.suffix == ".mp4" or p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_bad_inputs_are_errors_not_crashes(tmp_path, make_person, make_dance):
    image = make_person(128, 192)
    with pytest.raises(InvalidInputError, match="too small"):
        RenderRequest(make_dance(5), image[:40, :40].copy(), width=64, height=96).validate()
    motion = make_dance(5)
    motion.poses[2, 3, 0] = np.nan  # broken after construction, e.g. by an edit
    with pytest.raises(InvalidInputError, match="NaN"):
        RenderRequest(motion, image, width=64, height=96).validate()
    with pytest.raises(InvalidInputError, match="even"):
        RenderRequest(make_dance(5), image, width=63, height=96).validate()
    with pytest.raises(InvalidInputError, match="mp4"):
        RenderRequest(make_dance(5), image, width=64, height=96, out_path=tmp_path / "x.avi").validate()
    with pytest.raises(InvalidInputError, match="mesh_spacing"):
        parse_render_options({"mesh_spacing": 0.01}, PuppetRenderer())
    with pytest.raises(InvalidInputError, match="unknown render option"):
        parse_render_options({"mesh_spacin": 4}, PuppetRenderer())
    with pytest.raises(InvalidInputError, match="pose_style"):
        RenderOptions(pose_style="stick")
    with pytest.raises(InvalidInputError, match="reference_person"):
        RenderOptions(reference_person=0)
    with pytest.raises(InvalidInputError, match="must be a PuppetOptions"):
        RenderRequest(make_dance(5), image, width=64, height=96, renderer_options={"mesh_spacing": 4}
                      ).options_for(PuppetOptions)  # fmt: skip
    unreadable = tmp_path / "broken.png"
    unreadable.write_bytes(b"\x89PNG not really")
    with pytest.raises(InvalidInputError, match="cannot read"):
        load_reference_image(unreadable)
    with pytest.raises(InvalidInputError, match="not found"):
        load_reference_image(tmp_path / "missing.png")


def test_png_transparency_is_kept_as_the_mask(tmp_path, make_person):
    image = make_person(128, 192)
    rgba = np.dstack([image[..., ::-1], (person_mask(image) * 255).astype(np.uint8)])
    cv2.imwrite(str(tmp_path / "cutout.png"), rgba)
    loaded = load_reference_image(tmp_path / "cutout.png")
    np.testing.assert_array_equal(loaded.rgb, image)
    np.testing.assert_array_equal(loaded.alpha > 127, person_mask(image))


def test_a_dancer_turning_away_keeps_each_puppet_arm_on_its_side(make_person):
    from backend.appearance.puppet import facing_away
    from backend.appearance.keypoints import Camera, motion_keypoints
    from shared.motion import Motion

    frames = 60
    poses = np.zeros((frames, 24, 3), np.float32)
    poses[:, 0, 1] = np.linspace(0, 2 * np.pi, frames)  # one full turn
    poses[:, 16, 2], poses[:, 17, 2] = -1.0, 1.0  # arms down
    motion = Motion(poses, np.zeros((frames, 3), np.float32), 30.0)
    away = facing_away(motion_keypoints(motion)[0], Camera())
    turned = np.linspace(0, 360, frames)
    assert not away[turned < 80].any() and away[(turned > 120) & (turned < 240)].all() and not away[turned > 290].any()

    puppet = Puppet.from_photo(make_person(64, 96))
    animation = PuppetAnimation.from_motion(motion, puppet)
    neck, right, left = RIG_INDEX["neck"], RIG_INDEX["right_wrist"], RIG_INDEX["left_wrist"]
    clear_view = (turned < 45) | ((turned > 135) & (turned < 225)) | (turned > 315)  # not in profile
    for t in np.flatnonzero(clear_view):
        posed = puppet.pose_rig(animation.rig_plane[t], animation.bone_lengths[t], np.zeros(2))
        assert posed[right, 0] <= posed[neck, 0] + 1 and posed[left, 0] >= posed[neck, 0] - 1, t


@pytest.mark.slow  # the photo placed on the canvas twice (each inpaints the plate) and a puppet render
def test_a_travelling_dancer_stays_in_shot(tmp_path, make_person, make_dance):
    """A dance that crosses 3 m of stage must not walk the puppet out of the frame: the photo is re-placed."""
    motion = make_dance(24, fps=30.0)
    motion.trans[:, 0] = np.linspace(-1.5, 1.5, motion.num_frames)  # sideways across the stage
    person = make_person(128, 192)
    request = RenderRequest(motion, person, width=64, height=96, out_path=tmp_path / "travel.mp4")
    puppet = Puppet(request.canvas_reference())
    zoom, shift = PuppetAnimation.from_motion(motion, puppet).stage_fit(puppet, 64, 96)
    assert zoom < 0.8  # the un-zoomed photo has no room for this walk

    PuppetRenderer().render(request)
    info_frames = np.stack(list(read_frames(tmp_path / "travel.mp4")))
    background = np.asarray(BACKGROUND, float)
    for frame in info_frames[[0, len(info_frames) // 2, -1]]:
        body = np.abs(frame.astype(float) - background).max(axis=-1) > 60
        assert body.sum() > 40  # the dancer is in the picture...
        columns = np.flatnonzero(body.any(axis=0))
        assert columns.min() > 0 and columns.max() < 63  # ...and not cut by the frame's edge



def test_keypoints_read_from_a_file_survive_being_parsed_again(tmp_path):
    """The render command reads a keypoints file, then the request parses the array again (NaN = unknown)."""
    from backend.appearance.reference import parse_keypoints

    path = tmp_path / "keypoints.json"
    path.write_text(json.dumps({"left_shoulder": [10, 20], "right_hip": [30, 40]}))
    loaded = load_keypoints_json(path)
    again = parse_keypoints(loaded)
    np.testing.assert_array_equal(np.isnan(again), np.isnan(loaded))
    np.testing.assert_array_equal(again[np.isfinite(again)], loaded[np.isfinite(loaded)])
    with pytest.raises(InvalidInputError, match="must be"):
        parse_keypoints({"left_shoulder": [10, float("inf")]})


def test_moving_the_photo_reuses_the_person_found_in_it(make_dance):
    """Making room for a dance re-places the photo; the person found in it is carried over (masks and
    keypoints move with the photo), not searched for again on a canvas where they may touch the edge."""
    person = np.full((128, 96, 3), 235, np.uint8)
    person[16:124, 30:66] = (40, 60, 200)
    request = RenderRequest(make_dance(10), person, width=96, height=128)
    first = request.canvas_reference()
    moved = request.canvas_reference(1.0, (-1.25, 2.5))  # feet 2 px from the bottom edge
    assert moved.person is first.person
    expected = np.zeros((128, 96), bool)
    expected[18:126, 29:65] = True
    assert np.mean((moved.mask > 0.5) == expected) > 0.98
    Puppet(moved)  # rigs fine from the carried mask


def test_the_background_plate_is_inpainted_once_per_request(make_dance, monkeypatch):
    """Re-placing the photo re-frames the same plate: the inpainting (the costly part) runs once."""
    from backend.appearance import request as request_module

    calls = []
    real = request_module.remove_person
    monkeypatch.setattr(request_module, "remove_person", lambda *a, **k: calls.append(1) or real(*a, **k))
    person = np.full((96, 64, 3), 235, np.uint8)  # the smallest photo and canvas: the inpainting is not checked
    person[12:93, 20:44] = (40, 60, 200)
    request = RenderRequest(make_dance(10), person, width=64, height=96)
    first = request.canvas_reference()
    moved = request.canvas_reference(0.8, (-1.25, 2.5))
    assert len(calls) == 1
    assert not np.array_equal(first.background, moved.background)  # re-framed, not the same picture
    fresh = RenderRequest(make_dance(10), person, width=64, height=96).canvas_reference(0.8, (-1.25, 2.5))
    assert np.array_equal(fresh.background, moved.background)  # the same as inpainting anew

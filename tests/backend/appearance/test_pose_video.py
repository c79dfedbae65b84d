"""Pose video: SMPL -> keypoints -> projection -> fit -> pixels with the right colours."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from backend.appearance.face_crop import face_box_from_keypoints, face_image
from backend.appearance.keypoints import (
    KP,
    Camera,
    fit_to_reference,
    project,
    sequence_bbox,
    smpl_to_body_keypoints,
)
from backend.appearance.pose_video import (
    DWPOSE_STYLE,
    KEYPOINT_COLORS,
    LIMB_COLORS,
    LIMBS,
    WAN_STYLE,
    PoseVideo,
    PoseVideoOptions,
    limb_polygons,
)
from shared.errors import InvalidInputError
from shared.kinematics import forward_kinematics
from shared.motion import Motion
from shared.skeleton import LEFT_FOOT, LEFT_SHOULDER, LEFT_WRIST, RIGHT_SHOULDER, RIGHT_WRIST


def rest_joints(num_frames: int = 1) -> np.ndarray:
    poses = np.zeros((num_frames, 24, 3))
    trans = np.zeros((num_frames, 3))
    trans[:, 1] = 0.95
    return forward_kinematics(poses, trans)


def turned_motion(yaw: float, num_frames: int = 2) -> Motion:
    poses = np.zeros((num_frames, 24, 3), np.float32)
    poses[:, 0, 1] = yaw
    return Motion(poses, np.zeros((num_frames, 3), np.float32), 30.0)


def test_keypoints_come_from_the_matching_smpl_joints():
    joints = rest_joints()
    keypoints, visible = smpl_to_body_keypoints(joints, widen_hips=False)
    np.testing.assert_allclose(keypoints[0, KP["right_wrist"]], joints[0, RIGHT_WRIST])
    np.testing.assert_allclose(keypoints[0, KP["left_toe"]], joints[0, LEFT_FOOT])
    np.testing.assert_allclose(keypoints[0, KP["neck"]], 0.5 * (joints[0, LEFT_SHOULDER] + joints[0, RIGHT_SHOULDER]))
    assert visible.all()  # a dancer facing the camera shows every face point
    # The nose is in front of the head (+Z) and the left eye on the dancer's left (+X).
    assert keypoints[0, KP["nose"], 2] > joints[0, 15, 2]
    assert keypoints[0, KP["left_eye"], 0] > keypoints[0, KP["right_eye"], 0]


def test_widened_hips_stay_symmetric_and_move_apart():
    joints = rest_joints()
    narrow, _ = smpl_to_body_keypoints(joints, widen_hips=False)
    wide, _ = smpl_to_body_keypoints(joints, widen_hips=True)
    narrow_width = np.linalg.norm(narrow[0, KP["left_hip"]] - narrow[0, KP["right_hip"]])
    wide_width = np.linalg.norm(wide[0, KP["left_hip"]] - wide[0, KP["right_hip"]])
    assert wide_width == pytest.approx(1.8 * narrow_width)
    np.testing.assert_allclose(wide[0, [KP["left_hip"], KP["right_hip"]]].mean(0),
                               narrow[0, [KP["left_hip"], KP["right_hip"]]].mean(0))  # fmt: skip


def test_front_view_puts_the_dancers_left_on_image_right():
    """A photo of someone facing you shows their left hand on your right."""
    plane = project(rest_joints(), Camera())
    assert plane[0, LEFT_WRIST, 0] > plane[0, RIGHT_WRIST, 0]
    assert plane[0, 15, 1] < plane[0, 0, 1]  # head above pelvis: image y grows downwards
    # A camera turned half way round sees the dancer's back: left and right swap.
    back = project(rest_joints(), Camera(yaw_deg=180))
    assert back[0, LEFT_WRIST, 0] < back[0, RIGHT_WRIST, 0]


def test_perspective_makes_nearer_points_bigger():
    points = np.array([[[-0.5, 0.0, 0.5], [0.5, 0.0, 0.5], [-0.5, 0.0, -0.5], [0.5, 0.0, -0.5]]])
    plane = project(points, Camera(projection="perspective", distance_m=3.0), centre=np.zeros(3))
    near_width, far_width = plane[0, 1, 0] - plane[0, 0, 0], plane[0, 3, 0] - plane[0, 2, 0]
    assert near_width == pytest.approx(3.0 / 2.5)
    assert far_width == pytest.approx(3.0 / 3.5)
    ortho = project(points, Camera(), centre=np.zeros(3))
    assert ortho[0, 1, 0] - ortho[0, 0, 0] == pytest.approx(1.0)


def test_face_points_hide_when_the_dancer_turns_away():
    back = PoseVideo(turned_motion(np.pi), PoseVideoOptions(width=64, height=96))
    assert not back.visible[:, [KP["nose"], KP["left_eye"], KP["right_eye"]]].any()
    side = PoseVideo(turned_motion(np.pi / 2), PoseVideoOptions(width=64, height=96))
    # Turned +90 deg about Y, the dancer faces +X and shows the camera (on +Z) their right side.
    assert side.visible[:, KP["right_ear"]].all() and not side.visible[:, KP["left_ear"]].any()


def test_canvas_fit_fills_the_box_centred_at_the_mace_framing(make_dance):
    width, height = 720, 1280
    pose = PoseVideo(make_dance(20), PoseVideoOptions(width=width, height=height))
    lo, hi = sequence_bbox(np.where(pose.visible[..., None], pose.keypoints, np.nan))
    extent = (hi - lo) / np.array([width, height])
    assert max(extent[0] / 0.72, extent[1] / 0.86) == pytest.approx(1.0)  # one side touches the box
    np.testing.assert_allclose(0.5 * (lo + hi), [0.5 * width, 0.56 * height], atol=1e-6)


def test_one_extreme_frame_does_not_reframe_the_video(make_dance):
    dance = make_dance(60)
    options = PoseVideoOptions(width=360, height=640)
    before = PoseVideo(dance, options)
    edited = dance.copy()
    edited.poses[30, 16] = [0.0, 0.0, -2.5]  # the left arm flung up on one frame only
    after = PoseVideo(edited, options)
    assert after.fit.scale == pytest.approx(before.fit.scale)
    np.testing.assert_allclose(after.fit.offset, before.fit.offset)
    assert np.abs(after.keypoints[30] - before.keypoints[30]).max() > 10  # that frame itself did change


def test_reference_fit_recovers_a_known_scale_and_offset():
    plane = project(smpl_to_body_keypoints(rest_joints(3))[0], Camera())
    reference = plane[0] * 300.0 + np.array([360.0, 600.0])
    reference[KP["left_knee"]] = np.nan  # unknown points are skipped
    fit = fit_to_reference(plane, reference, 720, 1280)
    assert fit.scale == pytest.approx(300.0)
    np.testing.assert_allclose(fit.offset, [360.0, 600.0])


def test_reference_fit_shrinks_a_sequence_that_would_leave_the_canvas():
    plane = project(smpl_to_body_keypoints(rest_joints(3))[0], Camera())
    reference = plane[0] * 2000.0 + np.array([360.0, 640.0])  # a person far bigger than the canvas
    fit = fit_to_reference(plane, reference, 720, 1280)
    pixels = fit.apply(plane).reshape(-1, 2)
    assert fit.scale < 2000.0
    assert pixels.min() >= 0.0 and pixels[:, 0].max() <= 720 and pixels[:, 1].max() <= 1280


@pytest.mark.parametrize("style,size", [(WAN_STYLE, (64, 96)), (DWPOSE_STYLE, (256, 384))])
def test_frames_show_each_joint_in_its_colour_at_its_projected_pixel(style, size, make_dance):
    width, height = size
    pose = PoseVideo(make_dance(20), PoseVideoOptions(width=width, height=height, style=style.name))
    _, radius, _, _ = style.sizes(height, width)
    checked = 0
    for index in (0, 10, 19):
        frame = pose.frame(index)
        keypoints, visible = pose.keypoints[index], pose.visible[index]
        for k in range(style.num_keypoints):
            if not visible[k]:
                continue
            others = np.delete(np.arange(style.num_keypoints), k)
            others = others[visible[others]]
            # Joints drawn later cover earlier ones; only check joints with no later neighbour in reach.
            later = others[others > k]
            if len(later) and np.min(np.linalg.norm(keypoints[later] - keypoints[k], axis=1)) <= 2 * radius + 1:
                continue
            x, y = np.round(keypoints[k]).astype(int)
            assert tuple(frame[y, x]) == KEYPOINT_COLORS[k], f"joint {k} at frame {index}"
            checked += 1
    assert checked >= 20


def test_limbs_are_drawn_at_sixty_percent_of_their_colour(make_dance):
    pose = PoseVideo(make_dance(5), PoseVideoOptions(width=256, height=384, style="dwpose"))
    frame = pose.frame(0)
    # The right shin (limb 8: right knee -> right ankle): its middle is far from any joint.
    a, b = LIMBS[8]
    middle = np.round(0.5 * (pose.keypoints[0, a] + pose.keypoints[0, b])).astype(int)
    expected = tuple(int(c * 0.6) for c in LIMB_COLORS[8])
    assert tuple(frame[middle[1], middle[0]]) == expected


def test_wan_style_has_toes_and_dwpose_style_does_not(make_dance):
    wan = PoseVideo(make_dance(2), PoseVideoOptions(width=256, height=384, style="wan")).frame(0)
    dw = PoseVideo(make_dance(2), PoseVideoOptions(width=256, height=384, style="dwpose")).frame(0)
    toe_colour = np.array(KEYPOINT_COLORS[KP["left_toe"]])
    assert (wan == toe_colour).all(axis=-1).any()
    assert not (dw == toe_colour).all(axis=-1).any()
    assert WAN_STYLE.sizes(1280, 720)[0] == 2  # Wan-Animate's stick width at 720p


def test_limb_polygons_match_opencv_ellipses():
    start, end = np.array([[30.0, 40.0]]), np.array([[90.0, 70.0]])
    ours = np.zeros((120, 120), np.uint8)
    cv2.fillConvexPoly(ours, limb_polygons(start, end, 4)[0], 1, shift=4)
    length = float(np.linalg.norm(end - start))
    angle = float(np.degrees(np.arctan2(30.0, 60.0)))
    reference = np.zeros((120, 120), np.uint8)
    cv2.fillConvexPoly(reference, cv2.ellipse2Poly((60, 55), (int(length / 2), 4), int(round(angle)), 0, 360, 1), 1)
    overlap = (ours & reference).sum() / max((ours | reference).sum(), 1)
    assert overlap > 0.85


def test_synthetic_hands_start_at_the_wrists(make_dance):
    pose = PoseVideo(make_dance(4), PoseVideoOptions(width=256, height=384, hands=True))
    assert pose.hands.shape == (4, 2, 21, 2)
    wrists = pose.fit.apply(project(pose.joints[:, [LEFT_WRIST, RIGHT_WRIST]], Camera(), pose.joints[:, 0].mean(0)))
    np.testing.assert_allclose(pose.hands[:, :, 0], wrists)
    assert (pose.frame(0) == np.array([0, 0, 255])).all(axis=-1).any()  # hand joints are drawn


def test_face_crop_from_face_keypoints_and_black_without():
    image = np.zeros((200, 100, 3), np.uint8)
    image[40:60, 40:60] = 200
    keypoints = np.full((20, 2), np.nan)
    keypoints[KP["nose"]] = (50, 50)
    keypoints[KP["left_ear"]] = (60, 46)
    keypoints[KP["right_ear"]] = (40, 46)
    box = face_box_from_keypoints(keypoints, image.shape[:2])
    x0, y0, x1, y1 = box
    assert x0 < 40 and x1 > 60 and y0 < 46 and y1 > 50
    crop = face_image(image, box, size=32)
    assert crop.shape == (32, 32, 3) and crop.max() == 200
    assert face_box_from_keypoints(np.full((20, 2), np.nan), (200, 100)) is None
    assert face_image(image, None, size=16).max() == 0


def test_bad_input_is_an_error():
    joints = rest_joints()
    joints[0, 3, 1] = np.nan
    with pytest.raises(InvalidInputError):
        smpl_to_body_keypoints(joints)
    with pytest.raises(InvalidInputError):
        smpl_to_body_keypoints(np.zeros((4, 22, 3)))
    with pytest.raises(InvalidInputError):
        PoseVideoOptions(style="openpose")
    with pytest.raises(InvalidInputError):
        Camera(projection="fisheye")


def test_preview_video_has_every_frame_and_the_music(tmp_path, make_dance, make_music):
    from backend.appearance.pose_preview import write_preview_video
    from backend.appearance.video_io import probe

    music = make_music(tmp_path / "song.wav", 3.0)
    path = write_preview_video(make_dance(15), tmp_path / "preview.mp4", audio_path=music, audio_offset_s=1.0,
                               width=64, height=96)  # fmt: skip
    info = probe(path)
    assert (info.frames, info.fps, info.width) == (15, 30.0, 64)
    assert info.audio_duration_s == pytest.approx(0.5, abs=0.03)

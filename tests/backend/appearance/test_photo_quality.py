"""The honest quality check on a detected person: one line per thing that will look wrong (hidden joints,
side-on, arms across the body, a small person) saying how to get a better photo; refusal (exit 3) only for
what cannot be rigged; and no third-party log lines on the terminal."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from backend.appearance.keypoints import KP, NUM_KEYPOINTS
from backend.appearance.perception import DetectedPerson, NoPersonError, photo_quality_notes

from .test_perception import PHOTOS

FRONT = {
    "nose": (100, 40), "right_eye": (94, 34), "left_eye": (106, 34), "right_ear": (88, 38), "left_ear": (112, 38),
    "neck": (100, 70), "right_shoulder": (70, 70), "left_shoulder": (130, 70), "right_elbow": (55, 120),
    "left_elbow": (145, 120), "right_wrist": (50, 165), "left_wrist": (150, 165), "right_hip": (85, 170),
    "left_hip": (115, 170), "right_knee": (85, 240), "left_knee": (115, 240), "right_ankle": (85, 300),
    "left_ankle": (115, 300), "right_toe": (80, 310), "left_toe": (120, 310),
}  # fmt: skip


def person(points: dict, hidden: tuple[str, ...] = (), size: tuple[int, int] = (320, 200), scale: float = 1.0,
           ) -> DetectedPerson:
    keypoints = np.full((NUM_KEYPOINTS, 2), np.nan)
    for name, xy in points.items():
        keypoints[KP[name]] = np.asarray(xy, float) * scale
    visibility = np.ones(NUM_KEYPOINTS)
    for name in hidden:
        visibility[KP[name]] = 0.1
    mask = np.zeros(size, np.float32)
    rows = keypoints[:, 1]
    cv2.rectangle(mask, (int(np.nanmin(keypoints[:, 0])), int(np.nanmin(rows)) - int(20 * scale)),
                  (int(np.nanmax(keypoints[:, 0])), int(np.nanmax(rows))), 1.0, -1)  # fmt: skip
    return DetectedPerson(keypoints, visibility, mask)


def test_a_clear_frontal_full_body_photo_gets_no_note():
    assert photo_quality_notes(person(FRONT), (), "me.png") == []


def test_crossed_arms_are_named_with_the_fix():
    crossed = dict(FRONT, right_wrist=(115, 110), left_wrist=(85, 112), right_elbow=(80, 120), left_elbow=(120, 120))
    notes = photo_quality_notes(person(crossed), (), "me.png")
    assert len(notes) == 1 and "right and left hands are in front of the body" in notes[0] and "arms away" in notes[0]


def test_a_side_on_pose_is_named():
    side = {name: (100 + 0.2 * (x - 100), y) for name, (x, y) in FRONT.items()}
    notes = photo_quality_notes(person(side), (), "me.png")
    assert any("side-on" in note and "facing the camera" in note for note in notes)


def test_hidden_joints_are_listed_but_cut_off_parts_are_not():
    notes = photo_quality_notes(person(FRONT, hidden=("left_elbow", "left_knee")), ("legs",), "me.png")
    assert len(notes) == 1 and "left elbow hidden" in notes[0] and "knee" not in notes[0]


def test_a_tiny_person_is_refused_and_a_small_one_warned():
    with pytest.raises(NoPersonError, match="too small"):
        photo_quality_notes(person(FRONT, size=(6000, 400)), (), "crowd.png")
    notes = photo_quality_notes(person(FRONT, size=(1200, 400)), (), "far.png")
    assert any("closer photo" in note for note in notes)


def test_a_person_with_almost_no_joint_seen_is_refused():
    with pytest.raises(NoPersonError, match="too hidden"):
        photo_quality_notes(person(FRONT, hidden=tuple(n for n in FRONT if n != "nose" and "_" in n)), (), "x.png")


@pytest.mark.slow  # a fresh interpreter imports mediapipe and runs the pose model: about 5 s on 2 cores
@pytest.mark.skipif(not PHOTOS.is_dir(), reason="needs ../shared/data/photos beside the clone")
def test_no_third_party_log_lines_reach_the_terminal():
    code = ("import sys; from backend.appearance.reference import load_reference_image; "
            "from backend.appearance.perception import analyse_reference; "
            f"analyse_reference(load_reference_image({str(PHOTOS / 'messi.png')!r}).rgb); print('done')")  # fmt: skip
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "done" in run.stdout, run.stderr
    for noise in ("TensorFlow Lite", "absl::InitializeLog", "W0000", "I0000"):
        assert noise not in run.stderr, run.stderr

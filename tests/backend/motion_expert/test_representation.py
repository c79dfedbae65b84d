"""151-d frames: layout, 6D convention, FK, axes, contacts, normaliser; and the diffusion schedule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.motion_expert.representation import (
    Normalizer,
    features_to_joints,
    features_to_motion,
    foot_contacts,
    joint_channels,
    matrix_to_rotation_6d,
    motion_to_features,
    rotation_6d_to_matrix,
)
from backend.motion_expert.scheduler import DiffusionSchedule, cosine_betas
from shared.axes import Y_UP_TO_Z_UP
from shared.rotations import axis_angle_to_matrix

from .conftest import dance_motion


def test_layout_and_round_trip():
    motion = dance_motion(45)
    frames = motion_to_features(motion)
    assert frames.shape == (45, 151) and frames.dtype == np.float32
    assert joint_channels(0) == slice(7, 13) and joint_channels(23) == slice(145, 151)
    back = features_to_motion(frames)
    assert back.allclose(motion, rot_atol=1e-5, trans_atol=1e-6)
    assert np.array_equal(back.contacts, frames[:, :4])


def test_frames_are_z_up_with_rows_6d():
    motion = dance_motion(10)
    frames = motion_to_features(motion)
    assert np.allclose(frames[:, 4:7], motion.trans @ Y_UP_TO_Z_UP.T, atol=1e-6)
    knee = axis_angle_to_matrix(motion.poses[:, 4].astype(np.float64))
    assert np.allclose(frames[:, joint_channels(4)], knee[:, :2, :].reshape(10, 6), atol=1e-6)  # first two rows
    matrices = torch.from_numpy(knee)
    assert torch.allclose(rotation_6d_to_matrix(matrix_to_rotation_6d(matrices)), matrices, atol=1e-10)


def test_torch_fk_matches_shared_fk_in_z_up():
    motion = dance_motion(12, seed=2)
    joints = features_to_joints(torch.from_numpy(motion_to_features(motion)).double()).numpy()
    assert np.allclose(joints, motion.joint_positions() @ Y_UP_TO_Z_UP.T, atol=1e-5)


def test_foot_contacts_follow_edge_rule():
    joints = np.zeros((5, 24, 3))
    joints[2:, 7, 0] = np.arange(3) * 0.05  # left ankle: still until frame 2, then 5 cm per frame
    contacts = foot_contacts(joints)
    assert contacts.shape == (5, 4)
    assert contacts[:, 0].tolist() == [1, 1, 0, 0, 1]  # the last frame counts as still
    assert contacts[:, 1:].all()


def test_normaliser_scales_to_unit_range_and_clips():
    data = np.random.default_rng(0).normal(size=(50, 151)).astype(np.float32)
    data[:, 3] = 2.0  # a constant channel gets scale 1 (no division by zero)
    norm = Normalizer.fit(data)
    x = norm.normalize(torch.from_numpy(data))
    assert x.min().item() == -1.0 and x.max().item() == 1.0
    assert torch.allclose(norm.unnormalize(x), torch.from_numpy(data), atol=1e-5)
    assert norm.unnormalize(torch.full((1, 151), 5.0)).equal(norm.unnormalize(torch.ones(1, 151)))
    with pytest.raises(ValueError):
        Normalizer(np.zeros(151), np.zeros(151))


def test_schedule_matches_edge():
    betas = cosine_betas(1000)
    assert betas.max() == pytest.approx(0.999) and (betas > 0).all()
    schedule = DiffusionSchedule()
    pairs = schedule.timestep_pairs(50)
    assert pairs[0] == (999, 979) and pairs[-1] == (19, -1) and len(pairs) == 50
    assert torch.all(schedule.alphas_cumprod[1:] < schedule.alphas_cumprod[:-1])


def test_ddim_step_maths():
    schedule = DiffusionSchedule()
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(1, 8, 151, generator=g) * 2 - 1
    noise = torch.randn(1, 8, 151, generator=g)
    x_t = schedule.add_noise(x0, 500, noise)
    assert torch.allclose(schedule.noise_from_x0(x_t, x0, 500), noise, atol=1e-4)
    # eta = 0 with the true x0: the next sample lies on the same noise direction
    x_next = schedule.ddim_step(x0, x_t, 500, 480, eta=0.0)
    assert torch.allclose(x_next, schedule.add_noise(x0, 480, noise), atol=1e-4)
    assert torch.equal(schedule.ddim_step(x0, x_t, 19, -1, eta=1.0), x0)
    with pytest.raises(ValueError):
        schedule.timestep_pairs(0)

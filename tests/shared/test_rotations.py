import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from shared import rotations as R

finite_vectors = arrays(np.float64, (3,), elements=st.floats(-10, 10, allow_nan=False, allow_infinity=False))


def is_rotation(m: np.ndarray) -> bool:
    return np.allclose(m @ np.swapaxes(m, -1, -2), np.eye(3), atol=1e-9) and np.allclose(np.linalg.det(m), 1.0)


@given(finite_vectors)
@settings(max_examples=300)
def test_every_representation_round_trips_to_the_same_matrix(aa):
    m = R.axis_angle_to_matrix(aa)
    assert is_rotation(m)
    np.testing.assert_allclose(R.axis_angle_to_matrix(R.matrix_to_axis_angle(m)), m, atol=1e-9)
    np.testing.assert_allclose(R.quaternion_to_matrix(R.axis_angle_to_quaternion(aa)), m, atol=1e-9)
    np.testing.assert_allclose(R.quaternion_to_matrix(R.matrix_to_quaternion(m)), m, atol=1e-9)
    np.testing.assert_allclose(R.rotation_6d_to_matrix(R.matrix_to_rotation_6d(m)), m, atol=1e-9)
    np.testing.assert_allclose(R.axis_angle_to_matrix(R.rotation_6d_to_axis_angle(R.axis_angle_to_rotation_6d(aa))), m, atol=1e-9)


def test_axis_angle_is_recovered_exactly_below_pi(rng):
    aa = rng.normal(size=(500, 3))
    aa *= (rng.uniform(0, np.pi - 1e-3, size=(500, 1)) / np.linalg.norm(aa, axis=1, keepdims=True))
    np.testing.assert_allclose(R.matrix_to_axis_angle(R.axis_angle_to_matrix(aa)), aa, atol=1e-9)
    np.testing.assert_allclose(R.quaternion_to_axis_angle(R.axis_angle_to_quaternion(aa)), aa, atol=1e-9)


def test_known_rotation_values():
    quarter_turn_z = R.axis_angle_to_matrix(np.array([0, 0, np.pi / 2]))
    np.testing.assert_allclose(quarter_turn_z @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(R.axis_angle_to_quaternion(np.array([np.pi, 0, 0])), [0, 1, 0, 0], atol=1e-12)
    # tiny angles use the Taylor branch and stay accurate
    tiny = np.array([1e-9, -2e-9, 3e-9])
    np.testing.assert_allclose(R.matrix_to_axis_angle(R.axis_angle_to_matrix(tiny)), tiny, atol=1e-15)


def test_six_d_is_the_first_two_rows_as_in_pytorch3d(rng):
    m = R.axis_angle_to_matrix(rng.normal(size=(4, 3)))
    np.testing.assert_array_equal(R.matrix_to_rotation_6d(m), m[:, :2, :].reshape(4, 6))


def test_quaternion_multiply_composes_rotations(rng):
    a, b = rng.normal(size=(2, 10, 3))
    qa, qb = R.axis_angle_to_quaternion(a), R.axis_angle_to_quaternion(b)
    np.testing.assert_allclose(
        R.quaternion_to_matrix(R.quaternion_multiply(qa, qb)),
        R.axis_angle_to_matrix(a) @ R.axis_angle_to_matrix(b), atol=1e-12,
    )


def test_slerp_midpoint_and_shortest_arc():
    q0 = R.axis_angle_to_quaternion(np.zeros(3))
    q1 = R.axis_angle_to_quaternion(np.array([0, 1.2, 0]))
    np.testing.assert_allclose(R.quaternion_to_axis_angle(R.quaternion_slerp(q0, q1, 0.5)), [0, 0.6, 0], atol=1e-12)
    # the sign of q1 does not matter: the shorter arc is taken
    np.testing.assert_allclose(R.quaternion_slerp(q0, -q1, 0.5), R.quaternion_slerp(q0, q1, 0.5), atol=1e-12)


def test_continuity_removes_hemisphere_flips(rng):
    q = R.axis_angle_to_quaternion(np.cumsum(rng.normal(scale=0.2, size=(200, 3)), axis=0))
    q[::3] *= -1
    fixed = R.make_quaternions_continuous(q)
    assert (np.sum(fixed[1:] * fixed[:-1], axis=-1) >= 0).all()
    np.testing.assert_allclose(R.quaternion_to_matrix(fixed), R.quaternion_to_matrix(q), atol=1e-12)


@pytest.mark.parametrize("shape", [(3,), (7, 3), (2, 5, 24, 3)])
def test_batched_shapes(shape, rng):
    aa = rng.normal(size=shape)
    assert R.axis_angle_to_matrix(aa).shape == shape[:-1] + (3, 3)
    assert R.axis_angle_to_quaternion(aa).shape == shape[:-1] + (4,)
    assert R.axis_angle_to_rotation_6d(aa).shape == shape[:-1] + (6,)

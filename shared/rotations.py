"""Rotation conversions in numpy, batched over any leading dimensions.

Conventions: axis-angle vectors in radians; quaternions ``(w, x, y, z)``; matrices act on column vectors;
6D = the first two *rows* of the matrix (pytorch3d's ``matrix_to_rotation_6d``, used by EDGE and
MACE-Dance, so checkpoints agree).
"""

from __future__ import annotations

import numpy as np

_SMALL = 1e-8
#: Below this length a vector has no direction: :func:`unit` returns it (near) zero rather than dividing by it.
_TINY = 1e-12


def _skew(v: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 3, 3) cross-product matrices."""
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    zero = np.zeros_like(x)
    return np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(v.shape[:-1] + (3, 3))


def unit(v: np.ndarray) -> np.ndarray:
    """(..., 3) vectors scaled to length 1; a zero vector stays zero (no NaN)."""
    v = np.asarray(v, dtype=np.float64)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), _TINY)


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3, 3) the smallest rotation turning the direction of ``a`` onto that of ``b`` (broadcast).

    Any lengths; when ``a`` and ``b`` point opposite ways the half turn is about an axis perpendicular to ``a``
    (there is no smallest one), so the result is always a proper rotation.
    """
    a, b = unit(a), unit(b)
    a, b = np.broadcast_arrays(a, b)
    axis = np.cross(a, b)
    sin, cos = np.linalg.norm(axis, axis=-1), np.sum(a * b, axis=-1)
    helper = np.where(np.abs(a[..., :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    perpendicular = unit(np.cross(a, helper))
    degenerate = (sin < 1e-9)[..., None]
    axis = np.where(degenerate, perpendicular, axis / np.maximum(sin, _TINY)[..., None])
    return axis_angle_to_matrix(axis * np.arctan2(sin, cos)[..., None])


def axis_angle_to_matrix(axis_angle: np.ndarray) -> np.ndarray:
    """Rodrigues' formula. (..., 3) -> (..., 3, 3)."""
    aa = np.asarray(axis_angle, dtype=np.float64)
    theta2 = np.sum(aa * aa, axis=-1)[..., None, None]
    theta = np.sqrt(theta2)
    small = theta < 1e-4
    safe = np.where(small, 1.0, theta)
    # sin(t)/t and (1-cos t)/t^2 with their Taylor series near zero.
    a = np.where(small, 1.0 - theta2 / 6.0, np.sin(safe) / safe)
    b = np.where(small, 0.5 - theta2 / 24.0, (1.0 - np.cos(safe)) / (safe * safe))
    k = _skew(aa)
    return np.eye(3) + a * k + b * (k @ k)


def axis_angle_to_quaternion(axis_angle: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 4) unit quaternions (w, x, y, z) with w >= 0."""
    aa = np.asarray(axis_angle, dtype=np.float64)
    theta = np.linalg.norm(aa, axis=-1, keepdims=True)
    small = theta < 1e-4
    safe = np.where(small, 1.0, theta)
    half_sinc = np.where(small, 0.5 - theta * theta / 48.0, np.sin(safe / 2) / safe)
    return np.concatenate([np.cos(theta / 2), aa * half_sinc], axis=-1)


def quaternion_to_axis_angle(quaternion: np.ndarray) -> np.ndarray:
    """(..., 4) (w, x, y, z) -> (..., 3); angles in [0, pi]. Non-unit input is normalised."""
    q = np.asarray(quaternion, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    q = np.where(q[..., :1] < 0, -q, q)  # shortest rotation
    w, xyz = q[..., :1], q[..., 1:]
    s = np.linalg.norm(xyz, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, w)
    factor = np.where(s > _SMALL, angle / np.where(s > _SMALL, s, 1.0), 2.0 / np.maximum(w, _SMALL))
    return xyz * factor


def quaternion_to_matrix(quaternion: np.ndarray) -> np.ndarray:
    """(..., 4) (w, x, y, z) -> (..., 3, 3). Non-unit input is normalised."""
    q = np.asarray(quaternion, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
    ], axis=-1).reshape(q.shape[:-1] + (3, 3))  # fmt: skip


def matrix_to_quaternion(matrix: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 4) (w, x, y, z) with w >= 0 (Shepperd's method: divide by the largest term)."""
    m = np.asarray(matrix, dtype=np.float64)
    shape = m.shape[:-2]
    m = m.reshape(-1, 9)
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = m.T
    four = np.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    best = np.argmax(four, axis=-1)
    q = np.empty((len(m), 4))
    # Per case only the rows it is best for: the largest of 2|w|, 2|x|, 2|y|, 2|z| is the safe divisor.
    for case, terms in enumerate((
        lambda i: (four[i, 0], m21[i] - m12[i], m02[i] - m20[i], m10[i] - m01[i]),
        lambda i: (m21[i] - m12[i], four[i, 1], m10[i] + m01[i], m02[i] + m20[i]),
        lambda i: (m02[i] - m20[i], m10[i] + m01[i], four[i, 2], m12[i] + m21[i]),
        lambda i: (m10[i] - m01[i], m20[i] + m02[i], m21[i] + m12[i], four[i, 3]),
    )):  # fmt: skip
        rows = np.flatnonzero(best == case)
        if len(rows):
            q[rows] = np.stack(terms(rows), axis=-1) / (2.0 * np.sqrt(np.maximum(four[rows, case], 0.01)))[:, None]
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    q = np.where(q[:, :1] < 0, -q, q)
    return q.reshape(shape + (4,))


def matrix_to_axis_angle(matrix: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 3)."""
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def matrix_to_rotation_6d(matrix: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 6): the first two rows."""
    m = np.asarray(matrix)
    return m[..., :2, :].reshape(m.shape[:-2] + (6,))


def rotation_6d_to_matrix(d6: np.ndarray) -> np.ndarray:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt on the two rows (Zhou et al. 2019, pytorch3d convention)."""
    d6 = np.asarray(d6, dtype=np.float64)
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = a1 / np.maximum(np.linalg.norm(a1, axis=-1, keepdims=True), _SMALL)
    b2 = a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1
    b2 = b2 / np.maximum(np.linalg.norm(b2, axis=-1, keepdims=True), _SMALL)
    b3 = np.cross(b1, b2)
    return np.stack([b1, b2, b3], axis=-2)


def axis_angle_to_rotation_6d(axis_angle: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 6)."""
    return matrix_to_rotation_6d(axis_angle_to_matrix(axis_angle))


def rotation_6d_to_axis_angle(d6: np.ndarray) -> np.ndarray:
    """(..., 6) -> (..., 3)."""
    return matrix_to_axis_angle(rotation_6d_to_matrix(d6))


def quaternion_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a ⊗ b of (..., 4) (w, x, y, z) quaternions (rotation b, then a)."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=np.float64), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0)
    return np.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], axis=-1)  # fmt: skip


def make_quaternions_continuous(quaternion: np.ndarray, axis: int = 0) -> np.ndarray:
    """Flip signs along ``axis`` so consecutive quaternions lie in the same hemisphere (no 2π jumps when
    interpolated component-wise, e.g. by Blender's F-curves)."""
    q = np.moveaxis(np.array(quaternion, dtype=np.float64), axis, 0)
    if len(q) > 1:
        dots = np.sum(q[1:] * q[:-1], axis=-1)
        flips = np.cumprod(np.where(dots < 0, -1.0, 1.0), axis=0)
        q[1:] *= flips[..., None]
    return np.moveaxis(q, 0, axis)


def quaternion_slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Spherical linear interpolation along the shorter arc; ``t`` broadcasts against (...,)."""
    q0 = np.asarray(q0, dtype=np.float64)
    q1 = np.asarray(q1, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[..., None]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.clip(np.abs(dot), 0.0, 1.0)
    omega = np.arccos(dot)
    sin_omega = np.sin(omega)
    near = sin_omega < 1e-6
    safe = np.where(near, 1.0, sin_omega)
    w0 = np.where(near, 1.0 - t, np.sin((1.0 - t) * omega) / safe)
    w1 = np.where(near, t, np.sin(t * omega) / safe)
    out = w0 * q0 + w1 * q1
    return out / np.linalg.norm(out, axis=-1, keepdims=True)

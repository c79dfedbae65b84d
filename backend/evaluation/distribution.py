"""Set-level metrics on per-motion feature vectors: GT normalisation, Fréchet distance, diversity."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

from shared.errors import InvalidInputError

#: Diagonal offset added to both covariances when their product has no finite square root (the
#: TTUR/pytorch-fid fallback that Bailando, Lodge and MACE copy).
SQRTM_EPS = 1e-5
#: Below this GT standard deviation a dimension counts as constant (clean protocol).
CONSTANT_STD = 1e-8


def normalise_with_reference(
    reference: np.ndarray, generated: np.ndarray, eps: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Z-normalise both sets with the reference (GT) mean and standard deviation.

    Args:
        reference: (N_gt, F) features of the ground-truth set.
        generated: (N_gen, F) features of the generated set.
        eps: ``std + eps`` in the divisor (Bailando/Lodge: 1e-10). None: divide constant dimensions by 1
            instead, so a dimension that never varies in the GT set cannot explode to ±1e10.
    Returns:
        (reference_normalised, generated_normalised), same shapes, float64.
    """
    reference = np.asarray(reference, dtype=np.float64)
    generated = np.asarray(generated, dtype=np.float64)
    mean = reference.mean(axis=0)
    std = reference.std(axis=0)
    if eps is None:
        std = np.where(std < CONSTANT_STD, 1.0, std)
    else:
        std = std + eps
    return (reference - mean) / std, (generated - mean) / std


def frechet_distance(generated: np.ndarray, reference: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets.

    ``|μ1 - μ2|² + tr(Σ1) + tr(Σ2) - 2 tr(sqrtm(Σ1 Σ2))`` with unbiased covariances (``np.cov``), the
    square root by ``scipy.linalg.sqrtm``; if it is not finite, ``SQRTM_EPS`` is added to both diagonals;
    the real part is kept.

    Args:
        generated: (N1, F), N1 >= 2.
        reference: (N2, F), N2 >= 2.
    """
    for name, array in (("generated", generated), ("reference", reference)):
        if array.ndim != 2 or len(array) < 2:
            raise InvalidInputError(
                f"FID needs at least 2 motions per set, the {name} set has {len(array)}",
                hint="evaluate folders holding two or more motions",
            )
    mu1, mu2 = generated.mean(axis=0), reference.mean(axis=0)
    sigma1 = np.atleast_2d(np.cov(generated, rowvar=False))
    sigma2 = np.atleast_2d(np.cov(reference, rowvar=False))
    with warnings.catch_warnings():  # singular products are expected for small sets; reported by the caller
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            offset = np.eye(len(sigma1)) * SQRTM_EPS
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def constant_dimensions(reference: np.ndarray) -> int:
    """How many feature dimensions never vary over the reference set ((N, F) → count)."""
    return int(np.sum(np.asarray(reference, dtype=np.float64).std(axis=0) < CONSTANT_STD))


def diversity(features: np.ndarray) -> float:
    """Mean Euclidean distance over all unordered pairs of feature vectors (Bailando
    ``calculate_avg_distance``). (N, F) → float; N < 2 gives NaN."""
    features = np.asarray(features, dtype=np.float64)
    count = len(features)
    if count < 2:
        return float("nan")
    rows, cols = np.triu_indices(count, k=1)
    return float(np.linalg.norm(features[rows] - features[cols], axis=-1).mean())

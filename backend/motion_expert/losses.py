"""EDGE's training losses, which MACE-Dance keeps unchanged.

total = 0.636 * simple + 2.964 * velocity + 0.646 * FK + 10.942 * foot, all mean squared errors:

* simple: all 151 channels of the prediction against the clean motion;
* velocity: frame differences of the 147 non-contact channels;
* FK: the 24 joint positions after forward kinematics on the root and 6D channels;
* foot: the velocity of the predicted foot joints (7, 8, 10, 11) on frames where the *predicted*
  contact channel exceeds 0.95, pushed to zero.

EDGE (and so MACE) runs FK on the *normalised* channels: the un-normalisation is commented out in its
``p_losses``. ``fk_on_normalized=True`` keeps that quirk (the official checkpoint was trained so);
``False`` un-normalises first, which makes the FK and foot terms metric.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from shared.skeleton import FOOT_JOINTS

from .config import NUM_CONTACTS
from .representation import Normalizer, features_to_joints

LOSS_WEIGHTS = {"simple": 0.636, "velocity": 2.964, "fk": 0.646, "foot": 10.942}
CONTACT_ON = 0.95


def edge_losses(
    prediction: torch.Tensor,
    target: torch.Tensor,
    normalizer: Normalizer | None = None,
    fk_on_normalized: bool = True,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted EDGE losses.

    Args:
        prediction, target: (B, T, 151) normalised motion (the model's x0 and the data).
        normalizer: needed when ``fk_on_normalized`` is False.
        fk_on_normalized: EDGE's quirk (see the module docstring).
    Returns:
        (total loss, {"simple", "velocity", "fk", "foot"} weighted terms).
    """
    simple = F.mse_loss(prediction, target)
    velocity = F.mse_loss(prediction[:, 1:, NUM_CONTACTS:] - prediction[:, :-1, NUM_CONTACTS:],
                          target[:, 1:, NUM_CONTACTS:] - target[:, :-1, NUM_CONTACTS:])  # fmt: skip

    pred_pose, target_pose = prediction, target
    if not fk_on_normalized:
        if normalizer is None:
            raise ValueError("`normalizer` is needed when `fk_on_normalized` is False")
        pred_pose, target_pose = normalizer.unnormalize(prediction, clip=False), normalizer.unnormalize(target, clip=False)
    pred_joints = features_to_joints(pred_pose)
    fk = F.mse_loss(pred_joints, features_to_joints(target_pose))

    feet = pred_joints[:, :, list(FOOT_JOINTS)]  # (B, T, 4, 3)
    foot_velocity = torch.zeros_like(feet)
    foot_velocity[:, :-1] = feet[:, 1:] - feet[:, :-1]
    planted = (prediction[:, :, :NUM_CONTACTS] > CONTACT_ON).unsqueeze(-1).to(feet.dtype)
    foot = (foot_velocity * planted).pow(2).mean()

    terms = {"simple": simple, "velocity": velocity, "fk": fk, "foot": foot}
    weighted = {name: LOSS_WEIGHTS[name] * value for name, value in terms.items()}
    return sum(weighted.values()), weighted

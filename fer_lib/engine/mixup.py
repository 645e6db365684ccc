"""Mixup (Zhang et al., ICLR 2018): train on convex combinations of two inputs and of their labels.

Each training batch is blended with a permutation of itself, ``λ·x + (1-λ)·x[perm]``, with one ``λ ~ Beta(α, α)`` per
batch (as timm's ``Mixup``), and the loss is ``λ·CE(·, y) + (1-λ)·CE(·, y[perm])``. On small training sets (a
leave-one-subject-out fold of MEGC2019 holds about 430 flow maps, paper §4.2) it regularises towards linear behaviour
between samples. For flow maps the blend of two (u, v) fields is itself a displacement field; the strain channel, a
norm of the field's derivatives, is only approximated by the blend of the two strains (a regulariser, as for images).

The draws are stateless: ``λ`` and the permutation come from a NumPy generator seeded by (seed, rank, epoch, step), so a
run resumed from a checkpoint draws exactly what the uninterrupted run would have, with no RNG state to save.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

MIXUP_STREAM = 3  # random stream of the mixup draws (the engine's other streams: fit.GLOBAL_STREAM, AUGMENT_STREAM)


@dataclass(frozen=True)
class MixedBatch:
    """A blended batch: ``inputs = lam · x + (1 - lam) · x[perm]``, with ``labels`` and ``partner_labels = labels[perm]``."""

    inputs: torch.Tensor
    labels: torch.Tensor
    partner_labels: torch.Tensor
    lam: float


class Mixup:
    """Blends each training batch with a permutation of itself (``alpha`` > 0, the Beta distribution's parameter)."""

    def __init__(self, alpha: float, seed: int, rank: int = 0) -> None:
        if alpha <= 0:
            raise ValueError(f"mixup alpha must be > 0, got {alpha}")
        self.alpha, self.seed, self.rank = alpha, seed, rank

    def __call__(self, inputs: torch.Tensor, labels: torch.Tensor, epoch: int, step: int) -> MixedBatch:
        """Blend ``inputs`` (``(B, ...)``, any layout) for optimizer ``step`` of ``epoch`` (both 0-based)."""
        rng = np.random.default_rng([self.seed, MIXUP_STREAM, self.rank, epoch, step])
        lam = float(rng.beta(self.alpha, self.alpha))
        perm = torch.from_numpy(rng.permutation(len(labels))).to(inputs.device, non_blocking=True)
        return MixedBatch(inputs.mul(lam).add_(inputs[perm], alpha=1 - lam), labels, labels[perm], lam)

    def __repr__(self) -> str:
        return f"Mixup(alpha={self.alpha})"

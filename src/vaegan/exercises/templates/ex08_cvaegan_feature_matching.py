"""Exercise 8: CVAE-GAN's class-mean feature matching L_GC (Bao et al. 2017, sec. 3.2, eq. 4).

The generator does not fool the classifier C; it matches, class by class, the *centre*
of C's features of real images with that of its own images. Graded by ``vaegan exercises
check``: zero for identical features, classes missing from either batch ignored, and the
same numbers (and gradients) as vaegan's for random features.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def class_mean_feature_matching(
    real: Tensor, fake: Tensor, real_labels: Tensor, fake_labels: Tensor, num_classes: int
) -> Tensor:
    """L_GC = 1/2 sum_c || mean_{i: y_i = c} f(x_i) - mean_{j: y'_j = c} f(G(z_j, c)) ||^2, a scalar.

    real (B, F) features with real_labels (B,); fake (B', F) with fake_labels (B',). Sum only
    over the classes present in *both* batches (a mean over no images is undefined).
    Hint: ``F.one_hot(labels, K).to(features.dtype).T @ features`` sums the features of each class:
    (K, F) (one_hot gives integers; the product needs the features' float type).
    """
    _ = F
    raise NotImplementedError("ToImplement: per-class feature means of real and fake, 1/2 squared distance, summed")

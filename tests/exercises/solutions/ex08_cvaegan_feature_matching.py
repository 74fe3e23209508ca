"""The shipped implementation as a solution."""

from vaegan.models.cvaegan_losses import class_mean_feature_matching

__all__ = ["class_mean_feature_matching"]

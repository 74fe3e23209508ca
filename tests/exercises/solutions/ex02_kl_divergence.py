"""The shipped implementation as a solution: DiagonalGaussian.kl_per_dim, inherited."""

from vaegan.models.distributions import DiagonalGaussian


class ClosedFormKL(DiagonalGaussian):
    pass

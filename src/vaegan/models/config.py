"""``ModelConfig``: the fields every model shares; each model's own config subclasses it."""

from __future__ import annotations

from pydantic import NonNegativeFloat, PositiveFloat, PositiveInt, field_validator

from vaegan.foundation.section import Section
from vaegan.networks.config import NetworkConfig


class ModelConfig(Section):
    """Fields every model shares; each model's own config subclasses this.

    ``image_shape`` and ``num_classes`` are filled in from the dataset.
    """

    name: str
    image_shape: tuple[PositiveInt, ...] = (1, 28, 28)
    num_classes: PositiveInt = 10
    latent_dim: PositiveInt = 16
    network: NetworkConfig = NetworkConfig()
    lr: PositiveFloat = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: NonNegativeFloat = 0.0

    @field_validator("image_shape")
    @classmethod
    def _two_or_three_d(cls, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) not in (3, 4):
            raise ValueError(f"must be (C, H, W) or (C, D, H, W), got {shape}")
        return shape

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, betas: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"Adam betas must lie in [0, 1), got {betas}")
        return betas

"""The ``train`` section: how the Trainer runs (epochs, batches, device, precision, outputs)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, field_validator

from vaegan.foundation.section import Section


class TrainConfig(Section):
    """How the Trainer runs: epochs, batches, device, outputs."""

    epochs: PositiveInt = 10
    batch_size: PositiveInt = 128
    eval_batch_size: PositiveInt = 1000
    seed: int = 0
    device: str = "auto"
    precision: Literal["32", "bf16"] = "32"
    grid_size: PositiveInt = 64
    progress: bool = True
    tensorboard: bool = True
    visualize_every: int = Field(0, ge=0, description="latent figures into RUN/latent every N epochs (0: off)")

    @field_validator("device")
    @classmethod
    def _known_device(cls, device: str) -> str:
        if device not in ("auto", "cpu") and not device.startswith("cuda"):
            raise ValueError(f"must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
        return device

"""The ``train`` section: how the Trainer runs (epochs, batches, device, precision, outputs)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, field_validator

from vaegan.foundation.section import Section, Seed


class TrainConfig(Section):
    """How the Trainer runs: epochs, batches, device, outputs."""

    epochs: PositiveInt = 10
    batch_size: PositiveInt = 128
    eval_batch_size: PositiveInt = Field(
        1000,
        description="validation batch; batch_size instead for models whose terms are batch statistics "
        "(beta-TCVAE, CVAE-GAN, a cVAE with invariance_weight), so val/ compares with train/ of one process "
        "(under torchrun each rank trains on batch_size / W images, so such train/ terms are over those)",
    )
    seed: Seed = 0
    device: str = "auto"
    precision: Literal["32", "bf16"] = "32"
    grid_size: PositiveInt = 64
    lr_schedule: Literal["constant", "cosine"] = Field(
        "constant",
        description="cosine: the learning rate falls step by step over train.epochs to lr_final_fraction of it",
    )
    lr_final_fraction: float = Field(0.01, ge=0.0, le=1.0, description="cosine: the rate at the end, as a fraction")
    progress: bool = True
    tensorboard: bool = True
    visualize_every: int = Field(0, ge=0, description="latent figures into RUN/latent every N epochs (0: off)")
    score_maps_every: NonNegativeInt = Field(
        0,
        description="phantoms: r of the validation subjects' group disease map with their true atrophy, as "
        "val/map_r, every N epochs and at the last (0: off; conditional models with an encoder)",
    )
    check_finite_every: NonNegativeInt = Field(
        0, description="check the losses for NaN/inf every N steps (0: every step on the CPU, every 25 on CUDA)"
    )
    data_on_device: Literal["auto", "always", "never"] = Field(
        "auto",
        description="keep the training images on the device (always), stream them in batches from RAM or a "
        "memory-mapped file (never), or decide by size (auto: on the device if they fit in half its free memory)",
    )
    compile: bool = Field(
        False,
        description="torch.compile each top-level network's forward (slow first steps); what a model calls by "
        "other methods runs uncompiled (the CVAE-GAN's discriminator and classifier), as does a network whose "
        "gradient the loss differentiates (wgan_gp's critic, for its gradient penalty)",
    )
    channels_last: bool = Field(False, description="channels-last memory layout for 2-D and 3-D convolutions")
    # distributed (torchrun): see docs/distributed.md
    sync_batchnorm: bool = Field(False, description="batch norm over the global batch under torchrun (CUDA only)")
    dist_timeout_s: PositiveFloat = Field(
        600.0, le=7 * 24 * 3600, description="a collective waiting longer fails the job (at most a week)"
    )

    @field_validator("device")
    @classmethod
    def _known_device(cls, device: str) -> str:
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", device):
            raise ValueError("must be 'auto', 'cpu', 'cuda' or 'cuda:N'")
        return device

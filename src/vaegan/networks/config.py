"""``NetworkConfig``: how an encoder/decoder pair (or a discriminator) is built."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, field_validator

from vaegan.foundation.section import Section


class NetworkConfig(Section):
    """An encoder/decoder pair (or discriminator) built for 2-D or 3-D images.

    ``conv``: one stride-2 stage per entry of ``channels``, then the dense ``hidden``
    layers. ``mlp``: the image is flattened and passed through ``hidden``. ``warp_grid`` > 0
    makes the decoder a deformable template (:class:`~vaegan.networks.warp.Warped`): a
    learned template plus the decoder's image, moved by a smooth field the code draws on
    ``warp_grid`` control points per axis (2-D and 3-D images).
    """

    kind: Literal["conv", "mlp"] = "conv"
    channels: tuple[PositiveInt, ...] = (32, 64)
    hidden: tuple[PositiveInt, ...] = (256,)
    norm: Literal["batch", "instance", "none"] = "batch"
    activation: Literal["relu", "leaky_relu", "elu", "silu", "tanh"] = "relu"
    project_norm: bool = Field(False, description="conv decoders: norm the projected first feature map too (DCGAN)")
    warp_grid: int = Field(0, ge=0, description="decoders: warp a learned template on this many points per axis")

    @field_validator("warp_grid")
    @classmethod
    def _grid(cls, value: int) -> int:
        if value == 1:
            raise ValueError("warp_grid=1 cannot bend anything: use 0 (no warp) or at least 2 control points per axis")
        return value

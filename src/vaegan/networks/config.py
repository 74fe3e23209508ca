"""``NetworkConfig``: how an encoder/decoder pair (or a discriminator) is built."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, PositiveInt, model_validator

from vaegan.foundation.section import Section


class NetworkConfig(Section):
    """An encoder/decoder pair (or discriminator) built for 2-D or 3-D images.

    ``conv``: one stride-2 stage per entry of ``channels``, then the dense ``hidden``
    layers. ``mlp``: the image is flattened and passed through ``hidden``.
    """

    kind: Literal["conv", "mlp"] = "conv"
    channels: tuple[PositiveInt, ...] = (32, 64)
    hidden: tuple[PositiveInt, ...] = (256,)
    norm: Literal["batch", "instance", "none"] = "batch"
    activation: Literal["relu", "leaky_relu", "elu", "silu", "tanh"] = "relu"
    project_norm: bool = Field(False, description="conv decoders: norm the projected first feature map too (DCGAN)")

    @model_validator(mode="after")
    def _stages(self) -> NetworkConfig:
        if self.kind == "conv" and not self.channels:
            raise ValueError("a conv network with no channels has no stage; give channels, e.g. [32, 64], or kind: mlp")
        return self


# the choices every network accepts, so a subclass's own defaults never drift from NetworkConfig's
Norm = NetworkConfig.model_fields["norm"].annotation
Activation = NetworkConfig.model_fields["activation"].annotation


class HiddenForMLP(NetworkConfig):
    """A network whose ``mlp`` kind needs hidden layers: its conv default ``hidden=()`` would leave an mlp
    with none, one linear map (a generator, a discriminator) or no features of its own. Subclasses name
    the ``role`` and what is ``lost`` without them."""

    role: ClassVar[str] = "network"
    lost: ClassVar[str] = "is one linear map"
    example: ClassVar[str] = "[256]"

    @model_validator(mode="after")
    def _hidden_for_mlp(self) -> HiddenForMLP:
        if self.kind == "mlp" and not self.hidden:
            raise ValueError(f"an mlp {self.role} without hidden layers {self.lost}; give hidden, e.g. {self.example}")
        return self

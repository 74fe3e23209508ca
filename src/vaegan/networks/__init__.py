"""Networks: the components that models are composed of, for 2-D and 3-D images.

- ``layers.py``: dimension-agnostic layer factories (conv, transposed conv, norm, activation), and
  ``ClassOffsets``, a learned image per class added to a decoder's output.
- ``warp.py``: ``WarpedDecoder``, a decoder whose output a smooth deformation read from the code moves.
- ``conv.py``: strided convolutional encoder and its mirrored transposed-conv decoder.
- ``mlp.py``: fully connected encoder and decoder.
- ``build_encoder`` / ``build_decoder`` pick one from a :class:`~vaegan.networks.config.NetworkConfig`.

An encoder maps images (B, C, *S) to features (B, out_features), optionally
conditioned on a vector (a one-hot label) joined to the flattened features; a
decoder maps (B, in_features) to an image-shaped tensor (B, out_channels, *S).
"""

from collections.abc import Callable
from typing import TypeVar

from vaegan.foundation.errors import ConfigError
from vaegan.networks.config import NetworkConfig
from vaegan.networks.conv import ConvDecoder, ConvEncoder
from vaegan.networks.mlp import MLPDecoder, MLPEncoder

__all__ = ["ConvDecoder", "ConvEncoder", "MLPDecoder", "MLPEncoder", "build_decoder", "build_encoder"]


Built = TypeVar("Built")


def _named(key: str, build: Callable[[], Built]) -> Built:
    """``build()``, its config errors naming the model's key (``model.discriminator.channels``), not ``network``."""
    try:
        return build()
    except ConfigError as error:
        raise ConfigError(str(error).replace("network.", f"model.{key}.", 1)) from None


def build_encoder(
    config: NetworkConfig,
    image_shape: tuple[int, ...],
    out_features: int,
    *,
    cond_dim: int = 0,
    key: str = "network",
) -> ConvEncoder | MLPEncoder:
    """Encoder of the configured kind: (B, C, *S) [+ (B, cond_dim)] -> (B, out_features); ``key``: the
    model config's key of ``config``, for errors."""
    cls = ConvEncoder if config.kind == "conv" else MLPEncoder
    return _named(key, lambda: cls(image_shape, out_features, config, cond_dim=cond_dim))


def build_decoder(
    config: NetworkConfig, in_features: int, image_shape: tuple[int, ...], *, out_channels: int | None = None
) -> ConvDecoder | MLPDecoder:
    """Decoder of the configured kind: (B, in_features) -> (B, out_channels, *S)."""
    cls = ConvDecoder if config.kind == "conv" else MLPDecoder
    return _named("network", lambda: cls(in_features, image_shape, config, out_channels=out_channels or image_shape[0]))

"""Strided convolutional encoder and the mirrored transposed-convolution decoder.

Each stage halves (encoder) or doubles (decoder) every spatial size with a
kernel-4, stride-2, padding-1 convolution, as in DCGAN (Radford et al. 2016).
The decoder records the encoder's sizes so odd sizes (28 -> 14 -> 7 -> 3) come
back exactly through ``output_padding``; any image size and depth works.
"""

from __future__ import annotations

import logging
import math

import torch
from torch import Tensor, nn

from vaegan.foundation.errors import ConfigError
from vaegan.networks.config import NetworkConfig
from vaegan.networks.layers import CONV, CONV_TRANSPOSE, activation, dense_stack, norm

log = logging.getLogger(__name__)
MANY_FEATURES = 65_536  # flattened conv features above which the dense layers dwarf the network


def stage_sizes(spatial: tuple[int, ...], stages: int) -> list[tuple[int, ...]]:
    """Spatial sizes before each stage and after the last: [(28, 28), (14, 14), (7, 7)]."""
    sizes = [tuple(spatial)]
    for _ in range(stages):
        nxt = tuple(s // 2 for s in sizes[-1])
        if min(nxt) < 1:
            most = int(math.log2(min(spatial)))
            advice = f"use at most {most}" if most else "a size-1 axis halves to nothing: drop it, or use kind: mlp"
            raise ConfigError(
                f"network.channels has {stages} stride-2 stages, too many for an image of size {spatial}; {advice}"
            )
        sizes.append(nxt)
    return sizes


def check_instance_norm(config: NetworkConfig, size: tuple[int, ...]) -> None:
    """Instance norm normalises each map over its own voxels: refuse it on maps of one voxel (``size``, the
    smallest map it would norm), where torch fails mid-training ("Expected more than 1 spatial element")."""
    if config.norm == "instance" and math.prod(size) == 1:
        raise ConfigError(
            f"network.norm='instance' normalises each feature map over its voxels, and the last of the "
            f"{len(config.channels)} stages of network.channels leaves maps of one voxel; use one stage fewer, "
            "or norm 'batch' or 'none'"
        )


class ConvEncoder(nn.Module):
    """Conv stages, flatten, dense ``hidden`` layers, linear head.

    (B, C, *S) [+ cond (B, K), joined after flattening] -> (B, out_features).

    Example:
        >>> enc = ConvEncoder((1, 28, 28), 32, NetworkConfig(channels=(32, 64)))
        >>> enc(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 32])
    """

    def __init__(self, image_shape: tuple[int, ...], out_features: int, config: NetworkConfig, *, cond_dim: int = 0):
        super().__init__()
        dims = len(image_shape) - 1
        sizes = stage_sizes(image_shape[1:], len(config.channels))
        if len(config.channels) > 1:  # the first stage has no norm
            check_instance_norm(config, sizes[-1])
        layers: list[nn.Module] = []
        in_ch = image_shape[0]
        for i, width in enumerate(config.channels):
            # no norm on the input stage: it would wash out the image statistics (DCGAN practice)
            use_norm = i > 0 and config.norm != "none"
            layers += [CONV[dims](in_ch, width, 4, 2, 1, bias=not use_norm)]
            layers += [norm(config, width, dims) if use_norm else nn.Identity(), activation(config)]
            in_ch = width
        self.body = nn.Sequential(*layers)
        flat = in_ch * math.prod(sizes[-1])
        if flat > MANY_FEATURES:  # each missing stage multiplies it by 2^dims, and the dense layer's weights with it
            log.warning(
                "network: the last of %d conv stages leaves %s features (%d channels x %s) for the dense layers; "
                "add stages to network.channels (e.g. [16, 32, 64, 128]) for a smaller, faster network",
                len(config.channels),
                f"{flat:,}",
                in_ch,
                " x ".join(map(str, sizes[-1])),
            )
        self.dense = dense_stack([flat + cond_dim, *config.hidden], config)
        self.feature_dim = config.hidden[-1] if config.hidden else flat + cond_dim
        self.head = nn.Linear(self.feature_dim, out_features)

    def features(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        """Activations before the head, (B, feature_dim): what feature matching compares."""
        h = self.body(x).flatten(1)  # (B, C' * prod(S'))
        if cond is not None:
            h = torch.cat([h, cond], dim=1)
        return self.dense(h)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.head(self.features(x, cond))


class ConvDecoder(nn.Module):
    """Dense layers, reshape, transposed-conv stages mirroring :class:`ConvEncoder`.

    (B, in_features) -> (B, out_channels, *S); the last stage has no norm or
    activation, its output is the likelihood's parameters (e.g. logits).
    """

    def __init__(self, in_features: int, image_shape: tuple[int, ...], config: NetworkConfig, *, out_channels: int):
        super().__init__()
        dims = len(image_shape) - 1
        sizes = stage_sizes(image_shape[1:], len(config.channels))
        if config.project_norm or len(config.channels) > 1:  # the projected map, or the first stage's output
            check_instance_norm(config, sizes[-1] if config.project_norm else sizes[-2])
        widths = list(reversed(config.channels))
        self.start_shape = (widths[0], *sizes[-1])
        self.dense = dense_stack([in_features, *reversed(config.hidden)], config)
        last = config.hidden[0] if config.hidden else in_features
        # DCGAN: z is projected and reshaped into the smallest feature map, then batch-normed and
        # activated like every later stage (Radford et al. 2016, fig. 1); project_norm turns the norm on
        use_norm = config.project_norm and config.norm != "none"
        self.project = nn.Sequential(
            nn.Linear(last, math.prod(self.start_shape), bias=not use_norm),
            nn.Unflatten(1, self.start_shape),  # (B, C', *S')
            norm(config, widths[0], dims) if use_norm else nn.Identity(),
            activation(config),
        )
        layers: list[nn.Module] = []
        targets = list(reversed(sizes[:-1]))
        outs = [*widths[1:], out_channels]
        for i, (in_ch, out_ch, target) in enumerate(zip(widths, outs, targets)):
            current = sizes[len(sizes) - 1 - i]
            pad = tuple(t - 2 * c for t, c in zip(target, current))  # 0 or 1: recovers odd sizes
            layers.append(CONV_TRANSPOSE[dims](in_ch, out_ch, 4, 2, 1, output_padding=pad))
            if i < len(widths) - 1:
                layers += [norm(config, out_ch, dims), activation(config)]
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        h = self.project(self.dense(z))  # (B, C', *S')
        return self.body(h)

"""Fully connected encoder and decoder (the classic 784-400-20 VAE is ``hidden: [400]``)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from vaegan.networks.config import NetworkConfig
from vaegan.networks.layers import dense_stack


class MLPEncoder(nn.Module):
    """Flatten, then dense layers: (B, C, *S) [+ cond (B, K)] -> (B, out_features).

    Example:
        >>> enc = MLPEncoder((1, 28, 28), 40, NetworkConfig(kind="mlp", hidden=(400,)))
        >>> enc(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 40])
    """

    def __init__(self, image_shape: tuple[int, ...], out_features: int, config: NetworkConfig, *, cond_dim: int = 0):
        super().__init__()
        sizes = [math.prod(image_shape) + cond_dim, *config.hidden]
        self.body = dense_stack(sizes, config)
        self.feature_dim = sizes[-1]
        self.head = nn.Linear(sizes[-1], out_features)

    def features(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        """The last hidden layer's activations, (B, feature_dim)."""
        h = x.flatten(1)
        if cond is not None:
            h = torch.cat([h, cond], dim=1)
        return self.body(h)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.head(self.features(x, cond))


class MLPDecoder(nn.Module):
    """Dense layers up to one output per pixel: (B, in_features) -> (B, out_channels, *S)."""

    def __init__(self, in_features: int, image_shape: tuple[int, ...], config: NetworkConfig, *, out_channels: int):
        super().__init__()
        self.out_shape = (out_channels, *image_shape[1:])
        sizes = [in_features, *reversed(config.hidden)]
        self.body = dense_stack(sizes, config)
        self.head = nn.Linear(sizes[-1], math.prod(self.out_shape))

    def forward(self, z: Tensor) -> Tensor:
        return self.head(self.body(z)).view(-1, *self.out_shape)

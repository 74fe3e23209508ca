"""Layer factories indexed by spatial dimensions, so one network class serves 2-D and 3-D."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vaegan.networks.config import NetworkConfig

# images are 2-D or 3-D (ModelConfig refuses others)
CONV = {2: nn.Conv2d, 3: nn.Conv3d}
CONV_TRANSPOSE = {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
BATCH_NORM = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
INSTANCE_NORM = {2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}


def activation(config: NetworkConfig) -> nn.Module:
    if config.activation == "leaky_relu":
        return nn.LeakyReLU(0.2)  # the DCGAN slope (Radford et al. 2016)
    return {"relu": nn.ReLU, "elu": nn.ELU, "silu": nn.SiLU, "tanh": nn.Tanh}[config.activation]()


def norm(config: NetworkConfig, channels: int, spatial_dims: int) -> nn.Module:
    if config.norm == "batch":
        return BATCH_NORM[spatial_dims](channels)
    if config.norm == "instance":
        return INSTANCE_NORM[spatial_dims](channels, affine=True)
    return nn.Identity()


def dense_stack(sizes: list[int], config: NetworkConfig) -> nn.Sequential:
    """Linear layers with activations between consecutive ``sizes`` (no norm: works for batch 1)."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), activation(config)]
    return nn.Sequential(*layers)


class ClassOffsets(nn.Module):
    """A decoder plus one learned image per class: ``decoder(input) + sum_k c_k * offset_k``.

    The decoder's input ends with the condition ``c`` (B, K), a one-hot label or class weights, as a
    conditional model joins it (``cat([z, c])``); the offsets (K, C, *S) start at zero. The difference
    between two classes' offsets is learned voxel by voxel, the way a voxel-wise group model (a GLM)
    estimates a group effect, so it keeps detail finer than the decoder's upsampling draws; the decoder
    still models each subject from its code.
    """

    def __init__(self, decoder: nn.Module, num_classes: int, out_shape: tuple[int, ...]):
        super().__init__()
        self.decoder = decoder
        self.num_classes = num_classes
        self.offsets = nn.Parameter(torch.zeros(num_classes, *out_shape))

    def forward(self, inputs: Tensor) -> Tensor:
        condition = inputs[:, -self.num_classes :]  # (B, K)
        return self.decoder(inputs) + torch.einsum("bk,k...->b...", condition, self.offsets)

"""A deformable-template decoder: a learned template image, warped by a smooth field drawn from the code.

Brains differ from one another mostly by shape: the same structures, moved a few
millimetres. A convolutional decoder has to redraw every moved edge voxel by voxel,
and from a hundred or so training brains it learns little more than a blurred mean.
Computational anatomy models a brain instead as a template deformed by a smooth
field (deformation- and tensor-based morphometry; Ashburner & Friston 2000; as a
learned decoder, Dalca et al. 2019, "Learning conditional deformable templates",
NeurIPS). :class:`Warped` does that: its image part draws the template plus what
the code adds to it, in template space, and a linear map of the code draws a
displacement on a coarse ``grid``, upsampled to a smooth field that moves every
voxel of that image (``torch.nn.functional.grid_sample``).

A class effect added inside (a conditional model's ``class_offsets``, in template
space) is carried onto each subject's own anatomy by the warp, as atrophy sits in
each brain's own cortex and ventricles.

Example:
    >>> from vaegan.networks.config import NetworkConfig
    >>> from vaegan.networks.conv import ConvDecoder
    >>> image = ConvDecoder(8, (1, 16, 16, 16), NetworkConfig(channels=(8, 16)), out_channels=1)
    >>> Warped(image, 8, (1, 16, 16, 16), grid=4)(torch.zeros(2, 8)).shape
    torch.Size([2, 1, 16, 16, 16])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Warped(nn.Module):
    """``warp(template + image(input), displacement(input))``: (B, in_features) -> (B, C, *S).

    Args:
        image: a decoder (B, in_features) -> (B, C, *S): what the code adds to the template, in
            template space.
        in_features: the decoder input's size (the code, and a conditional model's label).
        out_shape: (C, *S) of the output, the likelihood's parameters per voxel.
        grid: control points of the displacement per axis (grid^d of them, d = 2 or 3); the field
            between them is linear interpolation, so a coarse grid gives a smooth warp.

    Attributes:
        template: (C, *S) the learned template, starting at zero.
        displacement: the linear map from the input to the displacement at the control points,
            starting at zero, so an untrained model does not warp at all. Displacements are in
            ``grid_sample``'s units: 2 spans the image.
    """

    def __init__(self, image: nn.Module, in_features: int, out_shape: tuple[int, ...], grid: int):
        super().__init__()
        dims = len(out_shape) - 1
        if dims not in (2, 3):
            raise ValueError(f"a warped decoder needs 2-D or 3-D images, not {dims}-D (shape {out_shape})")
        if grid < 2:
            raise ValueError(f"grid={grid}: a displacement field needs at least 2 control points per axis")
        self.image = image
        self.size = tuple(out_shape[1:])
        self.grid = (grid,) * dims
        self.template = nn.Parameter(torch.zeros(out_shape))
        self.displacement = nn.Linear(in_features, dims * grid**dims)
        nn.init.zeros_(self.displacement.weight)
        nn.init.zeros_(self.displacement.bias)

    def field(self, inputs: Tensor) -> Tensor:
        """(B, in_features) -> the sampling grid (B, *S, d) of ``grid_sample``: identity plus displacement."""
        batch, dims = len(inputs), len(self.size)
        coarse = self.displacement(inputs).view(batch, dims, *self.grid)
        mode = "trilinear" if dims == 3 else "bilinear"
        moved = F.interpolate(coarse, size=self.size, mode=mode, align_corners=True)  # (B, d, *S)
        identity = torch.eye(dims, dims + 1, dtype=inputs.dtype, device=inputs.device).expand(batch, -1, -1)
        base = F.affine_grid(identity, (batch, 1, *self.size), align_corners=False)  # (B, *S, d)
        return base + moved.movedim(1, -1)

    def forward(self, inputs: Tensor) -> Tensor:
        drawn = self.template + self.image(inputs)  # (B, C, *S), template space
        field = self.field(inputs).to(drawn.dtype)
        return F.grid_sample(drawn, field, mode="bilinear", padding_mode="border", align_corners=False)

"""A decoder whose output a smooth deformation, predicted from the code, moves onto each subject.

A voxel-wise class effect (:class:`~vaegan.networks.layers.ClassOffsets`) is drawn on one grid, the average
brain's; every subject's anatomy sits a little elsewhere (after an affine registration, a few millimetres
of smooth residual deformation remain). Warping the decoder's whole output, class offsets included, by a
deformation read from the subject's code carries that effect onto the subject's own anatomy, as a
deformable template does (Dalca et al. 2019, "Learning conditional deformable templates with
convolutional networks"). The deformation is a free-form one: displacements at ``points`` control points
per axis, linearly interpolated to every voxel, so it is smooth by construction (Rueckert et al. 1999).
The code only predicts each subject's deformation; :meth:`WarpedDecoder.fixed` decodes with control
points fitted to each image instead (``ConditionalVAE.map_code_and_warp``), as a registration would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn
from torch.nn import functional as F

INTERPOLATION = {2: "bilinear", 3: "trilinear"}
REACH = 0.1  # the largest displacement, a fraction of the half field of view (0.1: 3.2 voxels of 64)


class WarpedDecoder(nn.Module):
    """``decoder(inputs)`` resampled at ``identity + displacement(code)``; the code is the first ``code_dim``
    inputs (a conditional model joins its condition after them, which the deformation does not read).

    The last layer starts at zero, so the warp starts as the identity and the wrapped decoder's output is
    returned unchanged until training moves it.

    Example:
        >>> warped = WarpedDecoder(nn.Sequential(nn.Linear(4, 64), nn.Unflatten(1, (1, 8, 8))), 4, (1, 8, 8), 3)
        >>> warped(torch.zeros(2, 4)).shape
        torch.Size([2, 1, 8, 8])
    """

    def __init__(self, decoder: nn.Module, code_dim: int, out_shape: tuple[int, ...], points: int, hidden: int = 256):
        super().__init__()
        self.decoder = decoder
        self.code_dim = code_dim
        self.spatial = tuple(out_shape[1:])
        self.dims = len(self.spatial)
        self.points = points
        last = nn.Linear(hidden, self.dims * points**self.dims)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.field = nn.Sequential(nn.Linear(code_dim, hidden), nn.SiLU(), last)
        eye = torch.eye(self.dims, self.dims + 1).unsqueeze(0)  # (1, d, d+1): the identity affine
        self.register_buffer("identity", F.affine_grid(eye, [1, 1, *self.spatial], align_corners=False), False)
        self.held: Tensor | None = None  # control points fixed per image (:meth:`fixed`), else None

    @contextmanager
    def fixed(self, points: Tensor) -> Iterator[WarpedDecoder]:
        """Within the block every decoding uses ``points`` (B, d * points^d: the field's output, before its
        tanh, as ``field(code)`` gives it) as each image's control points, whatever its code.

        A warp fitted to each image (:meth:`~vaegan.models.ConditionalVAE.map_code_and_warp`) is then
        decoded with any label; decodings of another batch size are refused inside the block. Blocks nest:
        leaving one restores the warps held before it.
        """
        outer, self.held = self.held, points
        try:
            yield self
        finally:
            self.held = outer

    def displacement(self, code: Tensor) -> Tensor:
        """(B, *S, d) displacements in grid_sample's units (-1..1 across the field of view)."""
        points = self.field(code) if self.held is None else self.held.to(code.device)
        if len(points) != len(code):
            raise ValueError(f"{len(code)} codes, {len(points)} fixed warps: decode the batch the warps were fitted to")
        coarse = REACH * torch.tanh(points).view(len(code), self.dims, *(self.points,) * self.dims)
        fine = F.interpolate(coarse, size=self.spatial, mode=INTERPOLATION[self.dims], align_corners=True)
        return fine.movedim(1, -1)

    def forward(self, inputs: Tensor) -> Tensor:
        output = self.decoder(inputs)
        grid = self.identity + self.displacement(inputs[:, : self.code_dim]).to(self.identity.dtype)
        return F.grid_sample(output, grid.to(output.dtype), mode="bilinear", padding_mode="border", align_corners=False)

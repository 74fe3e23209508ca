"""The deformable-template decoder (``network.warp_grid``): identity at the start, moves what it draws,
learns shapes a template alone cannot, and carries a conditional model's class offsets onto each warp."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError
from torch import nn

from tests.models.tiny_configs import tiny_model
from vaegan.models import VAE, ConditionalVAE
from vaegan.networks import Warped
from vaegan.networks.config import NetworkConfig

WARPED = {"kind": "conv", "channels": [8, 16], "hidden": [32], "warp_grid": 4}


class Drawn(nn.Module):
    """A stand-in decoder that always draws the same image."""

    def __init__(self, image: torch.Tensor):
        super().__init__()
        self.drawn = image

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.drawn.expand(len(inputs), *self.drawn.shape)


def shift_by_one_voxel(warped: Warped, size: int) -> None:
    """Displace every control point by one voxel along the last axis (grid_sample's x), whatever the input."""
    with torch.no_grad():
        warped.displacement.bias.view(len(warped.size), -1)[0] = 2.0 / size


@pytest.mark.parametrize("shape", [(1, 12, 12), (1, 8, 10, 12)])
def test_an_untrained_warp_is_the_identity_and_a_one_voxel_field_moves_the_image_one_voxel(shape):
    image = torch.rand(shape)
    warped = Warped(Drawn(image), 5, shape, grid=3)
    inputs = torch.randn(2, 5)
    torch.testing.assert_close(warped(inputs), image.expand(2, *shape))  # starts unwarped
    shift_by_one_voxel(warped, shape[-1])
    moved = warped(inputs)
    torch.testing.assert_close(moved[..., :-1], image[..., 1:].expand(2, *shape[:-1], shape[-1] - 1))
    torch.testing.assert_close(moved[..., -1], image[..., -1].expand(2, *shape[:-1]))  # the border repeats


def test_the_template_is_learned_and_added_before_the_warp():
    shape = (1, 12, 12)
    image = torch.rand(shape)
    warped = Warped(Drawn(image), 5, shape, grid=3)
    with torch.no_grad():
        warped.template.copy_(torch.rand(shape))
    shift_by_one_voxel(warped, 12)
    moved = warped(torch.randn(1, 5))
    torch.testing.assert_close(moved[0, :, :, :-1], (warped.template + image)[:, :, 1:])


def test_warp_grid_builds_a_warped_decoder_and_refuses_a_grid_of_one():
    model = tiny_model("vae", (1, 16, 16), network=WARPED)
    assert isinstance(model, VAE) and isinstance(model.decoder, Warped)
    assert model.decoder.grid == (4, 4)
    assert not isinstance(tiny_model("vae", (1, 16, 16)).decoder, Warped)  # off by default
    with pytest.raises(ValidationError, match="warp_grid=1 cannot bend anything"):
        NetworkConfig(warp_grid=1)


def test_a_warped_vae_trains_in_3d_and_survives_a_checkpoint(tmp_path):
    model = tiny_model("vae", (1, 8, 8, 8), network=WARPED)
    optimizers = model.configure_optimizers()
    from tests.models.test_contract import batch

    for _ in range(3):
        terms = model.train_step(batch(model), optimizers)
    assert all(torch.isfinite(torch.as_tensor(v)) for v in terms.values())
    assert model.decoder.displacement.weight.abs().sum() > 0  # the field is trained
    model.save(tmp_path / "model.pt")
    again = VAE.load(tmp_path / "model.pt")
    z = torch.randn(3, model.config.latent_dim)
    torch.testing.assert_close(again.eval().decode(z), model.eval().decode(z))


def test_class_offsets_sit_in_template_space_so_the_warp_moves_them():
    model = tiny_model("cvae", (1, 12, 12), num_classes=2, network=WARPED, class_offsets=True)
    assert isinstance(model, ConditionalVAE) and isinstance(model.decoder, Warped)
    z, labels = torch.randn(2, model.config.latent_dim), torch.tensor([0, 1])
    model.eval()
    plain = model.decode(z, labels)
    offsets = model.decoder.image.offsets
    with torch.no_grad():
        offsets.copy_(torch.rand_like(offsets))
    torch.testing.assert_close(model.decode(z, labels) - plain, offsets[labels])  # unwarped: added as they are
    shift_by_one_voxel(model.decoder, 12)
    with torch.no_grad():
        offsets.zero_()
    plain = model.decode(z, labels)
    with torch.no_grad():
        offsets.copy_(torch.rand_like(offsets))
    added = model.decode(z, labels) - plain
    torch.testing.assert_close(added[..., :-1], offsets[labels][..., 1:])  # moved with the subject's warp


def blobs(shifts: torch.Tensor, size: int = 16) -> torch.Tensor:
    """(N,) horizontal shifts in voxels -> (N, 1, size, size) Gaussian blobs moved by them."""
    axis = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    y, x = axis.view(-1, 1), axis.view(1, -1)
    return torch.exp(-((x - shifts.view(-1, 1, 1, 1)) ** 2 + y**2) / 8.0)


def test_a_warp_learns_where_each_blob_sits_which_a_template_alone_cannot():
    """Each image is one blob moved by s voxels and the input is s: the warp fits them, a template only their mean."""
    torch.manual_seed(0)
    shifts = torch.linspace(-2.5, 2.5, 32)
    images, inputs = blobs(shifts), shifts.view(-1, 1)
    zero = Drawn(torch.zeros(1, 16, 16))
    warped = Warped(zero, 1, (1, 16, 16), grid=4)
    optimizer = torch.optim.Adam(warped.parameters(), lr=0.02)
    for _ in range(400):
        loss = (warped(inputs) - images).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    around_mean = (images - images.mean(0)).pow(2).mean()  # what the best single template leaves
    assert loss.item() < 0.1 * around_mean.item(), (loss.item(), around_mean.item())


def test_a_warped_gan_generator_starts_unwarped_after_the_dcgan_initialisation():
    model = tiny_model("gan", (1, 16, 16), network={"channels": [8, 16], "hidden": [], "warp_grid": 4})
    assert isinstance(model.generator, Warped)
    assert model.generator.displacement.weight.abs().sum() == 0 and model.generator.displacement.bias.abs().sum() == 0

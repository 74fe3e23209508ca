"""ConditionalVAE-specific behaviour; the shared contract suite covers the rest."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from pydantic import ValidationError

from tests.conftest import REPO, tiny_splits
from tests.models.test_contract import batch, make
from vaegan.config import load_config
from vaegan.experiment import train_from_config
from vaegan.models import VAE, Batch, ConditionalVAE, FixedInputs
from vaegan.models.cvae import gaussian_kernel, label_mmd
from vaegan.networks.layers import ClassOffsets
from vaegan.networks.warp import REACH, WarpedDecoder

K = 3  # classes of the tiny blob data


def fixed_inputs(model, n: int = 8) -> FixedInputs:
    x = batch(model, n)
    return FixedInputs(x.x, x.y, torch.randn(n, model.config.latent_dim))


def test_is_a_vae_that_needs_labels():
    model = make("cvae")
    assert isinstance(model, VAE) and model.conditional
    with pytest.raises(ValueError, match="pass labels"):
        model.sample(2)


def test_the_label_reaches_encoder_and_decoder():
    model = make("cvae").eval()
    x = batch(model, 4).x
    z = torch.randn(4, model.config.latent_dim)
    zeros, ones = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)
    assert not torch.allclose(model.encode(x, zeros), model.encode(x, ones))
    assert not torch.allclose(model.generate(z, zeros), model.generate(z, ones))


def test_analogies_decode_each_code_with_every_class():
    model = make("cvae").eval()
    x = batch(model, 4)
    out = model.analogies(x.x, x.y)
    assert out.shape == (4 * K, *x.x.shape[1:])
    rows = out.view(4, K, *x.x.shape[1:])
    codes = model.encode(x.x, x.y)  # each image encoded with its own label
    for i in range(4):
        expected = model.generate(codes[i].expand(K, -1), torch.arange(K))
        torch.testing.assert_close(rows[i], expected)


def test_epoch_grids_fakes_are_one_row_per_class_and_analogies_start_with_the_input():
    model = make("cvae").eval()
    fixed = fixed_inputs(model)
    grids = model.epoch_images(fixed)
    assert set(grids) == {"recons", "fakes", "analogies"}
    shape = fixed.x.shape[1:]

    rows = grids["fakes"]
    columns = K
    assert rows.shape == (K, K, *shape)
    for c in range(K):  # row c: class c drawn from the first `columns` noises
        torch.testing.assert_close(rows[c], model.generate(fixed.z[:columns], torch.full((columns,), c)))

    table = grids["analogies"]
    assert table.shape == (8, K + 1, *shape)
    torch.testing.assert_close(table[:, 0], fixed.x)  # column 0: the inputs themselves
    torch.testing.assert_close(table[:, 1:].flatten(0, 1), model.analogies(fixed.x, fixed.y))


def test_after_training_the_label_puts_the_blob_where_that_class_has_it():
    """Blob data: class c is a bright square on the diagonal at c/3 of the image. Same noise, three labels."""
    torch.manual_seed(0)
    model = make("cvae", num_classes=K)
    data = tiny_splits(n=96).train
    optimizers = model.configure_optimizers()
    for step in range(150):
        index = torch.randperm(96, generator=torch.Generator().manual_seed(step))[:16]
        model.train_step(Batch(data.images[index], data.labels[index]), optimizers)
    for c in range(K):
        images = model.sample(10, torch.full((10,), c), torch.Generator().manual_seed(0))[:, 0]  # (10, 16, 16)
        brightness = [float(images[:, s : s + 5, s : s + 5].mean()) for s in (0, 5, 10)]  # each class's square
        assert max(range(K), key=brightness.__getitem__) == c, (c, brightness)


def grid_content(path) -> np.ndarray:
    """The pixels of a saved grid in [0, 1], without the grey padding between images."""
    pixels = np.asarray(Image.open(path))
    return pixels[pixels != 128].astype(np.float32) / 255.0


def assert_not_blank(path) -> None:
    content = grid_content(path)
    assert content.std() > 0.08, f"{path} looks blank (pixel std {content.std():.3f})"


def test_briefly_trains_on_real_mnist_with_the_default_config(mnist_dir, tmp_path):
    overrides = [f"data.data_dir={mnist_dir}", "data.limit=2000", "data.val_size=200", "train.epochs=1"]
    overrides += ["train.progress=false", "train.tensorboard=false", f"out={tmp_path}"]
    history = train_from_config(load_config(REPO / "configs" / "mnist_cvae.yaml", overrides))
    assert len(history) == 1 and all(math.isfinite(v) for v in history[0].values())
    for name in ("recons", "fakes", "analogies"):
        assert_not_blank(tmp_path / f"epoch001_{name}.png")
        assert grid_content(tmp_path / f"epoch001_{name}.png").mean() < 0.5  # dark background, light strokes
    model = ConditionalVAE.load(tmp_path / "checkpoints" / "last.pt")
    assert model.sample(10, torch.arange(10)).std() > 0.05


def test_label_mmd_is_the_sum_over_classes_of_the_distance_of_mean_embeddings():
    """Against the definition, class by class with explicit kernel means; an absent class adds nothing."""
    torch.manual_seed(0)
    z, labels = torch.randn(30, 4), torch.tensor([0] * 10 + [2] * 20)
    kernel = gaussian_kernel(z)
    expected = 0.0
    for c in (0, 2):  # class 1 is absent
        own = labels == c
        expected += kernel[own][:, own].mean() - 2 * kernel[own].mean() + kernel.mean()
    torch.testing.assert_close(label_mmd(z, labels, 3), expected)


def test_label_mmd_is_small_when_codes_ignore_the_label_and_large_when_they_carry_it():
    torch.manual_seed(0)
    z, labels = torch.randn(400, 8), torch.randint(0, 2, (400,))
    independent = label_mmd(z, labels, 2)
    carried = label_mmd(z + 2.0 * labels[:, None], labels, 2)
    assert 0 <= independent < 0.05 < 0.5 < carried


def test_invariance_weight_adds_the_weighted_mmd_to_loss_and_objective():
    torch.manual_seed(0)
    plain, invariant = make("cvae", num_classes=K), make("cvae", num_classes=K, invariance_weight=10.0)
    invariant.load_state_dict(plain.state_dict())
    data = batch(plain, 16)
    torch.manual_seed(1)
    before = plain.losses(data)
    torch.manual_seed(1)
    after = invariant.losses(data)
    assert "mmd" not in before and float(after["mmd"].detach()) > 0
    torch.testing.assert_close(after["objective"], before["objective"] + 10.0 * after["mmd"])
    after["mmd"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in invariant.encoder.parameters())
    assert all(p.grad is None for p in invariant.decoder.parameters())  # the penalty is on the code alone


def test_invariance_weight_pushes_the_class_out_of_the_code():
    """Blob data, where the class is plain in every image: with the penalty the codes of the classes
    overlap (small MMD of the posterior means); without it the encoder keeps the class in z too."""

    def trained(weight: float) -> float:
        torch.manual_seed(0)
        model = make("cvae", num_classes=K, invariance_weight=weight)
        data = tiny_splits(n=96).train
        optimizers = model.configure_optimizers()
        for step in range(150):
            index = torch.randperm(96, generator=torch.Generator().manual_seed(step))[:32]
            model.train_step(Batch(data.images[index], data.labels[index]), optimizers)
        return float(label_mmd(model.encode(data.images, data.labels), data.labels, K))

    free, invariant = trained(0.0), trained(100.0)
    assert invariant < 0.5 * free, (free, invariant)


def test_class_offsets_start_at_zero_and_add_one_image_per_class_to_the_decoder_output():
    torch.manual_seed(0)
    plain, offset = make("cvae", num_classes=K), make("cvae", num_classes=K, class_offsets=True)
    offset.decoder.decoder.load_state_dict(plain.decoder.state_dict())
    offset.encoder.load_state_dict(plain.encoder.state_dict())
    z, labels = torch.randn(4, plain.config.latent_dim), torch.tensor([0, 1, 2, 1])
    torch.testing.assert_close(offset.decode(z, labels), plain.decode(z, labels))  # zero at the start
    with torch.no_grad():
        offset.decoder.offsets.copy_(torch.randn_like(offset.decoder.offsets))
    shift = offset.decode(z, labels) - plain.decode(z, labels)
    torch.testing.assert_close(shift, offset.decoder.offsets[labels])
    weights = torch.tensor([[0.25, 0.75, 0.0]])  # class weights (interpolation figures) mix the offsets
    mixed = offset.decode(z[:1], weights) - plain.decode(z[:1], weights)
    torch.testing.assert_close(mixed[0], 0.25 * offset.decoder.offsets[0] + 0.75 * offset.decoder.offsets[1])


def test_class_offsets_learn_a_fine_class_effect_and_survive_a_checkpoint(tmp_path):
    """Class 1 is class 0 minus a sparse, pixel-fine pattern; the offsets' difference draws it."""
    torch.manual_seed(0)
    model = make("cvae", num_classes=2, class_offsets=True)
    shape = tuple(model.config.image_shape)
    generator = torch.Generator().manual_seed(1)
    pattern = (torch.rand(shape, generator=generator) < 0.2).float() * 0.3
    labels = torch.arange(128) % 2
    images = torch.rand(128, *shape, generator=generator) * 0.4 + 0.3 - labels.view(-1, 1, 1, 1) * pattern
    optimizers = model.configure_optimizers()
    for step in range(60):
        index = torch.randperm(128, generator=torch.Generator().manual_seed(step))[:32]
        model.train_step(Batch(images[index], labels[index]), optimizers)
    learned = (model.decoder.offsets[0] - model.decoder.offsets[1]).detach()
    assert torch.corrcoef(torch.stack([learned.flatten(), pattern.flatten()]))[0, 1] > 0.5
    model.save(tmp_path / "model.pt")
    again = ConditionalVAE.load(tmp_path / "model.pt")
    torch.testing.assert_close(again.decoder.offsets, model.decoder.offsets)


def test_class_offsets_belong_to_the_cvaegan_generator_and_its_optimizer():
    model = make("cvaegan", num_classes=K, class_offsets=True)
    owned = {id(p) for p in model.component_parameters("encoder_generator")}
    assert id(model.decoder.offsets) in owned
    assert all(
        id(model.decoder.offsets) not in {id(p) for p in model.component_parameters(name)}
        for name in ("discriminator", "classifier")
    )


def test_log_likelihood_takes_soft_labels_as_encode_does():
    """(B, K) class weights reached encode and decode, but log_likelihood's repeat crashed on them."""
    model = make("cvae")
    x = batch(model, 3).x
    hard = torch.tensor([0, 1, 2])
    soft = torch.nn.functional.one_hot(hard, K).float()
    torch.manual_seed(0)
    by_index = model.log_likelihood(x, hard, k=8)
    torch.manual_seed(0)
    by_weights = model.log_likelihood(x, soft, k=8)
    torch.testing.assert_close(by_weights, by_index)


def shifted_warp(model, pixels: float) -> None:
    """Set the model's warp to one constant displacement: ``pixels`` along the last axis, whatever the code."""
    warp = model.decoder
    width = model.config.image_shape[-1]
    last = warp.field[-1]
    with torch.no_grad():
        last.bias.view(warp.dims, -1)[0] = math.atanh(2 * pixels / width / REACH)  # grid units: 2 / width a pixel


def test_the_warp_starts_as_the_identity_and_a_shift_moves_offsets_and_decoder_alike(tmp_path):
    torch.manual_seed(0)
    shape = (1, 16, 32)  # a pixel is 2 / 32 of the warp's units, within its reach
    plain = make("cvae", shape, K, class_offsets=True)
    warped = make("cvae", shape, K, class_offsets=True, warp_points=3)
    assert isinstance(warped.decoder, WarpedDecoder) and isinstance(warped.decoder.decoder, ClassOffsets)
    warped.decoder.decoder.load_state_dict(plain.decoder.state_dict())
    warped.encoder.load_state_dict(plain.encoder.state_dict())
    with torch.no_grad():
        plain.decoder.offsets.copy_(torch.randn_like(plain.decoder.offsets))
        warped.decoder.decoder.offsets.copy_(plain.decoder.offsets)
    z, labels = torch.randn(4, plain.config.latent_dim), torch.tensor([0, 1, 2, 1])
    torch.testing.assert_close(warped.decode(z, labels), plain.decode(z, labels))  # the identity at the start
    shifted_warp(warped, 1.0)  # each output voxel reads the voxel one to its right
    torch.testing.assert_close(warped.decode(z, labels)[..., :-1], plain.decode(z, labels)[..., 1:])
    effect = warped.decode(z[:1], torch.tensor([1])) - warped.decode(z[:1], torch.tensor([0]))
    torch.testing.assert_close(  # a class effect is moved with the subject
        effect[..., :-1], (plain.decode(z[:1], torch.tensor([1])) - plain.decode(z[:1], torch.tensor([0])))[..., 1:]
    )
    assert warped.offsets() is warped.decoder.decoder.offsets and make("cvae").offsets() is None
    warped.save(tmp_path / "model.pt")
    again = ConditionalVAE.load(tmp_path / "model.pt")
    again.train(warped.training)
    torch.testing.assert_close(again.decode(z, labels), warped.decode(z, labels))


def test_the_warp_reads_the_code_and_moves_3d_volumes_too():
    torch.manual_seed(0)
    model = make("cvae", (1, 8, 16, 12), K, warp_points=2)
    with torch.no_grad():
        model.decoder.field[-1].weight.normal_(0.0, 1.0)  # the displacement now depends on the code
    z = torch.randn(2, model.config.latent_dim)
    field = model.decoder.displacement(z)
    assert field.shape == (2, 8, 16, 12, 3) and field.abs().max() <= REACH
    assert not torch.allclose(field[0], field[1])
    assert model.decode(z, torch.tensor([0, 1])).shape == (2, 1, 8, 16, 12)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # train.precision=bf16: half-precision codes, a float grid
        assert torch.isfinite(model.decode(z, torch.tensor([0, 1]))).all()


def test_one_warp_point_per_axis_is_refused():
    with pytest.raises(ValidationError, match="one control point per axis only shifts"):
        make("cvae", warp_points=1)


def test_a_warp_can_be_held_fixed_per_image_whatever_the_code():
    torch.manual_seed(0)
    model = make("cvae", (1, 16, 32), K, warp_points=3).eval()
    z, labels = torch.randn(2, model.config.latent_dim), torch.tensor([0, 1])
    own = model.decode(z, labels)
    points = torch.zeros(2, 2 * 3**2)
    points.view(2, 2, -1)[1, 0] = math.atanh(2 * 1.0 / 32 / REACH)  # the second image: one pixel along x
    with model.decoder.fixed(points):
        held = model.decode(z, labels)
        with pytest.raises(ValueError, match="3 codes, 2 fixed warps"):
            model.decode(torch.randn(3, model.config.latent_dim), torch.tensor([0, 1, 2]))
    torch.testing.assert_close(held[0], own[0])  # zero control points: the identity, as the untrained field
    torch.testing.assert_close(held[1, ..., :-1], own[1, ..., 1:])
    torch.testing.assert_close(model.decode(z, labels), own)  # released after the block
    with model.decoder.fixed(points):  # nested: the inner block's warps, then the outer one's again
        with model.decoder.fixed(torch.zeros_like(points)):
            torch.testing.assert_close(model.decode(z, labels), own)
        torch.testing.assert_close(model.decode(z, labels), held)


def test_the_map_code_and_warp_explain_each_image_better_than_the_code_alone():
    """map_code_and_warp: the code and, per image, the warp's control points, fitted together (test-time
    registration of the model's template onto the image); without a warp it is map_code's code."""
    torch.manual_seed(0)
    model = make("cvae", (1, 16, 32), K, warp_points=3).eval()
    x, labels = torch.rand(4, 1, 16, 32), torch.tensor([0, 1, 2, 1])

    def log_joint(z, points=None):
        with torch.no_grad(), model.decoder.fixed(model.decoder.field(z) if points is None else points):
            prior = -0.5 * model.config.kl_weight * z.pow(2).sum()
            return float(model.likelihood.log_prob(model.decode(z, labels), x).sum() + prior)

    code = model.map_code(x, labels, steps=20)
    z, points = model.map_code_and_warp(x, labels, steps=20)
    assert points.shape == (4, 2 * 3**2) and not torch.equal(points, model.decoder.field(z).detach())
    assert log_joint(z, points) > log_joint(code)
    plain = make("cvae", (1, 16, 32), K).eval()
    z, points = plain.map_code_and_warp(x, labels, steps=5)
    assert points is None and torch.equal(z, plain.map_code(x, labels, steps=5))

"""CVAE-GAN-specific behaviour (Bao et al. 2017); the shared contract suite covers the rest."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from tests.conftest import REPO, tiny_splits
from tests.models.test_contract import batch, make
from tests.models.test_cvae import assert_not_blank, grid_content
from vaegan.config import load_config
from vaegan.evaluation.sharpness import laplacian_variance, sharpness
from vaegan.experiment import train_from_config
from vaegan.models import CVAEGAN, ConditionalVAE, CVAEGANConfig
from vaegan.models.cvaegan_losses import (
    class_mean_feature_matching,
    mean_feature_matching,
    pairwise_feature_matching,
    three_way_discriminator_loss,
)
from vaegan.training import Trainer
from vaegan.training.config import TrainConfig

COMPONENTS = ("encoder_generator", "discriminator", "classifier")
PAPER_TERMS = {"kl", "recon", "pair_d", "pair_c", "mean_d", "mean_c", "d_loss", "c_loss", "loss"}
METRICS = {"d_real", "d_fake", "c_acc_fake"}


def snapshot(params) -> list[torch.Tensor]:
    return [p.detach().clone() for p in params]


def changed(before: list[torch.Tensor], params) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, params))


def test_is_a_conditional_vae_that_owns_a_discriminator_and_a_classifier():
    model = make("cvaegan")
    assert isinstance(model, ConditionalVAE) and model.conditional and model.has_encoder
    assert model.monitor is None  # adversarial losses cannot pick a best epoch
    x = batch(model, 4).x
    assert model.discriminator(x).shape == (4, 1) and model.classifier(x).shape == (4, 3)
    assert model.discriminator.features(x).shape == (4, 32)  # the tiny config's hidden layer: f_D(x)


def test_defaults_are_the_papers_weights():
    config = CVAEGANConfig()
    weights = (config.kl_weight, config.recon_weight, config.mean_d_weight, config.mean_c_weight)
    assert weights == (3.0, 1.0, 1e-3, 1e-3)  # lambda_1..4 (Bao et al. 2017, sec. 3.4)
    assert config.discriminator.activation == "leaky_relu" and config.classifier.activation == "leaky_relu"


def test_optimizers_partition_the_parameters_by_component():
    model = make("cvaegan")
    optimizers = model.configure_optimizers()
    assert set(optimizers) == set(COMPONENTS)
    owned = {name: {id(p) for g in opt.param_groups for p in g["params"]} for name, opt in optimizers.items()}
    assert owned["discriminator"] == {id(p) for p in model.discriminator.parameters()}
    assert owned["classifier"] == {id(p) for p in model.classifier.parameters()}
    assert owned["encoder_generator"] == {id(p) for m in (model.encoder, model.decoder) for p in m.parameters()}
    assert sum(map(len, owned.values())) == len(list(model.parameters()))  # disjoint, and every weight is owned


@pytest.mark.parametrize("active", COMPONENTS)
def test_each_optimizer_updates_only_its_own_component(active):
    model = make("cvaegan")
    optimizers = model.configure_optimizers()
    for name, optimizer in optimizers.items():
        if name != active:
            for group in optimizer.param_groups:
                group["lr"] = 0.0  # this optimizer now changes nothing
    before = {name: snapshot(model.component_parameters(name)) for name in COMPONENTS}
    model.train_step(batch(model), optimizers)
    for name in COMPONENTS:
        assert changed(before[name], model.component_parameters(name)) == (name == active), name


def test_each_component_gets_the_gradient_of_its_own_objective_only():
    """G's loss flows *through* D and C, but D's and C's weights see only L_D and L_C."""
    model = make("cvaegan")
    data = batch(model)
    torch.manual_seed(1)
    terms = model.losses(data)
    expected = {
        name: torch.autograd.grad(terms[model.objectives[name]], model.component_parameters(name), retain_graph=True)
        for name in COMPONENTS
    }
    torch.manual_seed(1)  # the same noise: the same forward pass
    model.train_step(data, model.configure_optimizers())
    for name in COMPONENTS:
        for param, grad in zip(model.component_parameters(name), expected[name]):
            torch.testing.assert_close(param.grad, grad, msg=name)


def test_every_paper_term_is_present_finite_and_weighted_as_configured():
    weights = {"kl_weight": 0.5, "recon_weight": 2.0, "mean_d_weight": 0.1, "mean_c_weight": 0.2}
    model = make("cvaegan", **weights)
    terms = model.losses(batch(model))
    assert set(terms) == PAPER_TERMS | METRICS
    assert all(torch.isfinite(v) and v.dim() == 0 for v in terms.values())
    assert all(float(terms[k].detach()) >= 0 for k in PAPER_TERMS)
    # E and G: lambda_1 L_KL + lambda_2 L_G + lambda_3 L_GD + lambda_4 L_GC, L_G = pixels + both pairwise terms
    expected = (
        0.5 * terms["kl"]
        + 2.0 * (terms["recon"] + terms["pair_d"] + terms["pair_c"])
        + 0.1 * terms["mean_d"]
        + 0.2 * terms["mean_c"]
    )
    torch.testing.assert_close(terms["loss"], expected)


def test_discriminator_judges_real_reconstructed_and_prior_images_and_the_classifier_learns_on_real_ones():
    model = make("cvaegan").eval()
    data = batch(model, 6)
    seen = []
    model.discriminator.body.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    terms = model.losses(data)
    assert [len(batch) for batch in seen] == [6, 6, 6]  # x, x' = G(E(x, c), c), x_p = G(z_p, c): one batch each
    torch.testing.assert_close(seen[0], data.x)  # real images first
    torch.testing.assert_close(terms["c_loss"], F.cross_entropy(model.classifier(data.x), data.y))  # L_C, eq. 3


def test_feature_matching_losses_match_their_definitions():
    real = torch.tensor([[1.0, 0.0], [3.0, 2.0]])
    fake = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    # pairwise: 1/2 mean_i ||f(x_i) - f(x'_i)||^2 = 1/2 * (1 + 8) / 2
    torch.testing.assert_close(pairwise_feature_matching(real, fake), torch.tensor(2.25))
    # mean: 1/2 ||(2, 1) - (0.5, 0)||^2 = 1/2 * (2.25 + 1)
    torch.testing.assert_close(mean_feature_matching(real, fake), torch.tensor(1.625))
    # class means: class 0 centres (1, 0) vs (0, 0), class 1 centres (3, 2) vs (1, 0); class 2 absent
    labels = torch.tensor([0, 1])
    value = class_mean_feature_matching(real, fake, labels, labels, num_classes=3)
    torch.testing.assert_close(value, torch.tensor(0.5 * (1.0 + 8.0)))
    # a class that only the fakes have adds nothing
    value = class_mean_feature_matching(real, fake, labels, torch.tensor([0, 2]), num_classes=3)
    torch.testing.assert_close(value, torch.tensor(0.5 * 1.0))


def test_three_way_discriminator_loss_is_three_cross_entropies():
    real, recon, prior = torch.randn(5, 1), torch.randn(5, 1), torch.randn(5, 1)
    expected = (
        F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
        + F.binary_cross_entropy_with_logits(recon, torch.zeros_like(recon))
        + F.binary_cross_entropy_with_logits(prior, torch.zeros_like(prior))
    )
    torch.testing.assert_close(three_way_discriminator_loss(real, recon, prior), expected)


def test_metrics_csv_has_every_term_and_the_three_grids_are_written(tmp_path):
    config = TrainConfig(epochs=1, batch_size=16, grid_size=8, progress=False, tensorboard=False)
    Trainer(make("cvaegan"), tiny_splits(), config, out_dir=tmp_path).fit()
    header = set((tmp_path / "metrics.csv").read_text().splitlines()[0].split(","))
    assert {f"{split}/{term}" for split in ("train", "val") for term in PAPER_TERMS | METRICS} <= header
    for name in ("recons", "fakes", "analogies"):
        assert (tmp_path / f"epoch001_{name}.png").is_file()


def test_sharpness_ranks_blurred_images_below_crisp_ones_in_2d_and_3d():
    for shape in ((4, 1, 28, 28), (2, 1, 12, 12, 12)):
        crisp = (torch.rand(shape, generator=torch.Generator().manual_seed(0)) > 0.7).float()
        pool = F.avg_pool2d if len(shape) == 4 else F.avg_pool3d
        blurred = pool(crisp, 3, 1, 1)
        assert bool((laplacian_variance(crisp) > laplacian_variance(blurred)).all())
        assert sharpness(crisp) > sharpness(blurred) > 0
    assert sharpness(torch.full((3, 1, 8, 8), 0.4)) == 0.0  # a flat image has no edges


def test_briefly_trains_on_real_mnist_with_the_default_config(mnist_dir, tmp_path):
    overrides = [f"data.data_dir={mnist_dir}", "data.limit=2000", "data.val_size=200", "train.epochs=1"]
    overrides += ["train.progress=false", "train.tensorboard=false", f"out={tmp_path}"]
    history = train_from_config(load_config(REPO / "configs" / "mnist_cvaegan.yaml", overrides))
    assert len(history) == 1 and all(math.isfinite(v) for v in history[0].values())
    assert {f"train/{term}" for term in PAPER_TERMS} <= set(history[0])
    for name in ("recons", "fakes", "analogies"):
        assert_not_blank(tmp_path / f"epoch001_{name}.png")
    assert grid_content(tmp_path / "epoch001_recons.png").mean() < 0.5  # dark background, light strokes
    model = CVAEGAN.load(tmp_path / "checkpoints" / "last.pt")
    assert model.sample(10, torch.arange(10)).std() > 0.05


def test_the_generators_prior_sample_terms_never_reach_the_encoder():
    """Bao et al. 2017, Algorithm 1: E is updated by L_KL and L_G only. In train mode batch norm would
    couple x' and x_p if they shared a batch, so L_GD and L_GC would leak into the encoder's gradient."""
    model = make("cvaegan").train()
    terms = model.losses(batch(model, 6))
    encoder = list(model.encoder.parameters())
    for name in ("mean_d", "mean_c"):
        grads = torch.autograd.grad(terms[name], encoder, retain_graph=True, allow_unused=True)
        assert all(g is None or torch.count_nonzero(g) == 0 for g in grads), name
    grads = torch.autograd.grad(terms["pair_d"] + terms["recon"], encoder, retain_graph=True, allow_unused=True)
    assert any(g is not None and torch.count_nonzero(g) > 0 for g in grads)  # L_G does reach it


@pytest.mark.parametrize("loss", ["pairwise", "mean", "class_mean"])
def test_feature_matching_of_bf16_features_is_reduced_in_float32(loss):
    """Under bf16 autocast the features come in bf16; means and differences taken in bf16 kept about two
    digits, lost exactly when the generator is good (two nearly equal centres)."""
    from vaegan.models import cvaegan_losses as losses

    generator = torch.Generator().manual_seed(0)
    real = (5 + torch.randn(64, 256, generator=generator)).bfloat16()
    fake = (real.float() + 0.01 * torch.randn(64, 256, generator=generator)).bfloat16()
    labels = torch.arange(64) % 4
    compute = {
        "pairwise": lambda r, f: losses.pairwise_feature_matching(r, f),
        "mean": lambda r, f: losses.mean_feature_matching(r, f),
        "class_mean": lambda r, f: losses.class_mean_feature_matching(r, f, labels, labels.flip(0), 4),
    }[loss]
    value, exact = compute(real, fake), compute(real.float(), fake.float())
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(exact.item(), rel=1e-4)

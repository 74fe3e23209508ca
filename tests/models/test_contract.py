"""The contract every registered model keeps (STYLE.md): one suite, a tiny config per model."""

from __future__ import annotations

import copy

import pytest
import torch

from tests.conftest import tiny_splits
from tests.models.tiny_configs import TINY, tiny_model
from vaegan.models import Batch, FixedInputs, GenerativeModel, get_model_class, list_models
from vaegan.training import Trainer
from vaegan.training.config import TrainConfig

SHAPES = {"2d": (1, 16, 16), "3d": (1, 8, 16, 12)}


make = tiny_model


def batch(model: GenerativeModel, n: int = 6) -> Batch:
    data = tiny_splits(tuple(model.config.image_shape), n=n, num_classes=model.config.num_classes).train
    return Batch(data.images, data.labels)


def labels_for(model: GenerativeModel, n: int):
    return torch.arange(n) % model.config.num_classes if model.conditional else None


def test_every_model_has_a_tiny_config():
    assert set(list_models()) == set(TINY)


@pytest.mark.parametrize("dims", SHAPES)
@pytest.mark.parametrize("name", list_models())
def test_train_step_returns_finite_named_losses_and_learns(name, dims):
    model = make(name, SHAPES[dims])
    optimizers = model.configure_optimizers()
    assert optimizers and all(isinstance(o, torch.optim.Optimizer) for o in optimizers.values())
    before = [p.detach().clone() for p in model.parameters()]
    terms = model.train_step(batch(model), optimizers)
    assert isinstance(terms, dict) and terms
    for key, value in terms.items():
        assert isinstance(key, str) and value.dim() == 0 and torch.isfinite(value), key
        assert not value.requires_grad
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.mark.parametrize("name", list_models())
def test_eval_step_changes_nothing(name):
    model = make(name).eval()
    state = copy.deepcopy(model.state_dict())
    terms = model.eval_step(batch(model))
    assert terms and all(torch.isfinite(v) for v in terms.values())
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


@pytest.mark.parametrize("dims", SHAPES)
@pytest.mark.parametrize("name", list_models())
def test_sample_shape_range_and_seeded_determinism(name, dims):
    model = make(name, SHAPES[dims])
    labels = labels_for(model, 5)
    a = model.sample(5, labels, torch.Generator().manual_seed(3))
    b = model.sample(5, labels, torch.Generator().manual_seed(3))
    c = model.sample(5, labels, torch.Generator().manual_seed(4))
    assert a.shape == (5, *SHAPES[dims])
    assert a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("name", list_models())
def test_save_load_round_trip_weights_only(name, tmp_path):
    model = make(name)
    model.train_step(batch(model), model.configure_optimizers())
    path = tmp_path / "model.pt"
    model.save(path)
    raw = torch.load(path, weights_only=True)  # plain data and tensors only
    assert raw["model_config"]["name"] == name
    loaded = type(model).load(path)
    assert loaded.config == model.config
    labels = labels_for(model, 4)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(model.sample(4, labels, g()), loaded.sample(4, labels, g()))


@pytest.mark.parametrize("dims", SHAPES)
@pytest.mark.parametrize("name", [n for n in list_models() if get_model_class(n).has_encoder])
def test_encode_and_reconstruct(name, dims):
    model = make(name, SHAPES[dims]).eval()
    x = batch(model, 4)
    code = model.encode(x.x, x.y if model.conditional else None)
    assert code.shape == (4, model.config.latent_dim)
    recon = model.reconstruct(x.x, x.y if model.conditional else None)
    assert recon.shape == x.x.shape and recon.min() >= 0 and recon.max() <= 1


@pytest.mark.parametrize("name", list_models())
def test_epoch_images_are_image_batches(name):
    model = make(name).eval()
    x = batch(model, 8)
    fixed = FixedInputs(x.x, x.y, torch.randn(8, model.config.latent_dim))
    model.train()
    grids = model.epoch_images(fixed)
    assert model.training, "epoch_images must restore the caller's mode"
    assert "fakes" in grids
    for images in grids.values():  # a batch (N, C, H, W) or a grid of rows (R, K, C, H, W)
        assert images.dim() in (4, 5) and images.shape[-3:] == x.x.shape[1:]
        assert images.min() >= 0 and images.max() <= 1


@pytest.mark.parametrize("name", list_models())
def test_trainer_writes_a_run_folder(name, tmp_path):
    model = make(name)
    config = TrainConfig(epochs=1, batch_size=16, grid_size=8, progress=False, tensorboard=False)
    history = Trainer(model, tiny_splits(), config, out_dir=tmp_path).fit()
    assert len(history) == 1 and all(k.startswith(("train/", "val/", "epoch", "seconds")) for k in history[0])
    for path in ("metrics.csv", "curves.png", "epoch001_fakes.png", "checkpoints/last.pt", "checkpoints/best.pt"):
        assert (tmp_path / path).is_file(), path


@pytest.mark.parametrize("name", list_models())
def test_resume_restores_every_optimizer_and_matches_an_uninterrupted_run(name, tmp_path):
    def train(epochs: int, out, resume: bool = False) -> Trainer:
        config = TrainConfig(epochs=epochs, batch_size=16, grid_size=4, progress=False, tensorboard=False)
        model = make(name)
        if resume:  # other weights than a fresh start's: only what last.pt holds can make it match
            with torch.no_grad():
                for parameter in model.parameters():
                    parameter.add_(0.5)
        trainer = Trainer(model, tiny_splits(), config, out_dir=out)
        trainer.history = trainer.fit(resume=resume)
        return trainer

    straight = train(2, tmp_path / "straight")
    train(1, tmp_path / "split")
    resumed = train(2, tmp_path / "split", resume=True)
    assert [row["epoch"] for row in resumed.history] == [1, 2]
    payload = torch.load(tmp_path / "split" / "checkpoints" / "last.pt", weights_only=True)
    assert set(payload["optimizers"]) == set(straight.optimizers)
    for key, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
    for opt_name, optimizer in straight.optimizers.items():
        a, b = optimizer.state_dict()["state"], resumed.optimizers[opt_name].state_dict()["state"]
        assert a.keys() == b.keys() and a
        for index, state in a.items():
            for key, value in state.items():
                assert torch.equal(b[index][key], value), f"{opt_name} {index} {key}"


def _norm_statistics(model: GenerativeModel) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}


@pytest.mark.parametrize("name", list_models())
def test_inference_entry_points_run_in_eval_mode_and_restore_the_callers_mode(name):
    """sample, generate, encode, reconstruct and log_likelihood never touch batch-norm statistics."""
    model = make(name).train()
    x = batch(model, 6)
    labels = x.y if model.conditional else None
    before = _norm_statistics(model)
    assert before, "the tiny configs use batch norm, so this test can see a leak"
    seen_modes = []  # every submodule's mode when it runs (the model's own forward is never called)
    hooks = [
        m.register_forward_pre_hook(lambda module, args: seen_modes.append(module.training)) for m in model.modules()
    ]
    model.sample(4, labels=labels[:4] if labels is not None else None)
    model.generate(model.prior_noise(4), labels[:4] if labels is not None else None)
    if model.has_encoder:
        model.encode(x.x, labels)
        model.reconstruct(x.x, labels)
    if model.probabilistic:
        model.log_likelihood(x.x, labels, k=4)
    for hook in hooks:
        hook.remove()
    assert model.training, "the caller's train mode must be restored"
    assert seen_modes and not any(seen_modes), "inference ran in train mode"
    for key, value in _norm_statistics(model).items():
        assert torch.equal(value, before[key]), f"{key} changed during inference"


@pytest.mark.parametrize("name", list_models())
def test_load_returns_eval_mode(name, tmp_path):
    model = make(name).train()
    model.save(tmp_path / "m.pt")
    assert not GenerativeModel.load(tmp_path / "m.pt").training


def test_registry_refuses_a_name_its_config_does_not_default_to():
    from vaegan.models import VAE, VAEConfig, register_model

    class Mismatched(VAEConfig):
        name: str = "not_the_same"

    with pytest.raises(ValueError, match="registered as 'mismatched_vae'.*defaults to 'not_the_same'"):

        @register_model("mismatched_vae")
        class MismatchedVAE(VAE):
            config_class = Mismatched

    assert "mismatched_vae" not in list_models()


@pytest.mark.parametrize("name", list_models())
def test_registered_name_and_config_default_agree(name):
    cls = get_model_class(name)
    assert cls.name == name == cls.config_class.model_fields["name"].default


@pytest.mark.parametrize("name", list_models())
def test_every_curve_a_model_names_is_a_term_it_returns(name):
    """CVAEGAN named an 'objective' curve it never computed (its losses() is its own, not the parent's)."""
    model = make(name)
    terms = model.eval_step(batch(model))
    assert set(model.curve_units()) <= set(terms), sorted(set(model.curve_units()) - set(terms))


def test_a_model_with_its_own_train_step_is_told_to_write_eval_step_too():
    """The error said 'define losses() or train_step()' to a model that had defined train_step."""
    from vaegan.models.config import ModelConfig

    class Stepping(GenerativeModel):
        def synthesize(self, z, labels=None):
            return torch.sigmoid(z[:, :1, None, None].expand(-1, 1, 4, 4))

        def train_step(self, batch, optimizers):
            return {"loss": torch.zeros(())}

    model = Stepping(ModelConfig(name="stepping", image_shape=(1, 4, 4), latent_dim=2))
    with pytest.raises(NotImplementedError, match=r"both train_step\(\) and eval_step\(\)"):
        model.eval_step(Batch(torch.rand(2, 1, 4, 4), torch.zeros(2, dtype=torch.long)))


def test_beta_tcvae_refuses_to_train_with_the_kl_weight_it_would_ignore(monkeypatch, tmp_path):
    """--set model.kl_weight=4 on beta_tcvae trained exactly as 1 did (its loss weighs MI, TC, dw-KL). Refused
    before training, not in the model's config: a run saved with one still loads."""
    from vaegan import experiment
    from vaegan.config import load_config
    from vaegan.foundation.errors import ConfigError
    from vaegan.models.beta_tcvae import BetaTCVAE, BetaTCVAEConfig
    from vaegan.models.registry import model_from_checkpoint

    monkeypatch.setattr(experiment, "load_data", lambda config: pytest.fail("the data was read first"))
    config = load_config("mnist_beta_tcvae", ["model.kl_weight=4", f"out={tmp_path / 'run'}"])
    with pytest.raises(ConfigError, match="kl_weight=4 is not used by beta_tcvae.*tc_weight"):
        experiment.train_from_config(config)
    saved = BetaTCVAE(BetaTCVAEConfig(kl_weight=4, image_shape=(1, 16, 16)))
    payload = {"model_config": saved.config.model_dump(mode="json"), "model": saved.state_dict()}
    assert model_from_checkpoint(payload).config.kl_weight == 4


@pytest.mark.parametrize("name", ["gan", "wgan_gp", "acgan", "beta_tcvae"])
def test_a_training_step_reads_no_number_back_from_the_device(name, monkeypatch):
    """int(self.critic_updates) and int(self.dataset_size) read a buffer every step: on CUDA each waits for
    the GPU's whole queue. After the first step (which may read a loaded buffer once) none may."""
    model = make(name)
    optimizers = model.configure_optimizers()
    model.on_fit_start(48)
    model.train_step(batch(model, 8), optimizers)

    def refuse(self, *args):
        raise AssertionError("a training step read a tensor back to the host")

    for method in ("__int__", "__index__", "item", "__bool__", "__float__"):
        monkeypatch.setattr(torch.Tensor, method, refuse)
    x = batch(model, 8)
    model.train_step(x, optimizers)

"""Config: unknown keys and bad values fail with messages naming them and what is allowed."""

from __future__ import annotations

import pytest

from tests.conftest import REPO
from vaegan.config import build_config, load_config
from vaegan.foundation.errors import ConfigError

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_is_valid(path):
    config = load_config(path)
    assert config.name == path.stem


def test_dotted_overrides_reach_nested_keys():
    config = load_config(
        REPO / "configs/mnist_vae.yaml",
        ["model.latent_dim=2", "model.network.kind=mlp", "train.batch_size=64", "data.binarize=true"],
    )
    assert (config.model.latent_dim, config.model.network.kind, config.train.batch_size) == (2, "mlp", 64)
    assert config.data.binarize is True


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.latnt_dim=2", "unknown key 'model.latnt_dim'; allowed here: .*latent_dim"),
        ("train.epoch=3", "unknown key 'train.epoch'; allowed here: .*epochs"),
        ("model.likelihood=poisson", "model.likelihood: .*'bernoulli', 'gaussian' or 'gaussian_learned'.*poisson"),
        ("model.latent_dim=0", "model.latent_dim: .*greater than 0"),
        ("model.name=flow", "unknown model 'flow'; known models: .*vae"),
        ("train.device=tpu", "train.device: .*'auto', 'cpu', 'cuda'"),
        ("data.val_size=1.5", "data.val_size"),
        ("model.betas=[0.5,1.2]", "model.betas"),
        ("model.network.kind=rnn", "model.network.kind: .*'conv' or 'mlp'"),
        ("latent_dim", "not of the form"),
    ],
)
def test_bad_overrides_name_the_key_and_the_allowed_values(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(REPO / "configs/mnist_vae.yaml", [override])


def test_missing_model_name_and_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="name"):
        build_config({"model": {"latent_dim": 3}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.yaml")


def test_config_round_trips_as_plain_data():
    config = load_config(REPO / "configs/mnist_vae.yaml")
    again = build_config(config.to_dict())
    assert again == config
    assert type(again.model).__name__ == "VAEConfig"

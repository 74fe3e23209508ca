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
        ("model.name=flow", "unknown model 'flow'; known models: .*vae.*entry point.*write_your_own_model"),
        ("train.device=tpu", "train.device: .*'auto', 'cpu', 'cuda'"),
        ("data.val_size=1.5", "data.val_size"),
        ("model.betas=[0.5,1.2]", "model.betas"),
        ("model.network.kind=rnn", "model.network.kind: .*'conv' or 'mlp'"),
        ("model.network.channels=[]", "model.network: .*no channels.*kind: mlp"),  # was an IndexError, late
        ("latent_dim", "not of the form"),
        # infinities trained into a NaN (or crashed a rank) after the run folder was written
        ("model.kl_weight=.inf", "model.kl_weight: .*finite"),
        ("model.lr=.inf", "model.lr: .*finite"),
        ("train.dist_timeout_s=.inf", "train.dist_timeout_s: .*finite"),
        ("model.sigma=1e-300", "model.sigma: .*greater than or equal to 0.001"),
        # seeds numpy and torch cannot take (a traceback, or a crash after a grid was written)
        ("train.seed=100000000000000000000000", "train.seed: .*less than 4294967296"),
        ("train.seed=18446744073709551615", "train.seed: .*less than 4294967296"),
        ("data.seed=-1", "data.seed: .*greater than or equal to 0"),
        ("model.latent_dim=true", "model.latent_dim: .*integer"),  # a boolean is not the number 1
        ("train.device=cudafoo", "train.device: .*'cuda:N'"),
        ("train.device=cuda:-1", "train.device: .*'cuda:N'"),
    ],
)
def test_bad_overrides_name_the_key_and_the_allowed_values(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(REPO / "configs/mnist_vae.yaml", [override])


@pytest.mark.parametrize(
    "config, override, message",
    [
        ("mnist_wgan_gp", "model.label_smoothing=0.3", "model.label_smoothing: .*wgan_gp"),
        ("mnist_wgan_gp", "tune.seed=-1", "tune.seed"),
    ],
)
def test_settings_are_named_by_their_full_key(config, override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(REPO / "configs" / f"{config}.yaml", [override])


@pytest.mark.parametrize(("config", "key"), [("mnist_gan", "discriminator"), ("mnist_cvaegan", "classifier")])
def test_a_network_too_deep_for_the_image_is_named_by_its_key(config, key):
    from vaegan.models import build_model

    model = load_config(REPO / "configs" / f"{config}.yaml", [f"model.{key}.channels=[4,4,4,4,4,4]"]).model
    with pytest.raises(ConfigError, match=rf"model\.{key}\.channels has 6 stride-2 stages"):
        build_model(model.model_copy(update={"image_shape": (1, 28, 28), "num_classes": 10}))


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


def _text_choices_that_look_numeric(section, prefix=""):
    """Every (dotted key, option) of a Literal text choice that YAML reads as a number or a boolean."""
    import yaml

    from vaegan.foundation.section import Section, text_choices

    for name, field in section.model_fields.items():
        for option in text_choices(field.annotation):
            if not isinstance(yaml.safe_load(option), str):
                yield f"{prefix}{name}", option
        for sub in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(sub, type) and issubclass(sub, Section):
                yield from _text_choices_that_look_numeric(sub, f"{prefix}{name}.")


def _numeric_choice_cases():
    from vaegan.config import RunConfig
    from vaegan.models import get_model_class, list_models

    run_keys = _text_choices_that_look_numeric(RunConfig)
    cases = {(None, key, option) for key, option in run_keys if not key.startswith("model.")}
    for name in list_models():
        for key, option in _text_choices_that_look_numeric(get_model_class(name).config_class, "model."):
            cases.add((name, key, option))
    return sorted(cases, key=str)


NUMERIC_CHOICES = _numeric_choice_cases()


def test_there_are_numeric_looking_choices_to_check():
    assert ("train.precision", "32") in {(key, option) for _, key, option in NUMERIC_CHOICES}


@pytest.mark.parametrize(("model", "key", "option"), NUMERIC_CHOICES)
def test_every_choice_whose_options_yaml_reads_as_numbers_or_booleans_accepts_them(model, key, option):
    """`--set train.precision=32` reads 32 as a YAML number; the choice "32" must take it."""
    overrides = [f"{key}={option}"] + ([f"model.name={model}"] if model else [])
    config = build_config({"model": {"name": model or "vae"}}, overrides)
    node = config
    for part in key.split("."):
        node = getattr(node, part)
    assert node == option


def test_sections_a_run_does_not_use_are_left_out_of_what_is_written():
    mnist = load_config("mnist_vae").to_dict()
    assert "mri" not in mnist["data"] and "tune" in mnist
    assert "tune" not in load_config("mnist_gan").to_dict()
    assert "mri" in load_config("ad_cvae_2d").to_dict()["data"]
    assert build_config(mnist).to_dict() == mnist  # read back: the same config
    with_mri = build_config({**mnist, "data": {**mnist["data"], "mri": {"size": 32}}})  # still accepted
    assert with_mri.data.mri.size == 32


def test_a_whole_section_check_is_one_message_without_the_section_dumped():
    with pytest.raises(ConfigError) as caught:
        load_config(REPO / "configs/mnist_vae.yaml", ["train.score_maps_every=1"])
    message = str(caught.value)
    assert "train.score_maps_every scores disease maps" in message
    assert "got {" not in message and "Value error" not in message and "\n  :" not in message


def test_a_key_given_twice_is_refused_not_overwritten(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("name: t\nmodel:\n  name: vae\n  latent_dim: 4\ntrain:\n  epochs: 2\nmodel:\n  name: gan\n")
    with pytest.raises(ConfigError, match=r"twice.yaml: .*'model' .*twice.*line 7"):
        load_config(path)


def test_yaml_anchors_and_merge_keys_still_load(tmp_path):
    path = tmp_path / "merge.yaml"
    path.write_text(
        "name: t\nmodel:\n  name: gan\n  network: &net {kind: conv, channels: [32, 64]}\n"
        "  discriminator: {<<: *net, channels: [16, 32]}\n"
    )
    config = load_config(path)
    assert config.model.discriminator.channels == (16, 32) and config.model.discriminator.kind == "conv"


def test_a_folder_with_characters_beyond_the_basic_plane_is_kept_as_written():
    """json.dumps wrote 🙂 as two surrogate escapes, which YAML read back as two broken characters."""
    from vaegan.config import text_override

    for folder in ("runs/🙂 try", "runs/caf\udce9", "runs/a\x85b"):  # and an undecodable byte, a C1 control
        assert load_config("mnist_vae", [text_override("out", folder)]).out == folder


@pytest.mark.parametrize(
    ("config", "overrides", "key"),
    [
        # rand < 1 always: every pixel masked, the encoder never sees an image
        ("mnist_ae", ["model.corruption=masking", "model.noise=1.0"], "model: noise=1"),
        # features() of an mlp without hidden layers is the raw pixels: feature matching on pixels
        ("mnist_cvaegan", ["model.discriminator.kind=mlp", "model.discriminator.hidden=[]"], "model.discriminator"),
        ("mnist_cvaegan", ["model.classifier.kind=mlp", "model.classifier.hidden=[]"], "model.classifier"),
    ],
)
def test_settings_that_train_on_nothing_are_refused_naming_the_key(config, overrides, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(config, overrides)


def test_an_error_an_override_caused_names_the_override_not_only_the_file():
    """--set 'data.mri.label_map={CN: CN, AD: AD, MCI: MCI}' said 'ad_cvae_3d.yaml: invalid configuration', as
    though the shipped file were wrong, and not how to keep MCI."""
    override = "data.mri.label_map={CN: CN, AD: AD, MCI: MCI}"
    with pytest.raises(ConfigError) as caught:
        load_config("ad_cvae_3d", ["data.mri.workers=1", override, "train.epochs=2"])
    header, line = str(caught.value).splitlines()
    assert header.endswith("ad_cvae_3d.yaml with overrides: invalid configuration")
    assert line.startswith("  data.mri: label_map maps to ['MCI']") and line.endswith(f"(set by override '{override}')")
    assert "add them to data.mri.classes" in line and "workers" not in line and "epochs" not in line
    with pytest.raises(ConfigError, match=r"model\.likelihood: .*\(got 'poisson', set by override 'model\.likelihood="):
        load_config("mnist_vae", ["model.likelihood=poisson"])


def test_an_error_in_the_file_blames_no_override(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nmodel: {name: cvae}\ndata: {dataset: mri, mri: {label_map: {MCI: MCI}}}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, ["data.mri.workers=1", "model.latent_dim=4"])
    assert str(caught.value).splitlines()[0] == f"{path}: invalid configuration"
    assert "override" not in str(caught.value) and "label_map maps to ['MCI']" in str(caught.value)


def test_a_whole_config_check_does_not_blame_an_override_for_a_word_of_its_prose(tmp_path):
    """--set model.latent_dim=4 was blamed for 'train.score_maps_every needs a conditional model ...': the
    message holds the word 'model'."""
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nmodel: {name: vae}\ndata: {dataset: phantoms}\ntrain: {score_maps_every: 1}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, ["model.latent_dim=4"])
    assert "score_maps_every" in str(caught.value) and "override" not in str(caught.value)

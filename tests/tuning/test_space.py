"""The tune section: validation against the run config, overrides that keep their types, no Optuna in config."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vaegan.config import as_overrides, build_config, check_space, load_config
from vaegan.foundation.errors import ConfigError

BASE = {"name": "t", "model": {"name": "vae"}, "train": {"device": "cpu"}}


def with_space(space: dict, **tune) -> dict:
    return {**BASE, "tune": {"metric": "val/loss", "space": space, **tune}}


def test_the_demo_config_has_a_valid_tune_section():
    config = load_config("mnist_vae")
    check_space(config)
    assert config.tune.metric == "val/objective" and config.tune.direction == "minimize"
    assert {"model.latent_dim", "model.lr", "model.network.kind"} <= set(config.tune.space)


def test_a_space_key_that_is_not_a_config_field_is_an_error_naming_it():
    config = build_config(with_space({"model.latnt_dim": {"type": "int", "low": 2, "high": 8}}))
    with pytest.raises(ConfigError, match=r"model\.latnt_dim.*allowed here:.*latent_dim"):
        check_space(config)


def test_a_range_the_field_cannot_take_is_an_error_naming_key_and_value():
    config = build_config(with_space({"model.latent_dim": {"type": "int", "low": 0, "high": 8}}))
    with pytest.raises(ConfigError, match=r"'model\.latent_dim' with value 0"):
        check_space(config)
    config = build_config(with_space({"model.network.kind": {"type": "categorical", "choices": ["mlp", "rnn"]}}))
    with pytest.raises(ConfigError, match=r"'rnn'"):
        check_space(config)


@pytest.mark.parametrize(
    "param, message",
    [
        ({"type": "float", "low": 0.0, "high": 1.0, "log": True}, "log scale needs low > 0"),
        ({"type": "int", "low": 9, "high": 2}, "above high"),
        ({"type": "uniform", "low": 0, "high": 1}, "tune.space.model.lr"),
        ({"type": "categorical", "choices": []}, "choices"),
        # Optuna only warned and collapsed these to low: every trial drew latent_dim 2
        ({"type": "int", "low": 2, "high": 5, "step": 10}, "step 10 does not fit"),
        ({"type": "float", "low": 0.1, "high": 0.3, "step": 0.15}, "step 0.15 does not fit"),
        ({"type": "int", "low": 2, "high": 8, "step": 0}, "step"),
    ],
)
def test_impossible_params_are_rejected_when_the_config_loads(param, message):
    with pytest.raises(ConfigError, match=message):
        build_config(with_space({"model.lr": param}))


def test_unknown_tune_keys_are_rejected():
    with pytest.raises(ConfigError, match=r"tune\.metrc"):
        build_config(with_space({"model.lr": {"type": "float", "low": 1e-4, "high": 1e-2}}, metrc="val/loss"))


def test_overrides_keep_types_and_read_string_choices_as_yaml():
    overrides = as_overrides({"model.lr": 1e-5, "model.latent_dim": 3, "model.network.hidden": "[64, 32]"})
    config = build_config(BASE, overrides)
    assert config.model.lr == 1e-5 and isinstance(config.model.lr, float)
    assert config.model.latent_dim == 3
    assert config.model.network.hidden == (64, 32)


def test_unknown_pruner_options_name_the_pruner():
    from vaegan.tuning.storage import make_pruner

    config = build_config(
        with_space({"model.lr": {"type": "float", "low": 1e-4, "high": 1e-2}}, pruner_options={"x": 1})
    )
    with pytest.raises(ConfigError, match="MedianPruner"):
        make_pruner(config.tune)


def test_loading_a_config_does_not_import_optuna():
    code = (
        "import sys; from vaegan.cli import build_parser; from vaegan.config import load_config; build_parser(); "
        "config = load_config('mnist_vae'); assert config.tune is not None; sys.exit('optuna' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize(
    ("tune", "message"),
    [
        ({"pruner_options": {"n_startup_trials": -1}}, "tune.pruner_options"),  # was blamed on --storage
        ({"metric": "loss"}, r"tune\.metric: .*\(train\|val\)/"),  # found only after a trial had trained
        ({"space": {"model.lr": {"type": "float", "low": 1e-3, "high": float("inf")}}}, "finite"),
    ],
)
def test_tune_settings_are_refused_by_name_before_the_study_opens(tmp_path, tune, message):
    from vaegan.tuning.study import Tuner

    space = {"model.lr": {"type": "float", "low": 1e-4, "high": 1e-2}}
    with pytest.raises(ConfigError, match=message):
        Tuner(build_config({**with_space(space), "tune": {**with_space(space)["tune"], **tune}}), out=tmp_path / "s")
    assert not (tmp_path / "s" / "study.db").exists()


@pytest.mark.parametrize(
    ("key", "param", "data", "message"),
    [
        # 16.0 and 256.0 pass as whole numbers; the first draw of 37.5 ended the study
        ("train.batch_size", {"type": "float", "low": 16, "high": 256}, None, "whole numbers; use type: int"),
        # MNIST has no MRI options: the value was dropped, and the sampler tuned nothing
        ("data.mri.size", {"type": "int", "low": 32, "high": 64}, {"dataset": "mnist"}, "no effect"),
        # taken from the data as the run starts, whatever the trial set
        ("model.num_classes", {"type": "int", "low": 2, "high": 10}, None, "taken from the data"),
        ("model.image_shape", {"type": "int", "low": 1, "high": 3}, None, "taken from the data"),
    ],
)
def test_a_space_key_that_would_do_nothing_or_end_the_study_is_refused(key, param, data, message):
    config = build_config({**with_space({key: param}), **({"data": data} if data else {})})
    with pytest.raises(ConfigError, match=message):
        check_space(config)


def test_a_float_range_on_a_float_setting_and_mri_keys_on_mri_data_pass():
    check_space(build_config(with_space({"model.lr": {"type": "float", "low": 1e-4, "high": 1e-2}})))
    mri = {"dataset": "phantoms"}
    check_space(build_config({**with_space({"data.mri.size": {"type": "int", "low": 32, "high": 64}}), "data": mri}))


def test_a_space_of_epochs_above_the_cap_of_epochs_is_refused(tmp_path):
    """--epochs 2 capped every trial's train.epochs at 2: a range of 5-20 epochs tuned nothing."""
    from vaegan.tuning.study import Tuner

    config = build_config(with_space({"train.epochs": {"type": "int", "low": 5, "high": 20}}))
    with pytest.raises(ConfigError, match="--epochs 2"):
        Tuner(config, out=tmp_path / "study", max_epochs=2)
    Tuner(config, out=tmp_path / "uncapped", max_epochs=20)  # a cap no trial reaches changes nothing


@pytest.mark.parametrize(
    ("key", "choices", "data"),
    [
        ("model.network.hidden", ["[64, 32]", "[256]"], None),  # a list can only be given as a string choice
        ("model.lr", ["1e-4", "1e-3"], None),  # YAML reads 1e-4 as text; the config stores a number
        ("model.betas", ["[0.5, 0.999]", "[0.9, 0.999]"], None),
        ("train.precision", [32, "bf16"], None),  # the config stores "32"
        ("data.mri.bias_correction", [True, False], {"dataset": "phantoms"}),  # YAML's on/off; stored as text
    ],
)
def test_choices_the_config_converts_are_not_taken_for_dropped_keys(key, choices, data):
    """The value the config stores was compared with the raw choice: every converted one read as 'no effect'."""
    space = {key: {"type": "categorical", "choices": choices}}
    check_space(build_config({**with_space(space), **({"data": data} if data else {})}))


def test_a_space_entry_can_be_changed_with_set_though_its_key_holds_dots():
    """tune.space.model.lr.high=0.02 was split at every dot: 'tune.space.model: Unable to extract tag'."""
    config = load_config("mnist_vae", ["tune.space.model.lr.high=0.02", "tune.space.model.latent_dim.low=4"])
    assert config.tune.space["model.lr"].high == 0.02 and config.tune.space["model.latent_dim"].low == 4
    whole = load_config("mnist_vae", ["tune.space.model.lr={type: float, low: 0.001, high: 0.01, log: true}"])
    assert whole.tune.space["model.lr"].low == 0.001
    with pytest.raises(ConfigError, match=r"tune\.space has no entry.*model\.lr"):
        load_config("mnist_vae", ["tune.space.model.beta.high=2"])


@pytest.mark.parametrize("metric", ["val/map_r", "val/acc_fake", "val/c_acc_fake"])
def test_a_higher_is_better_metric_minimised_is_refused_when_the_study_starts(metric, tmp_path):
    # val/map_r (a Pearson r) under the default direction minimize searched for the worst disease map
    from vaegan.tuning.study import Tuner

    space = {"model.lr": {"type": "float", "low": 1e-4, "high": 1e-2}}
    data = with_space(space, metric=metric)
    if metric == "val/map_r":  # scored on phantoms by a conditional model with an encoder, every epoch
        data |= {"data": {"dataset": "phantoms"}, "model": {"name": "cvae"}}
        data |= {"train": {"device": "cpu", "score_maps_every": 1}}
    config = build_config(data)  # the config itself builds: every trial's checkpoint holds its tune section
    with pytest.raises(ConfigError, match=rf"tune\.direction.*higher is better.*{metric}.*maximize"):
        Tuner(config, out=tmp_path / "study")
    assert not (tmp_path / "study").exists()  # refused before the study's folder and database are written
    maximised = build_config({**data, "tune": {**data["tune"], "direction": "maximize"}})
    assert Tuner(maximised, out=tmp_path / "maximised").study.direction.name == "MAXIMIZE"


def test_a_trial_of_a_study_minimising_an_accuracy_still_loads(tmp_path):
    """The check sat on the tune section, which every trial's checkpoint and config.yaml copy: the trials of a
    study started before it (tune.metric val/acc_fake under the default minimize) no longer loaded."""
    from vaegan.config import save_config
    from vaegan.foundation.checkpoints import atomic_save
    from vaegan.models.registry import build_model
    from vaegan.runs import load_run

    space = {"model.lr": {"type": "float", "low": 1e-4, "high": 1e-2}}
    data = with_space(space, metric="val/acc_fake")
    data["model"] = {"name": "vae", "latent_dim": 2, "network": {"kind": "mlp", "hidden": [8]}}
    config = build_config(data)
    trial = tmp_path / "trial_0000"
    save_config(config, trial / "config.yaml")
    payload = {**build_model(config.model).checkpoint_payload(), "epoch": 1, "run_config": config.to_dict()}
    atomic_save(payload, trial / "checkpoints" / "best.pt")
    assert load_run(trial).config.tune.metric == "val/acc_fake"
    assert load_config(trial / "config.yaml").tune.direction == "minimize"


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_a_loss_like_metric_takes_either_direction(direction):
    space = {"model.lr": {"type": "float", "low": 1e-4, "high": 1e-2}}
    assert build_config(with_space(space, metric="val/kl", direction=direction)).tune.direction == direction


def test_a_map_study_scored_against_the_older_truth_maps_is_not_continued(tmp_path, monkeypatch):
    """val/map_r of trials run before the phantoms saved the tissue removed (2026-12-02) is capped near 0.86;
    the pruner and the best trial would compare those with today's scores as if they were one figure."""
    import optuna

    from vaegan.data.anatomy import ANATOMY_VERSION
    from vaegan.data.phantoms import TRUTH_MAP
    from vaegan.tuning.study import Tuner

    space = {"model.lr": {"type": "float", "low": 1e-4, "high": 1e-2}}
    data = with_space(space, metric="val/map_r", direction="maximize")
    data |= {"data": {"dataset": "phantoms"}, "model": {"name": "cvae"}}
    data |= {"train": {"device": "cpu", "score_maps_every": 1}}
    config = build_config(data)
    tuner = Tuner(config, out=tmp_path / "study")  # a new study: each trial records the truth it was scored by
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-2)
    done = optuna.trial.create_trial(value=0.7, params={"model.lr": 1e-3}, distributions={"model.lr": lr})
    tuner.study.add_trial(done)
    with pytest.raises(ConfigError, match=r"1 trial.*older truth maps.*--out"):
        Tuner(config, out=tmp_path / "study")
    fresh = Tuner(config, out=tmp_path / "fresh")
    history = [{"epoch": 1, "loss": 1.0, "val/loss": 1.0, "val/map_r": 0.9}]
    monkeypatch.setattr("vaegan.experiment.train_from_config", lambda *args, **kwargs: history)
    fresh.run(trials=1)  # a trial of today: it says which truth scored it
    assert fresh.study.trials[0].user_attrs["truth"] == TRUTH_MAP and fresh.study.trials[0].value == 0.9
    assert fresh.study.trials[0].user_attrs["anatomy"] == ANATOMY_VERSION  # and on which phantoms
    Tuner(config, out=tmp_path / "fresh")  # and is continued
    # scored against today's truth maps, but on the phantoms before the hippocampi turned (anatomy 1)
    before = optuna.trial.create_trial(
        value=0.8, params={"model.lr": 1e-3}, distributions={"model.lr": lr}, user_attrs={"truth": TRUTH_MAP}
    )
    fresh.study.add_trial(before)
    with pytest.raises(ConfigError, match=r"1 trial.*first: 1.*phantoms drawn on an older anatomy.*--out"):
        Tuner(config, out=tmp_path / "fresh")

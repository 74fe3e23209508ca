"""A study folder belongs to one study in one storage: a new study (or a fresh database) in an old folder is
refused before its trial_NNNN folders overwrite the old ones; storage URLs never show their password;
a failed trial keeps its traceback."""

from __future__ import annotations

import json

import pytest

from tests.tuning.conftest import tiny_study, write_yaml
from vaegan.cli import main
from vaegan.config import build_config
from vaegan.foundation.errors import ConfigError
from vaegan.tuning.identity import mask_password
from vaegan.tuning.study import Tuner

LR = {"model.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}}


@pytest.fixture
def config(tmp_path):
    return build_config(tiny_study(tmp_path / "no-data-needed", LR))


def old_trial(out):
    (out / "trial_0000").mkdir(parents=True)
    (out / "trial_0000" / "metrics.csv").write_text("epoch,val/loss\n1,0.5\n")


def test_study_json_records_the_study_and_a_rerun_joins_it(config, tmp_path):
    out = tmp_path / "study"
    Tuner(config, out=out)
    record = json.loads((out / "study.json").read_text())
    assert record["study"] == "tiny" and record["study_id"] >= 1 and record["created"] and record["uid"]
    assert "study.db" in record["storage"]
    Tuner(config, out=out)
    assert json.loads((out / "study.json").read_text()) == record


def test_a_fresh_storage_in_an_old_study_folder_is_refused(config, tmp_path):
    out = tmp_path / "study"
    Tuner(config, out=out)
    old_trial(out)
    (out / "study.db").unlink()  # the database is gone; a new study 'tiny' would number its trials from 0 again
    with pytest.raises(ConfigError, match=r"created .* would overwrite"):
        Tuner(config, out=out)
    assert (out / "trial_0000" / "metrics.csv").is_file()


def test_another_storage_for_the_same_folder_is_refused(config, tmp_path):
    out = tmp_path / "study"
    Tuner(config, out=out)
    with pytest.raises(ConfigError, match="--storage"):
        Tuner(config, out=out, storage=f"sqlite:///{tmp_path / 'other.db'}")


def test_trial_folders_without_a_study_record_are_not_overwritten(config, tmp_path):
    out = tmp_path / "study"
    old_trial(out)
    with pytest.raises(ConfigError, match="trial folders"):
        Tuner(config, out=out)
    assert (out / "trial_0000" / "metrics.csv").is_file()


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql://me:s3cret@db:5432/x", "postgresql://me:***@db:5432/x"),
        ("postgresql//me:s3cret@db/x", "postgresql//me:***@db/x"),
        ("me:s3cret@db", "me:***@db"),
        ("sqlite:///study.db", "sqlite:///study.db"),
    ],
)
def test_password_masking(url, shown):
    assert mask_password(url) == shown


@pytest.mark.parametrize(
    "url",
    ["postgresql://me:s3cret@db:notaport/x", "postgresql//me:s3cret@db/x", "postgresql://me:s3cret@db:99999999/x"],
)
def test_a_bad_storage_url_is_one_line_without_the_password(tmp_path, capsys, url):
    path = write_yaml(tiny_study(tmp_path / "no-data-needed", LR), tmp_path / "tiny.yaml")
    code = main(["tune", "--config", str(path), "--storage", url, "--out", str(tmp_path / "s"), "--trials", "1"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "s3cret" not in err and "***" in err and "--storage" in err


def test_a_failed_trial_keeps_its_traceback(config, tmp_path, monkeypatch):
    import vaegan.experiment

    def crash(*args, **kwargs):
        raise RuntimeError("boom in the model")

    monkeypatch.setattr(vaegan.experiment, "train_from_config", crash)
    tuner = Tuner(config, out=tmp_path / "study")
    tuner.run(1)
    text = (tmp_path / "study" / "trial_0000" / "traceback.txt").read_text()
    assert "Traceback" in text and "RuntimeError: boom in the model" in text


def test_a_study_name_that_would_leave_outputs_is_refused(tmp_path, capsys, monkeypatch):
    path = write_yaml(tiny_study(tmp_path / "no-data-needed", LR), tmp_path / "tiny.yaml")
    monkeypatch.chdir(tmp_path)
    code = main(["tune", "--config", str(path), "--study", "../../escaped", "--trials", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "--study" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path.parent / "escaped_tune").exists()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://vaegan@/postgres?host=/tmp/sock&password=hunter2",  # libpq's keyword form
        "postgresql://me:hunter2@ss@127.0.0.1/db",  # an '@' in the password: all of it up to the last '@'
        "postgresql://me:hunter2@127.0.0.1:5432/db?sslmode=require&PASSWD=hunter2",
        "postgresql://me:hunt//er2@127.0.0.1/db",  # '//' in the password: the scheme's is the first
    ],
)
def test_no_part_of_a_password_is_ever_shown(url):
    from vaegan.tuning.identity import shown_url

    shown = shown_url(url)
    assert "hunter2" not in shown and "er2" not in shown and "ss@" not in shown.replace("://", "") and "***" in shown


@pytest.mark.parametrize(
    ("flag", "value"), [("--trials", "0"), ("--trials", "-3"), ("--timeout", "-1"), ("--epochs", "0")]
)
def test_impossible_counts_are_refused_before_a_study_is_made(flag, value, tmp_path, capsys):
    # --epochs 0 was a traceback that left a failed trial counted against the budget; --trials -3
    # printed "0 of -3 trials done" and exited 0, claiming a best_config.yaml it never wrote
    path = write_yaml(tiny_study(tmp_path / "no-data-needed", LR), tmp_path / "tiny.yaml")
    code = main(["tune", "--config", str(path), "--out", str(tmp_path / "s"), flag, value])
    err = capsys.readouterr().err
    assert code == 2 and flag in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(("key", "value"), [("metric", "val/kl"), ("direction", "maximize")])
def test_a_study_is_not_continued_under_another_metric_or_direction(config, tmp_path, key, value):
    # the rerun's trials were scored by val/kl beside the old val/loss ones, and the best still minimised
    out = tmp_path / "study"
    Tuner(config, out=out)
    changed = config.model_copy(update={"tune": config.tune.model_copy(update={key: value})})
    # said as it is, not wrapped in '--storage ...: cannot open the study database (...); give a reachable URL'
    with pytest.raises(ConfigError, match=rf"^study 'tiny' scores its trials by tune\.{key}.*own --out folder$"):
        Tuner(changed, out=out)
    Tuner(config, out=out)  # the study's own metric and direction still continue it


def test_best_config_is_what_the_best_trial_trained_not_todays_base_config(config, tmp_path):
    # a rerun with --set model.latent_dim=7 wrote latent_dim 7 into best_config.yaml, while the best
    # trial (trained before) had latent_dim 2
    import optuna
    import yaml

    from vaegan.tuning.report import best_config

    out = tmp_path / "study"
    tuner = Tuner(config, out=out)
    run_dir = out / "trial_0000"
    run_dir.mkdir()
    trained = {**config.to_dict(), "out": str(run_dir)}
    trained["train"] = {**trained["train"], "epochs": 1}  # under an --epochs cap
    (run_dir / "config.yaml").write_text(yaml.safe_dump(trained))
    tuner.study.add_trial(
        optuna.trial.create_trial(
            params={"model.lr": 3e-3},
            distributions={"model.lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)},
            value=1.0,
            user_attrs={"run_dir": str(run_dir)},
        )
    )
    rerun = config.model_copy(
        update={
            "model": config.model.model_copy(update={"latent_dim": 7}),
            "train": config.train.model_copy(update={"epochs": 9}),
        }
    )
    tuner.config = rerun
    best = best_config(tuner)
    assert best.model.latent_dim == 2 and best.model.lr == pytest.approx(3e-3)
    assert best.train.epochs == 9 and best.name == "tiny_best" and best.tune is None  # uncapped, as the config asks


@pytest.mark.parametrize("mine", ["trials.csv", "best_config.yaml"])
def test_a_folder_with_the_users_own_trials_or_best_config_is_refused(config, tmp_path, mine):
    """--out . in a project folder replaced the user's trials.csv and best_config.yaml."""
    out = tmp_path / "project"
    out.mkdir()
    (out / mine).write_text("mine\n")
    with pytest.raises(ConfigError, match=f"{mine}.*vaegan did not write"):
        Tuner(config, out=out)
    assert (out / mine).read_text() == "mine\n" and sorted(p.name for p in out.iterdir()) == [mine]


def test_tune_out_dot_is_refused_like_train(tmp_path, capsys, monkeypatch):
    path = write_yaml(tiny_study(tmp_path / "no-data-needed", LR), tmp_path / "tiny.yaml")
    monkeypatch.chdir(tmp_path)
    assert main(["tune", "--config", str(path), "--out", ".", "--trials", "1"]) == 2
    assert "working directory" in capsys.readouterr().err
    assert not (tmp_path / "study.db").exists() and not (tmp_path / "study.json").exists()


def test_a_study_folder_inside_the_data_folder_is_refused_before_the_study_opens(tmp_path):
    """Every trial was refused 'inside the data folder' one by one, each writing its traceback there."""
    from vaegan.config import build_config
    from vaegan.foundation.errors import ConfigError
    from vaegan.tuning.study import Tuner

    (tmp_path / "data").mkdir()
    space = {"model.lr": {"type": "float", "low": 1e-4, "high": 1e-2}}
    config = build_config(
        {"name": "t", "model": {"name": "vae"}, "data": {"data_dir": str(tmp_path / "data")},
         "tune": {"metric": "val/loss", "space": space}}
    )  # fmt: skip
    with pytest.raises(ConfigError, match="data"):
        Tuner(config, out=tmp_path / "data" / "sweep")
    assert not (tmp_path / "data" / "sweep").exists()


def test_tune_under_torchrun_is_refused_before_the_study_opens(config, tmp_path, monkeypatch):
    # each rank asked its own trial and trained it inside one DDP group with the others' trials
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match=r"torchrun.*WORLD_SIZE=2.*separate processes.*CUDA_VISIBLE_DEVICES"):
        Tuner(config, out=tmp_path / "study")
    assert not (tmp_path / "study").exists()
    monkeypatch.setenv("WORLD_SIZE", "1")  # one process: one trial at a time, as without torchrun
    Tuner(config, out=tmp_path / "study")


def trained_for(tmp_path, epochs: int, space: dict = LR):
    """The tiny study's config with train.epochs set, as --set train.epochs=N gives it."""
    return build_config(tiny_study(tmp_path / "no-data-needed", space), [f"train.epochs={epochs}"])


def test_a_study_is_not_continued_with_trials_of_another_length(tmp_path):
    # a second worker with --set train.epochs=20 joined a study of 2-epoch trials, and their values were ranked
    # together: only the --epochs cap was compared
    out = tmp_path / "study"
    Tuner(trained_for(tmp_path, 2), out=out)
    with pytest.raises(
        ConfigError,
        match=r"^study 'tiny' trains trials of 2 epochs.*of 20\b.*--epochs 2.*train\.epochs=2.*own --out folder$",
    ):
        Tuner(trained_for(tmp_path, 20), out=out)
    with pytest.raises(ConfigError, match=r"trials of 2 epochs.*of 1\b"):
        Tuner(trained_for(tmp_path, 20), out=out, max_epochs=1)
    Tuner(trained_for(tmp_path, 20), out=out, max_epochs=2)  # capped at 2: the study's own trials
    Tuner(trained_for(tmp_path, 2), out=out, max_epochs=5)  # a cap above train.epochs changes nothing


def test_a_cap_that_shortens_no_trial_continues_a_study_started_without_one(tmp_path):
    # a study of 10-epoch trials refused a worker given --epochs 50, though its trials were the same
    out = tmp_path / "study"
    Tuner(trained_for(tmp_path, 10), out=out)
    Tuner(trained_for(tmp_path, 10), out=out, max_epochs=50)
    with pytest.raises(ConfigError, match=r"trials of 10 epochs.*of 5\b"):
        Tuner(trained_for(tmp_path, 10), out=out, max_epochs=5)


def test_a_study_tuning_train_epochs_takes_any_cap_but_not_fixed_lengths(tmp_path):
    # each trial draws its epochs, and a cap below the space's top is refused: no cap shortens a trial
    space = {**LR, "train.epochs": {"type": "int", "low": 1, "high": 3}}
    out = tmp_path / "study"
    Tuner(trained_for(tmp_path, 1, space), out=out)
    Tuner(trained_for(tmp_path, 1, space), out=out, max_epochs=3)
    with pytest.raises(ConfigError, match=r"trials of the epochs tune\.space draws.*of 3 epochs.*tune\.space"):
        Tuner(trained_for(tmp_path, 3), out=out)
    fixed = tmp_path / "fixed"
    Tuner(trained_for(tmp_path, 3), out=fixed)
    with pytest.raises(ConfigError, match=r"trials of 3 epochs.*of the epochs tune\.space draws.*train\.epochs=3"):
        Tuner(trained_for(tmp_path, 1, space), out=fixed)


def test_a_study_from_before_the_trial_length_was_recorded_takes_any(tmp_path):
    import optuna
    from sqlalchemy import create_engine, text

    out = tmp_path / "study"
    tuner = Tuner(trained_for(tmp_path, 2), out=out)
    with create_engine(tuner.storage_url).begin() as connection:  # as a study made before the length was recorded
        connection.execute(text("DELETE FROM study_user_attributes WHERE key = 'vaegan_trial_epochs'"))
    assert "vaegan_trial_epochs" not in optuna.load_study(study_name="tiny", storage=tuner.storage_url).user_attrs
    Tuner(trained_for(tmp_path, 20), out=out)

# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # Hyperparameter search for a VAE on MNIST, with Optuna
#
# A VAE's validation loss (the negative ELBO, in nats per image) depends on choices the training cannot make for itself: the latent size, the learning rate, the network. This notebook lets Optuna choose them.
#
# - The **search space and the objective live in the run config**: the `tune` section of `configs/mnist_vae.yaml` names each dotted config key to search, the metric (`val/objective`) and its direction.
# - Each **trial is a normal training run** in `STUDY/trial_NNNN` (config, metrics.csv, image grids). It reports its metric every epoch, so a trial that is clearly worse than the median of earlier trials at the same epoch is **pruned** (stopped early).
# - The study is kept in a **database** (SQLite in the study folder here), so an interrupted search loses no finished trial (`vaegan tune` run again continues it). This notebook starts a **fresh study** in a new time-stamped folder under `outputs/hyperparameter_search/` beside it on every run, so every run really tunes.
#
# The same study from a terminal: `vaegan tune --config configs/mnist_vae.yaml --trials 50 --epochs 4`.
#
# `VAEGAN_QUICK=1` shrinks everything (500 images, a small MLP, 3 trials of 1 epoch) to run in under a minute.

# %%
from pathlib import Path

import optuna
import pandas as pd
import yaml
from IPython.display import Image, display

from vaegan.config import build_config, load_config
from vaegan.exercises import notebook_outputs, quick
from vaegan.experiment import train_from_config
from vaegan.tuning import Tuner, write_outputs
from vaegan.tuning.report import best_config

QUICK = quick()
if QUICK:  # tiny budget: a small MLP on 500 images, 3 trials of 1 epoch
    overrides = [
        "data.limit=500", "data.val_size=0.1", "model.network.kind=mlp", "model.network.hidden=[128]",
        "train.batch_size=32", "train.grid_size=16",
        "tune.space={model.latent_dim: {type: int, low: 2, high: 16, log: true},"
        " model.lr: {type: float, low: 3.0e-4, high: 3.0e-3, log: true}}",
    ]
    TRIALS, EPOCHS = 3, 1
else:
    overrides = []
    TRIALS, EPOCHS = 30, 4
overrides += ["train.progress=false", "train.tensorboard=false"]
optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial, printed below
# a fresh study folder on every run (a new study, not the last one continued), beside this notebook
STUDY_DIR = notebook_outputs("hyperparameter_search", fresh=True)
config = load_config("mnist_vae", overrides)  # a shipped config, by name
print(yaml.safe_dump({"tune": config.tune.model_dump(mode="json")}, sort_keys=False))


# %% [markdown]
# ## Run the study
#
# `Tuner` opens the study (or joins it, if it exists), then runs trials until the study holds `TRIALS` finished ones. `max_epochs` caps each trial's epochs: a cheap proxy of the full training. Each line below is one finished trial.

# %%
def show(study, trial):
    detail = trial.user_attrs.get("fail_reason") or (trial.value and f"{trial.value:.2f}")
    print(f"trial {trial.number:3d} {trial.state.name:8s} {detail}  {trial.params}")


tuner = Tuner(config, out=STUDY_DIR, max_epochs=EPOCHS)
study = tuner.run(TRIALS, callbacks=[show])
files = write_outputs(tuner)
print(f"{tuner.counted()} finished trials in {tuner.storage_url}")
print("best:", study.best_trial.number, f"{study.best_value:.2f}", study.best_params)

# %% [markdown]
# ## Every trial, in `trials.csv`
#
# One row per trial: its state (COMPLETE, PRUNED, or FAIL with a `fail_reason`, e.g. a loss that turned NaN), its value, each sampled parameter, its run folder and the worker that ran it.

# %%
pd.read_csv(STUDY_DIR / "trials.csv")

# %% [markdown]
# ## What the search found
#
# The optimisation history (each trial's value and the best so far), each trial's validation loss per epoch (pruned trials stop early), and, once enough trials have completed, the parameter importances and a parallel-coordinates view of which values gave which loss.

# %%
for name in ["optimization_history", "intermediate_values", "param_importances", "parallel_coordinate"]:
    path = STUDY_DIR / f"{name}.png"
    if path.exists():
        display(Image(filename=str(path)))

# %% [markdown]
# ## Train the best configuration
#
# `best_config.yaml` is the base config with the best trial's values and the config's own number of epochs (not the cap the trials ran under). It is what `vaegan train --config outputs/hyperparameter_search/<time stamp>/best_config.yaml` (the study's own folder) trains; here it is trained in the notebook. (In quick mode it would repeat the best trial's single epoch, so that trial's run folder is shown.)

# %%
best = best_config(tuner)
print(f"{best.name}: latent_dim={best.model.latent_dim}, lr={best.model.lr:.2g}, epochs={best.train.epochs}")
if QUICK:
    best_run = Path(study.best_trial.user_attrs["run_dir"])
else:
    best_run = STUDY_DIR / "best_run"
    train_from_config(build_config(best.to_dict(), [f"out={best_run}"]), overwrite=True)
history = pd.read_csv(best_run / "metrics.csv")
print(f"{best_run}: val/loss {history['val/loss'].iloc[-1]:.2f} after {len(history)} epochs")
display(Image(filename=str(best_run / f"epoch{len(history):03d}_recons.png")))
display(Image(filename=str(best_run / f"epoch{len(history):03d}_fakes.png")))

# %% [markdown]
# ## Many workers, one study
#
# Point every worker at one PostgreSQL database; each runs the same command and they share the trial budget (`--trials` counts every worker's trials):
#
# ```bash
# vaegan tune --config configs/mnist_vae.yaml --trials 100 --epochs 4 \
#     --storage postgresql://user:password@dbhost/optuna --study mnist_vae
# ```
#
# Watch a study live in the browser with optuna-dashboard (`pip install optuna-dashboard`):
#
# ```bash
# optuna-dashboard sqlite:///outputs/hyperparameter_search/<time stamp>/study.db
# ```

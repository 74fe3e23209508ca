# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Working habits for the course: tests, a debugger, tracebacks
#
# Hints, not exercises. Three habits that save hours when a model will not learn:
#
# 1. **run the tests** (yours and the shipped ones) after every change;
# 2. **stop inside `train_step`** with a *conditional* breakpoint, exactly when something odd happens;
# 3. **read a traceback** from the bottom up.
#
# The exercises themselves: `vaegan exercises init my_exercises` writes a workspace,
# `vaegan exercises check my_exercises` grades it (see the last section).

# %%
import subprocess
import sys
import traceback

import matplotlib.pyplot as plt
import torch

from vaegan import VAE, VAEConfig, load_dataset
from vaegan.exercises import notebook_outputs, quick
from vaegan.models import Batch

QUICK = quick()
OUT = notebook_outputs("working_habits")
torch.manual_seed(0)

# %% [markdown]
# ## 1. Run the tests
#
# From the repository root, in a terminal (or VS Code's *Testing* panel, or the
# "pytest: this file" launch configuration in `.vscode/launch.json`):
#
# ```bash
# .venv/bin/python -m pytest -q                                  # everything (what CI runs)
# .venv/bin/python -m pytest -q tests/models/test_contract.py -k vae   # one file, tests matching "vae"
# .venv/bin/python -m pytest -x --lf                             # stop at the first failure; rerun the last failures
# .venv/bin/python -m pytest --pdb -k kl                         # open the debugger where a test fails
# ```
#
# A test is a function whose name starts with `test_` and which `assert`s. Here is one you
# could write while implementing the closed-form KL, run with pytest from this notebook:

# %%
test_file = OUT / "test_kl.py"
test_file.write_text('''
import torch
from vaegan.models.distributions import DiagonalGaussian


def test_kl_is_zero_at_the_prior():
    q = DiagonalGaussian(torch.zeros(3, 2), torch.zeros(3, 2))
    assert torch.allclose(q.kl(), torch.zeros(3))


def test_kl_matches_a_monte_carlo_estimate():
    torch.manual_seed(0)
    q = DiagonalGaussian(torch.tensor([[1.0, -0.5]]), torch.tensor([[0.3, -1.0]]))
    z = q.sample(200_000)                                     # (n, 1, 2)
    log_p = -0.5 * (z**2 + torch.log(torch.tensor(2 * torch.pi))).sum(-1)
    assert torch.allclose(q.kl(), (q.log_prob(z) - log_p).mean(0), atol=0.02)
''')
result = subprocess.run(
    [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--color=no", str(test_file)],
    capture_output=True, text=True, cwd=OUT,
)
print(result.stdout[-600:])

# %% [markdown]
# ## 2. A conditional breakpoint inside `train_step`
#
# A loss that jumps, or a term that wakes up, is found fastest by stopping *at that step*, with every tensor in reach.
# Three ways, from the most to the least convenient:
#
# - **VS Code**: open `src/vaegan/models/base.py`, right-click the margin at the line
#   `terms["loss"].backward()` in `train_step`, *Add Conditional Breakpoint*, type
#   `terms["kl"].item() > 2` (or any expression of the local variables), and start the "vaegan train (quick)" launch configuration.
# - **pdb from the terminal**: `python -m pdb -m vaegan train --config mnist_vae`, then
#   `b vaegan/models/base.py:<line>, terms["kl"].item() > 2` and `c`.
# - **In code**: `if terms["kl"].item() > 2: breakpoint()`. Python calls
#   `sys.breakpointhook`, which is pdb unless `PYTHONBREAKPOINT` says otherwise
#   (`PYTHONBREAKPOINT=0` turns every `breakpoint()` off).
#
# A notebook that runs unattended cannot stop, so below the hook *records* what pdb would
# show (the step and the loss terms) instead of stopping; in your own session leave the
# default hook and you land in pdb at that line (`p terms`, `p batch.x.shape`, `up`, `c`).


# %%
class WatchedVAE(VAE):
    """A VAE whose train_step stops (here: records) once the code carries information: KL > 2 nats."""

    def train_step(self, batch: Batch, optimizers):
        terms = super().train_step(batch, optimizers)
        if terms["kl"].item() > 2.0:  # the condition of the breakpoint
            breakpoint()
        return terms


stops = []  # (step, loss terms) where pdb would have stopped
sys.breakpointhook = lambda: stops.append((len(kls), dict(sys._getframe(1).f_locals["terms"])))  # pdb, normally

data = load_dataset("mnist", limit=300 if QUICK else 3000)
model = WatchedVAE(VAEConfig(latent_dim=8, network={"kind": "mlp", "hidden": [128]}))
optimizers = model.configure_optimizers()
kls = []
for start in range(0, len(data.train), 16):
    x, y = data.train.images[start : start + 16], data.train.labels[start : start + 16]
    kls.append(model.train_step(Batch(x, y), optimizers)["kl"].item())
sys.breakpointhook = sys.__breakpointhook__
print(f"{len(kls)} steps; the breakpoint would have stopped {len(stops)} times")
if stops:
    print(f"first stop at step {stops[0][0]}:", {key: round(float(value), 1) for key, value in stops[0][1].items()})

plt.figure(figsize=(7, 3))
plt.plot(kls, ".-", label="KL(q(z|x) || p(z)) per step")
plt.plot([s for s, _ in stops], [kls[s] for s, _ in stops], "rv", label="the breakpoint's condition held")
plt.xlabel("step")
plt.ylabel("nats per image")
plt.legend()
plt.show()

# %% [markdown]
# ## 3. Read a traceback from the bottom up
#
# The last line says *what* went wrong; the frames above it say *where*, outermost first.
# Find the last frame in **your** code: that is usually where the fix goes. Here a VAE
# built for 28 x 28 digits is given 32 x 32 images:

# %%
try:
    model.losses(Batch(torch.rand(4, 1, 32, 32), torch.zeros(4, dtype=torch.long)))
except RuntimeError as error:
    print("Traceback, one line per frame (outermost first):")
    for frame in traceback.extract_tb(error.__traceback__):
        where = frame.filename.replace("\\", "/")
        where = "vaegan/" + where.rsplit("/vaegan/", 1)[1] if "/vaegan/" in where else where.rsplit("/", 1)[-1]
        print(f"  {where}:{frame.lineno} in {frame.name}")
    print(f"{type(error).__name__}: {error}")

# %% [markdown]
# Read it as: the *last line* (a matrix product with mismatched shapes: the flattened 32 x 32
# image is longer than the layer expects), then up the frames to the last one in `vaegan/`
# (the encoder's network, called from `losses`). Below it are only torch's own frames. The fix
# is not in torch: build the model with `image_shape=(1, 32, 32)`, or resize the images.
#
# vaegan's own errors are written to be read without a traceback: they name the key, the
# value and what is allowed.

# %%
from vaegan.config import load_config  # noqa: E402
from vaegan.foundation.errors import ConfigError  # noqa: E402

try:
    load_config("mnist_vae", ["model.likelihood=poisson"])
except ConfigError as error:
    print(error)

# %% [markdown]
# ## The graded exercises
#
# ```bash
# vaegan exercises init my_exercises     # one file per exercise; each body raises NotImplementedError("ToImplement: ...")
# vaegan exercises check my_exercises    # a scoreboard: pass, or the first check that fails, in words
# ```
#
# Work one exercise at a time: implement, `check`, read the first failing check, fix. The
# checks compare your numbers with the shipped implementation's on the same seed and the
# same weights, so a pass means *the same numbers*, not just the right shapes.

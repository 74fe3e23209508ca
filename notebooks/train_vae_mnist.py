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
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Train a VAE on MNIST
#
# The caller program of the foundation: build a `VAE` from its config, train it with the generic `Trainer` (through `vaegan.fit`), and look at what it learned: reconstructions, samples from the prior, and the training curves.
#
# Set `VAEGAN_QUICK=1` for a seconds-long run (what CI does).

# %%
# %matplotlib inline
import torch
from IPython.display import Image, display

from vaegan import VAE, VAEConfig, fit, load_dataset
from vaegan.exercises import notebook_outputs, quick
from vaegan.visualization import image_grid

QUICK = quick()  # VAEGAN_QUICK=1: a few thousand images, two epochs (what CI runs)
OUT = notebook_outputs("train_vae_mnist")  # beside this notebook, never the repository's outputs/
torch.manual_seed(0)

# %% [markdown]
# ## Data
# MNIST is looked up in `$VAEGAN_DATA_DIR`, `~/.cache/vaegan`, `/usr/share/datasets`, then downloaded. Everything lives in memory as one tensor.

# %%
data = load_dataset("mnist", limit=4000 if QUICK else None)  # QUICK: enough steps for digits to show
print(data.train, data.val, data.test, sep="\n")

# %% [markdown]
# ## Model
# A convolutional VAE with a Bernoulli decoder and a 16-d latent space. `VAEConfig` describes it completely; the same fields appear in `configs/mnist_vae.yaml`.

# %%
config = VAEConfig(latent_dim=16, likelihood="bernoulli", network={"kind": "conv", "channels": [32, 64], "hidden": [256]})
model = VAE(config)
model

# %% [markdown]
# ## Train
# `fit` hands the model to the `Trainer`, which writes a run folder: metrics.csv, curves.png, per-epoch grids, checkpoints.

# %%
history = fit(model, data, epochs=2 if QUICK else 5, out_dir=OUT, overwrite=True, progress=not QUICK, binarize=True)
history[-1]

# %% [markdown]
# ## Reconstructions (originals above, reconstructions below) and samples

# %%
model.eval()
x = data.test.images[:16].to(model.device)
recons = model.reconstruct(x)
samples = model.sample(64, generator=torch.Generator().manual_seed(0))
display(image_grid(torch.cat([x[:8], recons[:8], x[8:], recons[8:]]), 8, "test images (rows 1, 3) and reconstructions (rows 2, 4)"))
image_grid(samples, 8, "samples from the prior")

# %% [markdown]
# ## Training curves

# %%
Image(str(OUT / "curves.png"))

# %% [markdown]
# ## Log-likelihood
# The importance-weighted bound (Burda et al. 2015) on a few test images: tighter than the ELBO as k grows.

# %%
x = data.test.images[:100].bernoulli().to(model.device)
for k in (1, 10, 100):
    print(k, float(model.log_likelihood(x, k=k).mean()))

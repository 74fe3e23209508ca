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
# # Train a conditional VAE (cVAE) on MNIST
#
# Sohn et al. 2015: the class label conditions both the encoder q(z | x, y) and the decoder p(x | z, y), so the code z is free to hold the *style* (slant, thickness, width) while the label holds the *digit*. `ConditionalVAE` is a `VAE` subclass that takes its conditioning hooks (`cond_dim`, `condition`: the one-hot label) from the `LabelConditioned` mixin and adds the analogies grid; as a conditional model it also draws its fakes with one row per class. The VAE methods it overrides (`__init__`, `latent`, `regularization`, `batch_statistics`, `curve_units`) serve two options off by default: per-class output offsets and a penalty that keeps the class out of the code.
#
# Set `VAEGAN_QUICK=1` for a seconds-long run (what CI does).

# %%
# %matplotlib inline
import torch
from IPython.display import Image

from vaegan import ConditionalVAE
from vaegan.config import load_config
from vaegan.evaluation.sharpness import sharpness
from vaegan.exercises import notebook_outputs, quick
from vaegan.experiment import train_from_config
from vaegan.runs import load_run
from vaegan.visualization import epoch_grids, image_grid

torch.manual_seed(0)
QUICK = quick()
OUT = notebook_outputs("train_cvae_mnist")
# quick: 500 images, one epoch (seconds, and the grids still noisy); else configs/mnist_cvae.yaml as written
overrides = ["data.limit=500", "data.val_size=100", "train.epochs=1"] if QUICK else []
overrides += [f"out={OUT}", "train.progress=false"]

# %% [markdown]
# ## The hierarchy
# Each class adds only what differs: the autoencoder's reconstruction, the VAE's probabilistic code and KL term, the cVAE's label.

# %%
print(" -> ".join(c.__name__ for c in ConditionalVAE.__mro__[:-3]))

# %% [markdown]
# ## Train with the ready-made config
# `configs/mnist_cvae.yaml` is what `vaegan train --config configs/mnist_cvae.yaml` runs: a 4-d code, convolutional encoder and decoder, 30 epochs (about 13 minutes on 2 CPU cores).

# %%
config = load_config("mnist_cvae", overrides)  # a shipped config, by name
history = train_from_config(config, overwrite=True)
history[-1]

# %% [markdown]
# ## The run folder's grids of the last epoch
# recons: fixed validation images above their reconstructions. fakes: row c is class c, the same noise down each column. analogies: column 0 the input, then its code drawn as every class.

# %%
epoch_grids(OUT, ["recons", "fakes", "analogies"])

# %% [markdown]
# ## Ask for a digit

# %%
run = load_run(OUT, checkpoint="last")
model, data = run.model, run.load_data()
# sampling per class: z ~ N(0, I), the label chosen by us
labels = torch.arange(10).repeat_interleave(8)  # eight of each digit
samples = model.sample(80, labels, generator=torch.Generator().manual_seed(1))
image_grid(samples, 8, "model.sample(80, labels): one row per class", row_labels=data.class_names)

# %% [markdown]
# ## Analogies on test digits

# %%
# style transfer across classes: encode a test digit with its own label, decode its z with every label
test = data.test
x, y = test.images[:6].to(model.device), test.labels[:6].to(model.device)
table = model.analogies(x, y).view(6, 10, *x.shape[1:])  # (inputs, classes, C, H, W)
grid = torch.cat([x.unsqueeze(1), table], dim=1).flatten(0, 1)
image_grid(grid, 11, "column 0: test digit; columns 1-10: its code decoded as 0, 1, ..., 9")

# %% [markdown]
# ## How sharp are the samples?
# The variance of the Laplacian: blur lowers it. Real test digits set the reference; the CVAE-GAN notebook compares its samples with these.

# %%
print(f"cVAE samples: {sharpness(samples.cpu()):.3f}   real test digits: {sharpness(data.test.images[:1000]):.3f}")

# %% [markdown]
# ## Training curves

# %%
Image(f"{OUT}/curves.png")

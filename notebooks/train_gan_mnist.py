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
# # Train a GAN on MNIST
#
# A DCGAN (Radford et al. 2016): a generator G turns noise z into an image, a discriminator D tells real images from G's fakes, and each learns against the other (Goodfellow et al. 2014). `GAN.train_step` steps both optimizers itself, so the same generic `Trainer` that fits a VAE fits it.
#
# Set `VAEGAN_QUICK=1` for a seconds-long run (what CI does): its 29 steps (one epoch of 458 training images in batches of 16) draw blobs, not digits yet.

# %%
# %matplotlib inline
import torch
from IPython.display import Image

from vaegan import GAN, fit, load_dataset
from vaegan.exercises import notebook_outputs, quick
from vaegan.models import GANConfig
from vaegan.visualization import image_grid, panel_curves

QUICK = quick()
EPOCHS = 1 if QUICK else 6
BATCH = 16 if QUICK else 64  # QUICK: more, smaller steps; one short epoch still only draws blobs
OUT = notebook_outputs("train_gan_mnist")
_ = torch.manual_seed(0)

# %% [markdown]
# ## Data
# MNIST digits as one in-memory tensor in [0, 1].

# %%
data = load_dataset("mnist", limit=500 if QUICK else None)
print(data.train, data.val, data.test, sep="\n")

# %% [markdown]
# ## Model
# `GANConfig` describes it completely (the same fields as `configs/mnist_gan.yaml`): `network` is the generator (transposed convolutions, ReLU, batch norm), `discriminator` its adversary (strided convolutions, leaky ReLU). Adam(2e-4, beta1=0.5) is the DCGAN default.

# %%
config = GANConfig(latent_dim=64, network={"channels": [64, 128]}, discriminator={"channels": [32, 64]})
model = GAN(config)
model

# %% [markdown]
# ## Train
# Each step: one discriminator update on a real and a fake batch, then one generator update against the updated discriminator. The run folder gets `epochNNN_fakes.png` (the same noise every epoch, so epochs compare), metrics.csv with D(x) and D(G(z)), and checkpoints holding both optimizers.

# %%
history = fit(
    model,
    data, epochs=EPOCHS, batch_size=BATCH, out_dir=OUT, overwrite=True, progress=not QUICK, tensorboard=False
)
history[-1]

# %% [markdown]
# ## Fakes of the last epoch (fixed noise)

# %%
Image(f"{OUT}/epoch{EPOCHS:03d}_fakes.png", width=420)

# %% [markdown]
# ## New samples
# A GAN cannot be told which digit to draw: the class is whatever the noise maps to.

# %%
samples = model.sample(64, generator=torch.Generator().manual_seed(1))
image_grid(samples, 8, "model.sample(64)")

# %% [markdown]
# ## Training curves
# In a healthy run neither player wins: D(x) stays below 1 and D(G(z)) above 0. The losses need not fall, which is why a GAN keeps no `best.pt` by validation loss.

# %%
panel_curves(history, {
    "losses": {"d_loss": "d_loss", "g_loss": "g_loss"},
    "the discriminator's mean verdicts": {"d_real": "D(x)", "d_fake": "D(G(z))"},
})

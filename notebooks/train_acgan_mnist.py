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
# # Train an auxiliary-classifier GAN (ACGAN) on MNIST
#
# Odena et al. 2017: the generator takes noise *and* a class label, G(z, c); the discriminator says real or fake *and* which class. Both players also maximise the log-likelihood of the correct class, so we can ask for a digit. `ACGAN` is a `GAN` subclass that overrides only the small hooks that differ.
#
# Set `VAEGAN_QUICK=1` for a seconds-long run (what CI does): its 29 steps (one epoch of 458 training images in batches of 16) draw blobs, not digits yet.

# %%
# %matplotlib inline
import torch
from IPython.display import Image

from vaegan import ACGAN, fit, load_dataset
from vaegan.exercises import notebook_outputs, quick
from vaegan.models import ACGANConfig
from vaegan.visualization import image_grid, panel_curves

QUICK = quick()
EPOCHS = 1 if QUICK else 6
BATCH = 16 if QUICK else 64  # QUICK: more, smaller steps; one short epoch still only draws blobs
OUT = notebook_outputs("train_acgan_mnist")
_ = torch.manual_seed(0)

# %% [markdown]
# ## Data

# %%
data = load_dataset("mnist", limit=500 if QUICK else None)
print(data.train, data.val, data.test, sep="\n")

# %% [markdown]
# ## Model
# The same fields as `configs/mnist_acgan.yaml`. The discriminator's head has 1 + 10 outputs: the real/fake logit and the class logits.

# %%
config = ACGANConfig(latent_dim=64, network={"channels": [64, 128]}, discriminator={"channels": [32, 64]})
model = ACGAN(config)
model.discriminate(data.train.images[:2]).classes.shape

# %% [markdown]
# ## Train
# metrics.csv also records the auxiliary classifier's accuracy on real images (`acc_real`) and on fakes (`acc_fake`).

# %%
history = fit(
    model,
    data, epochs=EPOCHS, batch_size=BATCH, out_dir=OUT, overwrite=True, progress=not QUICK, tensorboard=False
)
history[-1]

# %% [markdown]
# ## Fakes of the last epoch
# One row per class, the same noise down each column: the label sets the digit, the noise its style (slant, thickness).

# %%
Image(f"{OUT}/epoch{EPOCHS:03d}_fakes.png", width=420)

# %% [markdown]
# ## Ask for a digit
# `sample` takes the labels; the command line does the same with `vaegan sample RUN --n 5000 --labels 0-9 --out samples.npz`.

# %%
sevens = model.sample(32, labels=torch.full((32,), 7), generator=torch.Generator().manual_seed(1))
image_grid(sevens, 8, "32 sevens: different noise, same class")

# %% [markdown]
# ## Does an independent classifier agree?
# The reference classifier (trained once per dataset, then cached) reads 2000 samples; the default config reaches about 98% on MNIST. Skipped in QUICK mode.

# %%
if not QUICK:
    from vaegan.evaluation import classifier_accuracy, load_classifier

    labels = torch.arange(10).repeat_interleave(200)
    fakes = model.sample(len(labels), labels, generator=torch.Generator().manual_seed(2))
    print("samples recognised as the requested class:", classifier_accuracy(load_classifier("mnist"), fakes, labels))

# %% [markdown]
# ## Training curves

# %%
print("auxiliary classifier accuracy, last epoch:",
      {key: round(history[-1][f"val/{key}"], 3) for key in ("acc_real", "acc_fake")})
panel_curves(history, {
    "losses": {"d_loss": "d_loss", "g_loss": "g_loss"},
    "the discriminator's mean verdicts": {"d_real": "D(x)", "d_fake": "D(G(z))"},
})

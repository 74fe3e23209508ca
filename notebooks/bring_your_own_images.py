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
# # Bring your own images
#
# A trained model is most convincing on images it has never seen *of a kind* it has never
# seen: your handwriting, a photo, a scan. Two commands take any PNG/JPEG/NIfTI files (or
# folders of them), bring each to the run's image shape, and run them through the encoder:
#
# ```bash
# vaegan encode RUN my_digits/ --invert --out codes.npz        # codes (N, latent_dim) and file names
# vaegan reconstruct RUN my_digits/ --invert --out recon.png   # inputs above their reconstructions
# ```
#
# A file that cannot be used stops the command with one line naming it and why (exit status 2).
# Here the "own images" are digits typeset in a font (MNIST is handwriting), written dark on
# light as on paper; `--invert` turns them light on dark, as MNIST is.
#
# Set `VAEGAN_QUICK=1` for a seconds-long run (what CI does).

# %%
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont

from vaegan.cli import main
from vaegan.config import load_config
from vaegan.exercises import notebook_outputs, quick
from vaegan.experiment import train_from_config

QUICK = quick()
OUT = notebook_outputs("bring_your_own_images")
RUN = OUT / "mnist_vae"

# %% [markdown]
# ## A model to ask
# The shipped `mnist_vae` config, trained briefly (in quick mode one epoch on 500 images, so
# expect blur). Any run folder with an encoder works: an autoencoder, a VAE, a cVAE (which
# also wants `--labels`), a CVAE-GAN.

# %%
quick_settings = ["data.limit=500", "data.val_size=100", "train.epochs=1"] if QUICK else ["train.epochs=4"]
config = load_config("mnist_vae", [*quick_settings, f"out={RUN}", "train.progress=false", "train.tensorboard=false"])
history = train_from_config(config, overwrite=True)
print(f"validation -ELBO after {len(history)} epochs: {history[-1]['val/loss']:.1f} nats per image")

# %% [markdown]
# ## Your images
# Ten digits typeset at 64 x 64 in a bold font, black on white, saved as PNG: nothing like
# MNIST's 28 x 28 white-on-black handwriting, except that they are digits.

# %%
font = ImageFont.truetype(str(matplotlib.get_data_path()) + "/fonts/ttf/DejaVuSans-Bold.ttf", 44)
mine = OUT / "my_digits"
mine.mkdir(exist_ok=True)
for digit in range(10):
    page = PILImage.new("L", (64, 64), color=255)
    ImageDraw.Draw(page).text((32, 34), str(digit), fill=0, font=font, anchor="mm")
    page.save(mine / f"digit_{digit}.png")
plt.figure(figsize=(8, 1))
plt.imshow(np.hstack([np.asarray(PILImage.open(p)) for p in sorted(mine.glob("*.png"))]), cmap="gray")
plt.axis("off")
plt.show()

# %% [markdown]
# ## Encode them
# `codes.npz` holds `codes` (one row per image, the posterior mean for a VAE) and `files`
# (the image each row came from), ready for numpy, pandas or a scatter plot.

# %%
assert main(["encode", str(RUN), str(mine), "--invert", "--out", str(OUT / "codes.npz")]) == 0
saved = np.load(OUT / "codes.npz")
for name, code in zip(saved["files"], saved["codes"]):
    print(f"{name.rsplit('/', 1)[-1]:12s}", np.array2string(code[:6], precision=2, suppress_small=True), "...")

# %% [markdown]
# ## Reconstruct them
# Row 1: the inputs as the model sees them (resized to 28 x 28, inverted); row 2: what it
# gives back. Digits it can read come back as MNIST-style strokes; the further a typeset
# digit is from handwriting, the more the model replaces it with a digit it knows.

# %%
assert main(["reconstruct", str(RUN), str(mine), "--invert", "--out", str(OUT / "recon.png")]) == 0
Image(str(OUT / "recon.png"), width=640)

# %% [markdown]
# ## When a file cannot be used
# The error names the file and the reason, in one line; in a terminal the exit status is 2.

# %%
(OUT / "notes.png").write_text("not an image")
status = main(["encode", str(RUN), str(OUT / "notes.png"), "--out", str(OUT / "bad.npz")])
print("exit status", status)
assert status == 2, f"an unreadable image should be refused with exit status 2, got {status}"

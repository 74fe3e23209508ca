"""One tiny config per registered model: all the contract suite needs to test a model.

Adding a model = its file, its registration, and one entry here.
"""

TINY = {
    "ae": {"latent_dim": 4, "network": {"kind": "conv", "channels": [8, 16], "hidden": [32]}},
    "vae": {"latent_dim": 4, "network": {"kind": "conv", "channels": [8, 16], "hidden": [32]}},
    "cvae": {"latent_dim": 4, "network": {"kind": "conv", "channels": [8, 16], "hidden": [32]}},
    "cvaegan": {
        "latent_dim": 4,
        "network": {"kind": "conv", "channels": [8, 16], "hidden": [32]},
        "discriminator": {"kind": "conv", "channels": [8, 16], "hidden": [32], "activation": "leaky_relu"},
        "classifier": {"kind": "conv", "channels": [8, 16], "hidden": [32], "activation": "leaky_relu"},
    },
    "gan": {"latent_dim": 4, "network": {"channels": [8, 16], "hidden": []}, "discriminator": {"channels": [8, 16]}},
    "acgan": {"latent_dim": 4, "network": {"channels": [8, 16], "hidden": []}, "discriminator": {"channels": [8, 16]}},
}

"""The shipped implementation as a solution: LabelConditioned's hooks on a VAE."""

from vaegan.models import VAE, VAEConfig
from vaegan.models.base import LabelConditioned


class MyConditionalVAEConfig(VAEConfig):
    name: str = "exercise_cvae"


class MyConditionalVAE(LabelConditioned, VAE):
    config_class = MyConditionalVAEConfig

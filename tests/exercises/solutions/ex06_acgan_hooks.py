"""The shipped implementation as a solution: ACGAN's hooks, inherited."""

from vaegan.models import ACGAN, ACGANConfig


class MyACGANConfig(ACGANConfig):
    name: str = "exercise_acgan"


class MyACGAN(ACGAN):
    config_class = MyACGANConfig

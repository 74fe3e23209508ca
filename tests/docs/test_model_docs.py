"""What the docs say about the model hierarchy (docs/oop_tour.md, docs/write_your_own_model.md, the README) is
what the classes do."""

from __future__ import annotations

import inspect

import pytest
import torch

from tests.conftest import REPO
from tests.models.tiny_configs import tiny_model
from vaegan.models.base import Batch


@pytest.mark.parametrize("name", ["gan", "acgan", "wgan_gp"])
def test_losses_of_a_gan_says_it_trains_with_its_own_steps(name):
    """GAN inherits the default losses(), whose error said 'GAN must define losses(), or both train_step() and
    eval_step()', though GAN defines both."""
    model = tiny_model(name)
    batch = Batch(torch.rand(4, 1, 16, 16), torch.zeros(4, dtype=torch.long))
    cls = type(model).__name__
    with pytest.raises(NotImplementedError) as raised:
        model.losses(batch)
    message = str(raised.value)
    assert message.startswith(f"{cls} trains with its own train_step() and eval_step(), which do not go through ")
    assert "must define" not in message
    tour = " ".join((REPO / "docs" / "oop_tour.md").read_text().split())
    assert "`GAN` has no `losses`" not in tour


def own_methods(cls: type) -> set[str]:
    return {name for name, value in vars(cls).items() if inspect.isfunction(value) and not name.startswith("__")}


def test_the_readme_names_every_method_beta_tcvae_overrides():
    """The README said beta-TCVAE 'overrides two VAE hooks'; it overrides five."""
    from vaegan.models import BetaTCVAE

    readme = " ".join((REPO / "README.md").read_text().split())
    sentence = readme[readme.index("beta-TCVAE overrides") :].split(". ")[0]
    missing = sorted(name for name in own_methods(BetaTCVAE) if f"`{name}`" not in sentence)
    assert not missing, f"README.md: {sentence!r} does not name {missing}"

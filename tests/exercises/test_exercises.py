"""``vaegan exercises``: the untouched workspace scores 0, vaegan's own implementations full marks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from vaegan.cli import main
from vaegan.exercises.catalogue import EXERCISES
from vaegan.exercises.workspace import TEMPLATES, grade
from vaegan.models import list_models

SOLUTIONS = Path(__file__).with_name("solutions")


@pytest.fixture
def workspace(tmp_path):
    folder = tmp_path / "mine"
    assert main(["exercises", "init", str(folder)]) == 0
    return folder


def test_init_writes_one_file_per_exercise_and_a_readme(workspace):
    names = sorted(p.name for p in workspace.iterdir())
    assert names == sorted([f"{e.key}.py" for e in EXERCISES] + ["README.md"])
    for exercise in EXERCISES:
        text = (workspace / f"{exercise.key}.py").read_text()
        assert 'NotImplementedError("ToImplement: ' in text and exercise.target in text


def test_init_keeps_a_readme_it_did_not_write(tmp_path, capsys):
    folder = tmp_path / "my_project"
    folder.mkdir()
    (folder / "README.md").write_text("# my thesis notes\n")
    assert main(["exercises", "init", str(folder), "--force"]) == 0
    assert (folder / "README.md").read_text() == "# my thesis notes\n"
    assert (folder / "EXERCISES.md").read_text().startswith("# vaegan exercises")
    assert "EXERCISES.md" in capsys.readouterr().out
    assert main(["exercises", "init", str(folder), "--force"]) == 0  # its own guide is rewritten, not a third file
    assert sorted(p.name for p in folder.glob("*.md")) == ["EXERCISES.md", "README.md"]


def test_init_keeps_an_exercises_md_it_did_not_write_either(tmp_path, capsys):
    folder = tmp_path / "my_project"
    folder.mkdir()
    (folder / "README.md").write_text("# my thesis notes\n")
    (folder / "EXERCISES.md").write_text("# my own exercise sheet\n")
    assert main(["exercises", "init", str(folder)]) == 2
    assert "EXERCISES.md" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["EXERCISES.md", "README.md"]  # nothing written
    assert (folder / "EXERCISES.md").read_text() == "# my own exercise sheet\n"


def test_templates_are_package_data_covering_the_course():
    keys = {p.stem for p in TEMPLATES.glob("ex*.py")}
    assert keys == {e.key for e in EXERCISES}
    covered = " ".join(e.title for e in EXERCISES)
    for topic in ("reparameterisation", "KL", "ELBO", "IWAE", "GAN: train_step", "ACGAN", "cVAE", "CVAE-GAN"):
        assert topic in covered


def test_init_keeps_existing_work(workspace, capsys):
    assert main(["exercises", "init", str(workspace)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_untouched_workspace_scores_zero(workspace, capsys):
    before = list_models()
    assert main(["exercises", "check", str(workspace)]) == 1
    out = capsys.readouterr().out
    assert out.strip().endswith(f"score: 0/{len(EXERCISES)}")
    assert out.count("FAIL") == len(EXERCISES) and out.count("ToImplement") == len(EXERCISES)
    assert list_models() == before  # the student's classes leave the registry as they found it


def test_shipped_implementations_score_full_marks(capsys):
    before = list_models()
    assert main(["exercises", "check", str(SOLUTIONS)]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith(f"score: {len(EXERCISES)}/{len(EXERCISES)}") and "FAIL" not in out
    assert list_models() == before


def test_a_wrong_answer_fails_with_the_check_in_words(workspace):
    for path in SOLUTIONS.glob("*.py"):
        shutil.copy(path, workspace / path.name)
    (workspace / "ex02_kl_divergence.py").write_text(
        "from vaegan.models.distributions import DiagonalGaussian\n\n\n"
        "class ClosedFormKL(DiagonalGaussian):\n"
        "    def kl_per_dim(self):\n"
        "        return self.mean.pow(2) + self.logvar.exp() - 1.0 - self.logvar  # forgot the 1/2\n"
    )
    (workspace / "ex05_gan_train_step.py").write_text(
        (workspace / "ex05_gan_train_step.py").read_text() + "\n    def train_step(self, batch, optimizers):\n"
        "        fake, labels = self.fake_batch(len(batch.x))\n"
        "        optimizers['discriminator'].zero_grad()\n"
        "        d = self.discriminator_terms(batch, fake.detach(), labels)\n"
        "        d['d_loss'].backward()\n"
        "        optimizers['discriminator'].step()\n"
        "        optimizers['generator'].zero_grad()\n"
        "        g = self.generator_terms(fake, labels)  # D not frozen: its gradients pile up\n"
        "        g['g_loss'].backward()\n"
        "        optimizers['generator'].step()\n"
        "        return {k: v.detach() for k, v in {**d, **g}.items()}\n"
    )
    (workspace / "ex08_cvaegan_feature_matching.py").write_text("def class_mean_feature_matching(:\n")
    (workspace / "ex03_elbo.py").write_text(  # the same numbers; only the KL term trained the encoder
        (workspace / "ex03_elbo.py").read_text() + "\n    def latent(self, x, labels):\n"
        "        q = self.posterior(x, labels)\n"
        "        return q.sample().detach(), {'kl': q.kl().mean()}  # z cut off from the encoder\n"
    )
    results = {r.exercise.key: r for r in grade(workspace)}
    assert [k for k, r in results.items() if not r.passed] == [
        "ex02_kl_divergence",
        "ex03_elbo",
        "ex05_gan_train_step",
        "ex08_cvaegan_feature_matching",
    ]
    assert "reparameterisation" in results["ex03_elbo"].first_failure.message
    assert results["ex02_kl_divergence"].first_failure.name == "kl_per_dim gives vaegan's numbers"
    assert "D's gradient" in results["ex05_gan_train_step"].first_failure.message
    assert "SyntaxError" in results["ex08_cvaegan_feature_matching"].first_failure.message


def test_check_on_a_missing_folder_says_how_to_start(tmp_path, capsys):
    assert main(["exercises", "check", str(tmp_path / "nope")]) == 2
    assert "vaegan exercises init" in capsys.readouterr().err


def test_answers_wrong_beyond_one_fresh_step_fail_too(workspace):
    # each scored 8/8: a loss without the KL warm-up, a train_step that never zeroes its gradients,
    # and ACGAN class terms without class_weight; the tiny configs had no warm-up, weight 1 and one step
    for path in SOLUTIONS.glob("*.py"):
        shutil.copy(path, workspace / path.name)
    append = {
        "ex03_elbo.py": "\n    def losses(self, batch):\n"
        "        z, terms = self.latent(batch.x, None)\n"
        "        recon = -self.likelihood.log_prob(self.decode(z, None), batch.x).mean()\n"
        "        kl = terms['kl']\n"
        "        loss = recon + self.config.kl_weight * kl  # the warm-up forgotten\n"
        "        return {'loss': loss, 'objective': loss, 'recon': recon, 'kl': kl}\n",
        "ex05_gan_train_step.py": "\n    def train_step(self, batch, optimizers):\n"
        "        fake, labels = self.fake_batch(len(batch.x))\n"
        "        d = self.discriminator_terms(batch, fake.detach(), labels)\n"
        "        d['d_loss'].backward()  # no zero_grad: gradients pile up from step to step\n"
        "        optimizers['discriminator'].step()\n"
        "        from vaegan.models.adversarial import frozen\n"
        "        with frozen(self.discriminator):\n"
        "            g = self.generator_terms(fake, labels)\n"
        "            g['g_loss'].backward()\n"
        "        optimizers['generator'].step()\n"
        "        return {k: v.detach() for k, v in {**d, **g}.items()}\n",
        "ex06_acgan_hooks.py": "\n    def auxiliary_loss(self, terms, player):\n"
        "        loss = terms['class_fake']\n"
        "        if player == 'discriminator':\n"
        "            loss = terms['class_real'] + (loss if self.config.classify_fakes else 0.0)\n"
        "        return loss  # class_weight forgotten\n",
    }
    for name, code in append.items():
        (workspace / name).write_text((workspace / name).read_text() + code)
    results = {r.exercise.key: r for r in grade(workspace)}
    assert [k for k, r in results.items() if not r.passed] == [
        "ex03_elbo",
        "ex05_gan_train_step",
        "ex06_acgan_hooks",
    ], {k: (r.first_failure.name, r.first_failure.message[:300]) for k, r in results.items() if not r.passed}


def _solution_with(workspace, name: str, body: str) -> dict:
    for path in SOLUTIONS.glob("*.py"):
        shutil.copy(path, workspace / path.name)
    (workspace / name).write_text(body)
    return {r.exercise.key: r for r in grade(workspace)}


IWAE_HEAD = (
    "import math\nimport torch\n"
    "from vaegan.models import VAE, VAEConfig\n"
    "from vaegan.models.distributions import standard_normal_log_prob\n\n\n"
    "class IWAEVAEConfig(VAEConfig):\n    name: str = 'exercise_iwae_vae'\n\n\n"
    "class IWAEVAE(VAE):\n    config_class = IWAEVAEConfig\n\n"
)
WITH_INFERENCE = IWAE_HEAD.replace(
    "from vaegan.models import", "from vaegan.models.base import inference\nfrom vaegan.models import"
)
IWAE_BODY = (
    "    def log_likelihood(self, x, labels=None, *, k=64, chunk_rows=0):\n"
    "        q = self.posterior(x)\n"
    "        z = q.sample(k)\n"
    "        out = self.decode(z.flatten(0, 1), None)\n"
    "        log_px = self.likelihood.log_prob(out, x.{repeat}).view(k, len(x))\n"
    "        log_w = log_px + standard_normal_log_prob(z) - q.log_prob(z)\n"
    "        return torch.logsumexp(log_w, 0) - math.log(k)\n"
)


def test_an_iwae_without_eval_mode_fails_on_a_batch_norm_model(workspace):
    """Right formula, no @inference: it scored 8/8 on the MLP, yet on the default conv VAE it ran batch
    norm on the batch's statistics and kept gradients (-197 where vaegan gives -181)."""
    repeat = "repeat(k, *[1] * (x.dim() - 1))"
    results = _solution_with(workspace, "ex04_iwae.py", IWAE_HEAD + IWAE_BODY.format(repeat=repeat))
    failure = results["ex04_iwae"].first_failure
    assert failure is not None and "@inference" in failure.message
    decorated = IWAE_HEAD.replace(
        "from vaegan.models import", "from vaegan.models.base import inference\nfrom vaegan.models import"
    )
    decorated += "    @inference\n" + IWAE_BODY.format(repeat=repeat)
    assert _solution_with(workspace, "ex04_iwae.py", decorated)["ex04_iwae"].passed


def test_a_wrong_sample_order_in_iwae_is_named(workspace):
    body = IWAE_HEAD.replace(
        "from vaegan.models import", "from vaegan.models.base import inference\nfrom vaegan.models import"
    )
    body += "    @inference\n" + IWAE_BODY.format(repeat="repeat_interleave(k, dim=0)")  # image b's k rows together
    failure = _solution_with(workspace, "ex04_iwae.py", body)["ex04_iwae"].first_failure
    assert failure is not None and "row" in failure.message and "repeat" in failure.message


def test_sigma_as_exp_of_logvar_fails_with_the_check_that_names_it(workspace):
    body = (
        "import torch\nfrom vaegan.models.distributions import DiagonalGaussian\n\n\n"
        "class ReparameterisedGaussian(DiagonalGaussian):\n"
        "    def sample(self, n=None, generator=None):\n"
        "        shape = self.mean.shape if n is None else (n, *self.mean.shape)\n"
        "        eps = torch.randn(shape, generator=generator, dtype=self.mean.dtype)\n"
        "        return self.mean + torch.exp(self.logvar) * eps  # sigma = exp(logvar): the classic slip\n"
    )
    failure = _solution_with(workspace, "ex01_reparameterisation.py", body)["ex01_reparameterisation"].first_failure
    assert failure is not None and "exp(logvar / 2)" in failure.message


def test_the_global_verbose_flag_and_checks_verbose_are_apart(tmp_path, monkeypatch):
    """check's --verbose shared the global -v's dest: argparse copied the subparser's default over it, so
    `vaegan -v exercises check` lost -v, and `check --verbose` switched on INFO logging."""
    from vaegan.cli import build_parser

    parser = build_parser()
    both = parser.parse_args(["-v", "exercises", "check", str(tmp_path)])
    assert both.verbose and not both.every_check
    only = parser.parse_args(["exercises", "check", str(tmp_path), "--verbose"])
    assert only.every_check and not only.verbose


GAN_HEAD = (
    "from vaegan.models import GAN, GANConfig\nfrom vaegan.models.adversarial import frozen\n\n\n"
    "class MyGANConfig(GANConfig):\n    name: str = 'exercise_gan'\n\n\n"
    "class MyGAN(GAN):\n    config_class = MyGANConfig\n\n"
    "    def train_step(self, batch, optimizers):\n"
    "        fake, labels = self.fake_batch(len(batch.x))\n"
)


def test_a_gan_step_whose_d_loss_reaches_g_fails_even_with_retain_graph(workspace):
    """No detach, then retain_graph=True as PyTorch's error suggests: D's loss sent gradients into G, which
    G's zero_grad wiped before its own backward, so every number matched and the mistake scored 8/8."""
    body = GAN_HEAD + (
        "        optimizers['discriminator'].zero_grad()\n"
        "        d = self.discriminator_terms(batch, fake, labels)  # not detached\n"
        "        d['d_loss'].backward(retain_graph=True)\n"
        "        optimizers['discriminator'].step()\n"
        "        optimizers['generator'].zero_grad()\n"
        "        with frozen(self.discriminator):\n"
        "            g = self.generator_terms(fake, labels)\n"
        "            g['g_loss'].backward()\n"
        "        optimizers['generator'].step()\n"
        "        return {k: v.detach() for k, v in {**d, **g}.items()}\n"
    )
    failure = _solution_with(workspace, "ex05_gan_train_step.py", body)["ex05_gan_train_step"].first_failure
    assert failure is not None and "detach" in failure.message


def test_a_gan_step_that_zeroes_gradients_after_stepping_passes(workspace):
    """backward, step, zero_grad: the same weights as vaegan's, yet D 'had no gradient' when read afterwards."""
    body = GAN_HEAD + (
        "        d = self.discriminator_terms(batch, fake.detach(), labels)\n"
        "        d['d_loss'].backward()\n"
        "        optimizers['discriminator'].step()\n"
        "        optimizers['discriminator'].zero_grad()\n"
        "        with frozen(self.discriminator):\n"
        "            g = self.generator_terms(fake, labels)\n"
        "            g['g_loss'].backward()\n"
        "        optimizers['generator'].step()\n"
        "        optimizers['generator'].zero_grad()\n"
        "        return {k: v.detach() for k, v in {**d, **g}.items()}\n"
    )
    result = _solution_with(workspace, "ex05_gan_train_step.py", body)["ex05_gan_train_step"]
    assert result.passed, result.first_failure


def test_an_iwae_without_minus_log_k_is_told_so(workspace):
    """Exact at k = 1 (log 1 = 0), off by log 16 at k = 16: the hint blamed the order of the rows."""
    body = IWAE_HEAD.replace(
        "from vaegan.models import", "from vaegan.models.base import inference\nfrom vaegan.models import"
    )
    no_log_k = IWAE_BODY.format(repeat="repeat(k, *[1] * (x.dim() - 1))").replace(" - math.log(k)", "")
    failure = _solution_with(workspace, "ex04_iwae.py", body + "    @inference\n" + no_log_k)["ex04_iwae"].first_failure
    assert failure is not None and "log 16" in failure.message and "repeat_interleave" not in failure.message


def test_the_term_that_is_wrong_is_named_before_the_sums_of_it():
    from vaegan.exercises.compare import CheckFailed, compare_terms

    expected = {
        "loss": torch.tensor(3.0),
        "objective": torch.tensor(3.0),
        "recon": torch.tensor(2.0),
        "kl": torch.tensor(1.0),
    }
    got = {**expected, "loss": torch.tensor(4.0), "objective": torch.tensor(4.0), "kl": torch.tensor(2.0)}
    with pytest.raises(CheckFailed) as failed:
        compare_terms(got, expected, "losses(batch)")
    message = str(failed.value)
    assert message.startswith("losses(batch)['kl']") and "['loss']" in message
    with pytest.raises(CheckFailed, match="NaN"):
        compare_terms({**expected, "kl": torch.tensor(float("nan"))}, expected, "losses(batch)")


def test_an_iwae_that_switches_modes_by_hand_fails_for_a_caller_in_eval_mode(workspace):
    """self.eval() ... self.train() instead of @inference: checked only from training mode, it passed."""
    by_hand = (
        "        self.eval()\n"
        "        with torch.no_grad():\n"
        "            result = self._estimate(x, k)\n"
        "        self.train()\n"
        "        return result\n\n"
        "    def _estimate(self, x, k):\n"
        "        q = self.posterior(x)\n"
    )
    body = IWAE_HEAD + IWAE_BODY.format(repeat="repeat(k, *[1] * (x.dim() - 1))").replace(
        "        q = self.posterior(x)\n", by_hand
    )
    failure = _solution_with(workspace, "ex04_iwae.py", body)["ex04_iwae"].first_failure
    assert failure is not None and "eval mode" in failure.message


def test_a_sample_that_ignores_the_generator_is_told_so(workspace):
    body = (
        "import torch\nfrom vaegan.models.distributions import DiagonalGaussian\n\n\n"
        "class ReparameterisedGaussian(DiagonalGaussian):\n"
        "    def sample(self, n=None, generator=None):\n"
        "        shape = self.mean.shape if n is None else (n, *self.mean.shape)\n"
        "        eps = torch.randn(shape, dtype=self.mean.dtype)  # the generator ignored\n"
        "        return self.mean + torch.exp(0.5 * self.logvar) * eps\n"
    )
    failure = _solution_with(workspace, "ex01_reparameterisation.py", body)["ex01_reparameterisation"].first_failure
    assert failure is not None and "generator" in failure.message


def test_feature_matching_on_detached_fakes_is_told_so(workspace):
    body = (
        "from vaegan.models.cvaegan_losses import class_mean_feature_matching as theirs\n\n\n"
        "def class_mean_feature_matching(real, fake, real_labels, fake_labels, num_classes):\n"
        "    return theirs(real, fake.detach(), real_labels, fake_labels, num_classes)\n"
    )
    failure = _solution_with(workspace, "ex08_cvaegan_feature_matching.py", body)["ex08_cvaegan_feature_matching"]
    assert failure.first_failure is not None and "detach" in failure.first_failure.message


def test_one_hot_without_the_class_count_fails_on_a_batch_lacking_the_top_class(workspace):
    """F.one_hot(labels) sizes the code by the batch's largest label: every check's labels held class K-1,
    so it passed, then crashed (or mis-sized the decoder's input) on a batch without the top class."""
    body = (
        "import torch.nn.functional as F\n"
        "from vaegan.models import VAE, VAEConfig\n\n\n"
        "class MyConditionalVAEConfig(VAEConfig):\n    name: str = 'exercise_cvae'\n\n\n"
        "class MyConditionalVAE(VAE):\n"
        "    config_class = MyConditionalVAEConfig\n"
        "    conditional = True\n\n"
        "    @property\n"
        "    def cond_dim(self):\n"
        "        return self.config.num_classes\n\n"
        "    def condition(self, labels):\n"
        "        if labels is None:\n"
        "            raise ValueError('pass labels')\n"
        "        return F.one_hot(labels).float()  # K forgotten: as wide as the largest label + 1\n"
    )
    failure = _solution_with(workspace, "ex07_cvae_conditioning.py", body)["ex07_cvae_conditioning"].first_failure
    assert failure is not None and "num_classes" in failure.message
    assert _solution_with(workspace, "ex07_cvae_conditioning.py", body.replace("(labels)", "(labels, 3)"))[
        "ex07_cvae_conditioning"
    ].passed

"""``vaegan check-model``: the contract on a model defined outside vaegan, and the entry-point group."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from vaegan.cli import main
from vaegan.models import list_models

HERE = Path(__file__).parent
REPO = HERE.parents[1]


def test_a_model_from_a_test_module_passes_every_check(capsys):
    before = list_models()
    assert main(["check-model", "tests.exercises.tiny_plugin:FreeBitsVAE"]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and "FreeBitsVAE: 6/6 checks pass" in out
    assert "PASS  registers as 'free_bits_vae' and builds from its config" in out
    assert list_models() == before  # checked, then forgotten


def test_a_file_path_and_config_overrides_work(capsys):
    target = f"{HERE / 'tiny_plugin.py'}:FreeBitsVAE"
    assert main(["check-model", target, "--set", "free_bits=0.5", "--set", "network.hidden=[16]"]) == 0
    assert "6/6 checks pass" in capsys.readouterr().out


def test_a_broken_model_fails_the_check_it_breaks_in_words(capsys):
    assert main(["check-model", "tests.exercises.tiny_plugin:ForgetfulVAE"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  sample: shape, range [0, 1], seeded determinism: two samples with the same generator seed" in out
    assert "ForgetfulVAE: 4/6 checks pass" in out  # save/load compares seeded samples too


def test_targets_that_are_not_models_are_one_line_errors(capsys):
    assert main(["check-model", "tests.exercises.tiny_plugin:NOT_A_MODEL"]) == 2
    assert "is not a subclass of vaegan.models.GenerativeModel" in capsys.readouterr().err
    assert main(["check-model", "no_such_package.models:X"]) == 2
    assert "cannot import it" in capsys.readouterr().err


def test_a_registered_name_is_checked_too(capsys):
    assert main(["check-model", "ae"]) == 0
    assert "AutoEncoder: 6/6" in capsys.readouterr().out


def test_a_separate_package_registers_through_the_entry_point_group(tmp_path):
    """An installed distribution declaring [vaegan.models] is imported by list_models()."""
    package = tmp_path / "my_vaegan_models"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from vaegan.models import VAE, VAEConfig, register_model

            class PluginVAEConfig(VAEConfig):
                name: str = "plugin_vae"

            @register_model("plugin_vae")
            class PluginVAE(VAE):
                config_class = PluginVAEConfig
            """
        )
    )
    info = tmp_path / "my_vaegan_models-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-vaegan-models\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[vaegan.models]\nplugin_vae = my_vaegan_models\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO / "src"), str(REPO)])}
    code = "import sys; from vaegan.cli import main; sys.exit(main(['check-model', 'plugin_vae']))"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PluginVAE: 6/6 checks pass" in result.stdout


def test_a_condition_that_needs_the_top_class_in_every_batch_fails(capsys):
    """check-model passed F.one_hot(labels) without the class count: every batch it drew held class K-1."""
    assert main(["check-model", "tests.exercises.tiny_plugin:NarrowConditionCVAE"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  sample" in out and "without class 2" in out

"""A student's workspace: written from the templates, loaded from its files, graded per exercise.

Example:
    >>> init_workspace("my_exercises")  # doctest: +SKIP
    >>> print(scoreboard(grade("my_exercises")))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import torch

from vaegan.exercises.catalogue import EXERCISES, Exercise
from vaegan.exercises.contract import CheckResult, _reason, registered, run_contract
from vaegan.foundation.errors import VaeganError
from vaegan.foundation.files import write_text_atomic

TEMPLATES = Path(__file__).with_name("templates")

README = """# vaegan exercises

One file per exercise. Each method body raises `NotImplementedError("ToImplement: ...")`;
its docstring states the equation. Replace the `raise` with your code, then grade:

    vaegan exercises check {folder}

The checks run the model contract on your classes and compare your numbers with vaegan's
own implementation (same seed, same weights -> same numbers). The scoreboard names the
first check that fails, in words.

{table}
"""


@dataclass(frozen=True)
class ExerciseResult:
    exercise: Exercise
    checks: list[CheckResult]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def first_failure(self) -> CheckResult | None:
        return next((check for check in self.checks if not check.passed), None)


def init_workspace(folder: str | Path, *, force: bool = False) -> list[Path]:
    """Write every template and a guide into ``folder``; returns the files written, the guide last.

    Exercise files that exist are kept unless ``force``; a README.md vaegan did not write is never replaced
    (the guide goes to EXERCISES.md beside it)."""
    folder = Path(folder)
    targets = [folder / f"{exercise.key}.py" for exercise in EXERCISES]
    existing = [path for path in targets if path.exists()]
    if existing and not force:
        raise VaeganError(f"{existing[0]}: already exists; your work is kept (use --force to start again)")
    guide = guide_path(folder)
    if not _is_guide(guide):
        raise VaeganError(
            f"{guide}: a file of yours, as is README.md beside it; both are kept. Move one, or choose another folder"
        )
    folder.mkdir(parents=True, exist_ok=True)
    for path in targets:
        write_text_atomic(path, (TEMPLATES / path.name).read_text())
    table = "\n".join(f"- `{e.key}.py`: {e.title} (`{e.target}`)" for e in EXERCISES)
    write_text_atomic(guide, README.format(folder=folder, table=table))
    return [*targets, guide]


def guide_path(folder: Path) -> Path:
    """Where the workspace's guide goes: README.md, or EXERCISES.md where a README.md of the user's own is kept."""
    readme = folder / "README.md"
    return readme if _is_guide(readme) else folder / "EXERCISES.md"


def _is_guide(path: Path) -> bool:
    """Whether ``path`` is absent or a guide vaegan wrote (it starts with the guide's title)."""
    return not path.exists() or path.read_text(errors="replace").startswith(README.split("\n")[0])


def load_module(path: Path) -> ModuleType:
    """Import a workspace file as a fresh module (a re-run sees the student's latest edits)."""
    name = f"vaegan_exercise_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def grade_exercise(folder: Path, exercise: Exercise) -> ExerciseResult:
    """Every check of one exercise on the student's code; never raises."""
    path = folder / f"{exercise.key}.py"
    if not path.is_file():
        return ExerciseResult(exercise, [CheckResult("the file exists", False, f"{path} is missing")])
    try:
        target = getattr(load_module(path), exercise.target)
    except Exception as error:  # a syntax error, a typo: report it as the first failing check
        return ExerciseResult(exercise, [CheckResult(f"{path.name} imports", False, _reason(error))])
    results = run_contract(target, exercise.overrides) if exercise.shipped is not None else []
    for label, check in exercise.checks.items():
        torch.manual_seed(0)
        try:
            if exercise.shipped is not None:
                with registered(target):
                    check(target)
            else:
                check(target)
            results.append(CheckResult(label, True))
        except Exception as error:
            results.append(CheckResult(label, False, _reason(error)))
    return ExerciseResult(exercise, results)


def grade(folder: str | Path) -> list[ExerciseResult]:
    """Grade every exercise in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VaeganError(f"{folder}: no such workspace; create one with `vaegan exercises init {folder}`")
    with torch.random.fork_rng(devices=[]):  # grading leaves the caller's random state alone
        return [grade_exercise(folder, exercise) for exercise in EXERCISES]


def scoreboard(results: list[ExerciseResult], *, verbose: bool = False) -> str:
    """One line per exercise: PASS, or FAIL with the first failing check in words; then the score."""
    width = max(len(r.exercise.title) for r in results)
    lines = []
    for number, result in enumerate(results, 1):
        head = f"{number:2d}. {result.exercise.title:<{width}}"
        failure = result.first_failure
        if failure is None:
            lines.append(f"{head}  PASS  ({len(result.checks)} checks)")
        else:
            lines.append(f"{head}  FAIL  {failure.name}: {failure.message}")
        if verbose:
            lines.extend(f"      {'ok  ' if c.passed else 'FAIL'} {c.name} {c.message}".rstrip() for c in result.checks)
    score = sum(r.passed for r in results)
    lines.append(f"score: {score}/{len(results)}")
    return "\n".join(lines)

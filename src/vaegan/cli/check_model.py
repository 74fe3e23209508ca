"""``vaegan check-model my_pkg.models:MyVAE``: the model contract, check by check, on your own model.

The target is ``module:Class`` (an importable module, or a ``path/to/file.py``), or the
name of a registered model (vaegan's own, or one a package adds through the
``vaegan.models`` entry-point group). The class is registered only while it is checked.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

from vaegan.foundation.errors import VaeganError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("check-model", help="run the model contract checks on your own model class")
    parser.add_argument("target", help="module:Class (e.g. my_pkg.models:MyVAE or my_model.py:MyVAE), or a model name")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="config field for the tiny test model"
    )
    parser.set_defaults(func=run_check_model)


def _module(spec: str):
    if spec.endswith(".py"):
        path = Path(spec)
        if not path.is_file():
            raise VaeganError(f"{spec}: no such file")
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[path.stem] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as error:  # the user's file: a syntax error, a NameError at import, ...
            sys.modules.pop(path.stem, None)
            raise VaeganError(f"{spec}: importing it failed: {_where(error)}") from None
        return module
    try:
        return importlib.import_module(spec)
    except ImportError as error:
        raise VaeganError(f"{spec}: cannot import it ({error}); is its folder on PYTHONPATH?") from None
    except Exception as error:
        raise VaeganError(f"{spec}: importing it failed: {_where(error)}") from None


def _where(error: Exception) -> str:
    """``error`` in one line, with the line of the user's file it was raised at where Python knows it."""
    import traceback

    if isinstance(error, SyntaxError):
        return f"SyntaxError: {error.msg} (line {error.lineno})"
    frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    place = f" ({Path(frame.filename).name}, line {frame.lineno})" if frame else ""
    return f"{type(error).__name__}: {error}{place}"


def resolve(target: str) -> type:
    """The class ``module:Class`` names, or the registered model of that name."""
    from vaegan.models import GenerativeModel, get_model_class, list_models

    if ":" not in target:
        if target not in list_models():
            raise VaeganError(f"{target!r}: not module:Class, and no registered model of that name")
        return get_model_class(target)
    module_name, _, class_name = target.rpartition(":")
    cls = getattr(_module(module_name), class_name, None)
    if cls is None:
        raise VaeganError(f"{module_name} has no attribute {class_name!r}")
    if not (isinstance(cls, type) and issubclass(cls, GenerativeModel)):
        raise VaeganError(f"{target} is not a subclass of vaegan.models.GenerativeModel")
    return cls


def run_check_model(args: argparse.Namespace) -> int:
    from vaegan.config import apply_overrides
    from vaegan.exercises.contract import run_contract

    cls = resolve(args.target)
    results = run_contract(cls, apply_overrides({}, args.set))  # --set key=value, values read as YAML
    for result in results:
        line = f"{'PASS' if result.passed else 'FAIL'}  {result.name}"
        print(line + (f": {result.message}" if result.message else ""))
    passed = sum(r.passed for r in results)
    print(f"{cls.__name__}: {passed}/{len(results)} checks pass")
    return 0 if passed == len(results) else 1

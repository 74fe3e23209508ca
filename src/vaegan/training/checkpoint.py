"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)``.

A checkpoint is a dict of plain data and tensors: the model's config and
weights, the optimizers' states, the epoch, the RNG states, the run config and
the metric history. Nothing in it is code, so loading one executes nothing.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from vaegan.errors import TrainingError

if TYPE_CHECKING:
    from vaegan.models.base import GenerativeModel

FORMAT = "vaegan-checkpoint-1"


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then rename over ``path``: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_save(payload: dict[str, Any], path: Path) -> None:
    atomic_write(Path(path), lambda tmp: torch.save({"format": FORMAT, **payload}, tmp))


def read_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely, with an error that names the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise TrainingError(f"{path}: no such checkpoint")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TrainingError(f"{path}: not a readable vaegan checkpoint (truncated or corrupt?): {first}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise TrainingError(f"{path}: not a vaegan checkpoint (expected format {FORMAT})")
    return payload


def model_from_checkpoint(payload: dict[str, Any]) -> GenerativeModel:
    """Rebuild the model that a checkpoint describes and load its weights."""
    from vaegan.models.registry import get_model_class

    config_data = payload["model_config"]
    cls = get_model_class(config_data["name"])
    model = cls(cls.config_class.model_validate(config_data))
    model.load_state_dict(payload["model"])
    return model


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])

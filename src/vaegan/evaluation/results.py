"""What an evaluation found: named metrics with their floors, written as one flat-ish JSON file.

The file (``RUN/evaluation.json`` by default) reads::

    {"model": "vae", "dataset": "mnist", "run": "outputs/mnist_vae", ...,
     "metrics": {"fid": {"value": 3.1, "floor": 0.4, "unit": "", "better": "lower"}, ...}}

A metric's *floor* is the same metric between real training and real test
images: what a perfect model would score on this data with this many images.

Example:
    >>> result = Evaluation("vae", "mnist", {"fid": Metric(3.1, floor=0.4)})
    >>> result.to_dict()["metrics"]["fid"]["floor"]
    0.4
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from vaegan.foundation.errors import VaeganError
from vaegan.foundation.files import atomic_write

__all__ = ["Evaluation", "Metric"]


@dataclass
class Metric:
    """One number, the value real data would score (``floor``, or None), its unit and direction.

    ``better`` is "lower", "higher" or "closer" (closer to the floor, e.g. diversity).
    """

    value: float
    floor: float | None = None
    unit: str = ""
    better: Literal["lower", "higher", "closer"] = "lower"
    std: float | None = None  # spread over random subsets, where the metric has one (KID)

    def to_dict(self) -> dict[str, Any]:
        data = {"value": _finite(self.value), "floor": _finite(self.floor), "unit": self.unit, "better": self.better}
        if self.std is not None:
            data["std"] = _finite(self.std)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Metric:
        return cls(
            value=data["value"],
            floor=data.get("floor"),
            unit=data.get("unit", ""),
            better=data.get("better", "lower"),
            std=data.get("std"),
        )

    def format(self) -> str:
        """``"3.12 (floor 0.41)"``, for tables and the console."""
        text = _number(self.value)
        if self.std is not None:
            text += f" ± {_number(self.std)}"
        return text if self.floor is None else f"{text} (floor {_number(self.floor)})"


@dataclass
class Evaluation:
    """All metrics of one model on one dataset, plus how they were measured (``info``)."""

    model: str
    dataset: str
    metrics: dict[str, Metric] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "dataset": self.dataset,
            **self.info,
            "metrics": {name: metric.to_dict() for name, metric in self.metrics.items()},
        }

    def write(self, path: str | Path) -> Path:
        """Write the JSON atomically (readers never see half a file); returns the path."""
        path = Path(path)
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"
        atomic_write(path, lambda tmp: tmp.write_text(text))
        return path

    @classmethod
    def read(cls, path: str | Path) -> Evaluation:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            metrics = {name: Metric.from_dict(value) for name, value in data.pop("metrics").items()}
            return cls(data.pop("model"), data.pop("dataset"), metrics, data)
        except FileNotFoundError:
            raise VaeganError(f"{path}: no such evaluation; run vaegan evaluate RUN first") from None
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
            raise VaeganError(f"{path}: not an evaluation written by vaegan evaluate ({error})") from None

    def summary(self) -> str:
        """One line per metric, ``name ↓  value (floor f)  unit`` (the arrow: which way is better), a legend."""
        named = {f"{name} {ARROWS[m.better]}": m for name, m in self.metrics.items()}
        width = max((len(name) for name in named), default=0)
        lines = [f"{name:<{width}}  {m.format()}  {m.unit}".rstrip() for name, m in named.items()]
        legend = [LEGEND] if lines else []
        return "\n".join([*lines, *legend, *self.info.get("notes", [])])


ARROWS = {"lower": "↓", "higher": "↑", "closer": "≈"}
LEGEND = (
    "↓ lower is better, ↑ higher is better, ≈ closest to the floor is best; "
    "floor: what real images score (training images against test images for FID, KID, precision, recall "
    "and TSTR; the images alone for sharpness (training) and diversity (test); the classifier's accuracy "
    "on the test images for cond_accuracy)"
)


def _finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: those become null."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _number(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4g}"

"""A finished run folder: its config, its model and its data, for the commands that use it."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

from vaegan.config import RunConfig, build_config
from vaegan.data import DataSplits
from vaegan.data.mnist import FASHION_MNIST, MNIST
from vaegan.experiment import load_data
from vaegan.foundation.checkpoints import read_checkpoint
from vaegan.foundation.errors import CheckpointError, VaeganError
from vaegan.foundation.files import SUBJECTS_FILE
from vaegan.models import GenerativeModel, model_from_checkpoint

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.yaml"  # the resolved config training writes into a run folder


@dataclass
class Run:
    """A trained model with the config it was trained under, and the checkpoint (and epoch) it came from."""

    path: Path
    config: RunConfig
    model: GenerativeModel
    checkpoint: Path | None = None
    epoch: int | None = None
    data_recorded: bool = True  # False: no data section anywhere, config.data is the defaults, not the run's

    def load_data(self) -> DataSplits:
        """The run's dataset splits, as configured; a warning (and a note) when its test subjects are not the ones
        it held out, or its phantoms not the ones it trained on.

        Raises:
            VaeganError: the run records no data section (a Trainer given no ``run_config``): which data it
                learned from is unknown, and MNIST is not assumed.
        """
        self.require_data()
        data = load_data(self.config)
        held, now = self.held_out(), data.subjects()
        if held is not None and now is not None and now["test"] != held["test"]:
            # said, in the log and in what the figures record (evaluation.json's notes, the report); not re-split:
            # the dataset's reference classifier is trained on the folder's split as it is now
            note = (
                f"the data differ from when the run trained: its test split now holds {some_names(now['test'])} "
                f"where the run held out {some_names(held['test'])}; figures on the test split are not of its "
                "held-out subjects (vaegan effects maps those)"
            )
            logger.warning("%s: %s", self.path, note)
            data.notes.append(note)
        if note := self.phantoms_changed():
            logger.warning("%s: %s", self.path, note)
            data.notes.append(note)
        return data

    def phantoms_changed(self) -> str | None:
        """Why the phantom set the run's data section reads now is not the one it trained on (other truth maps,
        or another anatomy: a set cached before 2026-12-03 is built again with the hippocampi turned), or that
        the run does not record it (trained before runs did); None where it is the same, or the data are not
        phantoms."""
        from vaegan.data.mri import phantom_versions_read

        path = self.path / SUBJECTS_FILE
        try:
            then = json.loads(path.read_text()).get("phantoms") if path.is_file() else None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            return None  # held_out says what is wrong with the record
        now = phantom_versions_read(self.config.data) if self.data_recorded else None
        if now is None or then == now:
            return None
        read = f"truth maps {now.get('truth')} on anatomy {now.get('anatomy')}"
        if not isinstance(then, dict):
            return (
                "the run records no phantom set it trained on (runs record it since 2026-12-03): if it learned "
                "from a set cached before then (anatomy 1, whose hippocampi were tilted), its figures are of "
                f"phantoms it did not learn from; the set read now is of {read}"
            )
        was = f"truth maps {then.get('truth')} on anatomy {then.get('anatomy')}"
        return (
            f"the run trained on phantoms of {was}; the set read now is of {read}: its figures are of "
            "phantoms it did not learn from (train it again on them)"
        )

    def held_out(self) -> dict[str, list[str]] | None:
        """The subjects of each split (train, val, test) as training recorded them, or None where it did not.

        Raises:
            VaeganError: the record (``subjects.json``) is not one vaegan wrote.
        """
        path = self.path / SUBJECTS_FILE
        if not path.is_file():
            return None
        try:
            held = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise VaeganError(f"{path}: unreadable ({error}); delete it to draw the split again") from None
        splits = ("train", "val", "test")
        if not isinstance(held, dict) or any(
            not isinstance(held.get(k), list) or not all(isinstance(s, str) for s in held[k]) for k in splits
        ):
            raise VaeganError(f"{path}: not a record of the run's subjects (train, val, test: lists of names)")
        return {k: held[k] for k in splits}

    def require_data(self) -> None:
        """Raise where the run records no data section (a Trainer given no ``run_config``): which data it
        learned from is unknown, and MNIST is not assumed.

        Raises:
            VaeganError: naming the run and the file to write.
        """
        if not self.data_recorded:
            source = self.checkpoint.name if self.checkpoint is not None else "its checkpoint"
            raise VaeganError(
                f"{self.path}: the run records no data section (neither {source}, written by a Trainer given no "
                f"run_config, nor {self.path / CONFIG_FILE} says it), so which dataset it learned from is unknown "
                f"and none is assumed; write {self.path / CONFIG_FILE} with a data: section as the run was "
                "trained (dataset, data_dir, val_size, seed, limit), or train with vaegan train or vaegan.fit(), "
                "which record it"
            )

    @property
    def class_names(self) -> list[str] | None:
        """The names of the classes where they are known without loading the data, else None: MRI's
        ``data.mri.classes``, a registered dataset's own (Fashion-MNIST's Sandal, Bag, ...)."""
        data = self.config.data
        if not self.data_recorded:
            return None
        if data.dataset in ("mri", "phantoms"):
            return list(data.mri.classes)
        names = KNOWN_CLASS_NAMES.get(data.dataset.strip().lower().replace("_", "-"))  # matched as the registry does
        return list(names) if names and len(names) == self.model.config.num_classes else None


# the class names of datasets whose classes are fixed (an image folder's are its folders, known once read)
KNOWN_CLASS_NAMES = {spec.name: spec.class_names for spec in (MNIST, FASHION_MNIST)}


def some_names(names: list[str], shown: int = 5) -> str:
    """A few of ``names``, and how many there are."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"{len(names)} ({', '.join(names[:shown])}{more})"


DEVICES = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def check_device(device: str, *, training: bool = False) -> str:
    """The device ``--device`` names (``auto``: CUDA if there is one, else the CPU).

    Refuses a CUDA device where there is none, and a name torch does not know, here rather than
    later as an unreadable checkpoint; ``training``: also Apple's MPS, which training does not run on.
    """
    kinds = "cpu, cuda, cuda:N or auto" if training else "cpu, cuda, cuda:N, mps or auto"
    if not DEVICES.fullmatch(device) or (training and device == "mps"):
        raise VaeganError(f"--device {device}: not a device{' vaegan trains on' if training else ''}; use {kinds}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise VaeganError(f"--device {device}: no CUDA device is available on this machine; use --device cpu")
    if device.startswith("cuda:") and int(device[5:]) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise VaeganError(
            f"--device {device}: this machine has {count} CUDA device{'s' * (count != 1)} "
            f"(cuda:0{f' to cuda:{count - 1}' if count > 1 else ''}); choose one of them"
        )
    if device == "mps" and not torch.backends.mps.is_available():
        raise VaeganError(f"--device {device}: no Apple MPS device is available on this machine; use --device cpu")
    return device


def load_run(
    path: str | Path, *, checkpoint: str = "best", device: str = "cpu", data_dir: str | Path | None = None
) -> Run:
    """Open ``RUN/checkpoints/{best,last}.pt`` (falling back to the other, with a warning) on ``device``;
    ``data_dir``: read the run's dataset from there instead of where its config says."""
    device = check_device(device)
    path = Path(path)
    if not path.is_dir():
        raise VaeganError(f"{path}: no such run folder")
    folder = path / "checkpoints"
    order = [checkpoint, "last" if checkpoint == "best" else "best"]
    candidates = [folder / f"{name}.pt" for name in order if (folder / f"{name}.pt").is_file()]
    if not candidates:
        raise VaeganError(f"{path}: no checkpoints/best.pt or checkpoints/last.pt; train it first")
    if candidates[0].stem != checkpoint:
        logger.warning("%s has no %s.pt: using %s", folder, checkpoint, candidates[0].name)
    try:
        payload = read_checkpoint(candidates[0], map_location=device)
    except CheckpointError as error:
        if len(candidates) < 2:
            raise
        try:  # suggest the other only if it can be read
            read_checkpoint(candidates[1], map_location="cpu")
        except CheckpointError:
            raise CheckpointError(f"{error}; {candidates[1].name} cannot be read either: train the run again") from None
        raise CheckpointError(f"{error}; {candidates[1]} exists: try --checkpoint {candidates[1].stem}") from None
    model = model_from_checkpoint(payload, source=str(candidates[0])).to(torch.device(device)).eval()
    recorded = True
    if payload.get("run_config"):
        # the run is at ``path`` now: its recorded out (another machine's, or '.' from an older vaegan) is moot
        config = build_config({**payload["run_config"], "out": None}, source=str(candidates[0]))
    else:  # a Trainer given no run_config: the model alone, and the data as RUN/config.yaml says, if it does
        config = build_config({"model": payload["model_config"]}, source=str(candidates[0]))
        data = _written_data(path / CONFIG_FILE)
        recorded = data is not None
        if recorded:
            config = build_config({"model": payload["model_config"], "data": data}, source=str(path / CONFIG_FILE))
    if data_dir is not None:
        config = config.model_copy(update={"data": config.data.model_copy(update={"data_dir": str(data_dir)})})
    epoch = payload.get("epoch")
    return Run(path, config, model, candidates[0], epoch if isinstance(epoch, int) else None, recorded)


def _written_data(path: Path) -> dict | None:
    """The ``data`` section of a run's ``config.yaml``, or None where there is no file or it holds none.

    Raises:
        VaeganError: the file is there but not readable YAML.
    """
    if not path.is_file():
        return None
    try:
        written = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        problem = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise VaeganError(f"{path}: unreadable ({problem}); mend it, or write its data: section again") from None
    data = written.get("data") if isinstance(written, dict) else None
    return data if isinstance(data, dict) else None


def parse_labels(spec: str, num_classes: int, names: list[str] | None = None) -> list[int]:
    """'0-9' -> [0..9], '1,3,5' -> [1, 3, 5], '0-2,7' -> [0, 1, 2, 7]; each checked against the classes.

    ``names`` (the run's class names, e.g. CN, AD) may be given instead of numbers, in any case.
    """
    index = {name.strip().lower(): i for i, name in enumerate(names or [])}
    # the names beside their numbers, where they say more than the numbers (MNIST's are '0' to '9')
    named = names and [name.strip() for name in names] != [str(i) for i in range(len(names))]
    which = f" ({', '.join(f'{i}={name}' for i, name in enumerate(names))})" if named else ""
    labels: list[int] = []
    outside: list[str] = []  # the parts given that name no class, each once, in order
    for part in (part.strip() for part in spec.split(",")):
        if part.lower() in index:
            labels.append(index[part.lower()])
            continue
        low, _, high = part.partition("-")
        try:
            start, stop = int(low), int(high or low)
        except ValueError:
            raise VaeganError(f"--labels {spec!r}: expected numbers like 0-9 or 1,3,5{which}") from None
        if stop < start:
            raise VaeganError(f"--labels {spec!r}: the range {part} runs downward; a range runs upward (0-9)")
        if not (0 <= start and stop < num_classes):  # before the range is expanded: 0-99999999999 would fill memory
            outside += [part] if part not in outside else []
            continue
        labels.extend(range(start, stop + 1))
    if outside or not labels:
        got = ", ".join(outside) or "none"
        raise VaeganError(f"--labels {spec!r}: classes must lie in 0-{num_classes - 1}{which}, got {got}")
    return labels

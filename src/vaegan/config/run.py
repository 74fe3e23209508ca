"""The composed run config: one section per component, loaded from YAML, with dotted ``--set`` overrides.

A :class:`RunConfig` is what one file in ``configs/`` describes. Each section
lives beside what it configures (``models/config.py``, ``networks/config.py``,
``data/config.py``, ``training/config.py``, and the search space in
``config/search.py``); this floor composes them, so it sits above models and
data and below the experiment, the tuner and the CLI. Unknown keys and
impossible values raise :class:`~vaegan.foundation.errors.ConfigError` naming
the key, the value and what is allowed.

Example:
    >>> cfg = load_config("mnist_vae", overrides=["model.latent_dim=2"])
    >>> cfg.model.latent_dim
    2
"""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import SerializeAsAny, ValidationError, field_validator, model_validator

from vaegan.config.search import FloatParam, TuneConfig, as_overrides
from vaegan.data.config import DataConfig
from vaegan.data.registry import takes_option
from vaegan.foundation.errors import ConfigError
from vaegan.foundation.files import write_text_atomic
from vaegan.foundation.section import Section
from vaegan.models.config import ModelConfig
from vaegan.models.registry import get_model_class
from vaegan.training.config import TrainConfig
from vaegan.training.run_folder import check_name, check_out_dir

# Keys a resumed run may change: how long and where it runs, how its data are held and read, and what it
# shows, not what it learns.
RESUMABLE_KEYS = (
    "out",
    "tune",
    "train.epochs",
    "train.device",
    "train.progress",
    "train.tensorboard",
    "train.visualize_every",
    "train.score_maps_every",
    "train.eval_batch_size",
    "train.data_on_device",
    "train.compile",
    "train.channels_last",
    "train.check_finite_every",
    "train.dist_timeout_s",
    "data.mri.cache",
    "data.mri.progress",
    "data.mri.workers",
    "data.mri.storage",
)


class RunConfig(Section):
    """A whole experiment: what one YAML file in ``configs/`` describes."""

    name: str = "run"
    out: str | None = None
    data: DataConfig = DataConfig()
    model: SerializeAsAny[ModelConfig]
    train: TrainConfig = TrainConfig()
    tune: TuneConfig | None = None

    @field_validator("name")
    @classmethod
    def _one_safe_folder_name(cls, value: str) -> str:
        return check_name(value)  # it becomes outputs/<name>: '../..' must not reach other folders

    @field_validator("out")
    @classmethod
    def _a_folder_of_its_own(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                check_out_dir(value)
            except ConfigError as error:
                raise ValueError(str(error).removeprefix(f"out={value!r}: ")) from None
        return value

    @field_validator("model", mode="before")
    @classmethod
    def _model_from_registry(cls, value: Any) -> Any:
        if isinstance(value, dict):
            if "name" not in value:
                raise ValueError("missing key 'name' (which model to build)")
            return get_model_class(value["name"]).config_class.model_validate(value)
        return value

    @model_validator(mode="after")
    def _maps_scored_against_truth(self) -> RunConfig:
        if self.train.score_maps_every:
            model = get_model_class(self.model.name)
            if self.data.dataset != "phantoms":
                raise ValueError(
                    "train.score_maps_every scores disease maps against the true atrophy, which only phantoms "
                    f"carry (data.dataset: phantoms), not {self.data.dataset}"
                )
            if not (model.conditional and model.has_encoder):
                raise ValueError(
                    "train.score_maps_every needs a conditional model with an encoder (cvae, cvaegan), "
                    f"not {self.model.name}"
                )
        if self.tune is not None and self.tune.metric == "val/map_r" and self.train.score_maps_every != 1:
            raise ValueError(
                "tune.metric val/map_r is reported to the tuner every epoch: set train.score_maps_every=1 "
                f"(it is {self.train.score_maps_every})"
            )
        return self

    @property
    def out_dir(self) -> Path:
        return Path(self.out or f"outputs/{self.name}")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, numbers, strings): safe in YAML and in weights-only checkpoints.

        Sections this run does not use are left out (the MRI options of an MNIST run, an empty
        ``tune``), so config.yaml and the report show what describes the run; they are still
        accepted when given, and reading the file back gives the same config.
        """
        data = self.model_dump(mode="json")
        if not takes_option(self.data.dataset, "mri"):
            del data["data"]["mri"]
        if self.tune is None:
            del data["tune"]
        return data


def _section_class(annotation: Any) -> type[Section] | None:
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, Section):
            return candidate
    return None


def check_keys(cls: type[Section], data: dict[str, Any], prefix: str = "") -> None:
    """Raise ConfigError on the first key that ``cls`` does not know, listing the allowed ones."""
    for key, value in data.items():
        if key not in cls.model_fields:
            allowed = ", ".join(sorted(cls.model_fields))
            raise ConfigError(f"unknown key '{prefix}{key}'; allowed here: {allowed}")
        sub = _section_class(cls.model_fields[key].annotation)
        if key == "model" and cls is RunConfig and isinstance(value, dict) and "name" in value:
            sub = get_model_class(value["name"]).config_class
        if sub is not None and isinstance(value, dict):
            check_keys(sub, value, f"{prefix}{key}.")


def format_validation_error(error: ValidationError, source: str, overrides: list[str] = ()) -> str:
    """One line per error, each naming its key, and the ``overrides`` that set it (the value came from
    ``--set``, not from ``source``)."""
    lines, blamed = [], False
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"] if not str(part).startswith("function-"))
        message = item["msg"].removeprefix("Value error, ")
        section = isinstance(item.get("input"), dict)  # a whole section's check: its message names the keys itself
        culprits = [o for o in overrides if _caused(_override_key(o), key, message if section else None)]
        blamed = blamed or bool(culprits)
        notes = [] if section else [f"got {item.get('input')!r}"]
        notes += [f"set by override {', '.join(repr(o) for o in culprits)}"] if culprits else []
        note = f" ({', '.join(notes)})" if notes else ""
        lines.append(f"  {key + ': ' if key else ''}{message}{note}")
    return "\n".join([f"{source}{' with overrides' if blamed else ''}: invalid configuration", *lines])


def _override_key(item: str) -> str:
    return item.partition("=")[0].strip()


def _caused(override: str, key: str, section_message: str | None) -> bool:
    """Whether the override of dotted key ``override`` may have caused the error at ``key``: it set that value,
    a section holding it, or a value inside it; for a whole section's check (``section_message``), a key of
    the section that the message names."""
    if override == key or key.startswith(f"{override}."):
        return True
    if key and not override.startswith(f"{key}."):
        return False
    if section_message is None:
        return True
    inner = override.removeprefix(f"{key}.") if key else override
    parts = inner.split(".")
    # a whole config's check names sections in prose ("needs a conditional model"): only dotted keys count there
    names = [override] + [".".join(parts[:end]) for end in range(1 if key else 2, len(parts) + 1)]
    return any(re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", section_message) for name in names)


def text_override(key: str, value: str | Path) -> str:
    """``key=value`` setting ``value`` as the text it is (a folder ``runs/try #2``, ``2024``, ``yes``), not as YAML."""
    # a JSON string is a YAML double-quoted scalar; unescaped (YAML reads a \\u surrogate pair as two broken
    # characters), but for what YAML refuses to read raw: lone surrogates (a file name's undecodable bytes),
    # C1 controls, U+FFFE and U+FFFF
    text = UNREADABLE.sub(_escaped, json.dumps(str(value), ensure_ascii=False))
    return f"{key}={text}"


def _escaped(match: re.Match) -> str:
    """A character as a YAML double-quoted escape, ``\\uXXXX``."""
    return "\\u" + format(ord(match.group()), "04x")


UNREADABLE = re.compile("[\ud800-\udfff\x80-\x9f\ufffe\uffff]")


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with ``a.b.c=value`` overrides applied (values parsed as YAML)."""
    data = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form key.sub=value")
        node = data
        *parents, leaf = key.strip().split(".")
        if parents[:2] == ["tune", "space"]:  # its entries' keys hold dots themselves: model.lr.high
            node, parents, leaf = _space_entry(data, key.strip(), item, raw)
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: '{part}' is a value, not a section")
        try:
            node[leaf] = yaml.safe_load(raw)
        except yaml.YAMLError as error:
            problem = str(getattr(error, "problem", None) or error).splitlines()[0]
            message = f"override {item!r}: the value is not valid YAML ({problem}); quote text values"
            raise ConfigError(message) from None
    return data


def _space_entry(data: dict[str, Any], key: str, item: str, raw: str) -> tuple[dict[str, Any], list[str], str]:
    """(node, parents, leaf) of a ``tune.space.<entry>[.field]`` override: the longest entry the key starts
    with, else a new entry of that name when the value is a whole spec (a mapping)."""
    tune = data.setdefault("tune", {})
    space = tune.setdefault("space", {}) if isinstance(tune, dict) else None
    if not isinstance(space, dict):
        raise ConfigError(f"override {item!r}: 'tune.space' is a value, not a section")
    rest = key.removeprefix("tune.space.")
    entry = next((name for name in sorted(space, key=len, reverse=True) if rest.startswith(f"{name}.")), None)
    if entry is not None:
        *inner, leaf = rest[len(entry) + 1 :].split(".")
        return space, [entry, *inner], leaf
    try:
        whole = isinstance(yaml.safe_load(raw), dict)
    except yaml.YAMLError:
        whole = False
    if rest in space or whole:
        return space, [], rest
    entries = ", ".join(space) or "none"
    raise ConfigError(
        f"override {item!r}: tune.space has no entry that {rest!r} falls under (entries: {entries}); "
        "to add one, give its whole spec: tune.space.<key>={type: float, low: ..., high: ...}"
    )


def build_config(data: dict[str, Any], overrides: list[str] = (), source: str = "config") -> RunConfig:
    """Validate plain data (e.g. parsed YAML) into a RunConfig."""
    data = apply_overrides(data, list(overrides))
    check_keys(RunConfig, data)
    try:
        return RunConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, source, list(overrides))) from None


SHIPPED = Path(__file__).with_name("shipped")  # the ready-made configs, installed with the package


def shipped_configs() -> dict[str, str]:
    """Name -> one-line description (the file's first comment) of every shipped config."""
    described = {}
    for path in sorted(SHIPPED.glob("*.yaml")):
        first = path.read_text().splitlines()[:1] or [""]
        described[path.stem] = first[0].lstrip("# ").strip()
    return described


def find_config(name_or_path: str | Path) -> Path:
    """A YAML path as given, else the shipped config of that name (``mnist_vae`` or ``mnist_vae.yaml``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = SHIPPED / f"{path.name.removesuffix('.yaml')}.yaml"
    if len(path.parts) == 1 and shipped.is_file():
        return shipped
    names = ", ".join(shipped_configs())
    raise ConfigError(f"{name_or_path}: no such config file, and no shipped config of that name; shipped: {names}")


class _UniqueKeys(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (PyYAML would keep the last quietly)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: merged keys may be overridden
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                repeated = key in seen
            except TypeError:  # an unhashable key: the base loader says what is wrong with it
                continue
            if repeated:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice (the second, line {key_node.start_mark.line + 1})"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | Path, overrides: list[str] = ()) -> RunConfig:
    """Read a YAML run config (a path, or the name of a shipped one) and apply dotted overrides."""
    path = find_config(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeys) or {}  # noqa: S506 (a safe loader)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start} is not); save it as UTF-8") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    return build_config(data, overrides, source=str(path))


def save_config(config: RunConfig, path: str | Path) -> None:
    """Write the config as YAML (atomically), trainable again with ``--config``."""
    write_text_atomic(Path(path), yaml.safe_dump(config.to_dict(), sort_keys=False))


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def config_changes(
    old: dict[str, Any], new: dict[str, Any], ignore: tuple[str, ...] = RESUMABLE_KEYS
) -> dict[str, tuple[Any, Any]]:
    """Dotted key -> (old, new) for every value that differs between two run configs, except ``ignore``d
    keys and those under an ignored section."""
    before, after = flatten(old), flatten(new)
    changed = {}
    for key in sorted(before.keys() | after.keys()):
        if any(key == skip or key.startswith(f"{skip}.") for skip in ignore):
            continue
        if before.get(key) != after.get(key):
            changed[key] = (before.get(key), after.get(key))
    return changed


def describe_changes(changes: dict[str, tuple[Any, Any]]) -> str:
    """``model.lr 0.001 -> 0.01, train.seed 0 -> 7``."""
    return ", ".join(f"{key} {old!r} -> {new!r}" for key, (old, new) in changes.items())


def check_space(config: RunConfig) -> None:
    """Raise ConfigError unless every key of ``config.tune.space`` is a config field that accepts
    both ends of its range (or every choice), e.g. a ``model.latent_dim`` range starting at 0."""
    if config.tune is None:
        raise ConfigError(f"config {config.name!r} has no 'tune' section; add one with a metric and a space")
    data = config.to_dict()
    for key, spec in config.tune.space.items():
        if key.split(".")[0] in ("tune", "out", "name"):
            raise ConfigError(f"tune.space: key {key!r} cannot be tuned; tune model, data or train keys")
        if key in FROM_DATA:
            raise ConfigError(f"tune.space: key {key!r} is taken from the data as each run starts; it cannot be tuned")
        kept = []  # what the config holds for each extreme (converted: "[64, 32]" is a list, "32" text)
        for value in spec.extremes():
            try:
                tried = build_config(data, as_overrides({key: value}), source=f"tune.space[{key!r}]")
            except ConfigError as error:
                raise ConfigError(f"tune.space key {key!r} with value {value!r}: {error}") from None
            kept.append(_plain(_value_at(tried.to_dict(), key)))
        different = len({json.dumps(_plain(value)) for value in spec.extremes()}) > 1
        if _ABSENT in kept or (different and all(value == kept[0] for value in kept)):  # e.g. data.mri for MNIST
            raise ConfigError(
                f"tune.space key {key!r} has no effect here (dataset {config.data.dataset!r}): the run config "
                "drops it, so every trial would train alike; tune a setting this run reads"
            )
        if isinstance(spec, FloatParam):  # both ends may be whole numbers; the draws between are not
            inner = math.nextafter(spec.low, spec.high)
            try:
                build_config(data, as_overrides({key: inner}), source=f"tune.space[{key!r}]")
            except ConfigError:
                raise ConfigError(
                    f"tune.space key {key!r}: a float range, but the setting takes whole numbers; use type: int"
                ) from None


FROM_DATA = ("model.num_classes", "model.image_shape")  # set from the dataset by vaegan.experiment.prepare


def _value_at(data: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            return _ABSENT
        data = data[part]
    return data


_ABSENT = object()


def _plain(value: Any) -> Any:
    """``value`` as JSON would hold it (tuples as lists), to compare a set value with the config's."""
    return value if value is _ABSENT else json.loads(json.dumps(value, default=str))

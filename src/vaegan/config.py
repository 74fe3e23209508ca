"""Typed configuration: one section per component, composed into a :class:`RunConfig`.

The same objects drive the YAML files in ``configs/``, the CLI's dotted ``--set``
overrides, the checkpoint's metadata (as plain data) and the tuning search space.
Unknown keys and impossible values raise :class:`~vaegan.errors.ConfigError`
naming the key, the value and what is allowed.

Example:
    >>> cfg = load_config("configs/mnist_vae.yaml", overrides=["model.latent_dim=2"])
    >>> cfg.model.latent_dim
    2
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)

from vaegan.errors import ConfigError
from vaegan.tuning.space import TuneConfig


class Section(BaseModel):
    """A config section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


class NetworkConfig(Section):
    """An encoder/decoder pair (or discriminator) built for 2-D or 3-D images.

    ``conv``: one stride-2 stage per entry of ``channels``, then the dense ``hidden``
    layers. ``mlp``: the image is flattened and passed through ``hidden``.
    """

    kind: Literal["conv", "mlp"] = "conv"
    channels: tuple[PositiveInt, ...] = (32, 64)
    hidden: tuple[PositiveInt, ...] = (256,)
    norm: Literal["batch", "instance", "none"] = "batch"
    activation: Literal["relu", "leaky_relu", "elu", "silu", "tanh"] = "relu"


class ModelConfig(Section):
    """Fields every model shares; each model's own config subclasses this.

    ``image_shape`` and ``num_classes`` are filled in from the dataset.
    """

    name: str
    image_shape: tuple[PositiveInt, ...] = (1, 28, 28)
    num_classes: PositiveInt = 10
    latent_dim: PositiveInt = 16
    network: NetworkConfig = NetworkConfig()
    lr: PositiveFloat = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: NonNegativeFloat = 0.0

    @field_validator("image_shape")
    @classmethod
    def _two_or_three_d(cls, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) not in (3, 4):
            raise ValueError(f"must be (C, H, W) or (C, D, H, W), got {shape}")
        return shape

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, betas: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"Adam betas must lie in [0, 1), got {betas}")
        return betas


class MRIConfig(Section):
    """How T1w MRI (or a folder of 2-D images) becomes tensors: layout, labels, preprocessing, slices.

    Read by the ``mri``, ``phantoms`` and ``image-folder`` datasets (see
    :mod:`vaegan.data.mri`); other datasets ignore it. Volumes are reoriented to
    RAS, resampled to ``spacing`` mm, intensity-normalised inside the brain,
    cropped to the brain and fitted into ``size`` voxels per side; 2-D models get
    the ``slice_axis`` slices between the ``slice_range`` fractions of that axis.
    Raw scans are first N4-corrected, registered to MNI152 and masked
    (``registration``, ``bias_correction``); ``session`` picks the BIDS sessions
    (each one a sample; splits stay by subject).
    """

    layout: Literal["auto", "bids", "csv", "imagefolder"] = "auto"
    diagnosis_column: str = Field("diagnosis", description="participants.tsv column with the diagnosis")
    classes: tuple[str, ...] = Field(("CN", "AD"), min_length=2, description="class names; index = label")
    label_map: dict[str, str] = Field(
        {"CN": "CN", "AD": "AD"}, description="raw diagnosis value (case-insensitive) -> one of classes"
    )
    spatial_dims: Literal[2, 3] = 2
    size: PositiveInt = Field(64, description="voxels per side of the preprocessed volume (and slice)")
    spacing: PositiveFloat = Field(2.5, description="isotropic spacing in mm to resample to")
    fit: Literal["resize", "pad"] = Field("resize", description="resize the brain to size, or keep spacing and pad")
    percentiles: tuple[float, float] = Field((0.5, 99.5), description="intensity clip inside the brain")
    # raw scans (vaegan.data.registration); auto: on, but off for phantoms (made from MNI152) and space-MNI* files
    registration: Literal["auto", "on", "off"] = Field("auto", description="affine to MNI152, template brain mask")
    bias_correction: Literal["auto", "on", "off"] = Field("auto", description="N4 bias field; auto: as registration")
    session: Literal["all", "first", "last"] = Field("all", description="BIDS sessions used per subject")
    derivatives: str | None = Field(None, description="read BIDS images from derivatives/<this> (e.g. skull-stripped)")
    slice_axis: Literal["axial", "coronal", "sagittal"] = "axial"
    slice_range: tuple[float, float] = Field((0.3, 0.7), description="fractions of the axis, inclusive")
    slice_step: PositiveInt = 1
    test_size: float = Field(0.2, gt=0.0, lt=1.0, description="fraction of subjects held out for test")
    strict: bool = Field(False, description="stop at the first bad file instead of skipping it")
    cache: bool = True
    progress: bool = True
    phantom_subjects: PositiveInt = Field(200, description="subjects generated by the phantoms dataset")
    phantom_spacing: PositiveFloat = Field(2.5, description="voxel size in mm of generated phantoms")
    phantom_seed: int = 0

    @model_validator(mode="after")
    def _consistent(self) -> MRIConfig:
        unknown = sorted(set(self.label_map.values()) - set(self.classes))
        if unknown:
            raise ValueError(f"label_map maps to {unknown}, which are not in classes {list(self.classes)}")
        low, high = self.slice_range
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"slice_range must satisfy 0 <= low <= high <= 1, got {self.slice_range}")
        if not 0.0 <= self.percentiles[0] < self.percentiles[1] <= 100.0:
            raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {self.percentiles}")
        return self


class DataConfig(Section):
    """Which dataset, where its files are, and how it is split."""

    dataset: str = "mnist"
    data_dir: str | None = None
    val_size: PositiveInt | float = 5000
    binarize: bool = Field(False, description="resample binary pixels every batch")
    limit: PositiveInt | None = None
    seed: int = 0
    mri: MRIConfig = MRIConfig()

    @field_validator("val_size")
    @classmethod
    def _fraction_or_count(cls, value: int | float) -> int | float:
        if isinstance(value, float) and not 0.0 < value < 1.0:
            raise ValueError(f"a fraction must lie in (0, 1), got {value}")
        return value


class TrainConfig(Section):
    """How the Trainer runs: epochs, batches, device, outputs."""

    epochs: PositiveInt = 10
    batch_size: PositiveInt = 128
    eval_batch_size: PositiveInt = 1000
    seed: int = 0
    device: str = "auto"
    precision: Literal["32", "bf16"] = "32"
    grid_size: PositiveInt = 64
    progress: bool = True
    tensorboard: bool = True
    visualize_every: int = Field(0, ge=0, description="latent figures into RUN/latent every N epochs (0: off)")

    @field_validator("device")
    @classmethod
    def _known_device(cls, device: str) -> str:
        if device not in ("auto", "cpu") and not device.startswith("cuda"):
            raise ValueError(f"must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
        return device


class RunConfig(Section):
    """A whole experiment: what one YAML file in ``configs/`` describes."""

    name: str = "run"
    out: str | None = None
    data: DataConfig = DataConfig()
    model: SerializeAsAny[ModelConfig]
    train: TrainConfig = TrainConfig()
    tune: TuneConfig | None = None

    @field_validator("model", mode="before")
    @classmethod
    def _model_from_registry(cls, value: Any) -> Any:
        if isinstance(value, dict):
            from vaegan.models.registry import get_model_class

            if "name" not in value:
                raise ValueError("missing key 'name' (which model to build)")
            return get_model_class(value["name"]).config_class.model_validate(value)
        return value

    @property
    def out_dir(self) -> Path:
        return Path(self.out or f"outputs/{self.name}")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, numbers, strings): safe in YAML and in weights-only checkpoints."""
        return self.model_dump(mode="json")


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
            from vaegan.models.registry import get_model_class

            sub = get_model_class(value["name"]).config_class
        if sub is not None and isinstance(value, dict):
            check_keys(sub, value, f"{prefix}{key}.")


def format_validation_error(error: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"] if not str(part).startswith("function-"))
        lines.append(f"  {key}: {item['msg']} (got {item.get('input')!r})")
    return "\n".join(lines)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with ``a.b.c=value`` overrides applied (values parsed as YAML)."""
    data = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form key.sub=value")
        node = data
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: '{part}' is a value, not a section")
        node[leaf] = yaml.safe_load(raw)
    return data


def build_config(data: dict[str, Any], overrides: list[str] = (), source: str = "config") -> RunConfig:
    """Validate plain data (e.g. parsed YAML) into a RunConfig."""
    data = apply_overrides(data, list(overrides))
    check_keys(RunConfig, data)
    try:
        return RunConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, source)) from None


def load_config(path: str | Path, overrides: list[str] = ()) -> RunConfig:
    """Read a YAML run config and apply dotted overrides."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    return build_config(data, overrides, source=str(path))


def save_config(config: RunConfig, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))

"""The one validated config schema: plain data in, a checked `Config` out, errors on one line.

`sweeps.config.loader` reads the YAML and applies overrides; `sweeps.config.dataset` builds
what it names.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
)

from datamodules.catalog import dataset_info, option_fields, resolve
from datamodules.options import BATCH_SIZE, check_batch_size
from models.options import (
    DIAGNOSTICS,
    MAX_EPOCHS,
    NetOptions,
    OptimizerOptions,
    check_diagnostics,
    check_max_epochs,
)
from sweeps.config.search import SearchConfig
from sweeps.config.spelling import did_you_mean, keys_at
from sweeps.config.strict import STRICT, Strict
from sweeps.errors import ConfigError, clip
from sweeps.keys import check_study_name
from sweeps.secrets import redact


class DataConfig(BaseModel):
    """`name`, `seq_len`, `batch_size`; any other key is an option of the named datamodule."""

    # Extra keys are the dataset's own options, checked against its constructor's signature.
    model_config = ConfigDict(extra="allow", allow_inf_nan=False, strict=True)

    name: str
    seq_len: int | None = None  # None: the dataset's fixed or default length
    batch_size: int = BATCH_SIZE

    @field_validator("batch_size")
    @classmethod
    def _batch_size(cls, value: int) -> int:
        check_batch_size(value)
        return value

    def options(self) -> dict[str, Any]:
        """The dataset-specific keys (everything but name, seq_len and batch_size)."""
        return dict(self.model_extra or {})


# The model and optimizer sections are the very options classes the constructors take
# (models/options.py): each name, default and rule is written there once, and validating a
# section runs their checks, so `sweep validate` and the first trial cannot disagree.
# A strict pydantic dataclass takes only its own instances, not a mapping, so a section's types
# are checked strictly by `_strict_section` before the (lax) dataclass is built.
LAX_SECTION = ConfigDict(extra="forbid", allow_inf_nan=False)


class ModelConfig(NetOptions):
    """`model.*`: the options of `RecurrentNet`."""

    __pydantic_config__ = LAX_SECTION


class OptimizerConfig(OptimizerOptions):
    """`optimizer.*`: the options of `SequenceModule` (and the trainer's gradient clip)."""

    __pydantic_config__ = LAX_SECTION


def _strict_section(section: str, cls: type) -> BeforeValidator:
    """A check that a mapping's keys and value types fit the dataclass `cls`, none converted."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: (hints[f.name], f.default) for f in dataclasses.fields(cls) if f.init}
    schema = create_model(f"{cls.__name__}Types", __config__=STRICT, **fields)  # type: ignore[call-overload]

    def check(raw: Any) -> Any:
        if isinstance(raw, dict):
            try:
                schema.model_validate(raw)
            except ValidationError as err:
                raise ConfigError(f"{section}.{_one_line(err, schema)}") from None
        return raw

    return BeforeValidator(check)


class TrainerConfig(Strict):
    max_epochs: Annotated[int, AfterValidator(check_max_epochs)] = MAX_EPOCHS
    patience: int | None = Field(None, ge=1)  # early stopping on search.metric; null = off
    accelerator: Literal["cpu", "gpu", "auto"] = "cpu"
    # Mixed precision runs the net in 16 bits and keeps the loss and weights in 32; 16-mixed
    # scales the loss and needs CUDA (sweeps/runner/preflight.py), bf16-mixed runs anywhere.
    precision: Literal["32-true", "bf16-mixed", "16-mixed"] = "32-true"
    # Least seconds between two writes of a trial's checkpoints, and of its curves to MLflow
    # (sweeps/train/checkpoints.py): on short epochs each write is a share of the epoch, and a
    # kill loses at most this much training. 0: after every epoch.
    write_every_s: float = Field(3.0, ge=0.0)
    # Cap batches per epoch on a large corpus, so an "epoch" is a fixed amount of work.
    limit_train_batches: int | None = Field(None, ge=1)
    limit_val_batches: int | None = Field(None, ge=1)
    # Gate and gradient diagnostics (diag.* metrics) on a probe batch, when tracked; at which
    # epochs: models/options.py (true = "log": 0, 1, 2, 4, 8, ...; N: every N-th; false: off).
    diagnostics: Annotated[bool | int | str, BeforeValidator(check_diagnostics)] = DIAGNOSTICS


class TrackingConfig(Strict):
    uri: str = "sqlite:///mlflow.db"
    # At the end of a sweep the best trial's network is logged as an MLflow model; with a
    # name, it becomes a new version of that registered model, with the alias `champion`.
    log_model: bool = True
    register_as: str | None = Field(default=None, min_length=1, max_length=256)

    @field_validator("uri")
    @classmethod
    def _not_file_store(cls, uri: str) -> str:
        if "://" not in uri or uri.startswith("file:"):
            raise ValueError(
                "MLflow 3 refuses the file store; use sqlite:///mlflow.db or an http(s):// server"
            )
        return uri


class Config(Strict):
    name: Annotated[str, AfterValidator(check_study_name)]
    seed: int = 0
    data: DataConfig
    model: Annotated[ModelConfig, _strict_section("model", ModelConfig)] = ModelConfig()
    optimizer: Annotated[OptimizerConfig, _strict_section("optimizer", OptimizerConfig)] = (
        OptimizerConfig()
    )
    trainer: TrainerConfig = TrainerConfig()
    search: SearchConfig = SearchConfig()
    storage: str | None = None  # Optuna storage URL; null = journal:///optuna.journal here
    # Seconds a sweep waits, reconnecting, for a store that stops answering mid-trial (the
    # Optuna database or the MLflow server restarting); past that it fails as the preflight
    # would, and the rerun resumes the trial.
    reconnect: float = Field(60.0, gt=0.0)
    tracking: TrackingConfig = TrackingConfig()

    def public(self) -> dict[str, Any]:
        """The config as plain data with URL passwords masked: what is stored, logged, shown."""
        data = self.model_dump(mode="json")
        if data["storage"] is not None:
            data["storage"] = redact(data["storage"])
        data["tracking"]["uri"] = redact(data["tracking"]["uri"])
        return data

    def digest(self) -> str:
        """A short hash of the resolved config, to tell runs of different configs apart."""
        canon = json.dumps(self.public(), sort_keys=True)
        return hashlib.sha256(canon.encode()).hexdigest()[:12]

    def to_yaml(self) -> str:
        """The config as YAML, passwords masked: the config.yaml every run carries."""
        return yaml.safe_dump(self.public(), sort_keys=False)


# A model or optimizer key is reported as unexpected_keyword_argument: those sections are
# dataclasses.
UNKNOWN_KEY = ("extra_forbidden", "unexpected_keyword_argument")


def _one_line(err: ValidationError, root: type[BaseModel] | None = None) -> str:
    errors = err.errors()
    # A mistyped key also leaves its right spelling missing: the typo is the one to name.
    first = next((e for e in errors if e["type"] in UNKNOWN_KEY), errors[0])
    loc = ".".join(str(p) for p in first["loc"])
    if first["type"] == "value_error":  # our own rules: the message names the field already
        message = str(first["ctx"]["error"])
        return message if not loc or message.startswith(loc) else f"{loc}: {message}"
    if first["type"] in UNKNOWN_KEY:
        *section, key = first["loc"]
        hint = did_you_mean(str(key), keys_at(root or Config, section))
        return f"{loc} is not a known key{hint or '; check its spelling'} (unknown keys are errors)"
    if first["type"] == "missing":
        return f"{loc} is required"
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{loc}: {first['msg']}, but got {clip(first.get('input'))}{more}"


def validate(raw: dict[str, Any], *, check_data: bool = True) -> Config:
    """Validate a raw dict into a Config, checking data options against the dataset's rules.

    Neither check imports torch. `check_data=False` checks the schema only: enough for
    commands that only read a study, such as `sweep report`.
    """
    try:
        config = Config.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_one_line(err)) from None
    if check_data:
        check_data_options(config.data)
    return config


def check_data_options(data: DataConfig) -> None:
    """The dataset's own options: known keys, values of the right type, and its rules.

    These are the rules its datamodule checks on construction, read from the same options
    class in `datamodules.catalog`, so no datamodule (and no torch) is imported.
    """
    try:
        info = dataset_info(data.name)
    except ValueError as err:  # an unknown data.name
        raise ConfigError(str(err)) from None
    allowed = option_fields(data.name)
    for key in data.options():
        if key not in allowed:
            hint = did_you_mean(key, [*allowed, "seq_len", "batch_size"])
            raise ConfigError(
                f"data.{key} is not an option of data.name={data.name!r} (its options are "
                f"{sorted(allowed)}){hint}"
            )
    schema = create_model("DataOptions", __config__=STRICT, **allowed)  # type: ignore[call-overload]
    try:
        schema.model_validate(data.options())
    except ValidationError as err:
        raise ConfigError("data." + _one_line(err, schema)) from None
    try:
        resolve(info, data.seq_len, data.options())
    except ValueError as err:
        raise ConfigError(str(err)) from None

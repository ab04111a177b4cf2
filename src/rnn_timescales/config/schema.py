"""The run configuration's schema: one object per run (:class:`RunConfig`), defaults = the paper's,
YAML in and out. Each task, model and curriculum validates its own settings (its ``Params``)
under its section; every value is checked before any work starts, and :class:`ConfigError`
carries a one-line message that says what to fix."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rnn_timescales.config.mapping import read_yaml
from rnn_timescales.errors import ConfigError

class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _registry(section: str):
    """The registry of the classes a section names (imported late: they import this module)."""
    if section == "model":
        from rnn_timescales.models import MODELS as registry
    elif section == "task":
        from rnn_timescales.tasks import TASKS as registry
    else:
        from rnn_timescales.curricula import CURRICULA as registry
    return registry


class _Extensible(_Section):
    """A section whose kind (model type, task name, curriculum kind) names a registered class that
    brings settings of its own: they sit beside the common ones and are validated by the class's
    ``Params``. ``_section`` names the section, ``_kind`` the field naming the class."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)
    _section: ClassVar[str]
    _kind: ClassVar[str]

    @property
    def params(self) -> dict[str, Any]:
        """The kind's own settings (validated, defaults filled in)."""
        return dict(self.model_extra or {})

    @model_validator(mode="after")
    def _registered_with_settings(self) -> _Extensible:
        name = getattr(self, self._kind)
        if name is None:  # decided later (the task's default curriculum)
            return self
        registry = _registry(self._section)
        cls = registry.get(_registered_name(f"{self._section}.{self._kind}", name, registry))
        try:
            params = cls.Params.model_validate(self.model_extra or {})
        except ValidationError as e:
            raise ValueError(_one_line(e, prefix=f"{self._section}.", model=cls.Params)) from None
        self.__pydantic_extra__ = params.model_dump(mode="json")
        check = getattr(cls, "check_config", None)  # a class may refuse combinations it cannot honour
        if check is not None:
            check(self)
        return self


class ModelConfig(_Extensible):
    """The recurrent network (docs/science.md, the model). ``type`` is a registered model; the settings from
    ``nonlinearity`` to ``tau_init`` belong to the leaky RNN (the GRU and the LSTM refuse values
    other than the defaults). A model's own settings (e.g. ``initial_state`` of the gated models)
    sit beside these."""

    _section, _kind = "model", "type"
    type: str = "leaky_rnn"
    hidden_size: int = Field(500, ge=1, description="H, number of neurons")
    n_heads: int | None = Field(
        None, ge=1, description="readout heads allocated (null: the task's default, 100 for parity and DMS)")
    precision: Literal["fp32", "bf16", "auto"] = Field(
        "fp32", description="matrix products in fp32, or with bf16 operands (fp32 state and accumulation); "
        "auto: bf16 where the device has bf16 matrix units (a CPU with avx512_bf16/amx_bf16, a GPU with bf16), else fp32; a run records what it used and why")
    nonlinearity: Literal["leaky_relu", "relu", "tanh", "sigmoid"] = "leaky_relu"
    placement: Literal["outside", "inside"] = "outside"
    train_tau: bool = True
    tau_init: float | None = Field(None, gt=0, description="null: 1 + U(0,1) per neuron")
    encoder: Literal["linear", "cnn"] = Field(
        "linear", description="linear: the core's own input weights; cnn: the [H19] convolutional front end "
        "applied to each frame of an image task, trained jointly")


class TaskConfig(_Extensible):
    """The memory task (docs/science.md, tasks): a registered task name and that task's settings."""

    _section, _kind = "task", "name"
    name: str = "parity"


class CurriculumConfig(_Extensible):
    """How the task's level changes (docs/science.md, curricula). ``kind`` is a registered curriculum (null:
    the task's default, multi-head for parity and DMS); ``n_start`` to ``forget`` belong to the N
    curricula (single, multi, sliding, fixed)."""

    _section, _kind = "curriculum", "kind"
    kind: str | None = Field(None, description="null: the task's default curriculum")
    n_start: int = Field(2, ge=2, description="first N (the only N for 'fixed')")
    initial_heads: int = Field(1, ge=1, description="multi: heads N = n_start ... trained from the start")
    add_heads: int = Field(1, ge=1, description="multi: heads added per advance")
    window: int = Field(10, ge=1, description="sliding: W heads trained at once")
    forget: int = Field(5, ge=1, description="sliding: F smallest N dropped (and F added) per advance")
    threshold: float = Field(0.98, gt=0, le=1, description="accuracy (fraction) needed to count a level as solved")
    rule: Literal["mean_and_newest", "all", "mean"] = Field(
        "mean_and_newest",
        description="mean_and_newest (paper): mean over heads and newest head above threshold; "
        "all: every head above threshold; mean: the mean only",
    )
    advance: Literal["accuracy", "schedule", "never"] = Field(
        "accuracy",
        description="accuracy: advance when solved (paper); schedule: at the training steps in 'schedule' "
        "(Haviv et al. 2019); never: train the first level until a stopping rule",
    )
    schedule: list[int] = Field(default_factory=list, description="advance: schedule: global training steps of the advances, ascending")

    @model_validator(mode="after")
    def _consistent(self) -> CurriculumConfig:
        if self.kind == "sliding" and self.forget > self.window:
            raise ValueError(f"curriculum.forget ({self.forget}) must not exceed curriculum.window ({self.window})")
        if any(b <= a for a, b in zip(self.schedule, self.schedule[1:])) or any(s < 1 for s in self.schedule):
            raise ValueError(f"curriculum.schedule must be ascending positive step counts, got {self.schedule}")
        if self.kind is not None:
            from rnn_timescales.curricula import CURRICULA

            cls = CURRICULA.get(self.kind)
            if self.advance == "schedule" and not self.schedule and not cls.default_schedule and cls.level_name is not None:
                raise ValueError(f"curriculum.advance is 'schedule' but curriculum.schedule is empty and {self.kind!r} "
                                 "has no schedule of its own; give the steps of the advances")
        return self


class OptimizerConfig(_Section):
    """Optimiser and gradient clipping (docs/science.md, training)."""

    name: Literal["sgd", "adam"] = "sgd"
    lr: float = Field(0.05, gt=0)
    momentum: float = Field(0.1, ge=0, description="sgd only")
    nesterov: bool = True
    grad_clip: float | None = Field(2.0, gt=0, description="global L2 norm; null disables clipping")
    lr_decay_steps: list[int] = Field(
        default_factory=list, description="global training steps after which the learning rate is multiplied by lr_decay_factor")
    lr_decay_factor: float = Field(0.1, gt=0, description="factor applied at each of lr_decay_steps")

    @field_validator("lr_decay_steps")
    @classmethod
    def _ascending(cls, value: list[int]) -> list[int]:
        if any(b <= a for a, b in zip(value, value[1:])) or any(s < 1 for s in value):
            raise ValueError(f"optimizer.lr_decay_steps must be ascending positive step counts, got {value}")
        return value


class SpeedRegularization(_Section):
    """``training.speed_regularization`` (null: off): λ Σ_k q(c_k) added to the loss of a delayed-recall
    run (:mod:`rnn_timescales.training.regularizers`, docs/slow_points.md).

    weight: λ. at: ``centres`` | ``seeds`` | ``slow_points``. input: ``mean`` (ū) or ``noise``
    (fresh noise frames, ``noise_samples`` per point: the paper code's). recompute_every: steps
    between recomputations of ``seeds`` / ``slow_points`` (null: once, before the first step, as
    the paper code). seed_steps, trials_per_class, seed_noise_factor: the seeds' recipe
    (:class:`~rnn_timescales.analysis.recall_memory.RecallMemorySettings`). finder: slow-point
    finder settings over [H19]'s (``recall_memory.H19_FINDER``; :class:`~rnn_timescales.dynamics.slow_points.SlowPointHyperparameters`).
    """

    weight: float = Field(1e-3, ge=0, description="lambda, the weight of the speed term in the loss")
    at: Literal["centres", "seeds", "slow_points"] = "centres"
    input: Literal["mean", "noise"] = "mean"
    noise_samples: int = Field(10, ge=1, description="input: noise: noise frames per point")
    recompute_every: int | None = Field(None, ge=1, description="seeds, slow_points: steps between recomputations")
    seed_steps: int = Field(15, ge=1)
    trials_per_class: int = Field(100, ge=1)
    seed_noise_factor: float = Field(1 / 3, ge=0)
    finder: dict[str, Any] = Field(default_factory=dict, description="slow-point finder settings")

    @model_validator(mode="after")
    def _finder_settings(self) -> SpeedRegularization:
        from rnn_timescales.dynamics.slow_points import SlowPointHyperparameters

        try:
            SlowPointHyperparameters.from_kwargs(**self.finder)
        except (TypeError, ValueError) as e:
            raise ValueError(f"training.speed_regularization.finder: {e}") from None
        return self


class TrainingConfig(_Section):
    """Epoch structure and stopping rules."""

    batch_size: int = Field(256, ge=1)
    steps_per_epoch: int = Field(600, ge=1, description="training batches per epoch")
    eval_batches: int = Field(50, ge=1, description="fresh evaluation batches after each epoch")
    max_epochs: int = Field(1000, ge=1)
    target_n: int | None = Field(None, ge=2, description="stop once this N is solved (N curricula)")
    target_level: int | None = Field(
        None, ge=0, description="stop once a level of at least this value is solved (the curriculum's level_name)")
    time_budget_s: float | None = Field(None, gt=0, description="stop after this much wall time (s)")
    divergence: Literal["stop", "rollback"] = Field(
        "stop",
        description="when a loss or gradient is not finite: stop (naming epoch and step), or roll back "
        "to the last epoch's state and multiply the learning rate by rollback_lr_factor",
    )
    rollback_lr_factor: float = Field(0.5, gt=0, lt=1, description="learning-rate factor applied at each roll-back")
    max_rollbacks: int = Field(3, ge=0, description="roll-backs allowed before the run stops as diverged")
    state_every_s: float | None = Field(
        600.0, gt=0, description="also save the training state inside an epoch this often (s); null: epoch ends only"
    )
    speed_regularization: SpeedRegularization | None = Field(
        None, description="[H19] speed regularisation (delayed recall): lambda * sum_k q(c_k) added to the loss; null: off")


class RunConfig(_Section):
    """Everything that defines a training run; a run is a pure function of this object."""

    preset: Literal["paper", "quick", "gated", "h19", "custom"] = "paper"
    seed: int = Field(0, ge=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    model: ModelConfig = Field(default_factory=ModelConfig)
    task: TaskConfig = Field(default_factory=TaskConfig)
    curriculum: CurriculumConfig = Field(default_factory=CurriculumConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)

    @model_validator(mode="after")
    def _resolve(self) -> RunConfig:
        """Fill in what the task decides (curriculum kind, readout heads) and check that task,
        curriculum and model fit together. A sweep's plan relies on which settings this reads
        (``experiments.sweep.points._RESOLVE_READS``; a test reads this source)."""
        from rnn_timescales.curricula import CURRICULA, build_curriculum
        from rnn_timescales.tasks import build_task

        task = build_task(self.task)
        # written into __dict__: assigning would validate the whole configuration again
        if self.curriculum.kind is None:
            data = {**self.curriculum.model_dump(), "kind": task.default_curriculum}
            self.__dict__["curriculum"] = CurriculumConfig.model_validate(data)
        if self.model.n_heads is None:
            self.__dict__["model"] = self.model.model_copy(update={"n_heads": task.default_heads})
        default_schedule = CURRICULA.get(self.curriculum.kind).default_schedule
        if self.curriculum.advance == "schedule" and not self.curriculum.schedule and default_schedule:
            self.__dict__["curriculum"] = self.curriculum.model_copy(update={"schedule": list(default_schedule)})
        curriculum = build_curriculum(self.curriculum, task)
        if self.model.encoder == "cnn" and task.image_shape is None:
            raise ValueError(f"model.encoder 'cnn' needs a task whose input is images; task {task.name!r} has none (use 'linear')")
        if task.time_scales != (1,) and not _registry("model").get(self.model.type).time_scalable:
            raise ValueError(f"task.time_scale {task.params.time_scale} needs a model whose timescales can be "
                             f"rescaled (leaky_rnn); model.type {self.model.type!r} has none")
        if curriculum.n_heads > self.model.n_heads:
            raise ValueError(
                f"the curriculum starts with {curriculum.n_heads} heads but model.n_heads is {self.model.n_heads}"
            )
        if self.training.speed_regularization is not None and not task.recall:
            raise ValueError(f"training.speed_regularization needs the delayed-recall task (its classes, response time "
                             f"and rest input); task {task.name!r} has none (remove the section)")
        c = self.curriculum
        if self.training.target_n is not None and self.training.target_n < c.n_start:
            raise ValueError(
                f"training.target_n ({self.training.target_n}) is below curriculum.n_start ({c.n_start})"
            )
        if self.training.target_n is not None and curriculum.level_name != "n_max":
            raise ValueError(
                f"training.target_n applies to the N curricula; curriculum {c.kind!r} has "
                + (f"level {curriculum.level_name!r}: use training.target_level" if curriculum.level_name else "no level to reach")
            )
        return self

    # --- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_yaml())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        return validate(data)

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        """Read a complete configuration saved by :meth:`save` (e.g. a run's ``config.yaml``)."""
        return validate(read_yaml(path))


def validate(data: dict[str, Any]) -> RunConfig:
    """A validated RunConfig from a plain mapping; ConfigError with a one-line message otherwise."""
    try:
        return RunConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_one_line(e)) from None


def _one_line(error: ValidationError, prefix: str = "", model: type[BaseModel] | None = None) -> str:
    """The first problem of ``error`` as one line. ``prefix`` and ``model``: the error is from
    the settings of a task, model or curriculum (``Params``), validated under section ``prefix``."""
    first = error.errors()[0]
    loc = prefix + ".".join(str(p) for p in first["loc"])
    kind = first["type"]
    more = len(error.errors()) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    if kind == "extra_forbidden":
        section, _, name = loc.rpartition(".")
        known = list(model.model_fields) if model is not None else _known_keys(section)
        if model is not None:
            known += _known_keys(section)
        return f"unknown setting {loc!r}{_did_you_mean(name, known)}"
    if kind == "literal_error":
        expected = first.get("ctx", {}).get("expected", "")
        options = re.findall(r"'([^']*)'", expected)
        hint = _did_you_mean(str(first["input"]), options) if isinstance(first["input"], str) else ""
        return f"{loc}: {first['input']!r} is not allowed{hint}; choose one of {expected}"
    if kind == "value_error" and "error" in first.get("ctx", {}):
        # Our own checks: their message already names the settings involved.
        return str(first["ctx"]["error"]) + tail
    msg = first["msg"]
    if loc:
        msg = f"{loc}: {msg} (got {first.get('input')!r})"
    return msg + tail


def _registered_name(loc: str, value: str, registry) -> str:
    """``value`` if ``registry`` has it; otherwise the error naming the choices."""
    if value not in registry:
        names = registry.names()
        choices = " or ".join([", ".join(repr(n) for n in names[:-1]), repr(names[-1])] if len(names) > 1 else [repr(n) for n in names])
        raise ValueError(f"{loc}: {value!r} is not allowed{_did_you_mean(value, names)}; choose one of {choices}")
    return value


def _known_keys(section: str) -> list[str]:
    model: type[BaseModel] = RunConfig
    for part in filter(None, section.split(".")):
        field = model.model_fields.get(part)
        if field is None or not isinstance(field.annotation, type) or not issubclass(field.annotation, BaseModel):
            return []
        model = field.annotation
    return list(model.model_fields)


def _did_you_mean(name: str, options: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""

"""The contract of a measure: one number per neuron or per network that ``analyze`` computes from
what one simulation of a checkpoint already holds (:class:`MeasureContext`).

A measure is a small class: its ``name`` (the column of ``neurons.csv`` for a per-neuron measure,
of ``summary.csv`` for a per-network one), a human ``label``, its ``unit``, a one-sentence
``definition`` and ``compute(ctx)``. A per-neuron measure's network statistics (``tau_net_mean``,
``tau_net_median``, ...) go into ``summary.csv`` by themselves; ``headline`` is the one ``analyze``
prints and the report draws. Registering the class (:func:`register_measure`) is all it takes for
``analyze``, the sweep's ``timescales`` analysis, the report, ``rnn-timescales list`` and the docs'
column tables to show it (docs/contracts.md, "Add a measure").
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Callable, ClassVar, Mapping

import numpy as np
import pandas as pd

from rnn_timescales.registry import Registry

PER = ("neuron", "network")
REPORT_SECTION = "Timescales and dimensionality"


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return values[np.isfinite(values)]


# The network statistics of a per-neuron measure, over its finite values (NaN if none is finite).
STATISTICS: Mapping[str, Callable[[np.ndarray], float]] = {
    "mean": np.mean,
    "median": np.median,
    "std": np.std,
    "q25": lambda v: np.quantile(v, 0.25),
    "q75": lambda v: np.quantile(v, 0.75),
}


def spread(values: np.ndarray, statistics: Mapping[str, Callable[[np.ndarray], float]] = STATISTICS) -> dict[str, float]:
    """``{statistic: value}`` over the finite entries of ``values`` (all NaN when none is finite)."""
    v = _finite(values)
    return {stat: float(f(v)) if v.size else float("nan") for stat, f in statistics.items()}


class MeasureContext:
    """What one simulation of a checkpoint holds, and the fits every measure shares (each computed
    once, on first use).

    ckpt: the :class:`~rnn_timescales.runs.load.LoadedCheckpoint`; model: its network (on the CPU);
    stats: the :class:`~rnn_timescales.analysis.simulation.SimulationStats`; settings: the
    :class:`~rnn_timescales.studies.analyze.AnalysisSettings`.
    """

    def __init__(self, ckpt, model, stats, settings) -> None:
        self.ckpt = ckpt
        self.model = model
        self.stats = stats
        self.settings = settings

    def fit(self, ac: np.ndarray) -> pd.DataFrame:
        """:func:`~rnn_timescales.analysis.timescales.fit_timescales` of ``ac`` (trials, units, lags)
        with the analysis's settings."""
        from rnn_timescales.analysis.timescales import fit_timescales

        s = self.settings
        return fit_timescales(ac, s.fit_lag, s.method, bias_correction=s.bias_correction, n_steps=s.n_steps)

    @cached_property
    def fits(self) -> pd.DataFrame:
        """One row per neuron: the autocorrelation fit of its activity (``tau_net``, ``model``, ...)."""
        return self.fit(self.stats.ac)

    @property
    def n_units(self) -> int:
        return self.stats.ac.shape[1]

    @cached_property
    def population_fit(self) -> pd.DataFrame:
        """One row: the autocorrelation fit of the summed activity."""
        return self.fit(self.stats.population_ac[:, None, :])

    @cached_property
    def gates(self) -> pd.DataFrame:
        """One row per neuron: ``gate_mean``, ``tau_gate``, ``tau_gate_log`` (NaN for a model
        without a retention gate)."""
        from rnn_timescales.analysis.gates import RETENTION, gate_timescales

        if RETENTION in self.stats.signal_means:
            return gate_timescales(self.stats.signal_means[RETENTION])
        return pd.DataFrame(np.nan, index=range(self.n_units), columns=["gate_mean", "tau_gate", "tau_gate_log"])

    @cached_property
    def jacobian(self) -> dict[str, np.ndarray] | None:
        """:func:`~rnn_timescales.dynamics.jacobian.jacobian_timescales` at the sampled operating
        points (None when none was sampled)."""
        from rnn_timescales.dynamics.jacobian import jacobian_timescales
        from rnn_timescales.runtime import torch_threads

        if not len(self.stats.states):
            return None
        with torch_threads(1):  # small eigenproblems: threads only add overhead on a busy machine
            return jacobian_timescales(self.model, self.stats.states, self.stats.inputs, self.settings.n_slowest)

    @property
    def jacobian_per_point(self) -> np.ndarray:
        """(points, n_slowest) slowest linearised timescales at each operating point."""
        jac = self.jacobian
        return jac["per_point"] if jac else np.zeros((0, self.settings.n_slowest))

    @property
    def jacobian_mean(self) -> np.ndarray:
        """(n_slowest,) slowest timescales of the average Jacobian."""
        jac = self.jacobian
        return jac["mean_jacobian"] if jac else np.full(self.settings.n_slowest, np.nan)


class Measure:
    """A quantity ``analyze`` measures on every checkpoint (subclass, set the class attributes,
    implement :meth:`compute`, register with :func:`register_measure`).

    name: the column (``neurons.csv`` for ``per = "neuron"``, ``summary.csv`` for ``"network"``).
    label, unit, definition: how tables, the report and the docs present it (unit ``""`` when it
        has none).
    per: ``"neuron"`` (compute returns ``(units,)``) or ``"network"`` (a float, or a dict of
        columns for a family such as ``jacobian_tau_1..k``).
    statistics: a per-neuron measure's network statistics written to ``summary.csv`` as
        ``{name}_{statistic}`` (:data:`STATISTICS` by default; ``()`` for none).
    extra: more per-network statistics, ``{statistic: function of the (units,) values}``, written
        after every measure's ``statistics`` (e.g. the largest trained τ, ``tau_max``).
    headline: the ``summary.csv`` column ``analyze`` prints and the report draws (default: the
        network median of a per-neuron measure, the measure itself per network; None: neither).
    shown_always: ``analyze`` prints it even when it is NaN for every checkpoint.
    after: the ``neurons.csv`` column it follows (None: at the end).
    order: where it stands among the measures (the built-in ones by their place in the tables;
        a new one after them by default).
    panel: the report's figure that draws it (None: the report gives it a panel of its own,
        "" : not drawn); section: the report's section it belongs to.
    timescale: a time in steps (the report marks values below one step).
    writes: the ``summary.csv`` columns of a per-network measure whose ``compute`` returns several
        (default: its name).
    look_for: the reading guide under its own report panel ("What to look for: ..."; a general one
        by default).
    """

    name: ClassVar[str]
    label: ClassVar[str]
    unit: ClassVar[str] = ""
    definition: ClassVar[str]
    per: ClassVar[str] = "neuron"
    statistics: ClassVar[Mapping[str, Callable[[np.ndarray], float]] | tuple] = STATISTICS
    extra: ClassVar[Mapping[str, Callable[[np.ndarray], float]]] = {}
    headline: ClassVar[str | None] = ""  # "" : the default named in the docstring
    shown_always: ClassVar[bool] = False
    after: ClassVar[str | None] = None
    order: ClassVar[float] = 100.0
    panel: ClassVar[str | None] = None
    section: ClassVar[str] = REPORT_SECTION
    timescale: ClassVar[bool] = False
    writes: ClassVar[tuple[str, ...]] = ()
    look_for: ClassVar[str] = ("whether the value moves with N, and whether the curricula differ by more than the "
                               "spread across networks")

    @classmethod
    def compute(cls, ctx: MeasureContext) -> Any:
        """The measure on one checkpoint: ``(units,)`` per neuron; a float (or ``{column: float}``)
        per network. Every registered measure defines it (the registry's common tests call it)."""
        raise TypeError(f"measure {cls.__name__} defines no compute(ctx); a measure must say how it is computed")

    @classmethod
    def summary_column(cls) -> str | None:
        """The ``summary.csv`` column that stands for the measure (printed, drawn), or None."""
        if cls.headline != "":
            return cls.headline
        if cls.per == "neuron":
            return f"{cls.name}_median" if "median" in dict(cls.statistics) else None
        return cls.name

    @classmethod
    def columns(cls) -> list[str]:
        """The columns the measure writes: into ``neurons.csv`` (per neuron) and ``summary.csv``."""
        if cls.per == "network":
            return list(cls.writes or (cls.name,))
        return [cls.name, *(f"{cls.name}_{s}" for s in dict(cls.statistics)), *(f"{cls.name}_{s}" for s in cls.extra)]

    @classmethod
    def describe(cls) -> str:
        """One line: label, unit and definition."""
        unit = f" [{cls.unit}]" if cls.unit else ""
        return f"{cls.label}{unit}, per {cls.per}: {cls.definition}"


MEASURES: Registry[type[Measure]] = Registry("measure", Measure, key="name")


def register_measure(cls: type[Measure]) -> type[Measure]:
    """Register a measure (a class decorator); its declaration is checked here, once."""
    for attr in ("name", "label", "definition"):
        if not isinstance(getattr(cls, attr, None), str) or not getattr(cls, attr):
            raise TypeError(f"measure {cls.__name__} needs a non-empty string {attr!r}")
    if cls.per not in PER:
        raise TypeError(f"measure {cls.__name__}: per must be one of {', '.join(PER)}, got {cls.per!r}")
    return MEASURES.register(cls)


def declare(base: type[Measure], name: str, label: str, unit: str, definition: str,
            compute: Callable[[MeasureContext], Any], more: Mapping[str, Any] | None = None,
            **fields: Any) -> type[Measure]:
    """Register a measure given as one row (a family of small measures declared as a table): a
    subclass of ``base`` with these fields and ``compute(ctx)``."""
    attrs = {"name": name, "label": label, "unit": unit, "definition": definition,
             "compute": classmethod(lambda cls, ctx: compute(ctx)), **fields, **(more or {})}
    return register_measure(type(f"Measure_{name}", (base,), attrs))


def measures(per: str | None = None) -> list[type[Measure]]:
    """The registered measures (per neuron or per network, or all) in the order of the tables."""
    chosen = [MEASURES.get(n) for n in MEASURES]
    if per is not None:
        chosen = [m for m in chosen if m.per == per]
    return sorted(chosen, key=lambda m: m.order)


def neuron_table(ctx: MeasureContext, ids: Mapping[str, Any]) -> pd.DataFrame:
    """``neurons.csv`` of one checkpoint: the identifying columns ``ids``, the fit of every neuron's
    autocorrelation and every per-neuron measure (each after its ``after`` column)."""
    table = ctx.fits.rename(columns={"unit": "neuron"})
    for k, (column, value) in enumerate(ids.items()):
        table.insert(k, column, value)
    pending = []
    for m in measures("neuron"):
        values = np.asarray(m.compute(ctx), dtype=np.float64)
        if values.shape != (ctx.n_units,):
            raise ValueError(f"measure {m.name!r} returned shape {values.shape}, expected ({ctx.n_units},)")
        pending.append((m, values))
    while pending:  # a column follows its ``after`` once that one is placed; the rest go at the end
        placed = [(m, v) for m, v in pending if m.name in table or m.after is None or m.after in table] or pending
        for m, values in placed:
            if m.name in table:
                table[m.name] = values
            elif m.after in table:
                table.insert(table.columns.get_loc(m.after) + 1, m.name, values)
            else:
                table[m.name] = values
        done = {m.name for m, _ in placed}
        pending = [(m, v) for m, v in pending if m.name not in done]
    return table


def network_summary(ctx: MeasureContext, neurons: pd.DataFrame) -> tuple[dict[str, float], dict[str, float]]:
    """The per-network columns of ``summary.csv``: (every per-neuron measure's statistics then their
    extras, then the per-network measures of order below 90) and (those of order 90 and above, which
    follow the settings record)."""
    first: dict[str, float] = {}
    for m in measures("neuron"):
        for stat, v in spread(neurons[m.name].to_numpy(), dict(m.statistics)).items():
            first[f"{m.name}_{stat}"] = v
    for m in measures("neuron"):
        for stat, f in m.extra.items():
            first[f"{m.name}_{stat}"] = float(f(neurons[m.name].to_numpy(dtype=np.float64)))
    late: dict[str, float] = {}
    for m in measures("network"):
        value = m.compute(ctx)
        target = late if m.order >= 90 else first
        target.update(value if isinstance(value, dict) else {m.name: value})
    return first, late

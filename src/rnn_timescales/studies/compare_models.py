"""The leaky-vs-gated comparison: leaky RNN, GRU and LSTM × single-head and multi-head on one task.

[K24] reports that the multi-head curriculum "significantly improves training GRUs and LSTMs for
large-N tasks". This experiment trains every (model, curriculum) pair with the same task, hidden
size, seed and epoch structure, each under the same budget (epochs by default, so other processes
on a shared machine cannot distort the comparison; wall time is recorded as well and can be the
budget instead), and tabulates the largest N each solved, against epochs and against wall time.

Each model trains with its own optimiser: the leaky RNN with the ``quick`` preset's (the paper's
SGD), the GRU and the LSTM with the ``gated`` preset's (the paper code's Adam, lr 1e-3). The epoch
structure (steps per epoch, evaluation batches, batch size) is the same for all, the ``quick``
preset's unless set otherwise, so every run sees the same number of sequences per epoch.

Layout of the output directory::

    runs/<model>_<curriculum>/   one run directory per pair (resumable, analysable like any run)
    comparison.csv               one row per run (see :func:`comparison_tables`)
    comparison_curves.csv        one row per run and epoch: the largest N solved so far
    figures/largest_n_vs_epoch.png, figures/largest_n_vs_time.png

Running it again on the same directory continues: finished runs are kept, interrupted ones
resume, and runs given a larger budget (``training.max_epochs``, ``training.time_budget_s``)
carry on where they stopped; any other change of settings is refused.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import pandas as pd
import torch

from rnn_timescales.backends import LocalPool
from rnn_timescales.config import RunConfig, build_config, preset_dict, validate
from rnn_timescales.errors import ConfigError
from rnn_timescales.io import OutputDir, atomic_write_bytes, atomic_write_text
from rnn_timescales.runtime import torch_threads
from rnn_timescales.runs.files import CONFIG, METRICS, SUMMARY
from rnn_timescales.runs.rundir import decide_run
from rnn_timescales.studies.contract import Study

MODEL_PRESETS = {"leaky_rnn": "quick", "gru": "gated", "lstm": "gated"}
"""The preset whose model and optimiser settings each model trains with (others: ``quick``)."""
EPOCH_KEYS = ("steps_per_epoch", "eval_batches", "batch_size")
RUNS = "runs"
OUTPUT = OutputDir("comparison", marker=RUNS)
TABLE = "comparison.csv"
CURVES = "comparison_curves.csv"
FIGURES = {"largest_n_vs_epoch": "epoch", "largest_n_vs_time": "wall_time_s"}


@dataclass
class Comparison:
    """What :func:`run_comparison` leaves behind (also on disk).

    table: one row per run; curves: one row per run and epoch; run_dirs: name -> run directory.
    """

    table: pd.DataFrame
    curves: pd.DataFrame
    run_dirs: dict[str, Path]


def comparison_configs(
    models: Sequence[str] = ("leaky_rnn", "gru", "lstm"),
    curricula: Sequence[str] = ("single", "multi"),
    *,
    task: str = "parity",
    hidden: int = 64,
    seed: int = 0,
    max_epochs: int = 30,
    time_budget_s: float | None = None,
    overrides: Sequence[str] = (),
) -> dict[str, RunConfig]:
    """The run configuration of every (model, curriculum) pair, named ``<model>_<curriculum>``.

    Each starts from its model's preset (:data:`MODEL_PRESETS`) with the ``quick`` preset's epoch
    structure (:data:`EPOCH_KEYS`), then ``task``, ``hidden``, ``seed``, the budget (``max_epochs``
    epochs; ``time_budget_s`` seconds per run, None: no time limit) and ``overrides``
    (``key=value``, applied to every run, e.g. ``training.batch_size=64``) are applied.
    Raises ConfigError naming the run whose settings are invalid.
    """
    if not models or not curricula:
        raise ConfigError("give at least one model and one curriculum to compare")
    for what, names in (("model", models), ("curriculum", curricula)):
        if len(set(names)) != len(names):
            raise ConfigError(f"each {what} may be given once, got {', '.join(names)}")
    epochs = preset_dict("quick")["training"]
    common = [f"training.{key}={epochs[key]}" for key in EPOCH_KEYS]
    budget = "null" if time_budget_s is None else repr(float(time_budget_s))
    configs = {}
    for model in models:
        for curriculum in curricula:
            name = f"{model}_{curriculum}"
            # one precision for every model (fp32 unless overridden), so wall times compare like for like
            settings = [*common, "model.precision=fp32", f"model.type={model}", f"curriculum.kind={curriculum}",
                        f"task.name={task}",
                        f"model.hidden_size={hidden}", f"seed={seed}", f"training.max_epochs={max_epochs}",
                        f"training.time_budget_s={budget}", "training.target_n=null", *overrides]
            try:
                config = build_config(MODEL_PRESETS.get(model, "quick"), overrides=settings)
            except ConfigError as e:
                raise ConfigError(f"run {name}: {e}") from None
            if config.curriculum.kind not in ("single", "multi", "sliding", "fixed"):
                raise ConfigError(f"run {name}: the comparison counts the largest N solved, so it needs an N "
                                  f"curriculum (single, multi, sliding, fixed), got {config.curriculum.kind!r}")
            configs[name] = config
    return configs


def check_comparison_dir(out: str | Path, configs: dict[str, RunConfig]) -> Path:
    """``out`` if this comparison may write there: missing, empty, or an earlier run of the same
    comparison (whose runs may differ only in their budget); ConfigError otherwise."""
    p = OUTPUT.check(out)
    for name, config in configs.items():
        run_dir = p / RUNS / name
        decide_run(run_dir, config,
                   different=lambda difference: ConfigError(
                       f"{str(p)!r} holds a comparison with other settings (run {name}, {difference}); "
                       "choose another --out"),
                   unreadable=lambda e: ConfigError(f"{str(run_dir / CONFIG)!r} is not a valid run configuration ({e})"))
    return p


def run_comparison(
    configs: dict[str, RunConfig],
    out: str | Path,
    *,
    workers: int = 1,
    threads: int = 1,
    on_done: Callable[[str, dict], None] | None = None,
) -> Comparison:
    """Train (or continue) every configuration into ``out/runs/<name>``, then tabulate and write
    ``comparison.csv``, ``comparison_curves.csv`` and the figures into ``out``.

    ``workers`` runs train at once, in separate processes, each with ``threads`` torch threads
    (``workers=1``: one after another in this process, with ``threads`` threads for the duration).
    ``on_done(name, summary)`` is called as each run finishes (``summary``: its ``summary.json``).
    """
    if workers < 1 or threads < 1:
        raise ConfigError(f"workers and threads must be at least 1, got {workers} and {threads}")
    out = check_comparison_dir(out, configs)
    run_dirs = {name: out / RUNS / name for name in configs}
    (out / RUNS).mkdir(parents=True, exist_ok=True)
    jobs = [(name, config.to_dict(), str(run_dirs[name]), threads) for name, config in configs.items()]
    if workers == 1:
        with torch_threads(threads):
            done = ((job, _train_one(job)) for job in jobs)
            _collect(done, on_done)
    else:
        with LocalPool(workers, threads) as pool:  # spawned workers; one that dies is named, not the pool's end
            _collect(pool.run(_train_one, jobs), on_done)
    table, curves = comparison_tables(run_dirs)
    write_comparison(table, curves, out)
    return Comparison(table=table, curves=curves, run_dirs=run_dirs)


def _collect(done: Iterable[tuple[tuple, Any]], on_done: Callable[[str, dict], None] | None) -> None:
    """Raise the first failure among finished ``(job, summary or exception)``; report the others.
    A run stopped by SIGINT or SIGTERM (its state saved) raises KeyboardInterrupt: the comparison
    stops there, starts no further run and writes no table; running it again resumes."""
    for job, summary in done:
        if isinstance(summary, BaseException):
            raise summary
        if summary.get("stop_reason") == "interrupted":
            raise KeyboardInterrupt(f"run {job[0]} was interrupted; its state is saved and it resumes when run again")
        if on_done is not None:
            on_done(job[0], summary)


def _train_one(job: tuple[str, dict, str, int]) -> dict:
    """Train one run (``job``: name, configuration, run directory, torch threads), or continue it
    if its directory holds one; returns its ``summary.json``. Top-level so that worker processes
    can run it."""
    from rnn_timescales.training.trainer import Trainer

    _, config, run_dir, threads = job
    torch.set_num_threads(threads)
    path = Path(run_dir)
    wanted = validate(config)
    decision = decide_run(path, wanted)
    if decision.action == "new":
        Trainer(wanted, path, progress=False).run()
    else:
        trainer = Trainer.resume(path, decision.overrides, progress=False)
        if decision.changes or trainer.pending_stop_reason() is None:  # a new budget is written even if nothing trains
            trainer.run()
    return json.loads((path / SUMMARY).read_text())


def comparison_tables(run_dirs: dict[str, str | Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tabulate finished runs.

    Returns
    -------
    table : DataFrame, one row per run: ``run, model, curriculum, task, hidden_size, seed,
        optimizer, lr, batch_size, steps_per_epoch, epochs, steps, wall_time_s, largest_n,
        epoch_largest_n, time_largest_n_s, stop_reason``. ``largest_n``: the largest N solved
        (``n_start − 1`` if none, i.e. 1 for parity and DMS); ``epoch_largest_n`` and
        ``time_largest_n_s``: the epoch, and the run's wall time in seconds, at which it was solved.
    curves : DataFrame, one row per run and epoch: ``run, model, curriculum, epoch, step,
        wall_time_s, largest_n`` (the largest N solved by the end of that epoch).
    """
    rows, curves = [], []
    for name, run_dir in run_dirs.items():
        path = Path(run_dir)
        config = RunConfig.load(path / CONFIG)
        metrics = pd.read_csv(path / METRICS)
        summary = json.loads((path / SUMMARY).read_text()) if (path / SUMMARY).is_file() else {}
        none = config.curriculum.n_start - 1
        solved_n = metrics["n_max"].where(metrics["solved"].astype(bool))
        largest = solved_n.cummax().ffill().fillna(none).astype(int)  # cummax leaves the unsolved epochs NaN
        curve = pd.DataFrame({"run": name, "model": config.model.type, "curriculum": config.curriculum.kind,
                              "epoch": metrics["epoch"], "step": metrics["step"],
                              "wall_time_s": metrics["wall_time_s"], "largest_n": largest})
        curves.append(curve)
        best = int(largest.iloc[-1]) if len(largest) else none
        first = curve[curve["largest_n"] == best].iloc[0] if best > none else None
        rows.append({
            "run": name, "model": config.model.type, "curriculum": config.curriculum.kind, "task": config.task.name,
            "hidden_size": config.model.hidden_size, "seed": config.seed, "optimizer": config.optimizer.name,
            "lr": config.optimizer.lr, "batch_size": config.training.batch_size,
            "steps_per_epoch": config.training.steps_per_epoch, "epochs": len(metrics),
            "steps": int(metrics["step"].iloc[-1]) if len(metrics) else 0,
            "wall_time_s": float(summary.get("wall_time_s", metrics["wall_time_s"].iloc[-1] if len(metrics) else 0.0)),
            "largest_n": best,
            "epoch_largest_n": int(first["epoch"]) if first is not None else pd.NA,
            "time_largest_n_s": float(first["wall_time_s"]) if first is not None else float("nan"),
            "stop_reason": summary.get("stop_reason", "unfinished"),
        })
    curves_df = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(
        columns=["run", "model", "curriculum", "epoch", "step", "wall_time_s", "largest_n"])
    table = pd.DataFrame(rows)
    if len(table):
        table["epoch_largest_n"] = table["epoch_largest_n"].astype("Int64")
    return table, curves_df


def write_comparison(table: pd.DataFrame, curves: pd.DataFrame, out: str | Path) -> dict[str, Path]:
    """Write the tables and figures into ``out``, each file atomically; returns the paths."""
    import matplotlib.pyplot as plt

    from rnn_timescales.plots import figures as plotting

    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    paths = {"table": out / TABLE, "curves": out / CURVES}
    atomic_write_text(paths["table"], table.to_csv(index=False))
    atomic_write_text(paths["curves"], curves.to_csv(index=False))
    for name, x in FIGURES.items():
        fig = plotting.plot_largest_n(curves, x)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
        plt.close(fig)
        paths[name] = out / "figures" / f"{name}.png"
        atomic_write_bytes(paths[name], buffer.getvalue())
    return paths


STUDY = Study("compare-models", "leaky RNN, GRU and LSTM under the single- and multi-head curricula", None,
              (TABLE, CURVES, RUNS + "/"), tuple(f"figures/{name}.png" for name in FIGURES),
              no_sweep="it trains networks of its own (three models under two curricula), it studies no finished run")

"""The ``rnn-timescales`` command: a thin layer over the Python API.

Every command validates its input before doing any work. A bad argument, a missing file or an
invalid configuration prints one line on stderr and exits with code 2, leaving nothing written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from rnn_timescales import __version__
from rnn_timescales.config import ConfigError


class UsageError(ValueError):
    """Bad input from the user: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + message
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _number(cast, low: float, strict: bool, what: str):
    """An argparse type: ``cast(text)``, above ``low`` (``strict``) or at least ``low``."""

    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not (value > low if strict else value >= low):  # NaN fails too
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, 0, True, "a positive integer")
_non_negative_int = _number(int, 0, False, "a non-negative integer")
_positive_float = _number(float, 0.0, True, "a positive number")


# --- train ---------------------------------------------------------------------------------------
def _add_train(sub: argparse._SubParsersAction) -> None:
    from rnn_timescales.curricula import CURRICULA
    from rnn_timescales.models import MODELS
    from rnn_timescales.tasks import TASKS

    p = sub.add_parser(
        "train",
        help="train a network under a curriculum (no options: the README's main job)",
        description="Train a recurrent network on a memory task under a curriculum. With no options: a leaky RNN "
        "with trainable timescales on multi-head N-parity, 'quick' preset (about 9 minutes on a 2-core CPU).",
    )
    p.add_argument("--preset", help="paper (the paper's exact setup), quick (default), gated (the paper code's "
                   "LSTM setup; --model gru for a GRU) or h19 (Haviv et al. 2019's delayed recall)")
    p.add_argument("--config", metavar="FILE.yaml", help="YAML file of settings, applied over the preset")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any setting, e.g. --set training.batch_size=64 (repeatable)")
    p.add_argument("--task", help=f"one of {', '.join(TASKS)}")
    p.add_argument("--curriculum", help=f"one of {', '.join(CURRICULA)} (default: the task's own)")
    p.add_argument("--model", help=f"one of {', '.join(MODELS)} (gru and lstm have no trained tau: the leaky RNN's "
                   "nonlinearity, placement, train_tau and tau_init do not apply to them; --preset gated is the "
                   "paper code's LSTM setup, Adam lr 1e-3, batch 64)")
    p.add_argument("--hidden", type=_positive_int, help="number of neurons H")
    p.add_argument("--seed", type=_non_negative_int, help="seed for every random draw")
    p.add_argument("--max-epochs", type=_positive_int, help="stop after this many epochs")
    p.add_argument("--target-n", type=_positive_int, help="stop once this N is solved (N curricula)")
    p.add_argument("--target-level", type=_non_negative_int, metavar="VALUE",
                   help="stop once a level of this value is solved (the curriculum's level, e.g. max_delay)")
    p.add_argument("--time-budget", type=_positive_float, metavar="SECONDS", help="stop after this much wall time")
    p.add_argument("--device", help="auto, cpu or cuda")
    p.add_argument("--precision", help="fp32, bf16 (bf16 matrix products, fp32 state; leaky_rnn and gru) or auto "
                   "(bf16 where the device has bf16 matrix units and the model supports it)")
    p.add_argument("--out", metavar="DIR", help="run directory to create (default: runs/<task>_<curriculum>_...)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted run exactly where it stopped; only --max-epochs, --target-n, "
                   "--time-budget and --set training.{divergence,max_rollbacks,rollback_lr_factor,state_every_s} "
                   "may be given with it")
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from rnn_timescales.config import build_config
    from rnn_timescales.training.rundir import default_run_dir
    from rnn_timescales.training.trainer import Trainer

    if args.resume:
        return _resume_training(args)
    config = build_config(
        preset=args.preset or "quick",
        config_file=args.config,
        overrides=args.overrides,
        **{
            "task.name": args.task,
            "curriculum.kind": args.curriculum,
            "model.type": args.model,
            "model.hidden_size": args.hidden,
            "model.precision": args.precision,
            "seed": args.seed,
            "training.max_epochs": args.max_epochs,
            "training.target_n": args.target_n,
            "training.target_level": args.target_level,
            "training.time_budget_s": args.time_budget,
            "device": args.device,
        },
    )
    run_dir = Path(args.out) if args.out else default_run_dir(config)
    trainer = Trainer(config, run_dir, progress=not args.no_progress, auto_name=not args.out)
    c = trainer.config
    print(f"training {c.model.type} (H={c.model.hidden_size}) on {c.task.name}, {c.curriculum.kind} curriculum, "
          f"preset {c.preset}, seed {c.seed}, device {trainer.device}, {c.model.precision} -> {run_dir}", file=sys.stderr)
    return _report(trainer.run())


def _resume_training(args: argparse.Namespace) -> int:
    from rnn_timescales.training.trainer import Trainer

    fixed = {"--preset": args.preset, "--config": args.config, "--task": args.task, "--curriculum": args.curriculum,
             "--model": args.model, "--hidden": args.hidden, "--seed": args.seed, "--device": args.device, "--precision": args.precision,
             "--out": args.out}
    given = [flag for flag, value in fixed.items() if value is not None]
    if given:
        raise UsageError(f"--resume continues a run as it was configured; {given[0]} cannot be given with it")
    overrides = list(args.overrides)
    for key, value in (("training.max_epochs", args.max_epochs), ("training.target_n", args.target_n),
                       ("training.target_level", args.target_level), ("training.time_budget_s", args.time_budget)):
        if value is not None:
            overrides.append(f"{key}={value}")
    trainer = Trainer.resume(args.resume, overrides, progress=not args.no_progress)
    pending = trainer.pending_stop_reason()
    if pending is not None:
        print(f"run {args.resume} already stopped ({pending}) after {trainer.epoch} epochs; nothing to train "
              "(extend it with --max-epochs, --target-n or --time-budget)", file=sys.stderr)
        # a run killed after its last state but before its summary gets its summary and final weights now
        trainer.progress = False
        trainer.run()
        return 0
    where = f"epoch {trainer.epoch + 1}, step {trainer.step}" if trainer.mode == "resume" else "the start"
    print(f"resuming {args.resume} at {where}", file=sys.stderr)
    return _report(trainer.run())


def _report(result) -> int:
    """Print how a training stopped; the exit code: 0, 1 (diverged) or 130 (interrupted)."""
    if result.stop_reason == "diverged":
        print(f"rnn-timescales: error: {result.message}", file=sys.stderr)
        return 1
    if result.solved:
        solved = f"N = {result.solved[0][0]}..{result.n_solved}"
    elif result.levels_solved:
        solved = ", ".join(f"{k}={v}" for k, v in result.levels_solved[-1].items()) or "the task"
    else:
        solved = "nothing"
    print(f"stopped ({result.stop_reason}) after {len(result.metrics)} epochs; solved {solved}; "
          f"run directory: {result.run_dir}")
    if result.stop_reason == "interrupted":
        print(f"rnn-timescales: interrupted; the training state is saved: rnn-timescales train --resume {result.run_dir}",
              file=sys.stderr)
        return 130
    return 0


# --- evaluate ------------------------------------------------------------------------------------
def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="accuracy per head (parity and DMS: end-of-sequence and streaming)",
        description="Evaluate a run directory (its latest checkpoint), one of our checkpoints, or a checkpoint "
        "of the paper's code (recognised automatically): accuracy of every head at the level it was trained at "
        "(parity and DMS: on its N, at the end of fresh sequences and in streaming mode).",
    )
    p.add_argument("path", metavar="RUN_OR_CHECKPOINT")
    p.add_argument("--json", action="store_true",
                   help='print {"heads": [{"head", "accuracy", ...}]} (parity and DMS add "n" and "streaming_accuracy")')
    p.add_argument("--batches", type=_positive_int, default=50, help="end-of-sequence batches (default 50)")
    p.add_argument("--batch-size", type=_positive_int, default=256, help="sequences per batch (default 256)")
    p.add_argument("--streams", type=_positive_int, default=10,
                   help="independent streams for streaming accuracy (default 10)")
    p.add_argument("--warmup", type=_non_negative_int, default=100, help="streaming warm-up steps (default 100)")
    p.add_argument("--length", type=_positive_int, default=1000, help="streaming steps scored (default 1000)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="seed for the evaluation data")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from rnn_timescales.evaluation import evaluate_checkpoint
    from rnn_timescales.training.checkpoints import load_any
    from rnn_timescales.training.trainer import resolve_device

    if args.device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"--device must be auto, cpu or cuda, got {args.device!r}")
    device = resolve_device(args.device)
    ckpt = load_any(args.path)
    if ckpt.ns is not None and args.warmup < max(ckpt.ns) - 1:
        raise UsageError(f"--warmup {args.warmup} is shorter than N - 1 = {max(ckpt.ns) - 1} for this checkpoint's "
                         f"largest N; streaming labels need a full window")
    table = evaluate_checkpoint(
        ckpt,
        n_batches=args.batches,
        batch_size=args.batch_size,
        n_streams=args.streams,
        warmup=args.warmup,
        length=args.length,
        seed=args.seed,
        device=device,
    )
    if args.json:
        heads = [{k: (int(v) if k in ("head", "n") else float(v)) for k, v in row.items()}
                 for row in table.to_dict(orient="records")]
        print(json.dumps({"checkpoint": str(ckpt.path), "task": ckpt.task, "curriculum": ckpt.curriculum,
                          "level": ckpt.level, "heads": heads}))
    else:
        print(f"{ckpt.path}  ({ckpt.source} checkpoint, {ckpt.curriculum} curriculum, {ckpt.task})")
        print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return 0


# --- import-reference ----------------------------------------------------------------------------
def _add_import_reference(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-reference",
        help="turn checkpoints of the paper's code into run directories",
        description="Convert checkpoints written by the paper's public code (files, folders named "
        "{cumulative|single|sliding_W_F}_{parity|dms}_network_K, or a folder of them) into run directories, "
        "one per network folder, that every command accepts. Files are loaded with weights_only=True.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--out", default="runs", metavar="ROOT", help="folder to hold the run directories (default: runs)")
    p.set_defaults(func=cmd_import_reference)


def cmd_import_reference(args: argparse.Namespace) -> int:
    from rnn_timescales.interop import import_reference

    for run_dir in import_reference(args.paths, args.out):
        ckpts = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
        print(f"{run_dir}  ({len(ckpts)} checkpoints: {', '.join(ckpts)})")
    return 0


# --- analyze -------------------------------------------------------------------------------------
def _add_analyze(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="trained tau, tau_net, dimensionality and Jacobian timescales per checkpoint",
        description="Simulate each checkpoint on Bernoulli input and measure where its memory lives: trained "
        "tau, network-mediated tau_net (autocorrelation fits), population autocorrelation, PCA dimensionality "
        "and timescales of the linearised dynamics. PATH: a run directory (every solved N), a directory of "
        "checkpoints, or checkpoint files (ours or the paper code's).",
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--n", type=_positive_int, nargs="+", metavar="N", help="only the checkpoints of these N")
    p.add_argument("--steps", type=_positive_int, default=100_000, help="analysed steps per trial (default 10^5)")
    p.add_argument("--trials", type=_positive_int, default=10, help="trials (default 10)")
    p.add_argument("--burn-in", type=_non_negative_int, default=500, help="discarded steps (default 500)")
    p.add_argument("--max-lag", type=_positive_int, default=200, help="autocorrelation lags kept (default 200)")
    p.add_argument("--fit-lag", type=_positive_int, default=30, help="lags fitted (default 30)")
    p.add_argument("--method", default="parsimonious", help="model selection: parsimonious (default) or paper")
    p.add_argument("--bias-correction", action="store_true", help="correct tau_net for finite-sample bias")
    p.add_argument("--tau-net-intervals", type=_non_negative_int, default=0, metavar="B",
                   help="95%% interval of every tau_net from B trial resamples (columns tau_net_low, "
                   "tau_net_high; B = 100 adds about 10 s per checkpoint at the paper's scale; default 0: off)")
    p.add_argument("--include-init", action="store_true", help="also analyse the untrained network")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="seed for inputs and initial states")
    p.add_argument("--out", metavar="DIR", help="output directory (default RUN_DIR/analysis, else ./analysis/<name>)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_analyze)


def cmd_analyze(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rnn_timescales.analysis.report import (
        AnalysisSettings, analyze_checkpoint, check_out_dir, checkpoints_to_analyze, default_out_dir, write_analysis)
    from rnn_timescales.analysis.timescales import METHODS
    from rnn_timescales.training.checkpoints import load_any

    if args.method not in METHODS:
        raise UsageError(f"--method must be one of {', '.join(METHODS)}, got {args.method!r}")
    if args.fit_lag < 2 or args.fit_lag > args.max_lag:
        raise UsageError(f"--fit-lag must be between 2 and --max-lag ({args.max_lag}), got {args.fit_lag}")
    if args.steps <= args.max_lag:
        raise UsageError(f"--steps ({args.steps}) must exceed --max-lag ({args.max_lag})")
    if 0 < args.tau_net_intervals < 20:
        raise UsageError(f"--tau-net-intervals needs at least 20 resamples (or 0 for none), got {args.tau_net_intervals}")
    files = checkpoints_to_analyze(args.paths, args.n, include_init=args.include_init)
    settings = AnalysisSettings(n_trials=args.trials, n_steps=args.steps, burn_in=args.burn_in,
                                max_lag=args.max_lag, fit_lag=args.fit_lag, method=args.method,
                                bias_correction="analytic" if args.bias_correction else None, seed=args.seed,
                                tau_net_intervals=args.tau_net_intervals)
    out = Path(args.out) if args.out else default_out_dir(args.paths[0])
    try:
        check_out_dir(out)
    except ValueError as e:
        raise UsageError(str(e)) from None
    results = []
    checkpoints = [load_any(f) for f in files]  # every file is checked before any work starts
    with tqdm(total=len(files) * args.steps, unit="step", unit_scale=True, disable=args.no_progress,
              file=sys.stderr) as bar:
        for ckpt in checkpoints:
            bar.set_description(f"N={ckpt.n_max}")
            results.append(analyze_checkpoint(ckpt, settings, progress=bar.update))
    write_analysis(results, out, settings)
    import pandas as pd

    summary = pd.DataFrame([r.summary for r in results])
    cols = ["n_max", "tau_median", "tau_gate_median", "tau_net_median", "tau_net_cell_median", "population_tau_net",
            "dimensionality", "jacobian_tau_max"]
    cols = [c for c in cols if c in ("n_max", "tau_net_median") or summary[c].notna().any()]  # the model's own
    if summary["n_max"].isna().all():  # a task without N: the curriculum's level names the checkpoint
        summary[summary["level_name"].iloc[0]] = summary["level"]
        cols[0] = summary["level_name"].iloc[0]
    print(summary[cols].to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print(f"wrote {out}/summary.csv, neurons.csv, jacobian.csv, autocorrelations.npz, figures/")
    return 0


# --- timescales ----------------------------------------------------------------------------------
def _add_timescales(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "timescales",
        help="timescales of recorded or simulated activity (spike counts too), with intervals",
        description="Timescales of every unit of DATA (.npy, .npz, .csv): autocorrelation, a fit of one or two "
        "exponential components plus white noise at lag 0, a simulation-calibrated model choice, and a "
        "parametric bootstrap for the bias correction and the intervals (docs/timescales.md). Writes "
        "timescales.csv (one row per unit), timescales.json and figures/.",
    )
    p.add_argument("data", metavar="DATA")
    p.add_argument("--axes", required=True, help="the data's axes in order, from time, trials, units "
                   "(e.g. trials,time or time,trials,units)")
    p.add_argument("--dt", type=_positive_float, default=1.0, help="bin size or sampling interval; the unit of "
                   "the timescales in the output (default 1 = steps)")
    p.add_argument("--unit", default=None, help="name of the unit of --dt for the figure (e.g. ms)")
    p.add_argument("--kind", choices=["continuous", "counts"], help="kind of data (default: counts for "
                   "non-negative integers, else continuous; the guess is printed)")
    p.add_argument("--key", help="array to read from a .npz holding several")
    p.add_argument("--max-lag", type=_positive_int, help="fit lags 0..MAX_LAG steps (default a fifth of a trial, "
                   "at most 500)")
    p.add_argument("--models", default="1exp,2exp", help="candidate models, simplest first: 1exp,2exp (default) "
                   "or 1exp,2exp,3exp")
    p.add_argument("--oscillation", action="store_true", help="add a damped oscillation to every model")
    p.add_argument("--interval", default="bootstrap", help="bootstrap (default: parametric, with bias "
                   "correction), trials (resample trials; fast) or none")
    p.add_argument("--n-boot", type=_positive_int, default=100, help="simulated data sets per unit (default 100)")
    p.add_argument("--level", type=_positive_float, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--seed", type=_non_negative_int, default=0)
    p.add_argument("--device", default="cpu", help="torch device of the simulations (cpu, cuda)")
    p.add_argument("--out", metavar="DIR", help="output directory (default ./timescales/<DATA name>)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_timescales)


def cmd_timescales(args: argparse.Namespace) -> int:
    from rnn_timescales.studies import recorded_timescales as rt

    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    if not models or any(m not in ("1exp", "2exp", "3exp") for m in models) or list(models) != sorted(set(models)):
        raise UsageError(f"--models must be an increasing selection of 1exp, 2exp, 3exp, got {args.models!r}")
    if not 0.5 <= args.level < 1:
        raise UsageError(f"--level must be in [0.5, 1), got {args.level}")
    if args.interval != "none" and args.n_boot < 20:
        raise UsageError(f"--n-boot must be at least 20, got {args.n_boot}")
    if args.device != "cpu":
        import torch

        try:
            torch.empty(1, device=args.device)
        except (RuntimeError, ValueError) as e:
            raise UsageError(f"--device {args.device!r} is not available here: {str(e).splitlines()[0]}") from None
    out = Path(args.out) if args.out else Path("timescales") / Path(args.data).stem
    try:
        x, kind, guessed = rt.prepare(args.data, args.axes, args.kind, args.dt, args.max_lag, args.interval, args.key)
        rt.check_out(out)
        if args.interval == "trials" and x.shape[1] < 20:
            raise ValueError(f"--interval trials resamples trials and needs at least 20, got {x.shape[1]}")
    except ValueError as e:
        raise UsageError(str(e)) from None
    n_steps, n_trials, n_units = x.shape
    if guessed:
        print(f"kind: {kind} (guessed from {'integer' if kind == 'counts' else 'non-integer'} data; "
              f"--kind to say otherwise)", file=sys.stderr)
    print(f"{n_units} unit(s), {n_trials} trials x {n_steps} steps of {args.dt:g}", file=sys.stderr)
    from tqdm import tqdm

    with tqdm(total=n_units, unit="unit", disable=args.no_progress, file=sys.stderr) as bar:
        est = rt.run(x, kind, args.dt, max_lag=args.max_lag, models=models, oscillation=args.oscillation,
                     interval=args.interval, n_boot=args.n_boot, level=args.level, seed=args.seed,
                     device=args.device, progress=lambda done, total: bar.update(1))
    rt.write(est, out, args.unit or ("steps" if args.dt == 1 else f"x {args.dt:g}"))
    if args.json:
        print(json.dumps(rt.to_json(est)))
    else:
        cols = [c for c in est.table.columns if c == "unit" or c == "model" or (c.startswith(("tau_", "weight_"))
                and not c.endswith("_raw"))]
        print(est.table[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"wrote {out}/{rt.TABLE}, timescales.json, figures/", file=sys.stderr)
    return 0


# --- extrapolate ---------------------------------------------------------------------------------
def _add_extrapolate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "extrapolate",
        help="delayed recall: accuracy against the delay, far beyond the delays trained",
        description="For delayed-recall networks (run directories, at their last level solved, or checkpoint files, "
        "e.g. RUN_DIR/checkpoints/final.safetensors for the end of a run that advanced on a schedule): "
        "accuracy at the response step against the delay t_a - t_s, from the minimum gap up to --max-delay "
        "(default 5 times the trained T_max), on held-out images. Writes extrapolation.csv and extrapolation.png "
        "(all networks on one figure) and prints the table.",
    )
    p.add_argument("paths", nargs="+", metavar="RUN_OR_CHECKPOINT")
    p.add_argument("--max-delay", type=_positive_int, metavar="D", help="largest delay (default: --factor x trained T_max)")
    p.add_argument("--factor", type=_positive_int, default=5, help="default largest delay as a multiple of T_max (default 5)")
    p.add_argument("--trials", type=_positive_int, default=256, help="trials per delay (default 256)")
    p.add_argument("--labels", nargs="+", metavar="NAME", help="names of the networks in the table and figure "
                   "(default: run directory names)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="seed for the trials")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--out", metavar="DIR", help="output directory (default RUN_DIR/extrapolation for one run, "
                   "else ./extrapolation/<names>)")
    p.add_argument("--json", action="store_true",
                   help='print {"delays": [{"delay", "accuracy", "n_trials", ...}], ...} ({"runs": [...]} for several)')
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_extrapolate)


def cmd_extrapolate(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from rnn_timescales.analysis.extrapolation import TABLE, extrapolation_delays, recall_by_delay, write_extrapolation
    from rnn_timescales.analysis.report import check_out_dir
    from rnn_timescales.tasks import DelayedRecall
    from rnn_timescales.training.checkpoints import is_run_dir, load_any
    from rnn_timescales.training.trainer import resolve_device

    if args.device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"--device must be auto, cpu or cuda, got {args.device!r}")
    if args.labels is not None and len(args.labels) != len(args.paths):
        raise UsageError(f"--labels names {len(args.labels)} networks but {len(args.paths)} were given")
    device = resolve_device(args.device)
    checkpoints = [load_any(path) for path in args.paths]  # every file is checked before any work starts
    runs = []
    for path, ckpt in zip(args.paths, checkpoints):
        task = ckpt.make_task()
        if not isinstance(task, DelayedRecall):
            raise UsageError(f"{path!r} is a network trained on {ckpt.task}; extrapolate needs a delayed-recall network")
        task.check()
        t_max = ckpt.level["max_delay"]
        try:
            delays = extrapolation_delays(t_max, task.params.min_gap, args.max_delay, args.factor)
        except ValueError as e:
            raise UsageError(f"--max-delay: {e} of {path!r}") from None
        run_dir = ckpt.path.parent.parent  # checkpoints sit in RUN_DIR/checkpoints/
        name = run_dir.name if is_run_dir(run_dir) else ckpt.path.stem
        runs.append((ckpt, task, delays, name))
    names = args.labels or [name for *_, name in runs]
    if args.out:
        out = Path(args.out)
    elif len(runs) == 1 and Path(args.paths[0]).is_dir():
        out = Path(args.paths[0]) / "extrapolation"
    else:
        out = Path("extrapolation") / "_vs_".join(names)
    try:
        check_out_dir(out, marker=TABLE, what="extrapolation")
    except ValueError as e:
        raise UsageError(str(e)) from None
    tables = []
    total = sum(len(delays) for _, _, delays, _ in runs) * args.trials
    with tqdm(total=total, unit="trial", unit_scale=True, disable=args.no_progress, file=sys.stderr) as bar:
        for (ckpt, task, delays, _), name in zip(runs, names):
            bar.set_description(name)
            generator = torch.Generator(device=device).manual_seed(args.seed)
            table = recall_by_delay(ckpt.model, task, ckpt.level, delays, args.trials, generator, device, bar.update)
            table.insert(0, "run", name)
            table.insert(1, "checkpoint", str(ckpt.path))
            table["trained_max_delay"] = ckpt.level["max_delay"]
            table["n_classes"] = ckpt.level["n_classes"]
            tables.append(table)
    written = write_extrapolation(tables, out)
    if args.json:
        entries = [{"run": t["run"].iloc[0], "checkpoint": t["checkpoint"].iloc[0],
                    "trained_max_delay": int(t["trained_max_delay"].iloc[0]), "n_classes": int(t["n_classes"].iloc[0]),
                    "delays": [{"delay": int(r.delay), "accuracy": float(r.accuracy), "n_trials": int(r.n_trials),
                                "null_accuracy": float(r.null_accuracy)} for r in t.itertuples()]}
                   for t in tables]
        print(json.dumps(entries[0] if len(entries) == 1 else {"runs": entries}))
    else:
        for t in tables:
            print(f"{t['run'].iloc[0]}  ({t['checkpoint'].iloc[0]}, trained T_max {t['trained_max_delay'].iloc[0]}, "
                  f"{t['n_classes'].iloc[0]} classes)")
            print(t[["delay", "accuracy", "n_trials", "null_accuracy"]].to_string(index=False, float_format=lambda x: f"{x:.4f}"))
        print(f"wrote {written['table']} and {written['figure']}")
    return 0


# --- compare-models ------------------------------------------------------------------------------
def _add_compare_models(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare-models",
        help="leaky RNN, GRU and LSTM x single- and multi-head: largest N against epochs and wall time",
        description="Train every (model, curriculum) pair on one task under the same budget (epochs by default; "
        "wall time is recorded too) and write comparison.csv, comparison_curves.csv and figures of the largest N "
        "solved against epochs and against wall time. The leaky RNN trains with the quick preset's optimiser, the "
        "GRU and the LSTM with the gated preset's (Adam, lr 1e-3); all share the quick preset's epochs (100 "
        "batches of 256, 10 evaluation batches) unless --set changes them. Running it again on the same --out "
        "continues it (a larger --max-epochs or --time-budget extends the runs).",
    )
    p.add_argument("--models", nargs="+", default=["leaky_rnn", "gru", "lstm"], metavar="MODEL",
                   help="models to compare (default: leaky_rnn gru lstm)")
    p.add_argument("--curricula", nargs="+", default=["single", "multi"], metavar="KIND",
                   help="N curricula to compare (default: single multi)")
    p.add_argument("--task", default="parity", help="an N task: parity (default) or dms")
    p.add_argument("--hidden", type=_positive_int, default=64, help="units H of every model (default 64)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="seed of every run (default 0)")
    p.add_argument("--max-epochs", type=_positive_int, default=30, help="epoch budget per run (default 30)")
    p.add_argument("--time-budget", type=_positive_float, metavar="SECONDS",
                   help="also stop each run after this much wall time (default: no time limit)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting for every run, e.g. --set training.batch_size=64 (repeatable)")
    p.add_argument("--workers", type=_positive_int, default=1, help="runs trained at once, one process each (default 1)")
    p.add_argument("--threads", type=_positive_int, default=1, help="torch threads per run (default 1)")
    p.add_argument("--out", metavar="DIR", help="output directory (default comparisons/<task>_h<H>_seed<S>_<time>)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_compare_models)


def cmd_compare_models(args: argparse.Namespace) -> int:
    import time

    from tqdm import tqdm

    from rnn_timescales.experiments.compare_models import check_comparison_dir, comparison_configs, run_comparison

    configs = comparison_configs(args.models, args.curricula, task=args.task, hidden=args.hidden, seed=args.seed,
                                 max_epochs=args.max_epochs, time_budget_s=args.time_budget, overrides=args.overrides)
    out = Path(args.out) if args.out else Path("comparisons") / (
        f"{args.task}_h{args.hidden}_seed{args.seed}_{time.strftime('%Y%m%d-%H%M%S')}")
    check_comparison_dir(out, configs)
    print(f"comparing {', '.join(configs)}: {args.max_epochs} epochs each"
          + (f", at most {args.time_budget:g} s each" if args.time_budget else "")
          + f", {args.workers} at a time -> {out}", file=sys.stderr)
    with tqdm(total=len(configs), unit="run", disable=args.no_progress, file=sys.stderr) as bar:
        def done(name: str, summary: dict) -> None:
            bar.update(1)
            bar.write(f"{name}: largest N {summary.get('n_max_solved')} after {summary.get('epochs')} epochs, "
                      f"{summary.get('wall_time_s', 0):.0f} s ({summary.get('stop_reason')})", file=sys.stderr)

        result = run_comparison(configs, out, workers=args.workers, threads=args.threads, on_done=done)
    cols = ["model", "curriculum", "largest_n", "epochs", "wall_time_s", "epoch_largest_n", "time_largest_n_s"]
    print(result.table[cols].to_string(index=False, float_format=lambda x: f"{x:.0f}"))
    print(f"wrote {out}/comparison.csv, comparison_curves.csv, figures/")
    return 0



# --- robustness ----------------------------------------------------------------------------------
def _heads_option(text: str):
    """--head: newest, all, or comma-separated N values."""
    if text in ("newest", "all"):
        return text
    try:
        ns = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected newest, all or N values like 5 or 2,5,8, got {text!r}") from None
    if any(n < 1 for n in ns):
        raise argparse.ArgumentTypeError(f"expected positive N values, got {text!r}")
    return ns


class _Choices:
    """Allowed values read from ``module.name`` only when argparse needs them: the analysis modules
    import torch, which building the parser (for every command) should not pay for."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def _values(self) -> list:
        import importlib

        return list(getattr(importlib.import_module(self.module), self.name))

    def __contains__(self, value: object) -> bool:
        return value in self._values()

    def __iter__(self):
        return iter(self._values())


def _add_robustness(sub: argparse._SubParsersAction) -> None:
    robustness = "rnn_timescales.analysis.robustness"
    p = sub.add_parser(
        "robustness",
        help="perturbation, ablation, retraining, forgetting, continuation, transfer and continuous time of trained "
        "networks",
        description="Robustness of trained networks (docs/science.md, robustness), with the paper's settings by default. "
        "PATH: a run directory (its last checkpoint, or --n), a checkpoint, or a folder of the paper code's "
        "checkpoints; several PATHs are compared (one curve each). retrain, continuation and transfer train runs "
        "into DIR/robustness/runs/ (a second call reuses finished runs and resumes interrupted ones). What each kind "
        "computes: docs/robustness.md.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--kind", action="append", required=True, choices=_Choices(f"{robustness}.report", "KINDS"),
                   metavar="KIND", help="analysis to run (repeatable): %(choices)s")
    p.add_argument("--n", type=_positive_int, metavar="N",
                   help="the checkpoint of this largest N (forgetting: the checkpoints up to it); default the last")
    p.add_argument("--head", type=_heads_option, metavar="HEAD",
                   help="heads scored: newest, all or N values (default: newest; continuous: all)")
    p.add_argument("--repeats", type=_positive_int, default=10, help="streams (the paper's trials) per measurement (default 10)")
    p.add_argument("--warmup", type=_non_negative_int, default=100, help="unscored steps per stream (default 100)")
    p.add_argument("--length", type=_positive_int, default=1000, help="scored steps per stream (default 1000)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="seed for streams, perturbations and random choices")
    p.add_argument("--baseline", choices=_Choices(f"{robustness}.streams", "BASELINES"), metavar="HOW", default="max",
                   help="relative accuracy divides by the max (the paper's plots, default) or the mean of the "
                   "unchanged network's accuracies: %(choices)s")
    eps = _number(float, 0.0, False, "a non-negative number")
    p.add_argument("--w-epsilons", type=eps, nargs="+", metavar="EPS",
                   help="strengths for perturb-w (default: 0 and 10 log-spaced in [0.01, 10])")
    p.add_argument("--w-mode", choices=_Choices(f"{robustness}.changes", "W_MODES"), metavar="MODE",
                   default="normalized", help="perturbation of W: %(choices)s (default %(default)s)")
    p.add_argument("--w-direction", choices=_Choices(f"{robustness}.changes", "DIRECTIONS"), metavar="HOW",
                   default="offdiag", help="normalise W's noise off the diagonal (offdiag, default) or over all "
                   "entries as the paper code (paper)")
    p.add_argument("--tau-epsilons", type=eps, nargs="+", metavar="EPS",
                   help="strengths for perturb-tau (default: 0 and 13 log-spaced in [0.001, 10])")
    p.add_argument("--tau-mode", choices=_Choices(f"{robustness}.changes", "TAU_MODES"), metavar="MODE",
                   default="normalized_abs", help="perturbation of tau: %(choices)s (default %(default)s)")
    p.add_argument("--ablate", choices=("tau", "tau-net", "random"), default="tau",
                   help="neurons silenced: smallest and largest trained tau (default), tau_net, or random")
    p.add_argument("--ablate-count", type=_positive_int, default=20, help="neurons from each end, or at random (default 20)")
    p.add_argument("--group-size", type=_positive_int, default=1, help="neurons silenced together (default 1: one at a time)")
    p.add_argument("--readout-rule", choices=_Choices(f"{robustness}.changes", "ABLATION_RULES"), metavar="RULE",
                   default="spec", help="spec: zero the neuron's column of every head (default); paper: of head 0 only")
    p.add_argument("--neurons-csv", metavar="FILE", help="neurons.csv of `analyze` for --ablate tau-net "
                   "(default: where analyze writes it for PATH)")
    p.add_argument("--ks", type=_positive_int, nargs="+", metavar="K", help="repetitions k for continuous "
                   "(default: 1..20, 25..50 step 5, 60..100 step 10, 150, 200)")
    p.add_argument("--continuous-mode", choices=_Choices(f"{robustness}.sweeps", "CONTINUOUS_MODES"), metavar="MODE",
                   default="sequence",
                   help="sequence: training-style sequences read at the end, as the paper code (default); "
                   "streaming: the streams, read at the last repeat of every input")
    p.add_argument("--sequences", type=_positive_int, default=256, help="sequences per k in sequence mode (default 256)")
    p.add_argument("--retrain-w", type=_positive_float, nargs="+", metavar="EPS",
                   help="retrain: perturbations of W to retrain from (default, with none of --retrain-*: W 0.464, tau 0.1)")
    p.add_argument("--retrain-tau", type=_positive_float, nargs="+", metavar="EPS", help="retrain: perturbations of tau")
    p.add_argument("--retrain-ablate", nargs="+", metavar="GROUP", choices=("short", "long", "random"),
                   help="retrain: silence a group at once: short, long (the --ablate-count neurons of smallest or "
                   "largest tau, or tau_net with --ablate tau-net) or random")
    p.add_argument("--retrain-draws", type=_positive_int, default=1, metavar="R", help="retrain: perturbations per strength (default 1)")
    p.add_argument("--transfer-task", metavar="TASK", help="transfer: the task to train on (default: parity <-> dms)")
    p.add_argument("--new-n", type=_positive_int, default=5, metavar="K",
                   help="continuation: train until N_max + K is solved; transfer: until N = K + 1 (one N per level; "
                   "a sliding window: its first N_max + K - 1) (default 5)")
    p.add_argument("--preset", choices=("quick", "paper"), default="quick",
                   help="retrain, continuation, transfer: the epoch structure of this preset (quick: 100 training and "
                   "10 evaluation batches; paper: 600 and 50)")
    p.add_argument("--epochs", type=_positive_int, help="retrain: epochs of retraining (default 20, the paper's); "
                   "continuation, transfer: most epochs per run (default 100)")
    p.add_argument("--time-budget", type=_positive_float, metavar="SECONDS", help="wall-clock limit of each training run")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting of every training run, e.g. --set optimizer.lr=0.01 (repeatable)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument("--out", metavar="DIR", help="write into DIR/robustness (default RUN_DIR/robustness, else "
                   "./robustness/<name>)")
    p.add_argument("--json", action="store_true", help="print the summaries as JSON")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=cmd_robustness)


def cmd_robustness(args: argparse.Namespace) -> int:
    import pandas as pd
    from tqdm import tqdm

    from rnn_timescales.analysis.robustness.report import (
        KINDS, RobustnessSettings, check_out_dir, default_out_dir, resolve_networks, summarize, write_report)
    from rnn_timescales.analysis.robustness.retraining import TrainingPlan
    from rnn_timescales.analysis.robustness.streams import StreamingProtocol
    from rnn_timescales.analysis.robustness.sweeps import PAPER_KS
    from rnn_timescales.training.trainer import resolve_device

    if args.device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"--device must be auto, cpu or cuda, got {args.device!r}")
    device = str(resolve_device(args.device))
    try:
        settings = RobustnessSettings(
            protocol=StreamingProtocol(args.repeats, args.warmup, args.length, args.seed), heads=args.head,
            baseline=args.baseline, n=args.n, w_epsilons=args.w_epsilons and tuple(args.w_epsilons),
            w_mode=args.w_mode, direction=args.w_direction, tau_epsilons=args.tau_epsilons and tuple(args.tau_epsilons),
            tau_mode=args.tau_mode, ablate_by=args.ablate.replace("-", "_"), n_ablate=args.ablate_count,
            group_size=args.group_size, rule=args.readout_rule,
            neurons_csv=Path(args.neurons_csv) if args.neurons_csv else None,
            ks=tuple(args.ks) if args.ks else PAPER_KS, continuous_mode=args.continuous_mode,
            n_sequences=args.sequences, device=device,
            training=TrainingPlan(preset=args.preset, epochs=args.epochs, time_budget_s=args.time_budget,
                                  new_n=args.new_n, overrides=tuple(args.overrides), device=device,
                                  progress=not args.no_progress),
            retrain_w=args.retrain_w and tuple(args.retrain_w), retrain_tau=args.retrain_tau and tuple(args.retrain_tau),
            retrain_ablate=tuple(args.retrain_ablate or ()), retrain_draws=args.retrain_draws,
            transfer_task=args.transfer_task)
        networks = resolve_networks(args.paths)
        out = Path(args.out) / "robustness" if args.out else default_out_dir(networks)
        check_out_dir(out)
        settings.runs_dir = out / "runs"
        # every checkpoint is loaded and every choice checked before any work starts
        jobs = [(KINDS[k], net, KINDS[k].prepare(net, settings)) for k in dict.fromkeys(args.kind) for net in networks]
    except ValueError as e:
        raise UsageError(str(e)) from None
    results: dict[str, list] = {}
    for kind, net, job in jobs:
        with tqdm(desc=f"{kind.name} {net.name}", disable=args.no_progress, file=sys.stderr) as bar:
            def progress(done: int, total: int, bar=bar) -> None:
                if bar.total != total:
                    bar.total = total
                    bar.refresh()
                bar.update(done)

            results.setdefault(kind.name, []).append(job(progress))
    tables = {k: pd.concat(v, ignore_index=True) for k, v in results.items()}
    paths = write_report(tables, out, settings)
    summaries = {k: summarize(k, t) for k, t in tables.items()}
    if args.json:
        print(json.dumps({"out": str(out), "networks": [n.name for n in networks],
                          **{k: json.loads(s.to_json(orient="records")) for k, s in summaries.items()}}))
        return 0
    for kind, s in summaries.items():
        print(f"== {kind}")
        if kind.startswith("perturb"):
            s = s.pivot(index="epsilon", columns=["network", "n"], values="relative_accuracy")
            print("relative accuracy (mean over repeats)")
        elif kind == "continuous":
            s = s.pivot(index="k", columns=["network", "n"], values="accuracy")
        print(s.to_string(float_format=lambda x: f"{x:.3g}"))
    print(f"wrote {', '.join(str(p.relative_to(out)) for p in paths)} in {out}")
    return 0


# --- sweep ---------------------------------------------------------------------------------------
def _add_sweep(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="train (and analyse) many runs from a sweep spec; 'sweep status DIR', 'sweep analyze DIR'",
        description="rnn-timescales sweep SPEC.yaml --out DIR: train every point of a sweep (a base configuration "
        "crossed with a grid and/or a list of runs), each in its own run directory under DIR, on a local process "
        "pool or Ray, then run the spec's analyses; re-running skips finished runs and resumes interrupted ones. "
        "rnn-timescales sweep status DIR [--json]: done / running / failed / pending. "
        "rnn-timescales sweep analyze DIR: run the analyses (the spec's, else timescales) on every finished run.",
    )
    p.add_argument("target", metavar="SPEC.yaml|status|analyze", help="a sweep spec (or a sweep directory to "
                   "continue), or the action status / analyze")
    p.add_argument("dir", nargs="?", metavar="DIR", help="the sweep directory (for status and analyze)")
    p.add_argument("--out", metavar="DIR", help="sweep directory (default: runs/<spec name>)")
    p.add_argument("--backend", default="local", help="local (a process pool, default) or ray")
    p.add_argument("--workers", type=_positive_int, help="runs at once (local default: cores / threads)")
    p.add_argument("--threads", type=_positive_int, help="torch threads per run (default: the spec's, else 1)")
    p.add_argument("--gpus", type=_number(float, 0.0, False, "a non-negative number"),
                   help="GPUs per run on Ray (default: the spec's, else 0)")
    p.add_argument("--address", help="Ray cluster address (e.g. auto or HOST:PORT); default: a local Ray instance")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting of every run (e.g. training.time_budget_s=60) or of an analysis "
                   "(analyze.timescales.n_steps=20000); repeatable")
    p.add_argument("--no-analyze", action="store_true", help="train only; skip the spec's analyses")
    p.add_argument("--json", action="store_true", help='status: print {"done": n, "running": n, "failed": n, "pending": n}')
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    import dataclasses

    from rnn_timescales.experiments.sweep import ANALYSES, load_spec, run_sweep, status_counts, sweep_status

    action = args.target if args.target in ("status", "analyze") else "run"
    if action == "run" and args.dir is not None:
        raise UsageError(f"unexpected argument {args.dir!r}; give the sweep directory with --out")
    if action != "run" and args.dir is None:
        raise UsageError(f"rnn-timescales sweep {action} needs the sweep directory: rnn-timescales sweep {action} DIR")
    flags = {"--json": args.json, "--out": args.out, "--no-analyze": args.no_analyze, "--set": args.overrides,
             "--backend": args.backend != "local", "--workers": args.workers, "--threads": args.threads,
             "--gpus": args.gpus is not None, "--address": args.address}
    running = {"--set", "--backend", "--workers", "--threads", "--gpus", "--address"}
    allowed = {"status": {"--json"}, "analyze": running, "run": running | {"--out", "--no-analyze"}}[action]
    given = [f for f, v in flags.items() if v and f not in allowed]
    if given:
        raise UsageError(f"{given[0]} cannot be given with sweep {'SPEC' if action == 'run' else action}")
    if action == "status":
        spec = load_spec(args.dir)
        statuses = sweep_status(args.dir, spec)
        counts = status_counts(statuses)
        if args.json:
            print(json.dumps(counts))
            return 0
        width = max(len(s.name) for s in statuses)
        for s in statuses:
            analysed = [f"{name} {'done' if ANALYSES[name].is_current(Path(args.dir) / s.name, settings) else 'to do'}"
                        for name, settings in spec.analyze.items()] if s.status == "done" else []
            print(f"{s.name:<{width}}  {s.status:<8} {s.detail}" + (f"; {', '.join(analysed)}" if analysed else ""))
        print(", ".join(f"{v} {k}" for k, v in counts.items()))
        return 0
    if args.backend not in ("local", "ray"):
        raise UsageError(f"--backend must be local or ray, got {args.backend!r}")
    if action == "analyze":
        bad = [o for o in args.overrides if not o.startswith("analyze.")]
        if bad:
            raise UsageError(f"sweep analyze only takes analysis settings (--set analyze.NAME.key=value), got {bad[0]!r}")
        root = Path(args.dir)
        spec = load_spec(root)
        if not spec.analyze:
            spec = dataclasses.replace(spec, analyze={"timescales": ANALYSES["timescales"].validate({}, "timescales")})
    else:
        spec = load_spec(args.target)
        source = Path(args.target)
        root = Path(args.out) if args.out else (source if source.is_dir() else Path("runs") / source.stem)
    spec = spec.with_overrides(args.overrides)
    if args.no_analyze:
        spec = dataclasses.replace(spec, analyze={})
    if args.threads is not None:
        spec = dataclasses.replace(spec, threads=args.threads)
    if args.gpus is not None:
        spec = dataclasses.replace(spec, gpus=args.gpus)
    result = run_sweep(spec, root, backend=args.backend, workers=args.workers, address=args.address,
                       train=action == "run", progress=not args.no_progress,
                       log=lambda line: print(f"rnn-timescales: {line}", file=sys.stderr))
    c = result.counts
    print(f"sweep {root}: {c['done']} done, {c['failed']} failed, {c['pending'] + c['running']} unfinished "
          f"({result.ran} runs worked on, {result.wall_time_s / 60:.1f} min)")
    for s in result.statuses:
        if s.status == "failed":
            print(f"  failed: {s.name}: {s.detail} (see {root / 'errors'})")
    if result.interrupted:
        print(f"rnn-timescales: interrupted; runs in progress saved their state: rnn-timescales sweep {root} "
              "continues", file=sys.stderr)
        return 130
    return 0 if c["failed"] == 0 and c["pending"] + c["running"] == 0 else 1


# --- report --------------------------------------------------------------------------------------
def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="figures and one HTML page for a sweep or a run directory",
        description="Aggregate a sweep (runs grouped by the settings that vary other than the seed) or show one "
        "run: training curves, timescales, dimensionality and whatever analyses exist, as PNG figures and "
        "DIR/report/index.html.",
    )
    p.add_argument("dir", metavar="DIR", help="a sweep directory, a run directory, or a directory of run directories")
    p.add_argument("--out", metavar="OUT", help="report directory (default DIR/report)")
    p.add_argument("--ci", default="sem", help="spread across seeds: sem (mean ± s.e.m., default) or bootstrap "
                   "(95%% bootstrap interval of the mean)")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from rnn_timescales.experiments.report import SPREADS, write_report

    if args.ci not in SPREADS:
        raise UsageError(f"--ci must be one of {', '.join(SPREADS)}, got {args.ci!r}")
    out = write_report(args.dir, args.out, spread=args.ci)
    print(f"wrote {out / 'index.html'}")
    return 0


# --- slow-points ---------------------------------------------------------------------------------
def _add_slow_points(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "slow-points",
        help="slow and fixed points under the task's mean input, with their Jacobian timescales",
        description="Find the slow and fixed points of a trained network under a constant input (default: "
        "the task's mean input 0.5), starting from states drawn from its trajectories under the task input "
        "plus noise; report each distinct point's speed q, stability and slowest Jacobian timescales beside "
        "the network's trained tau and (when `analyze` was run on it) tau_net. RUN_OR_CHECKPOINT: a run "
        "directory (its latest checkpoint) or a checkpoint file (ours or the paper code's).",
    )
    p.add_argument("path", metavar="RUN_OR_CHECKPOINT")
    p.add_argument("--out", metavar="DIR", help="output directory (default RUN_DIR/slow_points/<checkpoint>, "
                   "else ./slow_points/<folder>_<file>)")
    p.add_argument("--initial", type=_positive_int, default=512, help="initial states (default 512)")
    p.add_argument("--noise", type=_number(float, 0.0, False, "a non-negative number"), default=0.5,
                   help="noise added to the initial states, in units of the trajectories' s.d. (default 0.5)")
    p.add_argument("--input", type=float, default=0.5, help="the constant input (default 0.5, the task's mean)")
    p.add_argument("--trials", type=_positive_int, default=16, help="input streams simulated (default 16)")
    p.add_argument("--steps", type=_positive_int, default=500, help="steps per stream after burn-in (default 500)")
    p.add_argument("--burn-in", type=_non_negative_int, default=100, help="discarded steps (default 100)")
    p.add_argument("--max-iters", type=_positive_int, help="finder iteration cap (default 5000)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                   help="any finder hyperparameter, e.g. --set tol_q=1e-10 (repeatable; docs/slow_points.md)")
    p.add_argument("--tau-net", metavar="PATH", help="`analyze` output (directory or summary.csv) to read tau_net "
                   "from (default: where `analyze` writes for this checkpoint)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="seed for inputs, initial states and noise")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_slow_points)


def _finder_overrides(items: list[str]) -> dict:
    """``NAME=VALUE`` strings -> finder hyperparameters (values parsed as YAML scalars/lists)."""
    import yaml

    from rnn_timescales.analysis.slow_points import SlowPointHyperparameters

    out = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--set {item!r} must look like NAME=VALUE, e.g. --set tol_q=1e-10")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise UsageError(f"--set {item!r}: cannot read the value {text!r}") from None
        if isinstance(value, str):  # YAML 1.1 reads 1e-9 (no dot) as text
            try:
                value = float(value)
            except ValueError:
                pass
        out[name.strip()] = value
    try:
        SlowPointHyperparameters.from_kwargs(**out)
    except (TypeError, ValueError) as e:
        raise UsageError(f"--set: {e}") from None
    return out


def cmd_slow_points(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rnn_timescales.analysis.slow_point_report import (
        SlowPointSettings, analyze_slow_points, check_slow_points_dir, default_slow_points_dir, write_slow_points)
    from rnn_timescales.analysis.slow_points import SlowPointHyperparameters
    from rnn_timescales.training.checkpoints import load_any
    from rnn_timescales.training.trainer import resolve_device

    if args.device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"--device must be auto, cpu or cuda, got {args.device!r}")
    if not abs(args.input) < float("inf"):
        raise UsageError(f"--input must be a finite number, got {args.input}")
    hyper = _finder_overrides(args.overrides)
    if args.max_iters is not None:
        hyper["max_iters"] = args.max_iters
    if hyper.get("compute_jacobians") is False:
        raise UsageError("--set compute_jacobians=false: slow-points reports Jacobian timescales; keep it true")
    device = resolve_device(args.device)
    ckpt = load_any(args.path)
    if ckpt.task == "delayed-recall":
        raise UsageError(f"{args.path!r} is a delayed-recall network: its per-class slow points come from "
                         "`rnn-timescales recall-memory`")
    out = Path(args.out) if args.out else default_slow_points_dir(args.path, ckpt.path)
    try:
        check_slow_points_dir(out)
        settings = SlowPointSettings(n_initial=args.initial, noise=args.noise, input_value=args.input,
                                     n_trials=args.trials, n_steps=args.steps, burn_in=args.burn_in, seed=args.seed,
                                     hyperparameters=hyper)
        if args.tau_net is not None:
            from rnn_timescales.analysis.slow_point_report import find_tau_net

            find_tau_net(ckpt, args.tau_net)  # a wrong --tau-net is refused before any work
    except ValueError as e:
        raise UsageError(str(e)) from None
    max_iters = hyper.get("max_iters", SlowPointHyperparameters().max_iters)
    with tqdm(total=max_iters, unit="it", disable=args.no_progress, file=sys.stderr,
              desc=f"slow points N={ckpt.n_max}") as bar:
        analysis = analyze_slow_points(ckpt, settings, device=device, tau_net=args.tau_net, progress=bar.update)
    write_slow_points(analysis, out)
    cols = ["point", "q", "stable", "n_unstable", "timescale_max", "timescale_max_decaying", "unit_timescale_max",
            "n_initial"]
    s = analysis.summary
    print(analysis.points[cols].head(20).to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    if analysis.result.n_points > 20:
        print(f"... {analysis.result.n_points - 20} more points in {out / 'slow_points.csv'}")
    where = f" (tau_net from {analysis.tau_net_source})" if analysis.tau_net_source else \
        " (no `analyze` summary found for tau_net; run `rnn-timescales analyze` or give --tau-net)"
    print(f"{s['n_points']} distinct points ({s['n_stable']} stable) from {s['n_initial']} initial states; "
          f"trained tau median {s['tau_median']:.3g}, tau_net median {s['tau_net_median']:.3g}{where}")
    print(f"wrote {out}/slow_points.csv, slow_points_summary.csv, slow_points.npz, figures/")
    return 0


# --- recall-memory -------------------------------------------------------------------------------
def _add_recall_memory(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "recall-memory",
        help="delayed recall: per-class seeds, slow points, speeds and extrapolation [H19]",
        description="For delayed-recall networks (run directories at their last level, or checkpoint files): each "
        "class's seed (mean state 15 steps after its image over correctly read-out trials, one fixed noise "
        "sequence), the slow point reached from it under the rest input (noise mean, trigger off), the readout's "
        "class there (one step with the trigger on), the speeds q at seed, slow point and class centre of mass, "
        "and each class's accuracy over the untrained delays; correlations of speed with that accuracy across "
        "classes and networks. --track follows a vocabulary-curriculum run's checkpoints: which earlier class's "
        "slow point each new class grew out of. Writes recall_slow_points.csv, recall_extrapolation.csv, "
        "recall_correlations.csv (recall_tracking*.csv) and figures/.",
    )
    p.add_argument("paths", nargs="+", metavar="RUN_OR_CHECKPOINT")
    p.add_argument("--labels", nargs="+", metavar="NAME", help="names of the networks (default: run directory names)")
    p.add_argument("--track", action="store_true", help="also analyse every checkpoint of the (one) run directory "
                   "given and write recall_tracking.csv")
    p.add_argument("--seed-steps", type=_positive_int, default=15, help="inputs from the image to the seed (default 15)")
    p.add_argument("--trials-per-class", type=_positive_int, default=100, help="seed trials per class (default 100)")
    p.add_argument("--centre-trials", type=_positive_int, default=1024,
                   help="held-out trials for the class centres of mass (default 1024)")
    p.add_argument("--max-delay", type=_positive_int, metavar="D", help="largest delay (default: --factor x trained T_max)")
    p.add_argument("--factor", type=_positive_int, default=5, help="default largest delay as a multiple of T_max (default 5)")
    p.add_argument("--trials", type=_positive_int, default=256, help="extrapolation trials per delay (default 256)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                   help="a finder setting over [H19]'s (Adam 1e-3 constant, 100000 steps, clip 1), e.g. --set max_iters=5000")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="seed for the trials and noise")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--out", metavar="DIR", help="output directory (default RUN_DIR/recall_memory for one run, "
                   "else ./recall_memory/<names>)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_recall_memory)


def _recall_networks(paths: list[str]) -> list:
    """The checkpoints of ``paths``, each checked to be a delayed-recall network with readable data."""
    from rnn_timescales.tasks import DelayedRecall
    from rnn_timescales.training.checkpoints import load_any

    loaded = []
    for path in paths:
        ckpt = load_any(path)
        task = ckpt.make_task()
        if not isinstance(task, DelayedRecall):
            raise UsageError(f"{path!r} is a network trained on {ckpt.task}; this command needs a delayed-recall network")
        task.check()
        loaded.append((ckpt, task))
    return loaded


def _network_name(path: str, ckpt) -> str:
    from rnn_timescales.training.checkpoints import is_run_dir

    run_dir = ckpt.path.parent.parent
    return run_dir.name if is_run_dir(run_dir) else ckpt.path.stem


def cmd_recall_memory(args: argparse.Namespace) -> int:
    import pandas as pd
    import torch
    from tqdm import tqdm

    from rnn_timescales.analysis import recall_memory as rm
    from rnn_timescales.analysis.report import check_out_dir, write_directory
    from rnn_timescales.training.checkpoints import FINAL_NAME, SUFFIX, is_run_dir, list_run_checkpoints, load_any
    from rnn_timescales.training.trainer import resolve_device

    if args.device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"--device must be auto, cpu or cuda, got {args.device!r}")
    if args.labels is not None and len(args.labels) != len(args.paths):
        raise UsageError(f"--labels names {len(args.labels)} networks but {len(args.paths)} were given")
    if args.track and (len(args.paths) != 1 or not is_run_dir(args.paths[0])):
        raise UsageError("--track follows the checkpoints of one run directory; give exactly one")
    hyper = _finder_overrides(args.overrides)
    device = resolve_device(args.device)
    networks = _recall_networks(args.paths)
    names = args.labels or [_network_name(p, c) for p, (c, _) in zip(args.paths, networks)]
    if len(set(names)) != len(names):
        raise UsageError(f"two networks share the name {next(n for n in names if names.count(n) > 1)!r}; give --labels")
    for (ckpt, task), path in zip(networks, args.paths):
        try:
            rm.extrapolation_delays_for(task, ckpt.level, args.max_delay, args.factor)
        except ValueError as e:
            raise UsageError(f"--max-delay: {e} of {path!r}") from None
    tracked = []
    if args.track:
        files = list_run_checkpoints(args.paths[0], include_init=False)
        final = Path(args.paths[0]) / "checkpoints" / (FINAL_NAME + SUFFIX)
        files += [final] if final.exists() else []
        tracked = sorted((load_any(f) for f in files), key=lambda c: (c.epoch or 0, c.path.name == FINAL_NAME + SUFFIX))
    out = Path(args.out) if args.out else (Path(args.paths[0]) / "recall_memory" if len(args.paths) == 1 and
                                          Path(args.paths[0]).is_dir() else Path("recall_memory") / "_vs_".join(names))
    try:
        check_out_dir(out, marker=rm.CLASSES, what="analysis of recall memory")
        settings = rm.RecallMemorySettings(seed_steps=args.seed_steps, trials_per_class=args.trials_per_class,
                                           centre_trials=args.centre_trials, max_delay=args.max_delay,
                                           factor=args.factor, extrapolation_trials=args.trials, seed=args.seed,
                                           hyperparameters=hyper)
    except ValueError as e:
        raise UsageError(str(e)) from None
    torch_device = torch.device(device)
    analyses, tracking = {}, []
    with tqdm(total=len(networks) + len(tracked), unit="network", disable=args.no_progress, file=sys.stderr) as bar:
        for (ckpt, task), name in zip(networks, names):
            bar.set_description(name)
            analyses[name] = rm.analyze_recall_memory(ckpt.model.to(torch_device), task, ckpt.level, settings)
            bar.update(1)
        quick = rm.RecallMemorySettings(**{**settings.__dict__, "extrapolation": False})
        for ckpt in tracked:
            bar.set_description(ckpt.path.stem)
            tracking.append((ckpt.path.stem, rm.analyze_recall_memory(ckpt.model.to(torch_device), ckpt.make_task(),
                                                                      ckpt.level, quick)))
            bar.update(1)
    classes = pd.concat([a.classes.assign(network=n, checkpoint=str(c.path), n_classes=c.level["n_classes"],
                                          max_delay=c.level["max_delay"])
                         for (n, a), (c, _) in zip(analyses.items(), networks)], ignore_index=True)
    curves = pd.concat([a.extrapolation.assign(network=n) for n, a in analyses.items()], ignore_index=True)
    correlations = rm.speed_correlations(classes, "network")

    def fill(tmp: Path) -> None:
        import matplotlib.pyplot as plt

        from rnn_timescales import plotting

        classes.to_csv(tmp / rm.CLASSES, index=False)
        curves.to_csv(tmp / rm.EXTRAPOLATION, index=False)
        correlations.to_csv(tmp / rm.CORRELATIONS, index=False)
        if tracking:
            rm.track_classes(tracking).to_csv(tmp / rm.TRACKING, index=False)
            pd.concat([a.classes.assign(checkpoint=n) for n, a in tracking], ignore_index=True).to_csv(
                tmp / rm.TRACKING_POINTS, index=False)
        (tmp / "figures").mkdir()
        figs = {"recall_slow_points_pca": plotting.plot_recall_memory_pca({n: rm.projection(a) for n, a in analyses.items()}),
                "speed_vs_extrapolation": plotting.plot_speed_vs_extrapolation(classes)}
        for name, fig in figs.items():
            fig.savefig(tmp / "figures" / f"{name}.png", dpi=130, bbox_inches="tight")
            plt.close(fig)

    write_directory(out, fill, marker=rm.CLASSES, what="analysis of recall memory")
    cols = ["network", "digit", "n_correct", "seed_q", "slow_point_q", "slow_point_readout", "centre_q",
            "extrapolation_accuracy"]
    print(classes[cols].to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print(correlations[correlations["speed"] != "seed_q"].to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    if tracking:
        print(rm.track_classes(tracking).to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print(f"wrote {out}/{rm.CLASSES}, {rm.EXTRAPOLATION}, {rm.CORRELATIONS}" + (f", {rm.TRACKING}" if tracking else "")
          + ", figures/")
    return 0


# --- speed-regularization ------------------------------------------------------------------------
def _add_speed_regularization(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "speed-regularization",
        help="delayed recall: fine-tune with and without the speed term, compare speeds and extrapolation [H19]",
        description="Fine-tune a trained delayed-recall network twice from the same weights and seed (the same "
        "batches): with lambda * sum_k q(c_k) added to the loss, and with lambda = 0 (the control); at its own level, "
        "Adam at --lr without clipping (the paper code's fine-tuning). Then measure the speeds q at the class centres "
        "of mass and at the seeds, and the extrapolation curves, of the starting network and both fine-tuned ones on "
        "the same trials. Writes OUT/regularized and OUT/control (run directories), speed_regularization*.csv and "
        "figures/.",
    )
    p.add_argument("path", metavar="RUN_OR_CHECKPOINT")
    p.add_argument("--lambda", dest="weight", type=_positive_float, default=1e-3, help="lambda (default 1e-3)")
    p.add_argument("--steps", type=_positive_int, default=5000, help="fine-tuning steps (default 5000, the paper's)")
    p.add_argument("--epoch-steps", type=_positive_int, default=100, help="steps per epoch (default 100; --steps "
                   "must be a multiple)")
    p.add_argument("--lr", type=_positive_float, default=1e-5, help="Adam's learning rate (default 1e-5, the paper's)")
    p.add_argument("--at", choices=("centres", "seeds", "slow_points"), default="centres",
                   help="where the speed is taken (default centres: the batch's class centres of mass)")
    p.add_argument("--input", choices=("mean", "noise"), default="mean",
                   help="the input of q: the noise mean (default) or fresh noise frames (the paper code's)")
    p.add_argument("--seed", type=_non_negative_int, help="seed of both fine-tunings (default: the network's run seed)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="a run setting for both fine-tunings, e.g. --set training.batch_size=64 (repeatable)")
    p.add_argument("--centre-trials", type=_positive_int, default=1024, help="trials for the class centres (default 1024)")
    p.add_argument("--max-delay", type=_positive_int, metavar="D", help="largest delay (default: 5 x trained T_max)")
    p.add_argument("--trials", type=_positive_int, default=256, help="extrapolation trials per delay (default 256)")
    p.add_argument("--measure-seed", type=_non_negative_int, default=0, help="seed of the measurement trials")
    p.add_argument("--out", metavar="DIR", help="output directory (default RUN_DIR/speed_regularization, "
                   "else ./speed_regularization/<name>)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=cmd_speed_regularization)


def cmd_speed_regularization(args: argparse.Namespace) -> int:
    from rnn_timescales.analysis import recall_memory as rm
    from rnn_timescales.experiments import speed_regularization as sr
    from rnn_timescales.training.checkpoints import load_checkpoint
    from rnn_timescales.training.trainer import resolve_device

    ((ckpt, task),) = _recall_networks([args.path])
    try:
        tuning = sr.FineTuning(weight=args.weight, at=args.at, input=args.input, steps=args.steps,
                               epoch_steps=args.epoch_steps, lr=args.lr, seed=args.seed, overrides=tuple(args.overrides))
        rm.extrapolation_delays_for(task, ckpt.level, args.max_delay)
    except ValueError as e:
        raise UsageError(str(e)) from None
    for weight in (args.weight, 0.0):  # both configurations are checked before any training
        sr.fine_tune_config(ckpt.config, ckpt.level, tuning, weight)
    name = _network_name(args.path, ckpt)
    out = Path(args.out) if args.out else (Path(args.path) / "speed_regularization" if Path(args.path).is_dir()
                                          else Path("speed_regularization") / name)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"output directory {str(out)!r} exists and is not empty; choose another --out")
    runs = sr.fine_tune_pair(ckpt, out, tuning, progress=not args.no_progress)
    device = resolve_device(ckpt.config.device)
    models = {"start": ckpt.model.to(device)}
    for label in ("control", "regularized"):
        models[label] = load_checkpoint(runs[label] / "checkpoints" / "final.safetensors").model.to(device)
    speeds, curves, summary = sr.compare_networks(models, task, ckpt.level, centre_trials=args.centre_trials,
                                                  extrapolation_trials=args.trials, max_delay=args.max_delay,
                                                  seed=args.measure_seed)
    sr.write_comparison(speeds, curves, summary, out)
    print(summary.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(f"wrote {out}/{sr.SPEEDS_TABLE}, {sr.SUMMARY_TABLE}, {sr.EXTRAPOLATION_TABLE}, figures/ "
          f"(runs: {runs['regularized']}, {runs['control']})")
    return 0


# --- entry point ---------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rnn-timescales", description="Train recurrent networks on memory tasks and "
                     "measure where their memory lives.")
    parser.add_argument("--version", action="version", version=f"rnn-timescales {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_train(sub)
    _add_evaluate(sub)
    _add_analyze(sub)
    _add_timescales(sub)
    _add_import_reference(sub)
    _add_extrapolate(sub)
    _add_compare_models(sub)
    _add_robustness(sub)
    _add_slow_points(sub)
    _add_recall_memory(sub)
    _add_speed_regularization(sub)
    _add_sweep(sub)
    _add_report(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from rnn_timescales.training.checkpoints import CheckpointError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return args.func(args)
    except (UsageError, ConfigError, CheckpointError) as e:
        print(f"rnn-timescales: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnn-timescales: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

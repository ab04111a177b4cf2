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
    p.add_argument("--preset", help="paper (the paper's exact setup), quick (default) or gated (the paper code's "
                   "LSTM setup; --model gru for a GRU)")
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
    p.add_argument("--precision", help="fp32 or bf16 (bf16 matrix products, fp32 state; leaky_rnn and gru)")
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
    print(f"training {config.model.type} (H={config.model.hidden_size}) on {config.task.name}, "
          f"{config.curriculum.kind} curriculum, preset {config.preset}, seed {config.seed}, device {trainer.device} "
          f"-> {run_dir}", file=sys.stderr)
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
        print(f"run {args.resume} already stopped ({pending}) after {trainer.epoch} epochs; nothing to do "
              "(extend it with --max-epochs, --target-n or --time-budget)", file=sys.stderr)
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
    files = checkpoints_to_analyze(args.paths, args.n, include_init=args.include_init)
    settings = AnalysisSettings(n_trials=args.trials, n_steps=args.steps, burn_in=args.burn_in,
                                max_lag=args.max_lag, fit_lag=args.fit_lag, method=args.method,
                                bias_correction="analytic" if args.bias_correction else None, seed=args.seed)
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
    print(summary[cols].to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print(f"wrote {out}/summary.csv, neurons.csv, jacobian.csv, autocorrelations.npz, figures/")
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


# --- entry point ---------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rnn-timescales", description="Train recurrent networks on memory tasks and "
                     "measure where their memory lives.")
    parser.add_argument("--version", action="version", version=f"rnn-timescales {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_train(sub)
    _add_evaluate(sub)
    _add_analyze(sub)
    _add_import_reference(sub)
    _add_extrapolate(sub)
    _add_compare_models(sub)
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

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
    p = sub.add_parser(
        "train",
        help="train a network under a curriculum (no options: the README's main job)",
        description="Train a leaky RNN with trainable timescales on N-parity or N-DMS under a curriculum. "
        "With no options: multi-head parity, 'quick' preset (about 9 minutes on a 2-core CPU).",
    )
    p.add_argument("--preset", help="paper (the paper's exact setup) or quick (default)")
    p.add_argument("--config", metavar="FILE.yaml", help="YAML file of settings, applied over the preset")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any setting, e.g. --set training.batch_size=64 (repeatable)")
    p.add_argument("--task", help="parity or dms")
    p.add_argument("--curriculum", help="single, multi, sliding or fixed")
    p.add_argument("--hidden", type=_positive_int, help="number of neurons H")
    p.add_argument("--seed", type=_non_negative_int, help="seed for every random draw")
    p.add_argument("--max-epochs", type=_positive_int, help="stop after this many epochs")
    p.add_argument("--target-n", type=_positive_int, help="stop once this N is solved")
    p.add_argument("--time-budget", type=_positive_float, metavar="SECONDS", help="stop after this much wall time")
    p.add_argument("--device", help="auto, cpu or cuda")
    p.add_argument("--precision", help="fp32 or bf16 (bf16 matrix products, fp32 state)")
    p.add_argument("--out", metavar="DIR", help="run directory to create (default: runs/<task>_<curriculum>_...)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted run exactly where it stopped; only --max-epochs, --target-n, "
                   "--time-budget and --set training.{divergence,max_rollbacks,rollback_lr_factor,state_every_s} "
                   "may be given with it")
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from rnn_timescales.config import build_config
    from rnn_timescales.training.trainer import Trainer, default_run_dir

    if args.resume:
        return _resume_training(args)
    config = build_config(
        preset=args.preset or "quick",
        config_file=args.config,
        overrides=args.overrides,
        **{
            "task.name": args.task,
            "curriculum.kind": args.curriculum,
            "model.hidden_size": args.hidden,
            "model.precision": args.precision,
            "seed": args.seed,
            "training.max_epochs": args.max_epochs,
            "training.target_n": args.target_n,
            "training.time_budget_s": args.time_budget,
            "device": args.device,
        },
    )
    run_dir = Path(args.out) if args.out else default_run_dir(config)
    trainer = Trainer(config, run_dir, progress=not args.no_progress, auto_name=not args.out)
    print(f"training {config.curriculum.kind}-head {config.task.name}, H={config.model.hidden_size}, "
          f"preset {config.preset}, seed {config.seed}, device {trainer.device} -> {run_dir}", file=sys.stderr)
    return _report(trainer.run())


def _resume_training(args: argparse.Namespace) -> int:
    from rnn_timescales.training.trainer import Trainer

    fixed = {"--preset": args.preset, "--config": args.config, "--task": args.task, "--curriculum": args.curriculum,
             "--hidden": args.hidden, "--seed": args.seed, "--device": args.device, "--precision": args.precision,
             "--out": args.out}
    given = [flag for flag, value in fixed.items() if value is not None]
    if given:
        raise UsageError(f"--resume continues a run as it was configured; {given[0]} cannot be given with it")
    overrides = list(args.overrides)
    for key, value in (("training.max_epochs", args.max_epochs), ("training.target_n", args.target_n),
                       ("training.time_budget_s", args.time_budget)):
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
    solved = f"N = {result.solved[0][0]}..{result.n_solved}" if result.solved else "nothing"
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
        help="accuracy per head, end-of-sequence and streaming",
        description="Evaluate a run directory (its latest checkpoint), one of our checkpoints, or a checkpoint "
        "of the paper's code (recognised automatically): accuracy of every head on its N.",
    )
    p.add_argument("path", metavar="RUN_OR_CHECKPOINT")
    p.add_argument("--json", action="store_true", help='print {"heads": [{"n", "accuracy", "streaming_accuracy"}]}')
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
    if args.warmup < max(ckpt.ns) - 1:
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
        heads = [
            {"n": int(r.n), "head": int(r.head), "accuracy": float(r.accuracy), "streaming_accuracy": float(r.streaming_accuracy)}
            for r in table.itertuples()
        ]
        print(json.dumps({"checkpoint": str(ckpt.path), "task": ckpt.task, "curriculum": ckpt.curriculum, "heads": heads}))
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
    cols = ["n_max", "tau_median", "tau_net_median", "population_tau_net", "dimensionality", "jacobian_tau_max"]
    import pandas as pd

    print(pd.DataFrame([r.summary for r in results])[cols].to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print(f"wrote {out}/summary.csv, neurons.csv, jacobian.csv, autocorrelations.npz, figures/")
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
    _add_slow_points(sub)
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

"""``rnn-timescales train``: train a network, or continue one (--resume)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnn_timescales.cli.options import add_out, add_progress, non_negative_int, positive_float, positive_int
from rnn_timescales.errors import UsageError


def add(sub: argparse._SubParsersAction) -> None:
    from rnn_timescales.curricula import CURRICULA
    from rnn_timescales.models import MODELS
    from rnn_timescales.tasks import TASKS

    p = sub.add_parser(
        "train",
        help="train a network under a curriculum (no options: the README's main job)",
        description="Train a recurrent network on a memory task under a curriculum. With no options: a leaky RNN "
        "with trainable timescales on multi-head N-parity, 'quick' preset (about 9 minutes on a 2-core CPU).",
    )
    p.add_argument("--preset", help="paper (the paper's exact setup), quick (default, unless --config names one), "
                   "gated (the paper code's LSTM setup; --model gru for a GRU) or h19 (Haviv et al. 2019's delayed "
                   "recall)")
    p.add_argument("--config", metavar="FILE.yaml", help="YAML file of settings, applied over the preset (the one "
                   "its preset: names, if any)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any setting, e.g. --set training.batch_size=64 (repeatable)")
    p.add_argument("--task", help=f"one of {', '.join(TASKS)}")
    p.add_argument("--curriculum", help=f"one of {', '.join(CURRICULA)} (default: the task's own)")
    p.add_argument("--model", help=f"one of {', '.join(MODELS)} (gru and lstm have no trained tau: the leaky RNN's "
                   "nonlinearity, placement, train_tau and tau_init do not apply to them; --preset gated is the "
                   "paper code's LSTM setup, Adam lr 1e-3, batch 64)")
    p.add_argument("--hidden", type=positive_int, help="number of neurons H")
    p.add_argument("--seed", type=non_negative_int, help="seed for every random draw")
    p.add_argument("--max-epochs", type=positive_int, help="stop after this many epochs")
    p.add_argument("--target-n", type=positive_int, help="stop once this N is solved (N curricula)")
    p.add_argument("--target-level", type=non_negative_int, metavar="VALUE",
                   help="stop once a level of this value is solved (the curriculum's level, e.g. max_delay)")
    p.add_argument("--time-budget", type=positive_float, metavar="SECONDS", help="stop after this much wall time")
    p.add_argument("--device", help="auto, cpu or cuda")
    p.add_argument("--precision", help="fp32, bf16 (bf16 matrix products, fp32 state; leaky_rnn and gru) or auto "
                   "(bf16 where the device has bf16 matrix units and the model supports it)")
    add_out(p, "run directory to create (default: runs/<task>_<curriculum>_...)")
    add_progress(p)
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted run exactly where it stopped; only --max-epochs, --target-n, "
                   "--time-budget and --set training.{divergence,max_rollbacks,rollback_lr_factor,state_every_s} "
                   "may be given with it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rnn_timescales.config import build_config
    from rnn_timescales.runs.rundir import default_run_dir
    from rnn_timescales.training.trainer import Trainer

    if args.resume:
        return _resume_training(args)
    config = build_config(
        preset=args.preset,
        default_preset="quick",
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
    from rnn_timescales.runs.rundir import decide_resume
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
    decision = decide_resume(args.resume, overrides)  # the sweep's decision: new, resume or reuse
    if decision.action == "reuse":  # finished as asked: nothing is trained, nothing written
        summary = decision.summary or {}
        advice = ("an imported run is not trained further" if decision.stop_reason == "imported" else
                  "extend it with --max-epochs, --target-n or --time-budget")
        print(f"run {args.resume} already stopped ({decision.stop_reason}) after {summary.get('epochs')} epochs; "
              f"nothing to train ({advice})", file=sys.stderr)
        return 0
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

"""``rnn-timescales speed-regularization``: fine-tuning with and without the speed term of [H19]."""

from __future__ import annotations

import argparse
from pathlib import Path

from rnn_timescales.cli.networks import network_name, recall_networks
from rnn_timescales.cli.options import add_out, add_progress, non_negative_int, positive_float, positive_int
from rnn_timescales.errors import UsageError


def add(sub: argparse._SubParsersAction) -> None:
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
    p.add_argument("--lambda", dest="weight", type=positive_float, default=1e-3, help="lambda (default 1e-3)")
    p.add_argument("--steps", type=positive_int, default=5000, help="fine-tuning steps (default 5000, the paper's)")
    p.add_argument("--epoch-steps", type=positive_int, default=100, help="steps per epoch (default 100; --steps "
                   "must be a multiple)")
    p.add_argument("--lr", type=positive_float, default=1e-5, help="Adam's learning rate (default 1e-5, the paper's)")
    p.add_argument("--at", choices=("centres", "seeds", "slow_points"), default="centres",
                   help="where the speed is taken (default centres: the batch's class centres of mass)")
    p.add_argument("--input", choices=("mean", "noise"), default="mean",
                   help="the input of q: the noise mean (default) or fresh noise frames (the paper code's)")
    p.add_argument("--seed", type=non_negative_int, help="seed of both fine-tunings (default: the network's run seed)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="a run setting for both fine-tunings, e.g. --set training.batch_size=64 (repeatable)")
    p.add_argument("--centre-trials", type=positive_int, default=1024, help="trials for the class centres (default 1024)")
    p.add_argument("--max-delay", type=positive_int, metavar="D", help="largest delay (default: 5 x trained T_max)")
    p.add_argument("--trials", type=positive_int, default=256, help="extrapolation trials per delay (default 256)")
    p.add_argument("--measure-seed", type=non_negative_int, default=0, help="seed of the measurement trials")
    add_out(p, "output directory (default RUN_DIR/speed_regularization, "
                   "else ./speed_regularization/<name>)")
    add_progress(p, "hide the progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rnn_timescales.analysis import recall_memory as rm
    from rnn_timescales.studies import speed_regularization as sr

    ((ckpt, task),) = recall_networks([args.path])
    try:
        tuning = sr.FineTuning(weight=args.weight, at=args.at, input=args.input, steps=args.steps,
                               epoch_steps=args.epoch_steps, lr=args.lr, seed=args.seed, overrides=tuple(args.overrides))
        rm.extrapolation_delays_for(task, ckpt.level, args.max_delay)
    except ValueError as e:
        raise UsageError(str(e)) from None
    for weight in (args.weight, 0.0):  # both configurations are checked before any training
        sr.fine_tune_config(ckpt.config, ckpt.level, tuning, weight)
    name = network_name(args.path, ckpt)
    out = Path(args.out) if args.out else (Path(args.path) / "speed_regularization" if Path(args.path).is_dir()
                                          else Path("speed_regularization") / name)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"output directory {str(out)!r} exists and is not empty; choose another --out")
    runs, summary = sr.fine_tune_and_compare(ckpt, task, out, tuning, centre_trials=args.centre_trials,
                                             trials=args.trials, max_delay=args.max_delay,
                                             measure_seed=args.measure_seed, progress=not args.no_progress)
    print(summary.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(f"wrote {out}/{sr.SPEEDS_TABLE}, {sr.SUMMARY_TABLE}, {sr.EXTRAPOLATION_TABLE}, figures/ "
          f"(runs: {runs['regularized']}, {runs['control']})")
    return 0

"""``rnn-timescales recall-memory``: where a delayed-recall network keeps each class's memory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnn_timescales.cli.networks import network_name, recall_networks
from rnn_timescales.cli.options import (
    add_device,
    add_out,
    add_progress,
    check_device,
    check_labels,
    default_out,
    finder_overrides,
    non_negative_int,
    positive_int,
)
from rnn_timescales.errors import UsageError


def add(sub: argparse._SubParsersAction) -> None:
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
    p.add_argument("--seed-steps", type=positive_int, default=15, help="inputs from the image to the seed (default 15)")
    p.add_argument("--trials-per-class", type=positive_int, default=100, help="seed trials per class (default 100)")
    p.add_argument("--centre-trials", type=positive_int, default=1024,
                   help="held-out trials for the class centres of mass (default 1024)")
    p.add_argument("--max-delay", type=positive_int, metavar="D", help="largest delay (default: --factor x trained T_max)")
    p.add_argument("--factor", type=positive_int, default=5, help="default largest delay as a multiple of T_max (default 5)")
    p.add_argument("--trials", type=positive_int, default=256, help="extrapolation trials per delay (default 256)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                   help="a finder setting over [H19]'s (Adam 1e-3 constant, 100000 steps, clip 1), e.g. --set max_iters=5000")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed for the trials and noise")
    add_device(p)
    add_out(p, "output directory (default RUN_DIR/recall_memory for one run, "
                   "else ./recall_memory/<names>)")
    add_progress(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from rnn_timescales.analysis import recall_memory as rm
    from rnn_timescales.studies.recall_memory import OUTPUT, run_recall_memory, write_recall_memory
    from rnn_timescales.runs import FINAL_NAME, SUFFIX, is_run_dir, list_run_checkpoints, load_any
    from rnn_timescales.runtime import resolve_device

    check_device(args.device)
    check_labels(args.labels, args.paths)
    if args.track and (len(args.paths) != 1 or not is_run_dir(args.paths[0])):
        raise UsageError("--track follows the checkpoints of one run directory; give exactly one")
    hyper = finder_overrides(args.overrides)
    device = resolve_device(args.device)
    networks = recall_networks(args.paths)
    names = args.labels or [network_name(p, c) for p, (c, _) in zip(args.paths, networks)]
    if len(set(names)) != len(names):
        raise UsageError(f"two networks share the name {next(n for n in names if names.count(n) > 1)!r}; give --labels")
    for (ckpt, task), path in zip(networks, args.paths):
        try:
            rm.extrapolation_delays_for(task, ckpt.level, args.max_delay, args.factor)
        except ValueError as e:
            raise UsageError(f"--max-delay: {e} of {path!r}") from None
    tracked = []
    if args.track:
        files = list_run_checkpoints(args.paths[0], include_init=False, final="always")
        tracked = sorted((load_any(f) for f in files), key=lambda c: (c.epoch or 0, c.path.name == FINAL_NAME + SUFFIX))
    out = Path(args.out) if args.out else default_out(args.paths, "recall_memory", names)
    try:
        OUTPUT.check(out)
        settings = rm.RecallMemorySettings(seed_steps=args.seed_steps, trials_per_class=args.trials_per_class,
                                           centre_trials=args.centre_trials, max_delay=args.max_delay,
                                           factor=args.factor, extrapolation_trials=args.trials, seed=args.seed,
                                           hyperparameters=hyper)
    except ValueError as e:
        raise UsageError(str(e)) from None
    with tqdm(total=len(networks) + len(tracked), unit="network", disable=args.no_progress, file=sys.stderr) as bar:
        study = run_recall_memory([(n, c, t) for n, (c, t) in zip(names, networks)], settings, torch.device(device),
                                  tracked, progress=lambda name: (bar.set_description(name), bar.update(1)))
    write_recall_memory(study, out)
    classes, correlations, tracking = study.classes, study.correlations, study.tracking
    cols = ["network", "digit", "n_correct", "seed_q", "slow_point_q", "slow_point_readout", "centre_q",
            "extrapolation_accuracy"]
    print(classes[cols].to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print(correlations[correlations["speed"] != "seed_q"].to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    if tracking:
        print(rm.track_classes(tracking).to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print(f"wrote {out}/{rm.CLASSES}, {rm.EXTRAPOLATION}, {rm.CORRELATIONS}" + (f", {rm.TRACKING}" if tracking else "")
          + ", figures/")
    return 0

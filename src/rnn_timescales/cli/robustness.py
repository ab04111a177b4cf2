"""``rnn-timescales robustness``: perturbation, ablation, retraining, forgetting, continuation, transfer, continuous time."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rnn_timescales.cli.options import (
    add_device,
    add_json,
    add_out,
    add_progress,
    check_device,
    heads_option,
    LazyChoices,
    non_negative_int,
    number,
    positive_float,
    positive_int,
)
from rnn_timescales.errors import UsageError


def add(sub: argparse._SubParsersAction) -> None:
    kinds = _choices("KINDS")  # read from the study when argparse checks a --kind
    p = sub.add_parser(
        "robustness",
        help="perturbation, ablation, retraining, forgetting, continuation, transfer and continuous time of trained "
        "networks",
        description="Robustness of trained networks (docs/science.md, robustness), with the paper's settings by default. "
        "PATH: a run directory (its last checkpoint, or --n), a checkpoint, a folder of the paper code's "
        "checkpoints, or a sweep directory (each of its finished runs); several PATHs are compared (one curve each). retrain, continuation and transfer train runs "
        "into DIR/robustness/runs/ (a second call reuses finished runs and resumes interrupted ones). What each kind "
        "computes: docs/robustness.md.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--kind", action="append", required=True, choices=kinds,
                   metavar="KIND", help="analysis to run (repeatable): %(choices)s")
    p.add_argument("--n", type=positive_int, metavar="N",
                   help="the checkpoint of this largest N (forgetting: the checkpoints up to it); default the last")
    p.add_argument("--head", type=heads_option, metavar="HEAD",
                   help="heads scored: newest, all or N values (default: newest; continuous: all)")
    p.add_argument("--repeats", type=positive_int, default=10, help="streams (the paper's trials) per measurement (default 10)")
    p.add_argument("--warmup", type=non_negative_int, default=100, help="unscored steps per stream (default 100)")
    p.add_argument("--length", type=positive_int, default=1000, help="scored steps per stream (default 1000)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed for streams, perturbations and random choices")
    p.add_argument("--baseline", choices=_choices("BASELINES"), metavar="HOW", default="max",
                   help="relative accuracy divides by the max (the paper's plots, default) or the mean of the "
                   "unchanged network's accuracies: %(choices)s")
    eps = number(float, 0.0, False, "a non-negative number")
    p.add_argument("--w-epsilons", type=eps, nargs="+", metavar="EPS",
                   help="strengths for perturb-w (default: 0 and 10 log-spaced in [0.01, 10])")
    p.add_argument("--w-mode", choices=_choices("W_MODES"), metavar="MODE",
                   default="normalized", help="perturbation of W: %(choices)s (default %(default)s)")
    p.add_argument("--w-direction", choices=_choices("DIRECTIONS"), metavar="HOW",
                   default="offdiag", help="normalise W's noise off the diagonal (offdiag, default) or over all "
                   "entries as the paper code (paper)")
    p.add_argument("--tau-epsilons", type=eps, nargs="+", metavar="EPS",
                   help="strengths for perturb-tau (default: 0 and 13 log-spaced in [0.001, 10])")
    p.add_argument("--tau-mode", choices=_choices("TAU_MODES"), metavar="MODE",
                   default="normalized_abs", help="perturbation of tau: %(choices)s (default %(default)s)")
    p.add_argument("--ablate", choices=("tau", "tau-net", "random"), default="tau",
                   help="neurons silenced: smallest and largest trained tau (default), tau_net, or random")
    p.add_argument("--ablate-count", type=positive_int, default=20, help="neurons from each end, or at random (default 20)")
    p.add_argument("--group-size", type=positive_int, default=1, help="neurons silenced together (default 1: one at a time)")
    p.add_argument("--readout-rule", choices=_choices("ABLATION_RULES"), metavar="RULE",
                   default="spec", help="spec: zero the neuron's column of every head (default); paper: of head 0 only")
    p.add_argument("--neurons-csv", metavar="FILE", help="neurons.csv of `analyze` for --ablate tau-net "
                   "(default: where analyze writes it for PATH)")
    p.add_argument("--ks", type=positive_int, nargs="+", metavar="K", help="repetitions k for continuous "
                   "(default: 1..20, 25..50 step 5, 60..100 step 10, 150, 200)")
    p.add_argument("--continuous-mode", choices=_choices("CONTINUOUS_MODES"), metavar="MODE",
                   default="sequence",
                   help="sequence: training-style sequences read at the end, as the paper code (default); "
                   "streaming: the streams, read at the last repeat of every input")
    p.add_argument("--sequences", type=positive_int, default=256, help="sequences per k in sequence mode (default 256)")
    p.add_argument("--retrain-w", type=positive_float, nargs="+", metavar="EPS",
                   help="retrain: perturbations of W to retrain from (default, with none of --retrain-*: W 0.464, tau 0.1)")
    p.add_argument("--retrain-tau", type=positive_float, nargs="+", metavar="EPS", help="retrain: perturbations of tau")
    p.add_argument("--retrain-ablate", nargs="+", metavar="GROUP", choices=("short", "long", "random"),
                   help="retrain: silence a group at once: short, long (the --ablate-count neurons of smallest or "
                   "largest tau, or tau_net with --ablate tau-net) or random")
    p.add_argument("--retrain-draws", type=positive_int, default=1, metavar="R", help="retrain: perturbations per strength (default 1)")
    p.add_argument("--transfer-task", metavar="TASK", help="transfer: the task to train on (default: parity <-> dms)")
    p.add_argument("--new-n", type=positive_int, default=5, metavar="K",
                   help="continuation: train until N_max + K is solved; transfer: until N = K + 1 (one N per level; "
                   "a sliding window: its first N_max + K - 1) (default 5)")
    p.add_argument("--preset", choices=("quick", "paper"), default="quick",
                   help="retrain, continuation, transfer: the epoch structure of this preset (quick: 100 training and "
                   "10 evaluation batches; paper: 600 and 50)")
    p.add_argument("--epochs", type=positive_int, help="retrain: epochs of retraining (default 20, the paper's); "
                   "continuation, transfer: most epochs per run (default 100)")
    p.add_argument("--time-budget", type=positive_float, metavar="SECONDS", help="wall-clock limit of each training run")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting of every training run, e.g. --set optimizer.lr=0.01 (repeatable)")
    # cpu by default: its engines run many small products on one thread (docs/robustness.md)
    add_device(p, default="cpu", help="cpu (default), cuda or auto")
    add_out(p, "write into DIR/robustness (default RUN_DIR/robustness, else "
                   "./robustness/<name>)")
    add_json(p, "print the summaries as JSON")
    add_progress(p, "hide the progress bars")
    p.set_defaults(func=run)


def _choices(name: str):
    """The values of ``name`` in the robustness study or estimators, read when argparse needs them."""
    def values():
        from rnn_timescales.analysis.robustness import changes, streams, strengths
        from rnn_timescales.studies import robustness

        module = {"KINDS": robustness, "BASELINES": streams, "CONTINUOUS_MODES": strengths}.get(name, changes)
        return getattr(module, name)
    return LazyChoices(values)


def run(args: argparse.Namespace) -> int:
    import pandas as pd
    from tqdm import tqdm

    from rnn_timescales.studies.robustness import (
        KINDS, RobustnessSettings, check_out_dir, default_out_dir, resolve_networks, summarize, write_report)
    from rnn_timescales.studies.retraining import TrainingPlan
    from rnn_timescales.analysis.robustness.streams import StreamingProtocol
    from rnn_timescales.analysis.robustness.strengths import PAPER_KS
    from rnn_timescales.runtime import resolve_device

    check_device(args.device)
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

"""``rnn-timescales evaluate``: per-head accuracy of a trained network."""

from __future__ import annotations

import argparse
import json

from rnn_timescales.cli.options import add_device, add_json, check_device, non_negative_int, positive_int
from rnn_timescales.errors import UsageError


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="accuracy per head (parity and DMS: end-of-sequence and streaming)",
        description="Evaluate a run directory (its latest checkpoint), one of our checkpoints, or a checkpoint "
        "of the paper's code (recognised automatically): accuracy of every head at the level it was trained at "
        "(parity and DMS: on its N, at the end of fresh sequences and in streaming mode).",
    )
    p.add_argument("path", metavar="RUN_OR_CHECKPOINT")
    add_json(p, 'print {"heads": [{"head", "accuracy", ...}]} (parity and DMS add "n" and "streaming_accuracy")')
    p.add_argument("--batches", type=positive_int, default=50, help="end-of-sequence batches (default 50)")
    p.add_argument("--batch-size", type=positive_int, default=256, help="sequences per batch (default 256)")
    p.add_argument("--streams", type=positive_int, default=10,
                   help="independent streams for streaming accuracy (default 10)")
    p.add_argument("--warmup", type=non_negative_int, default=100, help="streaming warm-up steps (default 100)")
    p.add_argument("--length", type=positive_int, default=1000, help="streaming steps scored (default 1000)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed for the evaluation data")
    add_device(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rnn_timescales.studies.evaluate import evaluate_checkpoint
    from rnn_timescales.runs import load_any
    from rnn_timescales.runtime import resolve_device

    check_device(args.device)
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

"""Regenerate the figures of the documentation's command pages (docs/figures/<page>/*.png).

Every figure is drawn by the package's own commands on small seeded runs made here, so the pages
show what each command writes (at a small scale: a 64-neuron network trained for a minute, not the
paper's 500 neurons for hours). From the repository root, with the package installed:

    python docs/make_figures.py               # about 5 minutes on 2 cores; work in a temporary folder
    python docs/make_figures.py --keep runs/docs-figures   # keep the run directories

The PNGs are shrunk to at most 900 pixels across and saved as 8-bit palettes, so each is small.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

FIGURES = Path(__file__).resolve().parent / "figures"
MAX_WIDTH = 900

# the same small network for every N-task page: quick preset, 64 neurons, 60 epochs of 50 batches of 64
SMALL = ["--hidden", "64", "--max-epochs", "60", "--seed", "0", "--no-progress", "--device", "cpu",
         "--precision", "fp32", "--set", "training.steps_per_epoch=50", "--set", "training.batch_size=64",
         "--set", "training.eval_batches=2"]
ANALYZE = ["--trials", "2", "--steps", "20000", "--no-progress"]
# delayed recall: a 64-unit GRU, 40 epochs of 50 batches
RECALL = ["--task", "delayed-recall", "--model", "gru", "--hidden", "64", "--max-epochs", "40", "--seed", "0",
          "--no-progress", "--device", "cpu", "--set", "training.steps_per_epoch=50"]


def run(*argv: str) -> None:
    from rnn_timescales.cli import main

    print("rnn-timescales", " ".join(argv), flush=True)
    code = main(list(argv))
    if code:
        raise SystemExit(f"rnn-timescales {' '.join(argv)} failed with {code}")


def save(src: Path, page: str, name: str | None = None) -> None:
    """Copy ``src`` into docs/figures/<page>/, shrunk and palettised."""
    from PIL import Image

    out = (FIGURES / page if page else FIGURES) / (name or src.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(src) as im:
        im = im.convert("RGB")
        for width, colors in ((MAX_WIDTH, 128), (760, 48)):  # smaller still where a figure is busy
            small = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS) if im.width > width else im
            small.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
            if out.stat().st_size < 80_000:
                break
    print(f"  {out.relative_to(FIGURES.parent)} ({out.stat().st_size // 1024} kB)")


def headline(multi: Path, single: Path, out: Path) -> None:
    """The README's figure: the two curricula, same network and seed — how far each got, and
    where its memory lives (trained τ, and the share of neurons without memory beyond one step)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for path, label, color in ((multi, "multi-head", "C0"), (single, "single-head", "C1")):
        m = pd.read_csv(path / "metrics.csv")
        solved = m["n_max"].where(m["solved"].astype(bool), m["n_max"] - 1).cummax()
        axes[0].step(m["epoch"], solved, where="post", color=color, label=label)
        a = pd.read_csv(path / "analysis" / "summary.csv").sort_values("n_max")
        n = pd.read_csv(path / "analysis" / "neurons.csv")
        axes[1].plot(a["n_max"], a["tau_mean"], "o-", color=color, label=label)
        share = n.groupby("n_max")["tau_net"].apply(lambda t: 100 * (t <= 1).mean())
        axes[2].plot(share.index, share.to_numpy(), "o-", color=color, label=label)
    axes[0].set(xlabel="epoch", ylabel="largest N solved", title="curriculum: how far it gets")
    axes[1].set(xlabel="N", ylabel="mean trained τ (steps)", title="trained τ of single neurons")
    axes[2].set(xlabel="N", ylabel="neurons with τ_net ≤ 1 step (%)", ylim=(0, 100),
                title="neurons with no memory beyond one step")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.suptitle("N-parity, 64-neuron leaky RNN, seed 0 (python docs/make_figures.py)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", metavar="DIR", help="make the runs in DIR and keep them (default: a temporary folder)")
    args = parser.parse_args(argv)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="rnn-timescales-docs-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        make(work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def make(work: Path) -> None:
    import torch

    torch.set_num_threads(1)
    runs = work / "runs"
    multi, single = runs / "multi", runs / "single"
    # train: two curricula, the same network and seed
    if not (multi / "summary.json").is_file():
        run("train", *SMALL, "--curriculum", "multi", "--out", str(multi))
    if not (single / "summary.json").is_file():
        run("train", *SMALL, "--curriculum", "single", "--out", str(single))

    # analyze: every solved N of both
    for r in (multi, single):
        if not (r / "analysis" / "summary.csv").is_file():
            run("analyze", str(r), *ANALYZE)
    for name in ("tau_vs_n", "tau_scatter", "population_ac"):
        save(multi / "analysis" / "figures" / f"{name}.png", "analyze")
    fits = sorted((multi / "analysis" / "figures").glob("ac_fits_N*.png"), key=lambda p: int(p.stem.split("_N")[-1]))
    save(fits[-1], "analyze", "ac_fits.png")  # the largest N

    headline(multi, single, work / "headline.png")
    save(work / "headline.png", "", "headline.png")

    # report (also what a sweep ends with): the two runs side by side
    run("report", str(runs), "--out", str(work / "report"))
    for name in ("progress", "accuracy_per_head", "tau_vs_n", "tau_net_vs_n", "collective_vs_n", "dimensionality_vs_n"):
        save(work / "report" / f"{name}.png", "report")
    save(work / "report" / "progress.png", "train", "progress.png")
    save(work / "report" / "accuracy_per_head.png", "train", "accuracy_per_head.png")

    # robustness: perturbations and ablation of the multi-head network, forgetting of both
    rob = work / "robustness"
    run("robustness", str(multi), str(single), "--kind", "perturb-w", "--kind", "perturb-tau", "--kind", "ablation",
        "--kind", "forgetting", "--kind", "continuous", "--repeats", "3", "--length", "300", "--ks", "1", "2", "5",
        "10", "20", "--no-progress", "--device", "cpu", "--out", str(rob))
    for png in sorted(rob.rglob("*.png")):
        save(png, "robustness")

    # slow points of the multi-head network
    sp = work / "slow_points"
    run("slow-points", str(multi), "--initial", "64", "--no-progress", "--device", "cpu", "--out", str(sp))
    for png in sorted((sp / "figures").glob("*.png")):
        save(png, "slow-points")

    # delayed recall: two curricula, their extrapolation, their memories, speed regularisation
    decu, vocu = runs / "recall" / "decu", runs / "recall" / "vocu"
    for path, curriculum in ((decu, "delay"), (vocu, "vocabulary")):
        if not (path / "summary.json").is_file():
            run("train", *RECALL, "--curriculum", curriculum, "--out", str(path))
    run("extrapolate", str(decu), str(vocu), "--labels", "DeCu", "VoCu", "--trials", "64", "--no-progress",
        "--device", "cpu", "--out", str(work / "extrapolation"))
    save(work / "extrapolation" / "extrapolation.png", "extrapolate")
    run("recall-memory", str(decu), str(vocu), "--labels", "DeCu", "VoCu", "--trials-per-class", "20",
        "--centre-trials", "256", "--trials", "64", "--set", "max_iters=2000", "--no-progress", "--device", "cpu",
        "--out", str(work / "recall_memory"))
    for png in sorted((work / "recall_memory" / "figures").glob("*.png")):
        save(png, "recall-memory")
    run("speed-regularization", str(decu), "--lambda", "0.1", "--steps", "200", "--epoch-steps", "100",
        "--centre-trials", "256", "--trials", "64", "--no-progress", "--out", str(work / "speed_regularization"))
    for png in sorted((work / "speed_regularization" / "figures").glob("*.png")):
        save(png, "speed-regularization")

    # compare-models: leaky RNN and GRU, single- and multi-head
    cmp_dir = work / "compare"
    run("compare-models", "--models", "leaky_rnn", "gru", "--hidden", "32", "--max-epochs", "25", "--set",
        "training.steps_per_epoch=40", "--set", "training.batch_size=64", "--set", "training.eval_batches=2",
        "--no-progress", "--out", str(cmp_dir))
    for png in sorted((cmp_dir / "figures").glob("*.png")):
        save(png, "compare-models")


if __name__ == "__main__":
    raise SystemExit(main())

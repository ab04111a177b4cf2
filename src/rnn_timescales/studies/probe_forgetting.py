"""Probe-based forgetting of whole networks (:mod:`rnn_timescales.analysis.robustness.probes`):
``rnn-timescales probe-forgetting``.

Every network named (a run directory, a directory of run directories such as a sweep, or a folder
of the paper code's checkpoints) is probed at each checkpoint of a solved level, and at its initial
weights (the floor). The output directory holds::

    probe_forgetting.csv          one row per network, checkpoint and N' (probe and head accuracy)
    probe_forgetting_summary.csv  per network and checkpoint: means over the earlier N'
    probe_forgetting.json         the settings, the networks and where they came from
    probe_forgetting.png          the figure

written at once (a failure leaves the previous output, or nothing).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from rnn_timescales import __version__
from rnn_timescales.analysis.robustness.probes import ProbeSettings, probe_forgetting, probe_summary
from rnn_timescales.errors import CheckpointError
from rnn_timescales.io import OutputDir
from rnn_timescales.runs.checkpoints import INIT_NAME, list_run_checkpoints
from rnn_timescales.runs.files import is_run_dir
from rnn_timescales.runs.load import load_any
from rnn_timescales.runs.paper import NETWORK_DIR, find_reference_files
from rnn_timescales.studies.contract import Study
from rnn_timescales.studies.per_run import LatestNetwork

TABLE, SUMMARY, SETTINGS, FIGURE = ("probe_forgetting.csv", "probe_forgetting_summary.csv", "probe_forgetting.json",
                                    "probe_forgetting.png")
OUTPUT = OutputDir("probe-forgetting output", marker=TABLE)


def find_networks(paths: Sequence[str | Path]) -> dict[str, tuple[list[Path], Path | None]]:
    """Network name -> (checkpoint files of its solved levels, its untrained checkpoint or None).

    A path is a run directory, a directory holding run directories, or what
    :func:`~rnn_timescales.runs.paper.find_reference_files` accepts (the paper code's checkpoints).
    CheckpointError (one line) for a path that holds no network, or a network with no solved level.
    """
    networks: dict[str, tuple[list[Path], Path | None]] = {}
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise CheckpointError(f"{str(p)!r} does not exist; give a run directory, a sweep directory or a folder "
                                  "of the paper code's checkpoints")
        runs = [p] if is_run_dir(p) else sorted(d for d in p.iterdir() if is_run_dir(d)) if p.is_dir() else []
        for run in runs:
            files = list_run_checkpoints(run, include_init=True)
            init = next((f for f in files if f.name.startswith(INIT_NAME)), None)
            networks[run.name] = ([f for f in files if f != init], init)
        if not runs:
            if p.is_dir() and not NETWORK_DIR.match(p.resolve().name) and not any(
                    NETWORK_DIR.match(d.name) for d in p.iterdir() if d.is_dir()):
                raise CheckpointError(f"{str(p)!r} holds no run directories and no folders of the paper code's "
                                      "checkpoints")
            for folder, files in find_reference_files([p]).items():
                init = next((f for f in files if f.name == "rnn_init"), None)
                networks[folder.name] = ([f for f in files if f != init], init)
    for name, (solved, _) in networks.items():
        if not solved:
            raise CheckpointError(f"network {name!r} has no checkpoint of a solved level to probe")
    return networks


def run_probe_forgetting(paths: Sequence[str | Path], out: str | Path, settings: ProbeSettings | None = None,
                         progress: Callable[[str, int, int], None] | None = None,
                         command: str | None = None) -> pd.DataFrame:
    """Probe every network of ``paths`` (see :func:`find_networks`) and write ``out`` (see the
    module docstring); ``command`` (the command line, if any) is recorded in the JSON with the
    package version. Returns the summary table."""
    settings = settings or ProbeSettings()
    OUTPUT.check(out)
    networks = find_networks(paths)
    table, summary = probe_networks(networks, settings, progress)
    record = {"command": command, "version": __version__, "settings": asdict(settings), "networks": {k: [str(f) for f in v[0]] + ([str(v[1])] if v[1] else [])
                                                          for k, v in networks.items()}}
    OUTPUT.write(out, lambda tmp: _write_files(table, summary, record, tmp))
    return summary


def probe_networks(networks: dict[str, tuple[list[Path], Path | None]], settings: ProbeSettings,
                   progress: Callable[[str, int, int], None] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(table, summary) of the probes of every network of :func:`find_networks`."""
    tables = []
    for name, (solved, init) in networks.items():
        ckpts = [load_any(f) for f in solved]
        tick = (lambda i, n, name=name: progress(name, i, n)) if progress else None
        table = probe_forgetting(ckpts, load_any(init) if init else None, settings, progress=tick)
        tables.append(table.assign(network=name))
    table = pd.concat(tables, ignore_index=True)
    table = table[["network"] + [c for c in table.columns if c != "network"]]
    return table, probe_summary(table)


def _write_files(table: pd.DataFrame, summary: pd.DataFrame, record: dict, tmp: Path) -> None:
    import matplotlib.pyplot as plt

    table.to_csv(tmp / TABLE, index=False, float_format="%.6g")
    summary.to_csv(tmp / SUMMARY, index=False, float_format="%.6g")
    (tmp / SETTINGS).write_text(json.dumps(record, indent=1))
    fig = plot_probe_forgetting(table)
    fig.savefig(tmp / FIGURE, dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_probe_forgetting(table: pd.DataFrame):
    """One panel per curriculum: accuracy on each earlier N' against N', one line per checkpoint
    (colour: its largest N), the probe solid, the network's own head (the paper's measure) dotted,
    and the untrained network's probe (the floor) grey dashed; mean over the curriculum's networks."""
    import matplotlib.pyplot as plt
    from matplotlib import cm, colors

    curricula = list(dict.fromkeys(table["curriculum"]))
    fig, axes = plt.subplots(1, len(curricula), figsize=(5.2 * len(curricula), 3.9), squeeze=False, sharey=True,
                             constrained_layout=True)
    top = int(table["checkpoint_n"].max())
    norm = colors.Normalize(vmin=2, vmax=max(top, 3))
    for ax, curriculum in zip(axes[0], curricula):
        rows = table[table["curriculum"] == curriculum]
        nets = rows["network"].nunique()
        mean = rows.groupby(["checkpoint_n", "n"], as_index=False)[["probe_accuracy", "head_accuracy"]].mean()
        floor = mean[mean["checkpoint_n"] == 0]
        ax.plot(floor["n"], floor["probe_accuracy"], "--", color="0.5", lw=1.5, label="probe, untrained network")
        for cn, g in mean[mean["checkpoint_n"] > 0].groupby("checkpoint_n"):
            g = g[g["n"] <= cn]
            color = cm.viridis(norm(cn))
            ax.plot(g["n"], g["probe_accuracy"], "-o", ms=2.5, lw=1.2, color=color)
            ax.plot(g["n"], g["head_accuracy"], ":", lw=1.0, color=color)
        ax.plot([], [], "-", color="k", label="probe (fresh linear readout)")
        ax.plot([], [], ":", color="k", label="the network's own head")
        ax.axhline(0.5, color="grey", lw=0.6, ls=":")
        ax.set(xlabel="N' (parity of the last N' inputs)", ylim=(0.4, 1.02),
               title=f"{curriculum}-head ({nets} network{'s' if nets > 1 else ''})")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("held-out accuracy on N'")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap="viridis"), ax=axes[0].tolist(), label="checkpoint: trained up to N")
    return fig


# --- as a sweep runs it: every solved level of each finished run (parity, dms) -------------------
def _write_run(checkpoint: Path, out: Path, s: ProbeSettings) -> None:
    networks = find_networks([checkpoint.parent.parent])
    table, summary = probe_networks(networks, s)
    record = {"command": None, "version": __version__, "settings": asdict(s),
              "networks": {k: [str(f) for f in v[0]] + ([str(v[1])] if v[1] else []) for k, v in networks.items()}}
    _write_files(table, summary, record, out)


IN_RUN = LatestNetwork("probe_forgetting", SUMMARY, ProbeSettings, _write_run, tables=(TABLE, SUMMARY),
                       requires="streaming")

STUDY = Study("probe-forgetting", "forgetting by probes: a fresh linear readout of every checkpoint's states for "
              "each earlier N', beside the network's own heads", ProbeSettings, (TABLE, SUMMARY, SETTINGS, FIGURE),
              (FIGURE,), sweep_name="probe_forgetting", sweep=IN_RUN.run_study(),
              tiny={"streams": 3, "held_out": 1, "warmup": 10, "length": 40})

__all__ = ["find_networks", "plot_probe_forgetting", "probe_networks", "run_probe_forgetting"]

"""What ``rnn-timescales robustness`` runs and writes.

A *network* is one PATH: a run directory, a checkpoint file, or a folder of the paper code's
checkpoints (each network folder of a folder of them is a network of its own); a folder of run
directories (a sweep) gives each of its finished runs. A *kind* is one
analysis; :data:`KINDS` is the registry the command line offers. Adding a kind means adding a
:class:`Kind` whose ``prepare`` loads and checks everything it needs (raising ValueError or
CheckpointError with one line) and returns the computation, so that every bad input is reported
before any work starts.

Tables go to ``OUT/*.csv`` and figures to ``OUT/*.png`` (one per table, or per perturbed
parameter), each file written atomically; rows and figures of kinds not run this time are kept.

Over 400 lines: the registry of kinds (each one line of settings, preparation, table and figure)
and the writer that merges kinds into one report directory belong together.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from rnn_timescales.analysis.robustness.streams import BASELINES, StreamingProtocol
from rnn_timescales.analysis.robustness.strengths import (
    ABLATE_BY,
    CONTINUOUS_MODES,
    PAPER_KS,
    Progress,
    check_values,
    ablation_groups,
    ablation_sweep,
    continuous_sweep,
    forgetting_matrix,
    forgetting_scores,
    perturbation_sweep,
    resolve_heads,
)
from rnn_timescales.analysis.robustness.changes import ABLATION_RULES, DIRECTIONS, check_mode
from rnn_timescales.studies.retraining import (
    TrainingPlan,
    plan_continuation,
    plan_retraining,
    plan_transfer,
    read_metrics,
    retrain_changes,
    retrain_summary,
)
from rnn_timescales.io import OutputDir, settle, write_files_together
from rnn_timescales.models.capabilities import require_leaky_rnn
from rnn_timescales.runs import load_any
from rnn_timescales.studies.contract import Study
from rnn_timescales.studies.per_run import LatestNetwork
from rnn_timescales.studies.robustness_networks import Network, resolve_networks  # noqa: F401 (importable from here)


DEFAULT_RETRAIN_W = (0.464,)  # the strengths at which the paper's single- and multi-head networks differ most
DEFAULT_RETRAIN_TAU = (0.1,)
RETRAIN_GROUPS = ("short", "long", "random")


@dataclass
class RobustnessSettings:
    """Every knob of ``rnn-timescales robustness``; defaults are the paper's (docs/science.md, robustness).

    heads: ``newest``, ``all`` or N values; None takes each kind's default (``newest`` for
    perturbation and ablation, as the paper plots; ``all`` for continuous time).
    n: the checkpoint to analyse (its largest N); None: each network's last one.
    neurons_csv: the ``analyze`` table with tau_net, for ``ablate_by="tau_net"`` (default: the
    analysis beside the network, where ``rnn-timescales analyze`` writes it).
    training: how the training kinds (retrain, continuation, transfer) train; runs_dir: where their
    run directories go (``OUT/runs`` from the command line).
    retrain_w, retrain_tau: perturbation strengths to retrain from; retrain_ablate: neuron groups
    (``short``, ``long`` by ``ablate_by``; ``random``) silenced at once (``n_ablate`` neurons each);
    none of the three given: W at 0.464 and tau at 0.1. retrain_draws: perturbations per strength.
    transfer_task: the task to transfer to (default: parity <-> DMS).
    """

    protocol: StreamingProtocol = field(default_factory=StreamingProtocol)
    heads: str | tuple[int, ...] | None = None
    baseline: str = "max"
    n: int | None = None
    w_epsilons: tuple[float, ...] | None = None
    w_mode: str = "normalized"
    direction: str = "offdiag"
    tau_epsilons: tuple[float, ...] | None = None
    tau_mode: str = "normalized_abs"
    ablate_by: str = "tau"
    n_ablate: int = 20
    group_size: int = 1
    rule: str = "spec"
    neurons_csv: Path | None = None
    ks: tuple[int, ...] = PAPER_KS
    continuous_mode: str = "sequence"
    n_sequences: int = 256
    device: str = "cpu"
    training: TrainingPlan = field(default_factory=TrainingPlan)
    runs_dir: Path | None = None
    retrain_w: tuple[float, ...] | None = None
    retrain_tau: tuple[float, ...] | None = None
    retrain_ablate: tuple[str, ...] = ()
    retrain_draws: int = 1
    transfer_task: str | None = None

    def __post_init__(self) -> None:
        for name, value, allowed in (("baseline", self.baseline, BASELINES), ("direction", self.direction, DIRECTIONS),
                                     ("ablate_by", self.ablate_by, ABLATE_BY), ("rule", self.rule, ABLATION_RULES),
                                     ("continuous_mode", self.continuous_mode, CONTINUOUS_MODES)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        check_mode("w", self.w_mode)
        check_mode("tau", self.tau_mode)
        for name in ("n_ablate", "group_size", "n_sequences"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        check_values(self.ks, "k values", integer=True)
        for eps in (self.w_epsilons, self.tau_epsilons):
            if eps is not None:
                check_values(eps, "epsilons")
        unknown = sorted(set(self.retrain_ablate) - set(RETRAIN_GROUPS))
        if unknown:
            raise ValueError(f"retrain ablation groups must be among {', '.join(RETRAIN_GROUPS)}, got {unknown}")
        self.retrain_changes()

    def retrain_changes(self) -> list:
        """The changes ``retrain`` retrains from (the unchanged network first)."""
        if self.retrain_w is None and self.retrain_tau is None and not self.retrain_ablate:
            return retrain_changes(DEFAULT_RETRAIN_W, DEFAULT_RETRAIN_TAU, (), self.retrain_draws)
        return retrain_changes(self.retrain_w or (), self.retrain_tau or (), self.retrain_ablate, self.retrain_draws)

    def to_dict(self) -> dict:
        d = asdict(self)
        for name in ("neurons_csv", "runs_dir"):
            d[name] = None if getattr(self, name) is None else str(getattr(self, name))
        return d


Job = Callable[[Progress | None], pd.DataFrame]


def _load(path: Path, settings: RobustnessSettings, analysis: str | None = None, instead: str | None = None):
    """The checkpoint at ``path``; with ``analysis``, refused in one line unless it is a leaky RNN
    (the perturbations and ablations act on its W, U and tau)."""
    ckpt = load_any(path)
    if analysis is not None:
        require_leaky_rnn(ckpt.model, analysis, instead)
    settings.protocol.check_n(ckpt.n_max)
    return ckpt


def _with_network(table: pd.DataFrame, net: Network, ckpt) -> pd.DataFrame:
    table.insert(0, "network", net.name)
    table.insert(1, "curriculum", ckpt.curriculum)
    table.insert(2, "task", ckpt.task)
    return table


def _prepare_perturbation(target: str) -> Callable[[Network, RobustnessSettings], Job]:
    def prepare(net: Network, s: RobustnessSettings) -> Job:
        ckpt = _load(net.checkpoint(s.n), s, f"perturbation of {'W' if target == 'w' else 'tau'}",
                     "slow-points and analyze (Jacobian and gate timescales) apply")
        heads = _heads(ckpt, s.heads or "newest")
        eps, mode = (s.w_epsilons, s.w_mode) if target == "w" else (s.tau_epsilons, s.tau_mode)
        return lambda progress: _with_network(perturbation_sweep(
            ckpt, target, eps, mode, protocol=s.protocol, heads=heads, baseline=s.baseline, direction=s.direction,
            device=s.device, progress=progress), net, ckpt)

    return prepare


def load_tau_net(path: Path, n_max: int, hidden: int) -> np.ndarray:
    """tau_net of every neuron of the checkpoint of largest N ``n_max`` from an ``analyze``
    ``neurons.csv``: (hidden,), NaN where the fits failed."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"ablation by tau_net needs the neuron table of `rnn-timescales analyze`, and {str(path)!r} "
                         "does not exist; run analyze first or give --neurons-csv")
    try:
        table = pd.read_csv(path, usecols=["n_max", "neuron", "tau_net"])
    except (ValueError, pd.errors.ParserError) as e:
        raise ValueError(f"{str(path)!r} is not a neuron table of `rnn-timescales analyze` ({e})") from None
    rows = table[table["n_max"] == n_max]
    if sorted(rows["neuron"].tolist()) != list(range(hidden)):
        raise ValueError(f"{str(path)!r} has no tau_net for all {hidden} neurons of the checkpoint N = {n_max}; "
                         f"analyze that checkpoint (rnn-timescales analyze PATH --n {n_max})")
    return rows.sort_values("neuron")["tau_net"].to_numpy(dtype=np.float64)


def _default_neurons_csv(net: Network) -> Path:
    """Where ``rnn-timescales analyze`` writes the neuron table of this network by default."""
    from rnn_timescales.studies.analyze import default_out_dir

    if net.run_dir is not None:
        return Path(net.run_dir) / "analysis" / "neurons.csv"
    return default_out_dir(net.files[-1].parent) / "neurons.csv"


def _heads(ckpt, heads) -> str | tuple[int, ...]:
    try:
        resolve_heads(ckpt.ns, heads)
    except ValueError as e:
        raise ValueError(f"{str(ckpt.path)!r}: {e}") from None
    return heads


def _prepare_ablation(net: Network, s: RobustnessSettings) -> Job:
    ckpt = _load(net.checkpoint(s.n), s, "ablation (zeroing a neuron's row and column of W)",
                 "order units by tau_gate from rnn-timescales analyze")
    heads = _heads(ckpt, s.heads or "newest")
    tau_net = None
    if s.ablate_by == "tau_net":
        tau_net = load_tau_net(s.neurons_csv or _default_neurons_csv(net), ckpt.n_max, ckpt.model.hidden_size)
    ablation_groups(ckpt.model, s.ablate_by, s.n_ablate, s.group_size, tau_net, s.protocol.seed)
    return lambda progress: _with_network(ablation_sweep(
        ckpt, s.ablate_by, s.n_ablate, s.group_size, tau_net=tau_net, rule=s.rule, protocol=s.protocol, heads=heads,
        baseline=s.baseline, device=s.device, progress=progress), net, ckpt)


def _prepare_forgetting(net: Network, s: RobustnessSettings) -> Job:
    ckpts = [load_any(f) for f in net.up_to(s.n)]
    s.protocol.check_n(max(max(c.ns) for c in ckpts))
    return lambda progress: _with_network(forgetting_matrix(ckpts, protocol=s.protocol, device=s.device,
                                                            progress=progress), net, ckpts[-1])


def _prepare_continuous(net: Network, s: RobustnessSettings) -> Job:
    ckpt = _load(net.checkpoint(s.n), s, "continuous-time rescaling (tau times k)")
    heads = _heads(ckpt, s.heads or "all")
    return lambda progress: _with_network(continuous_sweep(
        ckpt, s.ks, mode=s.continuous_mode, heads=heads, n_sequences=s.n_sequences, protocol=s.protocol,
        device=s.device, progress=progress), net, ckpt)


def _runs_dir(s: RobustnessSettings) -> Path:
    if s.runs_dir is None:
        raise ValueError("the training kinds need a directory for their runs (settings.runs_dir)")
    return Path(s.runs_dir)


def _trained(net: Network, s: RobustnessSettings):
    """The checkpoint a training kind starts from (no streaming protocol to check)."""
    return load_any(net.checkpoint(s.n))


def _retrain_ablation(net: Network, ckpt, s: RobustnessSettings) -> dict[str, np.ndarray]:
    """The neurons of each requested ablation group, all ``n_ablate`` of a group silenced at once."""
    groups: dict[str, np.ndarray] = {}
    ranked = [g for g in s.retrain_ablate if g != "random"]
    if ranked:
        if s.ablate_by == "random":
            raise ValueError(f"retrain ablation groups {', '.join(ranked)} rank neurons by tau or tau_net, not --ablate random")
        tau_net = None
        if s.ablate_by == "tau_net":
            tau_net = load_tau_net(s.neurons_csv or _default_neurons_csv(net), ckpt.n_max, ckpt.model.hidden_size)
        chosen = dict(ablation_groups(ckpt.model, s.ablate_by, s.n_ablate, s.n_ablate, tau_net, s.protocol.seed))
        groups.update({g: chosen[g] for g in ranked})
    if "random" in s.retrain_ablate:
        groups.update(ablation_groups(ckpt.model, "random", s.n_ablate, s.n_ablate, None, s.protocol.seed))
    return groups


def _prepare_retrain(net: Network, s: RobustnessSettings) -> Job:
    ckpt = _trained(net, s)
    require_leaky_rnn(ckpt.model, "retraining after a perturbation or ablation of W or tau")
    job = plan_retraining(ckpt, net.name, _runs_dir(s), s.training, s.retrain_changes(), seed=s.protocol.seed,
                          ablation=_retrain_ablation(net, ckpt, s), w_mode=s.w_mode, tau_mode=s.tau_mode,
                          direction=s.direction, rule=s.rule)
    return lambda progress: _with_network(job(progress, s.training.progress), net, ckpt)


def _prepare_continuation(net: Network, s: RobustnessSettings) -> Job:
    ckpt = _trained(net, s)
    metrics = read_metrics(net.run_dir) if net.run_dir is not None else None
    job = plan_continuation(ckpt, net.name, _runs_dir(s), s.training, metrics)
    return lambda progress: _with_network(job(progress, s.training.progress).assign(n_start=ckpt.n_max), net, ckpt)


def _prepare_transfer(net: Network, s: RobustnessSettings) -> Job:
    ckpt = _trained(net, s)
    job = plan_transfer(ckpt, net.name, _runs_dir(s), s.training, s.transfer_task)
    return lambda progress: _with_network(job(progress, s.training.progress).assign(n_source=ckpt.n_max), net, ckpt)


def _plot(name: str) -> Callable[[pd.DataFrame], object]:
    def plot(table: pd.DataFrame):
        from rnn_timescales.plots import figures as plotting

        return getattr(plotting, name)(table)

    return plot


@dataclass(frozen=True)
class Kind:
    """One analysis of ``rnn-timescales robustness``.

    table: its rows go to ``OUT/<table>.csv`` (kinds sharing a table are told apart by its
    ``kind`` column); prepare(network, settings): checks the inputs and returns the computation;
    figure, plot: ``OUT/<figure>.png`` drawn from its rows; derived: more tables computed from its
    rows (file name -> function).
    """

    name: str
    help: str
    table: str
    prepare: Callable[[Network, RobustnessSettings], Job]
    figure: str
    plot: Callable[[pd.DataFrame], object]
    derived: dict = field(default_factory=dict)


KINDS = MappingProxyType({k.name: k for k in (
    Kind("perturb-w", "relative accuracy against the strength of a perturbation of W", "perturbation",
         _prepare_perturbation("w"), "perturbation_w", _plot("plot_perturbation")),
    Kind("perturb-tau", "relative accuracy against the strength of a perturbation of tau", "perturbation",
         _prepare_perturbation("tau"), "perturbation_tau", _plot("plot_perturbation")),
    Kind("ablation", "accuracy with single neurons (or groups) silenced, by tau, tau_net or at random", "ablation",
         _prepare_ablation, "ablation", _plot("plot_ablation")),
    Kind("forgetting", "accuracy of every checkpoint on every N of its run", "forgetting", _prepare_forgetting,
         "forgetting", _plot("plot_forgetting"), {"forgetting_scores": lambda t: summarize("forgetting", t)}),
    Kind("continuous", "accuracy with every input repeated k times and tau scaled by k", "continuous",
         _prepare_continuous, "continuous", _plot("plot_continuous")),
    Kind("retrain", "accuracy after retraining a perturbed or ablated network for a fixed budget, and epochs to "
         "recover", "retrain", _prepare_retrain, "retrain", _plot("plot_retrain"),
         {"retrain_summary": lambda t: summarize("retrain", t)}),
    Kind("continuation", "epochs per new N when the curriculum continues beyond its last N", "continuation",
         _prepare_continuation, "continuation", _plot("plot_epochs_to_solve")),
    Kind("transfer", "epochs per N on the other task (parity <-> DMS), against a fresh network of the same seed",
         "transfer", _prepare_transfer, "transfer", _plot("plot_epochs_to_solve")),
)})


# --- summaries ------------------------------------------------------------------------------------
def summarize(kind: str, table: pd.DataFrame) -> pd.DataFrame:
    """The table of ``kind`` reduced to what a reader looks at first: means (and s.d.) over repeats."""
    if kind in ("perturb-w", "perturb-tau"):
        g = table.groupby(["network", "n", "epsilon"], sort=True)
        return g.agg(accuracy=("accuracy", "mean"), relative_accuracy=("relative_accuracy", "mean"),
                     relative_accuracy_sd=("relative_accuracy", "std")).reset_index()
    if kind == "ablation":
        g = table.groupby(["network", "n", "group"], sort=False)
        return g.agg(tau=("tau", "mean"), accuracy=("accuracy", "mean"),
                     relative_accuracy=("relative_accuracy", "mean")).reset_index()
    if kind == "forgetting":
        return pd.concat([forgetting_scores(g).assign(network=net) for net, g in table.groupby("network", sort=False)],
                         ignore_index=True)[["network", "checkpoint_n", "n_earlier", "retained", "forgetting"]]
    if kind == "continuous":
        return table[["network", "k", "n", "accuracy"]]
    if kind == "retrain":
        return retrain_summary(table)
    if kind == "continuation":
        return table[["network", "curriculum", "source", "n", "epochs", "solved"]]
    if kind == "transfer":
        return table[["network", "curriculum", "task", "target_task", "start", "n", "epochs", "solved"]]
    raise ValueError(f"unknown kind {kind!r}")


# --- files ----------------------------------------------------------------------------------------
def default_out_dir(networks: Sequence[Network]) -> Path:
    """``RUN_DIR/robustness`` for one run directory; else ``./robustness/<name>[_vs_<name>...]``."""
    if len(networks) == 1 and networks[0].run_dir is not None:
        return Path(networks[0].run_dir) / "robustness"
    return Path("robustness") / "_vs_".join(re.sub(r"[^\w.-]+", "_", n.name) for n in networks)


# the robustness report merges into an existing directory: each kind replaces only its own tables
OUTPUT = OutputDir("robustness report")
check_out_dir = OUTPUT.check


def _merge(path: Path, new: pd.DataFrame, replaced: set[str]) -> pd.DataFrame:
    """``new`` plus the rows of an earlier ``path`` whose ``kind`` is not in ``replaced`` (when
    that file has the same columns)."""
    if not path.is_file():
        return new
    try:
        old = pd.read_csv(path)
    except (ValueError, pd.errors.ParserError):
        return new
    if list(old.columns) != list(new.columns):
        return new
    return pd.concat([old[~old["kind"].isin(replaced)], new], ignore_index=True)


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def write_report(tables: dict[str, pd.DataFrame], out: str | Path, settings: RobustnessSettings) -> list[Path]:
    """Write the tables of the kinds in ``tables`` (kind name -> DataFrame), their derived tables
    and their figures into ``out``; returns the paths written. Nothing is written until every file
    is ready. ``summary.json`` keeps, per kind, the settings and the summary of its latest run."""
    out = check_out_dir(out)
    settle(out)  # an earlier write killed half-way: its tables first, then the merge below
    files: dict[str, bytes] = {}
    for name in dict.fromkeys(KINDS[k].table for k in tables):
        kinds = [k for k in tables if KINDS[k].table == name]
        table = pd.concat([tables[k] for k in kinds], ignore_index=True)
        if any(k.table == name and k.name not in tables for k in KINDS.values()):
            table = _merge(out / f"{name}.csv", table, set(kinds))
        files[f"{name}.csv"] = table.to_csv(index=False).encode()
    for k, table in tables.items():
        for name, derive in KINDS[k].derived.items():
            files[f"{name}.csv"] = derive(table).to_csv(index=False).encode()
        files[f"{KINDS[k].figure}.png"] = _png(KINDS[k].plot(table))
    summary_path = out / "summary.json"
    try:
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    except (OSError, json.JSONDecodeError):
        summary = {}
    if not isinstance(summary, dict):
        summary = {}
    for kind, table in tables.items():
        summary[kind] = {"settings": settings.to_dict(), "networks": sorted(table["network"].unique().tolist()),
                         "summary": json.loads(summarize(kind, table).to_json(orient="records"))}
    files["summary.json"] = json.dumps(summary, indent=2, default=str).encode()
    return write_files_together(out, files)  # all of them or none, even when killed (io.settle)


# --- as a sweep runs it: the kinds that train nothing, on each finished run -----------------------
SWEEP_KINDS = ("perturb-w", "perturb-tau", "ablation", "forgetting", "continuous")


@dataclass(frozen=True)
class RobustnessSweepSettings:
    """``analyze.robustness`` of a sweep spec: the kinds (those that train nothing) and the command's
    options of the same names (``repeats``, ``warmup``, ``length``, ``seed``: the streams)."""

    kinds: tuple[str, ...] = ("perturb-w", "perturb-tau", "ablation")
    repeats: int = 10
    warmup: int = 100
    length: int = 1000
    seed: int = 0
    heads: str | None = None
    w_epsilons: tuple[float, ...] | None = None
    tau_epsilons: tuple[float, ...] | None = None
    ablate_by: str = "tau"
    n_ablate: int = 20
    ks: tuple[int, ...] = PAPER_KS
    n_sequences: int = 256

    def __post_init__(self) -> None:
        bad = [k for k in self.kinds if k not in SWEEP_KINDS]
        if bad or not self.kinds:
            raise ValueError(f"kinds must be among {', '.join(SWEEP_KINDS)}, got {bad or 'none'} (the kinds that train "
                             "networks of their own run from `rnn-timescales robustness`)")
        if self.heads not in (None, "newest", "all"):
            raise ValueError(f"heads must be newest, all or null, got {self.heads!r}")
        self.settings()

    def settings(self) -> RobustnessSettings:
        from rnn_timescales.analysis.robustness.streams import StreamingProtocol

        return RobustnessSettings(StreamingProtocol(self.repeats, self.warmup, self.length, self.seed), self.heads,
                                  w_epsilons=self.w_epsilons, tau_epsilons=self.tau_epsilons, ablate_by=self.ablate_by,
                                  n_ablate=self.n_ablate, ks=self.ks, n_sequences=self.n_sequences)


def _write_run(checkpoint: Path, out: Path, s: RobustnessSweepSettings) -> None:
    settings = s.settings()
    (net,) = resolve_networks([checkpoint.parent.parent])
    jobs = {k: KINDS[k].prepare(net, settings) for k in s.kinds}  # every input checked before any work
    write_report({k: job(None) for k, job in jobs.items()}, out, settings)


IN_RUN = LatestNetwork("robustness", "summary.json", RobustnessSweepSettings, _write_run,
                       tables=tuple(dict.fromkeys(f"{KINDS[k].table}.csv" for k in SWEEP_KINDS)), requires="streaming")

STUDY = Study(
    "robustness", "perturbation, ablation, forgetting, continuous time, retraining, continuation and transfer",
    RobustnessSettings, (*dict.fromkeys(f"{k.table}.csv" for k in KINDS.values()), "summary.json"),
    tuple(dict.fromkeys(f"{k.figure}.png" for k in KINDS.values())), "Robustness and generalisation",
    sweep_name="robustness", sweep=IN_RUN.run_study(),
    tiny={"kinds": list(SWEEP_KINDS), "repeats": 2, "warmup": 10, "length": 40, "w_epsilons": [0.1], "n_ablate": 2,
          "ks": [1, 2], "n_sequences": 8})

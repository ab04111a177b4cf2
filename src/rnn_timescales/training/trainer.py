"""The training loop: config -> task + model + curriculum -> run directory.

A run directory holds::

    config.yaml          the validated configuration (enough to redo the run)
    metrics.csv          one row per epoch: loss, accuracies, N range, tau statistics, wall time
    head_metrics.csv     one row per epoch and head: N, head, accuracy
    summary.json         why and when the run stopped, and the N solved
    checkpoints/         init.safetensors, then rnn_N{min}_N{max}.safetensors per solved N range

Read top to bottom: :meth:`Trainer.run` is the whole loop.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from rnn_timescales.config import ConfigError, RunConfig
from rnn_timescales.curricula import Curriculum
from rnn_timescales.io import atomic_write_text
from rnn_timescales.models import RecurrentModel, build_model
from rnn_timescales.tasks import get_task
from rnn_timescales.training.checkpoints import checkpoint_name, save_checkpoint
from rnn_timescales.training.steps import accuracy, train_step

METRIC_COLUMNS = [
    "epoch", "n_min", "n_max", "n_heads", "loss", "accuracy_mean", "accuracy_newest", "accuracy_min",
    "tau_mean", "tau_median", "tau_std", "tau_min", "tau_max", "lr", "solved", "wall_time_s", "epoch_time_s",
]
TIMING_COLUMNS = ["wall_time_s", "epoch_time_s"]


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` fails clearly where there is none."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was requested but CUDA is not available here; use --device cpu or auto")
    return torch.device(name)


def make_optimizer(config: RunConfig, model: RecurrentModel) -> torch.optim.Optimizer:
    """The optimiser of SPEC section 4 (SGD with Nesterov momentum by default, or Adam)."""
    o = config.optimizer
    params = [p for p in model.parameters() if p.requires_grad]
    if o.name == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov and o.momentum > 0)
    return torch.optim.Adam(params, lr=o.lr)


def prepare_run_dir(run_dir: str | Path) -> Path:
    """Check that ``run_dir`` is free to hold a new run (missing or empty); does not create it."""
    p = Path(run_dir)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"output path {str(p)!r} is a file; give a directory for the run")
    if p.is_dir() and any(p.iterdir()):
        raise ConfigError(f"output directory {str(p)!r} already holds files; choose a new --out")
    return p


@dataclass
class TrainResult:
    """What a finished run leaves behind (all of it is also in the run directory)."""

    run_dir: Path
    metrics: pd.DataFrame
    solved: list[list[int]]
    stop_reason: str
    checkpoints: list[Path] = field(default_factory=list)

    @property
    def n_solved(self) -> int | None:
        """Largest N solved (None if nothing was)."""
        return max(ns[-1] for ns in self.solved) if self.solved else None


class Trainer:
    """Trains one network under one curriculum as configured, writing into ``run_dir``.

    The same configuration (seed included) gives the same metrics and weights on CPU with the
    same thread count.
    """

    def __init__(self, config: RunConfig, run_dir: str | Path, progress: bool = True) -> None:
        self.config = config
        self.run_dir = prepare_run_dir(run_dir)
        self.progress = progress
        self.device = resolve_device(config.device)
        self.task = get_task(config.task.name)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.model = build_model(config.model).to(self.device)
        self.optimizer = make_optimizer(config, self.model)
        self.curriculum = Curriculum.from_config(config.curriculum)
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.rows: list[dict] = []
        self.head_rows: list[dict] = []
        self.checkpoints: list[Path] = []

    # --- the loop ------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        cfg = self.config.training
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "checkpoints").mkdir(exist_ok=True)
        atomic_write_text(self.run_dir / "config.yaml", self.config.to_yaml())
        self._save_checkpoint(None, epoch=0, accuracy=None)

        start = time.perf_counter()
        stop_reason = "max_epochs"
        bar = tqdm(total=cfg.max_epochs, unit="epoch", desc="train", disable=not self.progress, dynamic_ncols=True)
        last_epoch_s = 0.0
        for epoch in range(1, cfg.max_epochs + 1):
            elapsed = time.perf_counter() - start
            if cfg.time_budget_s is not None and elapsed + last_epoch_s > cfg.time_budget_s:
                stop_reason = "time_budget"
                break
            epoch_start = time.perf_counter()
            ns = list(self.curriculum.ns)
            loss = self._train_epoch(ns, start)
            if loss is None:  # the wall-clock budget ran out inside the epoch; it is not recorded
                stop_reason = "time_budget"
                break
            acc = accuracy(
                self.model, self.task, ns, cfg.eval_batches, cfg.batch_size, self.generator, self.device
            ).tolist()
            solved = self.curriculum.solved(acc)
            last_epoch_s = time.perf_counter() - epoch_start
            self._record(epoch, ns, loss, acc, solved, time.perf_counter() - start, last_epoch_s)
            bar.update(1)
            bar.set_postfix_str(f"N={ns[0]}..{ns[-1]} acc={sum(acc) / len(acc):.3f} newest={acc[-1]:.3f} loss={loss:.3f}")
            if solved:
                self._save_checkpoint(ns, epoch=epoch, accuracy=acc)
                self.curriculum.advance()
                if cfg.target_n is not None and ns[-1] >= cfg.target_n:
                    stop_reason = "target_n"
                    break
                if self.curriculum.finished:
                    stop_reason = "solved"
                    break
                if self.curriculum.n_heads > self.model.n_heads:
                    stop_reason = "heads_exhausted"
                    break
        bar.close()
        return self._finish(stop_reason, time.perf_counter() - start)

    def _train_epoch(self, ns: list[int], start: float) -> float | None:
        """One epoch of training batches; the mean loss, or None if the time budget ran out."""
        cfg = self.config.training
        self.model.train()
        total = torch.zeros((), device=self.device)
        for _ in range(cfg.steps_per_epoch):
            if cfg.time_budget_s is not None and time.perf_counter() - start > cfg.time_budget_s:
                return None
            batch = self.task.sample(ns, cfg.batch_size, self.generator, self.device)
            total += train_step(self.model, self.optimizer, batch, self.config.optimizer.grad_clip, self.generator)
        self.model.eval()
        return float(total) / cfg.steps_per_epoch

    # --- bookkeeping ---------------------------------------------------------------------------
    def _record(self, epoch, ns, loss, acc, solved, wall, epoch_s) -> None:
        tau = self.model.tau_hat().detach().double().cpu()
        self.rows.append(
            {
                "epoch": epoch,
                "n_min": ns[0],
                "n_max": ns[-1],
                "n_heads": len(ns),
                "loss": loss,
                "accuracy_mean": sum(acc) / len(acc),
                "accuracy_newest": acc[-1],
                "accuracy_min": min(acc),
                "tau_mean": float(tau.mean()),
                "tau_median": float(tau.median()),
                "tau_std": float(tau.std()) if tau.numel() > 1 else 0.0,
                "tau_min": float(tau.min()),
                "tau_max": float(tau.max()),
                "lr": self.optimizer.param_groups[0]["lr"],
                "solved": bool(solved),
                "wall_time_s": wall,
                "epoch_time_s": epoch_s,
            }
        )
        self.head_rows.extend({"epoch": epoch, "head": k, "n": n, "accuracy": a} for k, (n, a) in enumerate(zip(ns, acc)))
        atomic_write_text(self.run_dir / "metrics.csv", pd.DataFrame(self.rows, columns=METRIC_COLUMNS).to_csv(index=False))
        atomic_write_text(self.run_dir / "head_metrics.csv", pd.DataFrame(self.head_rows).to_csv(index=False))

    def _save_checkpoint(self, ns: list[int] | None, epoch: int, accuracy: list[float] | None) -> None:
        path = self.run_dir / "checkpoints" / checkpoint_name(ns)
        heads = ns if ns is not None else list(self.curriculum.ns)
        save_checkpoint(path, self.model, config=self.config, ns=heads, epoch=epoch, accuracy=accuracy)
        self.checkpoints.append(path)

    def _finish(self, stop_reason: str, elapsed: float) -> TrainResult:
        solved = list(self.curriculum.history)
        summary = {
            "stop_reason": stop_reason,
            "epochs": len(self.rows),
            "wall_time_s": elapsed,
            "n_max_solved": max((ns[-1] for ns in solved), default=None),
            "solved": solved,
            "checkpoints": [p.name for p in self.checkpoints],
        }
        atomic_write_text(self.run_dir / "summary.json", json.dumps(summary, indent=2))
        metrics = pd.DataFrame(self.rows, columns=METRIC_COLUMNS)
        return TrainResult(self.run_dir, metrics, solved, stop_reason, list(self.checkpoints))


def train(config: RunConfig, run_dir: str | Path, progress: bool = True) -> TrainResult:
    """Train as ``config`` says and write the run directory; see :class:`Trainer`."""
    return Trainer(config, run_dir, progress=progress).run()


def default_run_dir(config: RunConfig, root: str | Path = "runs") -> Path:
    """A fresh directory name under ``root`` that names the run and never collides."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = f"{config.task.name}_{config.curriculum.kind}_h{config.model.hidden_size}_seed{config.seed}_{stamp}"
    candidate = Path(root) / base
    k = 1
    while candidate.exists():
        k += 1
        candidate = Path(root) / f"{base}-{k}"
    return candidate


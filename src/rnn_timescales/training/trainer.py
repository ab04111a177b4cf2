"""The training loop: config -> task + model + curriculum -> run directory.

A run directory holds::

    config.yaml          the validated configuration (enough to redo the run)
    metrics.csv          one row per epoch: loss, accuracies, N range, tau statistics, wall time
    head_metrics.csv     one row per epoch and head: N, head, accuracy
    summary.json         why and when the run stopped, and the N solved (absent while it trains)
    checkpoints/         init.safetensors, then rnn_N{min}_N{max}.safetensors per solved N range
    state/               the full training state, to resume (see training/state.py)
    .lock                held by the one process training this directory

Read top to bottom: :meth:`Trainer.run` opens the directory, :meth:`Trainer._loop` is the loop.

Nothing is lost: the training state is saved atomically at every epoch end, inside long epochs,
and on SIGINT/SIGTERM; :meth:`Trainer.resume` continues a run exactly (same metrics, same weights)
where it stopped. Nothing is trusted blindly: a non-finite loss or gradient never reaches a
checkpoint or a saved state; the run stops, naming the epoch and step, or rolls back to the last
epoch's state with a lower learning rate (``training.divergence``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from rnn_timescales.config import ConfigError, RunConfig, merge, parse_override, validate
from rnn_timescales.curricula import Curriculum
from rnn_timescales.io import atomic_write_text, file_in_the_way
from rnn_timescales.models import RecurrentModel, build_model
from rnn_timescales.tasks import get_task
from rnn_timescales.training.checkpoints import (
    checkpoint_name,
    list_run_checkpoints,
    non_finite_tensors,
    save_checkpoint,
)
from rnn_timescales.training.state import (
    EPOCH_STATE,
    STATE_DIR,
    STEP_STATE,
    StateError,
    TrainingState,
    capture_rng,
    load_latest_state,
    load_state,
    restore_rng,
    save_state,
    state_dir,
)
from rnn_timescales.training.steps import accuracy, train_step

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: runs are not locked
    fcntl = None  # type: ignore[assignment]

METRIC_COLUMNS = [
    "epoch", "n_min", "n_max", "n_heads", "loss", "accuracy_mean", "accuracy_newest", "accuracy_min",
    "tau_mean", "tau_median", "tau_std", "tau_min", "tau_max", "lr", "solved", "wall_time_s", "epoch_time_s",
]
TIMING_COLUMNS = ["wall_time_s", "epoch_time_s"]
LOCK_NAME = ".lock"

# Settings a resumed run may change: they decide when to stop and what to do on divergence,
# never what a step computes, so the resumed run stays the run its config describes.
RESUMABLE = (
    "training.max_epochs",
    "training.target_n",
    "training.time_budget_s",
    "training.divergence",
    "training.rollback_lr_factor",
    "training.max_rollbacks",
    "training.state_every_s",
)


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
    if p.is_dir() and any(q.name != LOCK_NAME for q in p.iterdir()):  # a lone lock: killed while starting
        raise ConfigError(f"output directory {str(p)!r} already holds files; choose a new --out (or --resume it)")
    blocker = file_in_the_way(p)
    if blocker is not None:
        raise ConfigError(f"output path {str(p)!r} lies under {str(blocker)!r}, which is a file")
    return p


def resume_config(saved: RunConfig, overrides: list[str] | None) -> RunConfig:
    """``saved`` with ``key=value`` overrides applied; only the settings in :data:`RESUMABLE` may
    change (ConfigError otherwise)."""
    data = saved.to_dict()
    for text in overrides or []:
        layer = parse_override(text)
        for key in _dotted_keys(layer):
            if key not in RESUMABLE:
                raise ConfigError(
                    f"a resumed run keeps its configuration; {key!r} cannot change "
                    f"(only {', '.join(k.split('.')[-1] for k in RESUMABLE)} can)"
                )
        data = merge(data, layer)
    return validate(data)


def _dotted_keys(nested: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for k, v in nested.items():
        if isinstance(v, dict) and v:
            keys += _dotted_keys(v, f"{prefix}{k}.")
        else:
            keys.append(f"{prefix}{k}")
    return keys


def _config_difference(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """The first setting (outside RESUMABLE) on which two configuration dicts differ."""
    flat_a = {k: v for k, v in _flatten(a).items() if k not in RESUMABLE}
    flat_b = {k: v for k, v in _flatten(b).items() if k not in RESUMABLE}
    for key in sorted(set(flat_a) | set(flat_b)):
        if flat_a.get(key) != flat_b.get(key):
            return f"{key}: {flat_a.get(key)!r} in the state, {flat_b.get(key)!r} in config.yaml"
    return None


def _flatten(nested: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in nested.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


@dataclass
class TrainResult:
    """What a finished run leaves behind (all of it is also in the run directory).

    stop_reason: ``target_n``, ``solved``, ``heads_exhausted``, ``max_epochs``, ``time_budget``,
    ``interrupted`` (SIGINT/SIGTERM; resumable) or ``diverged`` (``message`` says where).
    """

    run_dir: Path
    metrics: pd.DataFrame
    solved: list[list[int]]
    stop_reason: str
    checkpoints: list[Path] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""

    @property
    def n_solved(self) -> int | None:
        """Largest N solved (None if nothing was)."""
        return max(ns[-1] for ns in self.solved) if self.solved else None


class Trainer:
    """Trains one network under one curriculum as configured, writing into ``run_dir``.

    The same configuration (seed included) gives the same metrics and weights on CPU with the
    same thread count, whether or not the run was interrupted and resumed on the way.
    ``auto_name``: ``run_dir`` is a generated name; if another process takes it first, a suffix
    ``-2``, ``-3``, ... is added instead of failing.
    """

    def __init__(self, config: RunConfig, run_dir: str | Path, progress: bool = True, *, auto_name: bool = False) -> None:
        self._build(config, prepare_run_dir(run_dir), progress)
        self.auto_name = auto_name

    def _build(self, config: RunConfig, run_dir: Path, progress: bool) -> None:
        self.config = config
        self.run_dir = run_dir
        self.progress = progress
        self.auto_name = False
        self.mode = "new"  # new | resume | restart (a run killed before its first state was saved)
        self.warnings: list[str] = []
        self.device = resolve_device(config.device)
        self.task = get_task(config.task.name)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.model = build_model(config.model).to(self.device)
        self.optimizer = make_optimizer(config, self.model)
        self.curriculum = Curriculum.from_config(config.curriculum)
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.epoch = 0  # epochs completed
        self.step = 0  # training steps done in epoch self.epoch + 1
        self.loss_sum = torch.zeros((), device=self.device)
        self.rows: list[dict] = []
        self.head_rows: list[dict] = []
        self.checkpoints: list[Path] = []
        self.events: list[dict[str, Any]] = []
        self.elapsed_before = 0.0
        self.epoch_elapsed_before = 0.0
        self.last_epoch_s = 0.0
        self.message = ""
        self._divergence: tuple[int, int] | None = None
        self._signal: int | None = None
        self._lock_fd: int | None = None
        self._t0 = self._epoch_t0 = time.perf_counter()

    # --- resuming ------------------------------------------------------------------------------
    @classmethod
    def resume(cls, run_dir: str | Path, overrides: list[str] | None = None, progress: bool = True) -> Trainer:
        """A trainer that continues the run in ``run_dir`` from its newest saved state.

        ``overrides`` (``key=value``) may change only the settings in :data:`RESUMABLE`. Everything
        is checked before anything is written: ConfigError / StateError with a one-line message.
        """
        p = Path(run_dir)
        if not p.exists():
            raise ConfigError(f"run directory {str(p)!r} does not exist")
        if not p.is_dir():
            raise ConfigError(f"{str(p)!r} is a file, not a run directory")
        if not (p / "config.yaml").is_file():
            raise ConfigError(f"{str(p)!r} is not a run directory (it has no config.yaml)")
        config = resume_config(RunConfig.load(p / "config.yaml"), overrides)
        state, state_path, warnings = load_latest_state(p)
        trainer = cls.__new__(cls)
        if state is None:
            if list_run_checkpoints(p, include_init=False) or (p / "metrics.csv").is_file():
                raise StateError(
                    f"run directory {str(p)!r} has no training state to resume from (no {STATE_DIR}/{EPOCH_STATE})"
                )
            # Killed before its first state was written: nothing was trained, so start it again.
            trainer._build(config, p, progress)
            trainer.mode = "restart"
            return trainer
        difference = _config_difference(state.config, config.to_dict())
        if difference is not None:
            raise StateError(f"the training state {str(state_path)!r} does not belong to this run's config.yaml ({difference})")
        trainer._build(config, p, progress)
        trainer._restore(state, clock=True)
        trainer.mode = "resume"
        trainer.warnings = warnings
        return trainer

    def pending_stop_reason(self) -> str | None:
        """Why the run would stop before training a single step (None: there is work to do)."""
        return self._stop_reason()

    # --- the run -------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        """Train until a stopping rule, a divergence or a signal; write and return the result."""
        self._open()
        try:
            with self._signal_handlers():
                reason = self._loop()
            return self._finish(reason)
        finally:
            self._release()

    def _loop(self) -> str:
        cfg = self.config.training
        # With a wall-clock budget the bar counts seconds of it (that is what ends such runs);
        # otherwise epochs out of max_epochs.
        budget = cfg.time_budget_s
        bar = tqdm(total=budget if budget else cfg.max_epochs, unit="s" if budget else "epoch", desc="train",
                   initial=min(self._elapsed(), budget) if budget else self.epoch, disable=not self.progress,
                   dynamic_ncols=True, bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} {unit} [{elapsed}<{remaining}{postfix}]")
        try:
            while True:
                reason = self._stop_reason()
                if reason is not None:
                    if reason == "time_budget" and self.step == 0:
                        # the clock as it was when the budget ran out, so that a resumed run
                        # makes the same decision (the state saved at the epoch end is earlier)
                        self._save_state(EPOCH_STATE)
                    return reason
                if self._signal is not None:
                    return "interrupted"  # at an epoch boundary: the state on disk is current
                if self.step == 0:
                    self._epoch_t0 = time.perf_counter()
                ns = list(self.curriculum.ns)
                status = self._train_epoch(ns)
                if status == "diverged":
                    if self._roll_back():
                        continue
                    return "diverged"
                if status != "done":  # interrupted or out of time inside the epoch
                    self._save_state(STEP_STATE)
                    return status
                acc = accuracy(
                    self.model, self.task, ns, cfg.eval_batches, cfg.batch_size, self.generator, self.device
                ).tolist()
                solved = self.curriculum.solved(acc)
                epoch_s = time.perf_counter() - self._epoch_t0
                loss = float(self.loss_sum) / cfg.steps_per_epoch
                self.epoch += 1
                self._record(self.epoch, ns, loss, acc, solved, self._elapsed(), epoch_s)
                if solved:
                    self._save_checkpoint(ns, epoch=self.epoch, accuracy=acc)
                    self.curriculum.advance()
                self.step = 0
                self.loss_sum = torch.zeros((), device=self.device)
                self.last_epoch_s = epoch_s
                self._save_state(EPOCH_STATE)
                bar.update(min(self._elapsed(), budget) - bar.n if budget else 1)
                bar.set_postfix_str(f"epoch {self.epoch}, N={ns[0]}..{ns[-1]} acc={sum(acc) / len(acc):.3f} "
                                    f"newest={acc[-1]:.3f} loss={loss:.3f}")
        finally:
            bar.close()

    def _stop_reason(self) -> str | None:
        cfg = self.config.training
        if self.step > 0:  # inside an epoch (a resumed run): only an exhausted budget stops it here
            if cfg.time_budget_s is not None and self._elapsed() > cfg.time_budget_s:
                return "time_budget"
            return "max_epochs" if self.epoch >= cfg.max_epochs else None
        solved_max = max((ns[-1] for ns in self.curriculum.history), default=None)
        if cfg.target_n is not None and solved_max is not None and solved_max >= cfg.target_n:
            return "target_n"
        if self.curriculum.finished:
            return "solved"
        if self.curriculum.n_heads > self.model.readout.n_heads:
            return "heads_exhausted"
        if self.epoch >= cfg.max_epochs:
            return "max_epochs"
        if cfg.time_budget_s is not None and self._elapsed() + self.last_epoch_s > cfg.time_budget_s:
            return "time_budget"
        return None

    def _train_epoch(self, ns: list[int]) -> str:
        """Training batches from ``self.step`` to the end of the epoch.

        Returns ``done``, ``interrupted``, ``time_budget`` or ``diverged``. Finiteness is recorded
        per step without a device sync and checked before anything is saved.
        """
        cfg = self.config.training
        self.model.train()
        finite = torch.ones(cfg.steps_per_epoch, dtype=torch.bool, device=self.device)
        every = cfg.state_every_s
        next_save = time.perf_counter() + every if every is not None else None
        status = "done"
        while self.step < cfg.steps_per_epoch:
            if self._signal is not None:
                status = "interrupted"
                break
            if cfg.time_budget_s is not None and self._elapsed() > cfg.time_budget_s:
                status = "time_budget"
                break
            if next_save is not None and time.perf_counter() >= next_save:
                if not self._all_finite(finite):
                    break
                self._save_state(STEP_STATE)
                next_save = time.perf_counter() + every
            batch = self.task.sample(ns, cfg.batch_size, self.generator, self.device)
            loss = train_step(self.model, self.optimizer, batch, self.config.optimizer.grad_clip, self.generator)
            finite[self.step] = torch.isfinite(loss) & self._grads_finite()
            self.loss_sum += loss
            self.step += 1
        self.model.eval()
        return status if self._all_finite(finite) else "diverged"

    def _grads_finite(self) -> torch.Tensor:
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        if not grads:
            return torch.ones((), dtype=torch.bool, device=self.device)
        return torch.stack([torch.isfinite(g).all() for g in grads]).all()

    def _all_finite(self, finite: torch.Tensor) -> bool:
        bad = (~finite).nonzero()
        if bad.numel():
            self._divergence = (self.epoch + 1, int(bad[0, 0]) + 1)
            return False
        if non_finite_tensors(self.model.state_dict()):
            self._divergence = (self.epoch + 1, self.step)
            return False
        return True

    def _roll_back(self) -> bool:
        """After a divergence: stop (False), or restore the last epoch's state with the learning
        rate lowered and carry on (True), as ``training.divergence`` says."""
        cfg = self.config.training
        epoch, step = self._divergence or (self.epoch + 1, self.step)
        where = f"training diverged at epoch {epoch}, step {step} of {cfg.steps_per_epoch} (the loss or a gradient is not finite)"
        rollbacks = sum(e["kind"] == "rollback" for e in self.events)
        if cfg.divergence == "stop" or rollbacks >= cfg.max_rollbacks:
            why = "training.divergence is 'stop'" if cfg.divergence == "stop" else f"after {rollbacks} roll-backs, the most training.max_rollbacks allows"
            self.message = (
                f"{where}; stopped ({why}); the last good state (epoch {self._saved_epoch()}) is kept in "
                f"{str(state_dir(self.run_dir))!r}"
            )
            self.events.append({"kind": "diverged", "epoch": epoch, "step": step})
            return False
        state = load_state(state_dir(self.run_dir) / EPOCH_STATE)
        self._restore(state, clock=False)
        lr_before = self.optimizer.param_groups[0]["lr"]
        for group in self.optimizer.param_groups:
            group["lr"] *= cfg.rollback_lr_factor
        lr_after = self.optimizer.param_groups[0]["lr"]
        self.events.append({"kind": "rollback", "epoch": epoch, "step": step, "to_epoch": state.epoch,
                            "lr_before": lr_before, "lr_after": lr_after})
        self._save_state(EPOCH_STATE)
        (state_dir(self.run_dir) / STEP_STATE).unlink(missing_ok=True)
        tqdm.write(f"rnn-timescales: {where}; rolled back to the end of epoch {state.epoch}, "
                   f"learning rate {lr_before:g} -> {lr_after:g}")
        return True

    def _saved_epoch(self) -> int:
        try:
            return load_state(state_dir(self.run_dir) / EPOCH_STATE).epoch
        except StateError:
            return 0

    def _elapsed(self) -> float:
        return time.perf_counter() - self._t0

    # --- the run directory ---------------------------------------------------------------------
    def _open(self) -> None:
        """Claim and lock the run directory, then write what a run starts with."""
        if self.mode == "new":
            self._claim()
        else:
            self._lock()
        self._t0 = time.perf_counter() - self.elapsed_before
        self._epoch_t0 = time.perf_counter() - self.epoch_elapsed_before
        # config.yaml first: from then on the directory is a run that --resume accepts.
        atomic_write_text(self.run_dir / "config.yaml", self.config.to_yaml())
        (self.run_dir / "checkpoints").mkdir(exist_ok=True)
        state_dir(self.run_dir).mkdir(exist_ok=True)
        if self.mode == "resume":
            for w in self.warnings:
                tqdm.write(f"rnn-timescales: warning: {w}")
            (self.run_dir / "summary.json").unlink(missing_ok=True)  # it is training again
            self._write_metrics()
        else:
            self._save_checkpoint(None, epoch=0, accuracy=None)
            self._save_state(EPOCH_STATE)

    def _claim(self) -> None:
        p = self.run_dir
        p.parent.mkdir(parents=True, exist_ok=True)
        if self.auto_name:
            base, k = p, 1
            while True:
                try:
                    p.mkdir()
                    break
                except FileExistsError:
                    k += 1
                    p = base.with_name(f"{base.name}-{k}")
            self.run_dir = p
        else:
            prepare_run_dir(p)
            p.mkdir(exist_ok=True)
        self._lock()
        if any(q.name != LOCK_NAME for q in p.iterdir()):
            self._release()
            raise ConfigError(f"output directory {str(p)!r} was just taken by another process; choose a new --out")

    def _lock(self) -> None:
        if fcntl is None:
            return
        fd = os.open(self.run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(f"run directory {str(self.run_dir)!r} is being trained by another process") from None
        self._lock_fd = fd

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the lock
            self._lock_fd = None

    @contextlib.contextmanager
    def _signal_handlers(self) -> Iterator[None]:
        """SIGINT/SIGTERM ask the loop to save the state after the current step and stop; a second
        one acts as usual (the state on disk is then the previous, consistent one)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def handler(signum: int, frame: object) -> None:
            self._signal = signum
            signal.signal(signum, previous[signum] if previous[signum] is not None else signal.SIG_DFL)

        for s in previous:
            signal.signal(s, handler)
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h if h is not None else signal.SIG_DFL)

    # --- state ---------------------------------------------------------------------------------
    def _capture(self) -> TrainingState:
        return TrainingState(
            config=self.config.to_dict(),
            model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            curriculum=self.curriculum.state_dict(),
            epoch=self.epoch,
            step=self.step,
            loss_sum=self.loss_sum,
            rng=capture_rng(self.generator),
            rows=self.rows,
            head_rows=self.head_rows,
            checkpoints=[p.name for p in self.checkpoints],
            events=self.events,
            elapsed_s=self._elapsed(),
            epoch_elapsed_s=time.perf_counter() - self._epoch_t0 if self.step else 0.0,
            last_epoch_s=self.last_epoch_s,
        )

    def _save_state(self, name: str) -> None:
        bad = non_finite_tensors(self.model.state_dict())
        if bad:  # _train_epoch checks first; this is the last line of defence
            raise RuntimeError(f"refusing to save a training state with non-finite {', '.join(bad)}")
        save_state(state_dir(self.run_dir) / name, self._capture())
        if name == EPOCH_STATE:
            (state_dir(self.run_dir) / STEP_STATE).unlink(missing_ok=True)

    def _restore(self, state: TrainingState, clock: bool) -> None:
        try:
            self.model.load_state_dict(state.model)
            self.optimizer.load_state_dict(state.optimizer)
            self.curriculum = Curriculum.from_state_dict(state.curriculum)
            restore_rng(state.rng, self.generator)
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise StateError(f"the training state of {str(self.run_dir)!r} does not fit its configuration: {first}") from None
        self.epoch, self.step = state.epoch, state.step
        self.loss_sum = state.loss_sum.to(self.device).clone()
        self.rows = list(state.rows)
        self.head_rows = list(state.head_rows)
        self.checkpoints = [self.run_dir / "checkpoints" / name for name in state.checkpoints]
        self.events = list(state.events)
        if clock:
            self._t0 = time.perf_counter() - state.elapsed_s
            self.elapsed_before = state.elapsed_s
            self.epoch_elapsed_before = state.epoch_elapsed_s
            self.last_epoch_s = state.last_epoch_s

    # --- bookkeeping ---------------------------------------------------------------------------
    def _tau_stats(self) -> dict[str, float]:
        """Statistics of the trained timescales tau_hat (time steps); NaN for a model without them."""
        tau_hat = getattr(self.model, "tau_hat", None)
        if tau_hat is None:
            return {f"tau_{s}": float("nan") for s in ("mean", "median", "std", "min", "max")}
        tau = tau_hat().detach().double().cpu().numpy()
        return {
            "tau_mean": float(tau.mean()),
            "tau_median": float(np.median(tau)),
            "tau_std": float(tau.std(ddof=1)) if tau.size > 1 else 0.0,
            "tau_min": float(tau.min()),
            "tau_max": float(tau.max()),
        }

    def _record(self, epoch, ns, loss, acc, solved, wall, epoch_s) -> None:
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
                **self._tau_stats(),
                "lr": self.optimizer.param_groups[0]["lr"],
                "solved": bool(solved),
                "wall_time_s": wall,
                "epoch_time_s": epoch_s,
            }
        )
        self.head_rows.extend({"epoch": epoch, "head": k, "n": n, "accuracy": a} for k, (n, a) in enumerate(zip(ns, acc)))
        self._write_metrics()

    def _write_metrics(self) -> None:
        if not self.rows:  # a run resumed before its first epoch ended: drop rows of the lost epoch
            (self.run_dir / "metrics.csv").unlink(missing_ok=True)
            (self.run_dir / "head_metrics.csv").unlink(missing_ok=True)
            return
        atomic_write_text(self.run_dir / "metrics.csv", pd.DataFrame(self.rows, columns=METRIC_COLUMNS).to_csv(index=False))
        atomic_write_text(self.run_dir / "head_metrics.csv", pd.DataFrame(self.head_rows).to_csv(index=False))

    def _save_checkpoint(self, ns: list[int] | None, epoch: int, accuracy: list[float] | None) -> None:
        path = self.run_dir / "checkpoints" / checkpoint_name(ns)
        heads = ns if ns is not None else list(self.curriculum.ns)
        save_checkpoint(path, self.model, config=self.config, ns=heads, epoch=epoch, accuracy=accuracy)
        if path not in self.checkpoints:
            self.checkpoints.append(path)

    def _finish(self, stop_reason: str) -> TrainResult:
        solved = list(self.curriculum.history)
        summary = {
            "stop_reason": stop_reason,
            "epochs": len(self.rows),
            "wall_time_s": self._elapsed(),
            "n_max_solved": max((ns[-1] for ns in solved), default=None),
            "solved": solved,
            "checkpoints": [p.name for p in self.checkpoints],
            "events": self.events,
            "message": self.message,
            "resumable": stop_reason in ("interrupted", "time_budget", "max_epochs", "diverged"),
        }
        atomic_write_text(self.run_dir / "summary.json", json.dumps(summary, indent=2))
        metrics = pd.DataFrame(self.rows, columns=METRIC_COLUMNS)
        return TrainResult(self.run_dir, metrics, solved, stop_reason, list(self.checkpoints), list(self.events), self.message)



def train(config: RunConfig, run_dir: str | Path, progress: bool = True) -> TrainResult:
    """Train as ``config`` says and write the run directory; see :class:`Trainer`."""
    return Trainer(config, run_dir, progress=progress).run()


def resume(run_dir: str | Path, overrides: list[str] | None = None, progress: bool = True) -> TrainResult:
    """Continue the run in ``run_dir`` where it stopped; see :meth:`Trainer.resume`."""
    return Trainer.resume(run_dir, overrides, progress=progress).run()


def default_run_dir(config: RunConfig, root: str | Path = "runs") -> Path:
    """A fresh directory name under ``root`` that names the run. Creating it is left to the
    trainer (``auto_name=True``), which adds a suffix if another run takes the name first."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = f"{config.task.name}_{config.curriculum.kind}_h{config.model.hidden_size}_seed{config.seed}_{stamp}"
    candidate = Path(root) / base
    k = 1
    while candidate.exists():
        k += 1
        candidate = Path(root) / f"{base}-{k}"
    return candidate

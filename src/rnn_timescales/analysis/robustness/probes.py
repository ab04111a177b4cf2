"""Forgetting measured by fresh linear readouts ("probes") of a frozen network's states.

Scoring a single-head network's own head on an earlier N' asks whether the head still answers N',
and after training on N > N' it answers N: it is at chance by construction, whatever the states
still hold. The probe asks what the claim means: does the network's state still carry the parity
(or match) of the last N' inputs, so that *some* linear readout can read it?

For one checkpoint: ``streams`` Bernoulli(0.5) streams of ``warmup + length`` steps, drawn from
``seed`` exactly as the streaming accuracy draws them (:func:`~rnn_timescales.analysis.robustness.streams.draw_streams`),
run through the frozen network; the states after the warm-up of the first ``streams - held_out``
streams train one logistic regression per N' (scikit-learn, features standardised on the training
streams, L2 penalty ``c``), and its accuracy is scored on the states of the ``held_out`` other
streams (independent inputs and initial states). The probe is a ridge regression of the labels
coded as +-1 (``probe="ridge"``, the default: one least-squares solve for every N' at once) or a
logistic regression per N' (``probe="logistic"``, the head's own loss; some 50 times slower).
Beside it the row holds the paper's measure: the
network's own head for N' (single-head: its one head; multi-head: head N') on the same held-out
steps. An untrained network's probe accuracy (the run's initial weights) is the floor the probe
reaches without any training: nothing above it is evidence of memory, and a trained network can
fall to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from rnn_timescales.analysis.robustness.streams import StreamingProtocol, draw_streams
from rnn_timescales.runtime import torch_threads
from rnn_timescales.tasks import get_task

SINGLE_HEAD = ("single", "fixed")
PROBES = ("ridge", "logistic")


@dataclass(frozen=True)
class ProbeSettings:
    """How the probes are fitted and scored.

    streams: independent streams per checkpoint (each ``warmup + length`` steps).
    held_out: streams whose states score the probe (never used to fit it); the rest fit it.
    warmup, length: unscored steps at the start of every stream, and scored steps after them.
    probe: ``ridge`` (least squares on +-1 labels, penalty ``alpha``) or ``logistic`` (penalty 1 / ``alpha``).
    alpha: L2 penalty on the standardised states (scikit-learn's ``alpha``; logistic ``C = 1 / alpha``).
    max_iter: iterations of the logistic solver (lbfgs).
    seed: seeds the streams and initial states.
    """

    streams: int = 10
    held_out: int = 3
    warmup: int = 100
    length: int = 1000
    probe: str = "ridge"
    alpha: float = 1.0
    max_iter: int = 500
    seed: int = 0

    def __post_init__(self) -> None:
        for name, low in (("streams", 2), ("held_out", 1), ("warmup", 0), ("length", 1), ("max_iter", 1), ("seed", 0)):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.held_out >= self.streams:
            raise ValueError(f"held_out ({self.held_out}) must be smaller than streams ({self.streams}): "
                             "the probe needs streams to fit on")
        if not (isinstance(self.alpha, (int, float)) and np.isfinite(self.alpha) and self.alpha > 0):
            raise ValueError(f"alpha must be a positive number, got {self.alpha!r}")
        if self.probe not in PROBES:
            raise ValueError(f"probe must be one of {', '.join(PROBES)}, got {self.probe!r}")

    @property
    def protocol(self) -> StreamingProtocol:
        return StreamingProtocol(repeats=self.streams, warmup=self.warmup, length=self.length, seed=self.seed)


def probe_checkpoint(ckpt, ns: Sequence[int], settings: ProbeSettings | None = None,
                     device: torch.device | str = "cpu") -> pd.DataFrame:
    """Probe and head accuracy of one frozen checkpoint on every N' in ``ns``.

    Parameters
    ----------
    ckpt : LoadedCheckpoint
        The network (a binary task: parity or DMS) and its level.
    ns : sequence of int
        The N' to probe (e.g. every N of the run up to the checkpoint's largest).
    settings : ProbeSettings, optional

    Returns
    -------
    DataFrame, one row per N': ``n``, ``trained`` (whether the checkpoint's level holds N'),
    ``probe_accuracy`` (held-out), ``probe_train_accuracy``, ``head`` (the head the paper's measure
    reads, -1 where the network has none for N'), ``head_accuracy`` (held-out steps, NaN without a
    head), ``label_balance`` (share of label 1 on the held-out steps).
    """
    from sklearn.preprocessing import StandardScaler

    settings = settings or ProbeSettings()
    ns = [int(n) for n in ns]
    if not ns:
        raise ValueError("probe_checkpoint needs at least one N")
    protocol = settings.protocol
    protocol.check_n(max(ns))
    task = get_task(ckpt.task)
    model = ckpt.model.to(device).eval()
    streams = draw_streams(model, task, ns, protocol, device)
    with torch.no_grad(), torch_threads(1):
        activity, _ = model.run_activity(streams.inputs, streams.h0)
        states = activity[streams.warmup:]  # (length, streams, H)
        n_active = len(ckpt.ns) if ckpt.ns else 1
        logits = model.readout(states, n_active)  # (length, streams, heads, classes)
    targets = streams.targets[streams.warmup:].cpu().numpy()  # (length, streams, len(ns))
    predicted = logits.argmax(-1).cpu().numpy()
    fit_part, test_part = slice(0, settings.streams - settings.held_out), slice(settings.streams - settings.held_out, None)
    x = states.cpu().numpy().astype(np.float64)
    x_fit = x[:, fit_part].reshape(-1, x.shape[-1])
    x_test = x[:, test_part].reshape(-1, x.shape[-1])
    scaler = StandardScaler().fit(x_fit)
    x_fit, x_test = scaler.transform(x_fit), scaler.transform(x_test)
    y_fit = targets[:, fit_part].reshape(-1, len(ns))
    y_test = targets[:, test_part].reshape(-1, len(ns))
    probe, train = _fit_probes(x_fit, y_fit, x_test, y_test, settings)
    own = list(ckpt.ns) if ckpt.ns else []
    rows = []
    for j, n in enumerate(ns):
        head = 0 if ckpt.curriculum in SINGLE_HEAD else (own.index(n) if n in own else -1)
        head_acc = float((predicted[:, test_part, head].reshape(-1) == y_test[:, j]).mean()) if head >= 0 else np.nan
        rows.append({"n": n, "trained": n in own, "probe_accuracy": probe[j], "probe_train_accuracy": train[j],
                     "head": head, "head_accuracy": head_acc, "label_balance": float(y_test[:, j].mean())})
    return pd.DataFrame(rows)


def _fit_probes(x_fit, y_fit, x_test, y_test, settings: ProbeSettings) -> tuple[np.ndarray, np.ndarray]:
    """Held-out and training accuracy of one linear probe per label column: x (samples, H)
    standardised, y (samples, labels) in {0, 1} -> two arrays (labels,) (NaN for a constant label)."""
    from sklearn.linear_model import LogisticRegression, Ridge

    k = y_fit.shape[1]
    probe, train = np.full(k, np.nan), np.full(k, np.nan)
    varied = np.array([np.unique(y_fit[:, j]).size == 2 for j in range(k)])
    if settings.probe == "ridge" and varied.any():
        reg = Ridge(alpha=settings.alpha).fit(x_fit, 2.0 * y_fit[:, varied] - 1.0)
        k_var = int(varied.sum())  # one column comes back 1-d
        probe[varied] = ((reg.predict(x_test).reshape(-1, k_var) > 0) == (y_test[:, varied] == 1)).mean(0)
        train[varied] = ((reg.predict(x_fit).reshape(-1, k_var) > 0) == (y_fit[:, varied] == 1)).mean(0)
    elif settings.probe == "logistic":
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # separable states: the weights keep growing
            for j in np.flatnonzero(varied):
                clf = LogisticRegression(C=1.0 / settings.alpha, max_iter=settings.max_iter).fit(x_fit, y_fit[:, j])
                probe[j], train[j] = clf.score(x_test, y_test[:, j]), clf.score(x_fit, y_fit[:, j])
    return probe, train


def probe_forgetting(ckpts: Sequence, untrained=None, settings: ProbeSettings | None = None,
                     device: torch.device | str = "cpu", progress=None) -> pd.DataFrame:
    """:func:`probe_checkpoint` for every checkpoint of one network, on every N' of the run up to
    the checkpoint's largest N, and for the untrained network (``checkpoint_n`` 0) on every N' of
    the run.

    ckpts: the network's checkpoints of solved levels (LoadedCheckpoint, any order);
    untrained: the same network before training (its initial weights), or None.
    Returns the rows of :func:`probe_checkpoint` with ``curriculum`` and ``checkpoint_n`` added.
    """
    if not ckpts:
        raise ValueError("probe forgetting needs at least one checkpoint of a solved level")
    tasks = {c.task for c in ckpts}
    if len(tasks) != 1:
        raise ValueError(f"the checkpoints of one network must share a task, got {sorted(tasks)}")
    met = set().union(*(c.ns for c in ckpts), untrained.ns if untrained is not None and untrained.ns else [])
    ns_all = list(range(min(met), max(met) + 1))  # a single-head run met every N in between
    curriculum = ckpts[0].curriculum
    jobs = ([(0, untrained, ns_all)] if untrained is not None else []) + [
        (c.n_max, c, [n for n in ns_all if n <= c.n_max]) for c in sorted(ckpts, key=lambda c: c.n_max)]
    tables = []
    for i, (n_max, ckpt, ns) in enumerate(jobs):
        table = probe_checkpoint(ckpt, ns, settings, device)
        if n_max == 0:
            table = table.assign(trained=False, head=-1, head_accuracy=np.nan)
        tables.append(table.assign(checkpoint_n=n_max, curriculum=curriculum))
        if progress is not None:
            progress(i + 1, len(jobs))
    table = pd.concat(tables, ignore_index=True)
    return table[["curriculum", "checkpoint_n", "n", "trained", "probe_accuracy", "probe_train_accuracy", "head",
                  "head_accuracy", "label_balance"]]


def probe_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per network and checkpoint, over the earlier N' (N' < the checkpoint's N): the mean probe
    accuracy, the mean of the untrained network's probe accuracy on the same N' (the floor), and the
    mean head accuracy (the paper's measure). ``table``: rows of :func:`probe_forgetting` with a
    ``network`` column."""
    rows = []
    for net, g in table.groupby("network", sort=False):
        floor = g[g["checkpoint_n"] == 0].set_index("n")["probe_accuracy"]
        for cn, h in g[g["checkpoint_n"] > 0].groupby("checkpoint_n", sort=True):
            earlier = h[h["n"] < cn]
            rows.append({"network": net, "curriculum": h["curriculum"].iloc[0], "checkpoint_n": cn,
                         "n_earlier": len(earlier),
                         "probe_earlier": earlier["probe_accuracy"].mean() if len(earlier) else np.nan,
                         "probe_floor_earlier": floor.reindex(earlier["n"]).mean() if len(earlier) else np.nan,
                         "head_earlier": earlier["head_accuracy"].mean() if len(earlier) else np.nan,
                         "probe_own": float(h.loc[h["n"] == cn, "probe_accuracy"].mean())})
    return pd.DataFrame(rows, columns=["network", "curriculum", "checkpoint_n", "n_earlier", "probe_earlier",
                                       "probe_floor_earlier", "head_earlier", "probe_own"])


__all__ = ["ProbeSettings", "probe_checkpoint", "probe_forgetting", "probe_summary"]

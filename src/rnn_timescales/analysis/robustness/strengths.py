"""Robustness of a trained network, as tables (docs/science.md, robustness): perturbation of W and tau,
ablation of neurons, forgetting of earlier N, and accuracy in continuous time.

Every function takes checkpoints from :func:`rnn_timescales.runs.checkpoints.load_any` and
returns a DataFrame with one row per measurement; accuracies are fractions, relative accuracy is
(accuracy - 0.5) / (baseline - 0.5) with the baseline from the unchanged network on the same
streams. Nothing here prints, plots or writes files.

Slightly over 400 lines: the four analyses over strengths share the streams and the
progress convention above.
"""

from __future__ import annotations

import copy
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from rnn_timescales.analysis.robustness.changes import (
    tau_of,
    ablated_copy,
    check_mode,
    default_mode,
    draw_noise,
    groups_of,
    perturb_tau,
    perturb_w,
    rank_neurons,
    repeat_inputs,
    silence_mask,
)
from rnn_timescales.analysis.robustness.streams import (
    StreamingProtocol,
    Streams,
    baseline_accuracy,
    copy_accuracy,
    derived_seed,
    draw_streams,
    relative_accuracy,
    rows_accuracy,
)
from rnn_timescales.runtime import torch_threads
from rnn_timescales.tasks import get_task

Progress = Callable[[int, int], None]  # progress(done, total): the progress callback of the robustness analyses
"""Called with (units just finished, units in total)."""

PAPER_W_EPSILONS = (0.0, *(float(e) for e in np.geomspace(1e-2, 10, 10)))
PAPER_TAU_EPSILONS = (0.0, *(float(e) for e in np.geomspace(1e-3, 10, 13)))
PAPER_KS = (*range(1, 21), *range(25, 51, 5), *range(60, 101, 10), 150, 200)
HEAD_CHOICES = ("newest", "all")
ABLATE_BY = ("tau", "tau_net", "random")
CONTINUOUS_MODES = ("sequence", "streaming")
STATE_BUDGET = 2**24  # floats of states held at once by the chunked runs (64 MB in fp32)


def _tick(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def resolve_heads(ns: Sequence[int], heads: str | Sequence[int] = "newest") -> list[int]:
    """Readout heads to score: ``newest`` (the largest N, what the paper plots), ``all``, or the
    heads answering the given N values. ``ns``: the N of each head of a checkpoint."""
    ns = list(ns)
    if isinstance(heads, str):
        if heads not in HEAD_CHOICES:
            raise ValueError(f"heads must be one of {', '.join(HEAD_CHOICES)} or a list of N, got {heads!r}")
        return [len(ns) - 1] if heads == "newest" else list(range(len(ns)))
    missing = [int(n) for n in heads if int(n) not in ns]
    if missing or not list(heads):
        raise ValueError(f"this checkpoint has heads for N = {', '.join(map(str, ns))}; none answers N = "
                         f"{', '.join(map(str, missing)) or '(none given)'}")
    return [ns.index(int(n)) for n in heads]


def _setup(ckpt, heads, protocol: StreamingProtocol, device) -> tuple:
    model = ckpt.model.to(device).eval()
    head_idx = resolve_heads(ckpt.ns, heads)
    streams = draw_streams(model, ckpt.make_task(), ckpt.ns, protocol, device)
    return model, head_idx, streams


def check_values(values: Sequence[float], what: str, integer: bool = False) -> list:
    """``values`` as distinct floats >= 0 (or integers >= 1); ValueError naming ``what`` otherwise."""
    out = [int(v) for v in values] if integer else [float(v) for v in values]
    low = 1 if integer else 0.0
    if not out or any(not np.isfinite(v) or v < low for v in out) or len(set(out)) != len(out):
        raise ValueError(f"{what} must be distinct {'integers' if integer else 'numbers'} >= {low}, got {list(values)}")
    return out


def _rows(base: dict, accuracy: torch.Tensor, baselines: np.ndarray, ckpt, head_idx: list[int]) -> list[dict]:
    """One row per repeat and head: ``base`` plus repeat, head, n, accuracy, relative_accuracy.
    accuracy: (repeats, heads); baselines: (heads,)."""
    acc = accuracy.cpu().numpy()
    rel = relative_accuracy(acc, baselines[None, :])
    return [dict(base, repeat=r, head=h, n=ckpt.ns[h], accuracy=float(acc[r, j]), relative_accuracy=float(rel[r, j]))
            for r in range(acc.shape[0]) for j, h in enumerate(head_idx)]


# --- perturbation ---------------------------------------------------------------------------------
def perturbation_sweep(
    ckpt,
    target: str = "w",
    epsilons: Sequence[float] | None = None,
    mode: str | None = None,
    *,
    protocol: StreamingProtocol | None = None,
    heads: str | Sequence[int] = "newest",
    baseline: str = "max",
    direction: str = "offdiag",
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Streaming accuracy of copies of the network with W (``target="w"``) or tau (``"tau"``)
    perturbed with strength epsilon, a fresh perturbation per strength and repeat.

    Defaults are the paper's: W ``normalized`` with epsilon in {0} u 10 log-spaced in [0.01, 10];
    tau ``normalized_abs`` with epsilon in {0} u 13 log-spaced in [0.001, 10] (see
    :func:`~rnn_timescales.analysis.robustness.changes.perturb_w` / ``perturb_tau`` for the modes
    and ``direction``). Repeat r of every strength is scored on stream r; epsilon = 0 is the
    unchanged network on all streams at once, exactly ``streaming_accuracy``.

    Returns one row per strength, repeat and head: ``kind`` (``perturb-w`` / ``perturb-tau``),
    ``mode``, ``epsilon``, ``repeat``, ``head``, ``n``, ``accuracy``, ``relative_accuracy``
    (baseline: the ``max`` or ``mean`` over repeats of the unperturbed accuracy), ``n_max``.
    """
    protocol = protocol or StreamingProtocol()
    mode = check_mode(target, mode or default_mode(target))
    eps = check_values(epsilons if epsilons is not None else
                        (PAPER_W_EPSILONS if target == "w" else PAPER_TAU_EPSILONS), "epsilons")
    model, head_idx, streams = _setup(ckpt, heads, protocol, device)
    n_active, repeats = len(ckpt.ns), protocol.repeats
    positive = [e for e in eps if e > 0]
    total = 1 + len(positive) * repeats
    gen = torch.Generator(device=device).manual_seed(derived_seed(protocol.seed, f"perturb-{target}/{mode}"))
    with torch_threads(1):
        results = {0.0: copy_accuracy(model, streams, head_idx, n_active)}
        _tick(progress, 1, total)
        if target == "w":
            results.update(_perturb_w_copies(model, positive, mode, direction, gen, streams, head_idx, n_active,
                                             lambda: _tick(progress, 1, total)))
        else:
            results.update(_perturb_tau_rows(model, positive, mode, gen, streams, head_idx, n_active))
            _tick(progress, len(positive) * repeats, total)
    baselines = np.array([baseline_accuracy(results[0.0][:, j].cpu().numpy(), baseline) for j in range(len(head_idx))])
    rows = []
    for e in eps:
        if e in results:
            base = {"kind": f"perturb-{target}", "mode": mode, "epsilon": e}
            rows += _rows(base, results[e], baselines, ckpt, head_idx)
    table = pd.DataFrame(rows)
    table["n_max"] = ckpt.n_max
    return table


def _perturb_w_copies(model, epsilons, mode, direction, gen, streams: Streams, head_idx, n_active, tick) -> dict:
    """Each (epsilon, repeat) its own W: one copy of the network, its W replaced per variant and
    run on its repeat's stream."""
    w = model.recurrent_weight().detach()
    variant = copy.deepcopy(model)
    out = {}
    for e in epsilons:
        noise = draw_noise("w", mode, (streams.repeats, *w.shape), gen, w.device)
        ws = perturb_w(w, e, noise, mode, direction)
        acc = []
        with torch.no_grad():
            for r in range(streams.repeats):
                variant.recurrent.weight.copy_(ws[r])
                acc.append(copy_accuracy(variant, streams, head_idx, n_active, repeats=[r])[0])
                tick()
        out[e] = torch.stack(acc)
    return out


def _perturb_tau_rows(model, epsilons, mode, gen, streams: Streams, head_idx, n_active) -> dict:
    """Every (epsilon, repeat) variant as one row of a single batch sharing W."""
    if not epsilons:
        return {}
    tau = tau_of(model)
    taus = torch.cat([perturb_tau(tau, e, draw_noise("tau", mode, (streams.repeats, *tau.shape), gen, tau.device), mode)
                      for e in epsilons])
    stream_of = torch.arange(streams.repeats).repeat(len(epsilons))
    acc = rows_accuracy(model, {"tau": taus}, stream_of, streams, head_idx, n_active)
    return {e: acc[j * streams.repeats:(j + 1) * streams.repeats] for j, e in enumerate(epsilons)}


# --- ablation -------------------------------------------------------------------------------------
def ablation_groups(model, by: str = "tau", n_neurons: int = 20, group_size: int = 1,
                    tau_net: np.ndarray | None = None, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """The neuron sets to silence, as (group, neurons) pairs.

    ``by="tau"`` (the paper): the ``n_neurons`` smallest (group ``short``) and largest (``long``)
    stored tau; ``"tau_net"``: the same by ``tau_net`` (H,) (NaN never chosen); ``"random"``:
    ``n_neurons`` distinct neurons drawn from ``seed`` (group ``random``). Each set is cut into
    consecutive groups of ``group_size`` (1: one neuron at a time, the paper).
    """
    hidden = model.hidden_size
    if by == "random":
        if not 1 <= n_neurons <= hidden:
            raise ValueError(f"cannot pick {n_neurons} of {hidden} neurons")
        rng = np.random.default_rng(derived_seed(seed, "ablation/random"))
        chosen = {"random": rng.choice(hidden, size=n_neurons, replace=False)}
    elif by in ("tau", "tau_net"):
        if by == "tau_net":
            if tau_net is None or np.shape(tau_net) != (hidden,):
                raise ValueError(f"ablation by tau_net needs tau_net for all {hidden} neurons "
                                 f"(got {None if tau_net is None else np.shape(tau_net)})")
            values = np.asarray(tau_net, dtype=np.float64)
        else:
            values = tau_of(model).cpu().numpy()
        chosen = rank_neurons(values, n_neurons)
    else:
        raise ValueError(f"unknown ablation order {by!r}; choose one of {', '.join(ABLATE_BY)}")
    return [(group, g) for group, neurons in chosen.items() for g in groups_of(neurons, group_size)]


def ablation_sweep(
    ckpt,
    by: str = "tau",
    n_neurons: int = 20,
    group_size: int = 1,
    *,
    tau_net: np.ndarray | None = None,
    rule: str = "spec",
    protocol: StreamingProtocol | None = None,
    heads: str | Sequence[int] = "newest",
    baseline: str = "max",
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Streaming accuracy of copies of the network with neurons silenced (see
    :func:`ablation_groups` for which, :func:`~rnn_timescales.analysis.robustness.changes.ablated_copy`
    for ``rule``). Each copy runs on every repeat's stream at once.

    Returns one row per ablated set, repeat and head: ``group`` (``short``, ``long``, ``random``;
    ``none`` for the unchanged network, ``variant`` -1), ``variant``, ``size``, ``neuron`` (the
    neuron, or -1 for a group), ``neurons`` (space-separated), ``tau`` (clamped tau, mean over
    the set), ``tau_net`` (mean, when given), ``repeat``, ``head``, ``n``, ``accuracy``,
    ``relative_accuracy``, ``n_max``.
    """
    protocol = protocol or StreamingProtocol()
    model, head_idx, streams = _setup(ckpt, heads, protocol, device)
    variants = ablation_groups(model, by, n_neurons, group_size, tau_net, protocol.seed)
    n_active, total = len(ckpt.ns), 1 + len(variants)
    tau_hat = model.tau_hat().detach().cpu().numpy()
    with torch_threads(1):
        accs = [copy_accuracy(model, streams, head_idx, n_active)]
        _tick(progress, 1, total)
        for neurons in (v for _, v in variants):
            keep = silence_mask(model.hidden_size, neurons, device) if rule == "spec" else None
            accs.append(copy_accuracy(ablated_copy(model, neurons, rule), streams, head_idx, n_active, keep=keep))
            _tick(progress, 1, total)
    baselines = np.array([baseline_accuracy(accs[0][:, j].cpu().numpy(), baseline) for j in range(len(head_idx))])
    rows = _rows({"group": "none", "variant": -1, "size": 0, "neuron": -1, "neurons": "", "tau": np.nan,
                  "tau_net": np.nan}, accs[0], baselines, ckpt, head_idx)
    for v, ((group, neurons), acc) in enumerate(zip(variants, accs[1:])):
        base = {"group": group, "variant": v, "size": len(neurons), "neuron": int(neurons[0]) if len(neurons) == 1 else -1,
                "neurons": " ".join(str(int(i)) for i in neurons), "tau": float(tau_hat[neurons].mean()),
                "tau_net": float(np.mean(np.asarray(tau_net)[neurons])) if tau_net is not None else np.nan}
        rows += _rows(base, acc, baselines, ckpt, head_idx)
    table = pd.DataFrame(rows)
    table["n_max"] = ckpt.n_max
    return table


# --- forgetting -----------------------------------------------------------------------------------
SINGLE_HEAD = ("single", "fixed")


def forgetting_matrix(
    ckpts: Sequence,
    *,
    protocol: StreamingProtocol | None = None,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Streaming accuracy of every checkpoint of one network on every N its run met.

    A single-head (or fixed) checkpoint is scored with its one head on every N of the run, earlier
    and later; any other checkpoint with each head on its own N. All checkpoints are scored on the
    same streams. Returns one row per checkpoint and N: ``checkpoint_n`` (the checkpoint's largest
    N), ``n``, ``head``, ``trained`` (whether the checkpoint was trained on this N), ``accuracy``
    (mean over repeats), ``accuracy_sd`` (over repeats).
    """
    protocol = protocol or StreamingProtocol()
    ckpts = sorted(ckpts, key=lambda c: c.n_max)
    if not ckpts:
        raise ValueError("forgetting needs at least one checkpoint")
    tasks = {c.task for c in ckpts}
    if len(tasks) != 1:
        raise ValueError(f"the checkpoints of one network must share a task, got {sorted(tasks)}")
    task = get_task(tasks.pop())
    ns_all = sorted(set().union(*(c.ns for c in ckpts)))
    rows = []
    for i, ckpt in enumerate(ckpts):
        model = ckpt.model.to(device).eval()
        streams = draw_streams(model, task, ns_all, protocol, device)
        if ckpt.curriculum in SINGLE_HEAD:
            pairs = [(0, n) for n in ns_all]
        else:
            pairs = list(enumerate(ckpt.ns))
        with torch_threads(1):
            acc = copy_accuracy(model, streams, [h for h, _ in pairs], len(ckpt.ns),
                                columns=[ns_all.index(n) for _, n in pairs]).cpu().numpy()
        rows += [{"checkpoint_n": ckpt.n_max, "n": n, "head": h, "trained": n in ckpt.ns,
                  "accuracy": float(acc[:, j].mean()), "accuracy_sd": float(acc[:, j].std())}
                 for j, (h, n) in enumerate(pairs)]
        _tick(progress, 1, len(ckpts))
    return pd.DataFrame(rows)


def forgetting_scores(matrix: pd.DataFrame) -> pd.DataFrame:
    """Per checkpoint, from :func:`forgetting_matrix`: ``retained`` (mean accuracy on the N below
    its own largest N), ``forgetting`` (mean over those N of the accuracy when the network was
    first trained on N minus the accuracy now; 0 = nothing forgotten, about 0.5 = back to chance;
    NaN where no earlier checkpoint trained on N is among those given), ``n_earlier``."""
    learned = (matrix[matrix["trained"]].sort_values("checkpoint_n").groupby("n")["accuracy"].first())
    rows = []
    for cn, g in matrix.groupby("checkpoint_n", sort=True):
        earlier = g[g["n"] < cn]
        drop = learned.reindex(earlier["n"]).to_numpy() - earlier["accuracy"].to_numpy()
        rows.append({"checkpoint_n": cn, "n_earlier": len(earlier),
                     "retained": float(earlier["accuracy"].mean()) if len(earlier) else np.nan,
                     "forgetting": float(np.nanmean(drop)) if np.isfinite(drop).any() else np.nan})
    return pd.DataFrame(rows, columns=["checkpoint_n", "n_earlier", "retained", "forgetting"])


# --- continuous time ------------------------------------------------------------------------------
def _final_state(model, inputs: torch.Tensor, h0: torch.Tensor, k: int) -> torch.Tensor:
    """The state after ``inputs`` (time, batch, 1) with the model run at ``time_scale`` k, run in
    chunks so memory stays bounded."""
    chunk = max(1, STATE_BUDGET // (inputs.shape[1] * h0.shape[-1]))
    options = model.time_scale_options(k)
    h = h0
    for start in range(0, inputs.shape[0], chunk):
        h = model.run_final(inputs[start:start + chunk], h, **options)
    return h


def _bit_end_states(model, bits: torch.Tensor, h0: torch.Tensor, k: int, first: int) -> torch.Tensor:
    """States at the last repeat of every bit from ``first`` on: bits (bits, streams, 1), each fed
    k times to the model run at ``time_scale`` k -> (bits - first, streams, H). Run in chunks of
    whole bits."""
    chunk = max(1, STATE_BUDGET // (k * bits.shape[1] * h0.shape[-1]))
    options = model.time_scale_options(k)
    h, kept = h0, []
    for start in range(0, bits.shape[0], chunk):
        states = model.run(repeat_inputs(bits[start:start + chunk], k), h, **options)
        h = states[-1]
        ends = states[k - 1::k]
        lo = max(0, first - start)
        if lo < ends.shape[0]:
            kept.append(ends[lo:])
    return torch.cat(kept)


def continuous_sweep(
    ckpt,
    ks: Sequence[int] = PAPER_KS,
    *,
    mode: str = "sequence",
    heads: str | Sequence[int] = "all",
    n_sequences: int = 256,
    protocol: StreamingProtocol | None = None,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Accuracy of the network run k times finer in time (docs/science.md, the model): every input fed
    k times to the model run with ``time_scale=k`` (every tau replaced by max(tau k, 1); the same
    network as :func:`~rnn_timescales.analysis.robustness.changes.rescaled_copy`).

    ``mode="sequence"`` (the paper code): ``n_sequences`` fresh training-style sequences (length
    and labels as in training, one length for the batch), read once after the last repeat of the
    last input. ``mode="streaming"``: the streams of ``protocol``, read at the last repeat of every
    input after a warm-up of ``protocol.warmup`` inputs (k x warmup steps). Every k sees the same
    inputs and initial states (drawn from ``protocol.seed``); k = 1 is the unchanged network.

    Returns one row per k and head: ``k``, ``head``, ``n``, ``accuracy`` (mean over sequences or
    repeats), ``n_max``.
    """
    protocol = protocol or StreamingProtocol()
    if mode not in CONTINUOUS_MODES:
        raise ValueError(f"unknown continuous-time mode {mode!r}; choose one of {', '.join(CONTINUOUS_MODES)}")
    if n_sequences < 1:
        raise ValueError(f"n_sequences must be >= 1, got {n_sequences}")
    ks = check_values(ks, "k values", integer=True)
    model = ckpt.model.to(device).eval()
    task = ckpt.make_task()
    head_idx = resolve_heads(ckpt.ns, heads)
    n_active = len(ckpt.ns)
    streams = draw_streams(model, task, ckpt.ns, protocol, device) if mode == "streaming" else None
    rows = []
    with torch.no_grad(), torch_threads(1):
        for k in ks:
            if mode == "sequence":
                gen = torch.Generator(device=device).manual_seed(protocol.seed)
                batch = task.sample(ckpt.level, n_sequences, gen, device, time_scale=k)
                h = _final_state(model, batch.inputs, model.init_state(n_sequences, gen), k)
                pred = model.readout(h, n_active).argmax(-1)[:, head_idx]
                acc = (pred == batch.final_targets[:, head_idx]).double().mean(0)
            else:
                states = _bit_end_states(model, streams.inputs, streams.h0, k, streams.warmup)
                pred = model.readout(states, n_active).argmax(-1)[..., head_idx]
                acc = (pred == streams.scored_targets(head_idx)).double().mean((0, 1))
            rows += [{"k": k, "head": h, "n": ckpt.ns[h], "accuracy": float(acc[j])} for j, h in enumerate(head_idx)]
            _tick(progress, 1, len(ks))
    table = pd.DataFrame(rows)
    table["n_max"] = ckpt.n_max
    return table

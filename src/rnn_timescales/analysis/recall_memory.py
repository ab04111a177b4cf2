"""Where a delayed-recall network keeps each class's memory: [H19]'s per-class slow points.

For a network trained on delayed recall (:mod:`rnn_timescales.tasks.delayed_recall`), with F the
one-step update and ū the *rest input* (every pixel at the noise mean, trigger off):

- **seed** of class k: run trials of class k from the model's initial state, the image at step 0
  and then ``seed_steps - 1`` frames of one fixed noise sequence (the same for every trial;
  its pixels drawn once with the task's noise mean and ``seed_noise_factor`` times its s.d.),
  trigger off; keep the state after ``seed_steps`` inputs; the seed is the mean of that state over
  the trials whose memory is *read out correctly* (below). [H19]: 15 steps, 100 trials per class.
- **readout of a state** (the paper code's): one more step from the state under the rest input
  with the trigger ON, then the readout's class (restricted to the network's vocabulary).
- **slow point** of class k: the minimum of q(h) = ½‖F(h, ū) − h‖² reached from its seed
  (:func:`~rnn_timescales.dynamics.slow_points.find_slow_points`; for an LSTM the whole state h, c).
- **class centre of mass** c_k: the mean over held-out trials of class k of the state the response
  step starts from (the memory held just before the trigger arrives), at the network's level;
  its speed q(c_k) is what :mod:`rnn_timescales.training.regularizers` penalises.
- **extrapolation accuracy** of class k: its share of correct recalls over the delays the network
  was never trained on (T_max ... the largest delay), from
  :func:`~rnn_timescales.analysis.extrapolation.recall_by_delay` split by class.

Tracking over the checkpoints of a vocabulary-curriculum run (:func:`track_classes`) names, for
each class that is new at a checkpoint, the class of the previous checkpoint whose slow point lies
nearest to the new class's slow point (and to its seed).

Functions here compute; they neither print nor write files (the CLI does).

Slightly over 400 lines: the seeds, slow points, centres, speeds and tracking share the
definitions above and are read together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from rnn_timescales.dynamics.slow_points import SlowPoints, find_slow_points, speed
from rnn_timescales.models.base import RecurrentModel
from rnn_timescales.tasks.delayed_recall import DelayedRecall

CLASSES = "recall_slow_points.csv"
EXTRAPOLATION = "recall_extrapolation.csv"
CORRELATIONS = "recall_correlations.csv"
TRACKING = "recall_tracking.csv"
TRACKING_POINTS = "recall_tracking_points.csv"
H19_FINDER = {"lr_schedule": "constant", "lr_init": 1e-3, "max_iters": 100_000, "clip": 1.0}
"""[H19]'s search (BlackBoxMNIST.py): Adam at a constant 1e-3, 100 000 steps, h clipped to [-1, 1]
(it also divides the rate by 10 after 40 000 steps; here a search instead stops once q no longer
changes, the finder's rule)."""
SPEEDS = ("slow_point_q", "centre_q", "seed_q")
"""The speeds correlated with extrapolation accuracy (state units squared)."""


@dataclass
class RecallMemorySettings:
    """The knobs of one memory analysis (module docstring for the definitions).

    seed_steps : inputs from the image (included) to the seed state ([H19]: 15).
    trials_per_class : seed trials per class ([H19]: 100).
    seed_noise_factor : s.d. of the fixed noise sequence of the seed trials, as a fraction of the
        task's noise s.d. (the paper code draws it with a third of the s.d.: 1/3).
    centre_trials : held-out trials at the network's level for the class centres of mass.
    extrapolation : measure per-class extrapolation accuracy (off for tracking's earlier checkpoints).
    max_delay, factor, extrapolation_trials : delays g ... max_delay (default ``factor`` x T_max),
        trials per delay (all classes together).
    seed : seeds every draw (noise sequence, images, trials).
    hyperparameters : the finder's settings, over :data:`H19_FINDER` ([H19]'s: Adam at a constant
        1e-3, up to 100 000 steps, h clipped to [-1, 1]).
    """

    seed_steps: int = 15
    trials_per_class: int = 100
    seed_noise_factor: float = 1 / 3
    centre_trials: int = 1024
    extrapolation: bool = True
    max_delay: int | None = None
    factor: int = 5
    extrapolation_trials: int = 256
    seed: int = 0
    hyperparameters: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("seed_steps", "trials_per_class", "centre_trials", "factor", "extrapolation_trials"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not self.seed_noise_factor >= 0:
            raise ValueError(f"seed_noise_factor must be non-negative, got {self.seed_noise_factor}")
        if self.max_delay is not None and self.max_delay < 1:
            raise ValueError(f"max_delay must be positive, got {self.max_delay}")


# --- the pieces ------------------------------------------------------------------------------------
def rest_input(task: DelayedRecall, trigger: bool = False, device: torch.device | str = "cpu",
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """ū: every pixel at the noise mean, the trigger channel 1 (``trigger``) or 0. Shape (D + 1,)."""
    mean, _ = task.noise_stats()
    x = torch.full((task.input_size,), float(mean), device=device, dtype=dtype)
    x[-1] = 1.0 if trigger else 0.0
    return x


def vocabulary_logits(model: RecurrentModel, states: torch.Tensor, n_classes: int) -> torch.Tensor:
    """The readout's logits at ``states`` (n, state) with classes outside the vocabulary (the first
    ``n_classes``, null included) set to -inf: (n, classes)."""
    logits = model.readout(model.activity(states), 1)[..., 0, :]
    keep = torch.arange(logits.shape[-1], device=logits.device) < n_classes
    return logits.masked_fill(~keep, float("-inf"))


def readout_class(model: RecurrentModel, states: torch.Tensor, task: DelayedRecall, n_classes: int) -> torch.Tensor:
    """[H19]'s readout of a memory state: one step under the rest input with the trigger on, then
    the readout's class within the vocabulary. states (n, state) -> (n,) long (0 = null)."""
    trigger = rest_input(task, True, states.device, states.dtype).expand(states.shape[0], -1)
    return vocabulary_logits(model, model.step(states, trigger), n_classes).argmax(-1)


def centres_of_mass(states: torch.Tensor, labels: torch.Tensor, n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean state of each class 1 ... n_classes - 1.

    states : (n, state); labels : (n,) long in 1 ... n_classes - 1 (null, 0, is never a label).
    Returns centres (n_classes - 1, state) (row k - 1 is class k; zeros where the class has no
    trial) and counts (n_classes - 1,) long. Differentiable with respect to ``states``.
    """
    k = n_classes - 1
    index = labels - 1
    sums = states.new_zeros(k, states.shape[-1]).index_add(0, index, states)
    counts = torch.bincount(index, minlength=k)[:k]
    return sums / counts.clamp(min=1).unsqueeze(-1).to(states.dtype), counts


def class_images(task: DelayedRecall, labels: torch.Tensor, generator: torch.Generator | None,
                 held_out: bool = False) -> torch.Tensor:
    """One image of each class in ``labels`` (n,) (1 ... 10: digit label - 1), drawn uniformly among
    that digit's images of the training (or held-out) split: (n, D) float in [0, 1]."""
    data = task.dataset
    split = (data.test if held_out else data.train).to(labels.device)
    digit = labels - 1
    u = torch.rand(labels.shape, generator=generator, device=labels.device)
    index = split.offsets[digit] + torch.minimum((u * split.counts[digit]).long(), split.counts[digit] - 1)
    return split.pixels[index].float() * data.scale


@dataclass
class ClassSeeds:
    """[H19]'s seed trials and seeds (module docstring).

    seeds : (K, state) per class 1 ... K (NaN rows for a class with no trial read out correctly).
    trajectories : (seed_steps, K, state) mean state after each input over the correct trials.
    n_trials, n_correct : (K,) trials per class and how many were read out correctly.
    """

    seeds: torch.Tensor
    trajectories: torch.Tensor
    n_trials: np.ndarray
    n_correct: np.ndarray


@torch.no_grad()
def class_seeds(model: RecurrentModel, task: DelayedRecall, level: Mapping[str, Any], steps: int = 15,
                trials_per_class: int = 100, noise_factor: float = 1 / 3,
                generator: torch.Generator | None = None) -> ClassSeeds:
    """The seed of every class of ``level``'s vocabulary (module docstring): one fixed noise
    sequence shared by all trials, images from the training split, trigger off throughout."""
    n_classes, _ = task.check_level(level)
    param = next(model.parameters())
    device, dtype = param.device, param.dtype
    k = n_classes - 1
    labels = torch.arange(1, n_classes, device=device).repeat_interleave(trials_per_class)
    images = class_images(task, labels, generator)
    mean, std = task.noise_stats()
    d = task.image_size
    if task.params.noise == "gaussian":
        noise = torch.randn(steps - 1, d, generator=generator, device=device)
    else:  # unit variance
        noise = torch.rand(steps - 1, d, generator=generator, device=device).sub_(0.5).mul_(2.0 * 3.0 ** 0.5)
    noise = noise * (std * noise_factor) + mean
    inputs = torch.zeros(steps, labels.numel(), d + 1, device=device, dtype=dtype)
    inputs[0, :, :d] = images
    inputs[1:, :, :d] = noise.unsqueeze(1).to(dtype)
    states = model.run(inputs, model.init_state(labels.numel(), generator))  # (steps, n, state)
    correct = readout_class(model, states[-1], task, n_classes) == labels
    weights = torch.zeros(k, labels.numel(), device=device, dtype=dtype)
    weights[labels - 1, torch.arange(labels.numel(), device=device)] = correct.to(dtype)
    n_correct = weights.sum(1)
    trajectories = torch.einsum("kn,tns->tks", weights, states) / n_correct.clamp(min=1).unsqueeze(-1)
    trajectories[:, n_correct == 0] = float("nan")
    return ClassSeeds(seeds=trajectories[-1].clone(), trajectories=trajectories,
                      n_trials=np.full(k, trials_per_class), n_correct=n_correct.long().cpu().numpy())


@torch.no_grad()
def class_centres(model: RecurrentModel, task: DelayedRecall, level: Mapping[str, Any], n_trials: int,
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Class centres of mass of the memory states (the state each response step starts from) over
    ``n_trials`` held-out trials at ``level``: centres (K, state), counts (K,) (:func:`centres_of_mass`)."""
    n_classes, _ = task.check_level(level)
    param = next(model.parameters())
    batch = task.sample_held_out(level, n_trials, generator, param.device)
    states = model.run(batch.inputs.to(param.dtype), model.init_state(n_trials, generator))
    return centres_of_mass(memory_states(states, batch.response_time), batch.labels, n_classes)


def memory_states(states: torch.Tensor, response_time: torch.Tensor) -> torch.Tensor:
    """The state each trial's response step starts from: states (time, n, state), response_time
    (n,) long (>= 1) -> (n, state)."""
    return states[response_time - 1, torch.arange(states.shape[1], device=states.device)]


# --- one network -----------------------------------------------------------------------------------
@dataclass
class RecallMemory:
    """The memory analysis of one network.

    classes : one row per class (``class, digit, n_trials, n_correct, seed_q, seed_readout,
        slow_point_q, slow_point_speed, slow_point_readout, slow_point_correct, point, converged,
        iterations, stable, timescale_max, seed_to_point, centre_q, centre_readout, centre_trials,
        extrapolation_accuracy``); speeds in state units squared (``slow_point_speed`` is
        ||F(h) - h|| = sqrt(2 q)), distances Euclidean in state units.
    extrapolation : accuracy by delay and class (``delay, class, accuracy, n_trials, trained``), or None.
    result : the finder's :class:`SlowPoints` from the seeds (row k of its ``final_*`` is class k + 1).
    seeds : the :class:`ClassSeeds`; centres : (K, state) class centres of mass.
    level : the network's level.
    """

    classes: pd.DataFrame
    extrapolation: pd.DataFrame | None
    result: SlowPoints | None
    seeds: ClassSeeds
    centres: np.ndarray
    level: dict


def analyze_recall_memory(model: RecurrentModel, task: DelayedRecall, level: Mapping[str, Any],
                          settings: RecallMemorySettings | None = None,
                          progress: Callable[[int], None] | None = None) -> RecallMemory:
    """Seeds, slow points, readouts, speeds at the class centres and per-class extrapolation of one
    network at ``level`` (its training level). The model is not changed; everything runs on its device."""
    from rnn_timescales.analysis.extrapolation import recall_by_delay

    s = settings or RecallMemorySettings()
    n_classes, t_max = task.check_level(level)
    param = next(model.parameters())
    device, dtype = param.device, param.dtype
    model.eval()
    gen = torch.Generator(device=device).manual_seed(s.seed)
    seeds = class_seeds(model, task, level, s.seed_steps, s.trials_per_class, s.seed_noise_factor, gen)
    rest = rest_input(task, False, device, dtype)
    centres, centre_counts = class_centres(model, task, level, s.centre_trials, gen)
    k = n_classes - 1
    found = torch.isfinite(seeds.seeds).all(-1)
    with torch.no_grad():
        seed_q = torch.full((k,), float("nan"), dtype=torch.float64)
        seed_read = torch.full((k,), -1, dtype=torch.long)
        if found.any():
            seed_q[found] = speed(model, seeds.seeds[found], rest).double().cpu()
            seed_read[found] = readout_class(model, seeds.seeds[found], task, n_classes).cpu()
        centre_q = speed(model, centres, rest).double().cpu()
        centre_read = readout_class(model, centres, task, n_classes).cpu()
    frame = pd.DataFrame({
        "class": np.arange(1, n_classes), "digit": np.arange(n_classes - 1),
        "n_trials": seeds.n_trials, "n_correct": seeds.n_correct,
        "seed_q": seed_q.numpy(), "seed_readout": seed_read.numpy(),
    })
    result = None
    point_cols = {name: np.full(k, np.nan) for name in ("slow_point_q", "slow_point_speed", "seed_to_point",
                                                        "timescale_max")}
    point_cols.update({"slow_point_readout": np.full(k, -1), "point": np.full(k, -1),
                       "converged": np.zeros(k, bool), "iterations": np.zeros(k, np.int64),
                       "stable": np.zeros(k, bool)})
    rows = found.nonzero().squeeze(1).cpu().numpy()
    if rows.size:
        hyper = {"keep_jacobians": False, **H19_FINDER, **s.hyperparameters}
        result = find_slow_points(model, seeds.seeds[found], rest, progress=progress, **hyper)
        final = torch.as_tensor(result.final_states, device=device, dtype=dtype)
        with torch.no_grad():
            point_read = readout_class(model, final, task, n_classes).cpu().numpy()
        point_cols["slow_point_q"][rows] = result.final_q
        point_cols["slow_point_speed"][rows] = np.sqrt(2 * result.final_q)
        point_cols["seed_to_point"][rows] = np.linalg.norm(result.final_states - result.initial_states, axis=1)
        point_cols["slow_point_readout"][rows] = point_read
        point_cols["point"][rows] = result.assignment
        point_cols["converged"][rows] = result.final_converged
        point_cols["iterations"][rows] = result.final_iterations
        if result.eigenvalues is not None:
            at = result.assignment
            ok = at >= 0
            point_cols["stable"][rows[ok]] = result.stable[at[ok]]
            point_cols["timescale_max"][rows[ok]] = result.to_frame()["timescale_max"].to_numpy()[at[ok]]
    for name in ("slow_point_q", "slow_point_speed", "slow_point_readout"):
        frame[name] = point_cols[name]
    frame["slow_point_correct"] = frame["slow_point_readout"] == frame["class"]
    for name in ("point", "converged", "iterations", "stable", "timescale_max", "seed_to_point"):
        frame[name] = point_cols[name]
    frame["centre_q"] = centre_q.numpy()
    frame["centre_readout"] = centre_read.numpy()
    frame["centre_trials"] = centre_counts.cpu().numpy()

    extrapolation = None
    frame["extrapolation_accuracy"] = np.nan
    if s.extrapolation:
        delays = extrapolation_delays_for(task, level, s.max_delay, s.factor)
        extrapolation = recall_by_delay(model, task, level, delays, s.extrapolation_trials, gen, device,
                                        by_class=True)
        frame["extrapolation_accuracy"] = extrapolation_by_class(extrapolation, k)
    return RecallMemory(classes=frame, extrapolation=extrapolation, result=result, seeds=seeds,
                        centres=centres.double().cpu().numpy(), level=dict(level))


def extrapolation_delays_for(task: DelayedRecall, level: Mapping[str, Any], max_delay: int | None = None,
                            factor: int = 5) -> list[int]:
    """The delays a network trained at ``level`` is tested on: g ... ``max_delay`` (default
    ``factor`` x its T_max); ValueError when ``max_delay`` is below the minimum gap."""
    from rnn_timescales.analysis.extrapolation import extrapolation_delays

    _, t_max = task.check_level(level)
    return extrapolation_delays(t_max, task.params.min_gap, max_delay, factor)


def extrapolation_by_class(table: pd.DataFrame, n_labels: int) -> np.ndarray:
    """Each class's share of correct recalls over the untrained delays of a
    ``recall_by_delay(..., by_class=True)`` table: (n_labels,) for classes 1 ... n_labels (NaN
    for a class without such trials; all trained delays count when no delay is untrained)."""
    untrained = table[~table["trained"]]
    use = untrained if len(untrained) else table
    hits = (use["accuracy"] * use["n_trials"]).groupby(use["class"]).sum()
    counts = use["n_trials"].groupby(use["class"]).sum()
    acc = (hits / counts).reindex(range(1, n_labels + 1))
    return acc.to_numpy(dtype=float)


# --- across classes and networks -------------------------------------------------------------------
def speed_correlations(classes: pd.DataFrame, network: str = "run") -> pd.DataFrame:
    """Spearman and Pearson correlations of log10 speed with extrapolation accuracy.

    ``classes``: rows of one or more networks' class tables with a ``network`` column. Across
    classes: within each network, and over every (network, class) row pooled; across networks:
    each network's mean log10 speed against its mean extrapolation accuracy (needs three
    networks). One row per (speed, scope, network): ``speed, scope, network, n, spearman_r,
    spearman_p, pearson_r, pearson_p`` (NaN where fewer than three finite pairs).
    """
    rows = []
    for name in SPEEDS:
        data = classes.assign(log_q=np.log10(classes[name].clip(lower=1e-30)))
        groups = [("classes", str(net), g) for net, g in data.groupby(network, sort=False)]
        if data[network].nunique() > 1:
            groups.append(("classes", "all", data))
            means = data.groupby(network, sort=False)[["log_q", "extrapolation_accuracy"]].mean()
            groups.append(("networks", "all", means))
        for scope, net, g in groups:
            rows.append({"speed": name, "scope": scope, "network": net,
                         **_correlate(g["log_q"].to_numpy(), g["extrapolation_accuracy"].to_numpy())})
    return pd.DataFrame(rows, columns=["speed", "scope", "network", "n", "spearman_r", "spearman_p", "pearson_r",
                                       "pearson_p"])


def _correlate(x: np.ndarray, y: np.ndarray) -> dict:
    from scipy import stats

    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    out = {"n": int(ok.sum()), "spearman_r": np.nan, "spearman_p": np.nan, "pearson_r": np.nan, "pearson_p": np.nan}
    if len(x) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
        out["spearman_r"], out["spearman_p"] = (float(v) for v in stats.spearmanr(x, y))
        out["pearson_r"], out["pearson_p"] = (float(v) for v in stats.pearsonr(x, y))
    return out


def track_classes(checkpoints: Sequence[tuple[str, RecallMemory]]) -> pd.DataFrame:
    """For each class new at a checkpoint (absent from the previous one's vocabulary): the class of
    the previous checkpoint whose slow point is nearest to the new class's slow point
    (``parent_class``, ``distance``) and to the new class's seed (``seed_parent_class``,
    ``seed_distance``), Euclidean in state units, and the new point's and the parent's speeds.

    ``checkpoints``: (name, analysis) in training order. One row per new class: ``checkpoint,
    previous, class, parent_class, distance, seed_parent_class, seed_distance, slow_point_q,
    parent_q``."""
    rows = []
    for (prev_name, prev), (name, cur) in zip(checkpoints, checkpoints[1:]):
        old = set(prev.classes["class"])
        prev_points = _final_states(prev)
        have = np.isfinite(prev_points).all(1)
        for _, row in cur.classes.iterrows():
            if row["class"] in old:
                continue
            k = int(row["class"]) - 1
            entry = {"checkpoint": name, "previous": prev_name, "class": int(row["class"]),
                     "parent_class": -1, "distance": np.nan, "seed_parent_class": -1, "seed_distance": np.nan,
                     "slow_point_q": row["slow_point_q"], "parent_q": np.nan}
            point, seed = _final_states(cur)[k], cur.seeds.seeds[k].double().cpu().numpy()
            if have.any():
                for where, key, dkey in ((point, "parent_class", "distance"), (seed, "seed_parent_class", "seed_distance")):
                    if np.isfinite(where).all():
                        d = np.where(have, np.linalg.norm(np.nan_to_num(prev_points) - where, axis=1), np.inf)
                        j = int(np.argmin(d))
                        entry[key], entry[dkey] = j + 1, float(d[j])
                if entry["parent_class"] > 0:
                    entry["parent_q"] = float(prev.classes["slow_point_q"].iloc[entry["parent_class"] - 1])
            rows.append(entry)
    return pd.DataFrame(rows, columns=["checkpoint", "previous", "class", "parent_class", "distance",
                                       "seed_parent_class", "seed_distance", "slow_point_q", "parent_q"])


def _final_states(a: RecallMemory) -> np.ndarray:
    """(K, state) each class's slow point (NaN rows where its seed was missing)."""
    k = len(a.classes)
    out = np.full((k, a.seeds.seeds.shape[1]), np.nan)
    if a.result is not None:
        rows = np.flatnonzero(torch.isfinite(a.seeds.seeds).all(-1).cpu().numpy())
        out[rows] = a.result.final_states
    return out


def projection(analysis: RecallMemory, n_components: int = 2) -> dict[str, np.ndarray]:
    """The class trajectories, seeds, slow points and centres of one analysis on the top principal
    components of the class trajectories' states: ``trajectories`` (steps, K, n), ``seeds``,
    ``points``, ``centres`` (K, n), ``explained`` (n,) variance shares."""
    from rnn_timescales.analysis.dimensionality import principal_axes

    traj = analysis.seeds.trajectories.double().cpu().numpy()
    flat = traj.reshape(-1, traj.shape[-1])
    flat = flat[np.isfinite(flat).all(1)]
    mean, axes, explained = principal_axes(flat, n_components)
    project = lambda x: (x - mean) @ axes.T  # noqa: E731
    return {"trajectories": project(traj), "seeds": project(analysis.seeds.seeds.double().cpu().numpy()),
            "points": project(_final_states(analysis)), "centres": project(analysis.centres), "explained": explained}

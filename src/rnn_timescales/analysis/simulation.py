"""Simulate a trained network on its task's input and collect what the analyses need, streaming.

The paper's setting (docs/science.md, timescales): every trial draws p ~ U(0, 1) and then x_t ~ Bernoulli(p);
10 trials of 10^5 steps after a burn-in of 500. Holding that activity (10 x 10^5 x 500 float32)
takes 2 GB; here the trials run together as one batch, chunk by chunk, and each chunk is folded
into exact running statistics (:class:`StreamingAutocorrelation`, :class:`StreamingCovariance`)
and then dropped, so memory stays at one chunk plus O(trials x units x max_lag).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from rnn_timescales.analysis.autocorrelation import StreamingAutocorrelation
from rnn_timescales.analysis.dimensionality import StreamingCovariance
from rnn_timescales.models.base import RecurrentModel
from rnn_timescales.runtime import torch_threads
from rnn_timescales.tasks import Task, get_task


@dataclass
class SimulationStats:
    """What one simulation leaves behind.

    ac: (trials, units, max_lag + 1) per-trial autocorrelation of every neuron.
    population_ac: (trials, max_lag + 1) per-trial autocorrelation of the summed activity.
    covariance: (units, units) covariance of the activity of trial ``pca_trial``.
    mean_activity: (units,) time- and trial-averaged activity.
    states: (points, state_size) operating points (whole states) sampled along the trajectories,
        for Jacobians.
    inputs: (points, input_size) the input applied at each of those points.
    p: (trials,) Bernoulli probability of each trial (binary tasks; None otherwise).
    n_steps, burn_in: steps analysed per trial, and steps discarded before them.
    signal_means: {name: (units,)} time- and trial-averaged value of every extra signal (see
        :func:`simulate_statistics`'s ``signals``), e.g. a gate.
    signal_ac: {name: (trials, units, max_lag + 1)} per-trial autocorrelation of the extra signals
        named in ``autocorrelate``, e.g. an LSTM's cell state.
    """

    ac: np.ndarray
    population_ac: np.ndarray
    covariance: np.ndarray
    mean_activity: np.ndarray
    states: torch.Tensor
    inputs: torch.Tensor
    p: np.ndarray | None
    n_steps: int
    burn_in: int
    signal_means: dict[str, np.ndarray] = field(default_factory=dict)
    signal_ac: dict[str, np.ndarray] = field(default_factory=dict)


def simulate_statistics(
    model: RecurrentModel,
    n_trials: int = 10,
    n_steps: int = 100_000,
    burn_in: int = 500,
    max_lag: int = 200,
    chunk: int = 4096,
    seed: int = 0,
    pca_trial: int = 0,
    n_points: int = 8,
    progress: Callable[[int], None] | None = None,
    task: Task | None = None,
    signals: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], dict[str, torch.Tensor]] | None = None,
    autocorrelate: Sequence[str] = (),
) -> SimulationStats:
    """Run ``model`` on the task's input and accumulate autocorrelations and the PCA covariance of
    its activity (for an LSTM, h).

    Parameters
    ----------
    model : RecurrentModel
        Any model with ``init_state`` and ``run`` (states under ``torch.no_grad``).
    n_trials, n_steps, burn_in : int
        Trials (simulated together as one batch), analysed steps per trial, discarded steps.
    max_lag : int
        Largest autocorrelation lag, in time steps.
    chunk : int
        Steps simulated and folded in at a time (memory ~ chunk x trials x units x 4 bytes x ~6).
    seed : int
        Seeds the input probabilities, the inputs and the initial states.
    pca_trial : int
        Trial whose activity is used for PCA (the paper: one trial).
    n_points : int
        Operating points sampled for the Jacobian analysis (spread over time and trials).
    progress : callable, optional
        Called with the number of steps just simulated (e.g. ``tqdm.update``).
    task : Task, optional
        Whose input statistics drive the network (:meth:`Task.input_source`); default parity's,
        the paper's setting: p ~ U(0, 1) per trial, then Bernoulli(p) bits.
    signals : callable, optional
        Extra quantities to measure along the analysed steps: called with each chunk's inputs
        (steps, trials, D), its states (steps, trials, state_size) and the state before it
        (trials, state_size), it returns ``{name: (steps, trials, units)}`` (e.g. a gate's value
        at every step, :func:`rnn_timescales.analysis.gates.gate_signals`). Each signal's mean
        goes into ``signal_means``.
    autocorrelate : sequence of str
        Signals whose autocorrelation is also accumulated (``signal_ac``).

    Returns
    -------
    SimulationStats
    """
    # Long on purpose: one pass over the trajectory folds every statistic, chunk by chunk, overlapped
    # with the next chunk's simulation; split, the chunks would be kept or simulated twice.
    for name, value, low in (("n_trials", n_trials, 1), ("n_steps", n_steps, 1), ("burn_in", burn_in, 0),
                             ("max_lag", max_lag, 0), ("chunk", chunk, 1), ("n_points", n_points, 0)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if n_steps <= max_lag:
        raise ValueError(f"n_steps ({n_steps}) must exceed max_lag ({max_lag})")
    if not 0 <= pca_trial < n_trials:
        raise ValueError(f"pca_trial must be in 0..{n_trials - 1}, got {pca_trial}")
    device = next(model.parameters()).device
    if device.type != "cpu":
        raise ValueError("simulate_statistics runs on CPU; move the model with model.cpu()")
    gen = torch.Generator().manual_seed(seed)
    source = (task if task is not None else get_task("parity")).input_source(n_trials, gen)
    acs = StreamingAutocorrelation(max_lag)
    cov = StreamingCovariance()
    mean_sum = torch.zeros(model.hidden_size, dtype=torch.float64)
    chunk = max(1, round(chunk / acs.block)) * acs.block  # whole FFT blocks: no re-buffering
    # operating points: n_points step indices spread over the run, trials cycled
    point_steps = np.linspace(0, n_steps - 1, n_points + 2)[1:-1].astype(int).tolist() if n_points else []
    states_pts, inputs_pts = [], []
    signal_acs = {name: StreamingAutocorrelation(max_lag) for name in autocorrelate}
    signal_sums: dict[str, torch.Tensor] = {}

    def fold(states: torch.Tensor, x: torch.Tensor, trajectory: torch.Tensor, before: torch.Tensor) -> None:
        acs.update(torch.cat([states, states.sum(-1, keepdim=True)], dim=-1))
        cov.update(states[:, pca_trial])
        mean_sum.add_(states.sum((0, 1), dtype=torch.float64))
        if signals is None:
            return
        with torch.no_grad():  # grad mode is per thread: the caller's no_grad does not reach this worker
            values = signals(x, trajectory, before)
        missing = set(signal_acs) - set(values)
        if missing:
            raise ValueError(f"autocorrelate names signals the signals function does not return: {sorted(missing)}")
        for name, value in values.items():
            total = value.sum((0, 1), dtype=torch.float64)
            signal_sums[name] = total if name not in signal_sums else signal_sums[name] + total
            if name in signal_acs:
                signal_acs[name].update(value)

    was_training = model.training
    model.eval()
    # Two single-threaded streams: the simulation (one small matrix product per step, where
    # intra-op threads mostly wait on each other) and the statistics of the previous chunk in a
    # worker thread (torch releases the GIL), so the two cores overlap instead of alternating.
    pending = None
    try:
        with torch_threads(1), ThreadPoolExecutor(max_workers=1) as pool, torch.no_grad():
            h = model.init_state(n_trials, gen)
            done = -burn_in
            while done < n_steps:
                length = min(chunk, -done) if done < 0 else min(chunk, n_steps - done)
                x = source(length)
                before = h
                trajectory = model.run(x, h)
                h = trajectory[-1]
                states = model.activity(trajectory)
                if done >= 0:
                    for t in point_steps:
                        # the state before step t + 1 and the input applied at it
                        if done <= t and t + 1 < done + length:
                            trial = len(states_pts) % n_trials
                            states_pts.append(trajectory[t - done, trial].clone())
                            inputs_pts.append(x[t + 1 - done, trial].clone())
                    if pending is not None:
                        pending.result()  # at most two chunks alive: bounded memory
                    pending = pool.submit(fold, states, x, trajectory, before)
                    if progress is not None:
                        progress(length)
                done += length
            if pending is not None:
                pending.result()
    finally:
        model.train(was_training)
    ac = acs.result(per_trial=True)
    hidden = ac.shape[1] - 1
    states_t = torch.stack(states_pts) if states_pts else torch.zeros(0, model.state_size)
    inputs_t = torch.stack(inputs_pts) if inputs_pts else torch.zeros(0, model.input_size)
    return SimulationStats(
        ac=ac[:, :hidden],
        population_ac=ac[:, hidden],
        covariance=cov.covariance(),
        mean_activity=(mean_sum / (n_steps * n_trials)).numpy(),
        states=states_t,
        inputs=inputs_t,
        p=source.p.numpy() if hasattr(source, "p") else None,
        n_steps=n_steps,
        burn_in=burn_in,
        signal_means={name: (total / (n_steps * n_trials)).numpy() for name, total in signal_sums.items()},
        signal_ac={name: acc.result(per_trial=True) for name, acc in signal_acs.items()},
    )

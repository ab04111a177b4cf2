"""Speed regularisation [H19]: make the network slow where it keeps its memories.

The training loss of a batch becomes

    L = CE + λ Σ_k q(c_k),     q(h) = ½‖F(h, u) − h‖²,

F the one-step update, u the *rest input* ū (every pixel at the noise mean, trigger off) or, with
``input: noise``, fresh noise frames (trigger off) averaged over ``noise_samples`` draws per point,
and c_k, one point per class of the vocabulary, chosen by ``at``:

- ``centres`` (default): the class centres of mass of this batch's memory states, the state each
  trial's response step starts from, averaged over the batch's trials of class k (classes absent
  from the batch are left out);
- ``seeds``: [H19]'s per-class seeds (mean state 15 steps after the image over correctly read-out
  trials, :func:`~rnn_timescales.analysis.recall_memory.class_seeds`), computed before the first
  step (the paper code's "CenterMass" runs);
- ``slow_points``: the slow points reached from those seeds under ū (the paper code's "SlowPoints"
  runs).

The points are constants of the loss: the gradient reaches the parameters through F only, never
through where the points are (the paper code fixes its points before fine-tuning; the batch
centres are detached likewise). Fixed points (``seeds``, ``slow_points``) are computed once before
the first step, or again every ``recompute_every`` steps, from the regulariser's own random
generator (seeded from the run's seed), so the training batches are the same with or without the
regulariser; its points and generator are part of the training state, so a resumed run is the
uninterrupted one. Configuration: ``training.speed_regularization`` (:class:`SpeedRegularization`).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from rnn_timescales.dynamics.slow_points import find_slow_points, speed
from rnn_timescales.config import SpeedRegularization
from rnn_timescales.models.base import RecurrentModel
from rnn_timescales.tasks.base import Batch
from rnn_timescales.training.steps import trajectory_loss

GENERATOR_OFFSET = 7919
"""Added to the run's seed for the regulariser's own generator (a prime, far from small seeds)."""


class SpeedRegularizer:
    """λ Σ_k q(c_k) for one run (module docstring). Built by :func:`build_regularizer`."""

    def __init__(self, config: SpeedRegularization, task, seed: int, device: torch.device | str = "cpu") -> None:
        self.config = config
        self.task = task
        self.generator = torch.Generator(device=device).manual_seed(seed + GENERATOR_OFFSET)
        self.points: torch.Tensor | None = None
        self.points_step = -1

    # --- the loss ------------------------------------------------------------------------------
    def loss(self, model: RecurrentModel, batch: Batch, generator: torch.Generator | None = None) -> torch.Tensor:
        """The batch's cross-entropy plus λ Σ_k q(c_k): a scalar."""
        ce, trajectory = trajectory_loss(model, batch, generator)
        if self.config.at == "centres":
            points = self.batch_centres(trajectory, batch)
        else:
            points = self.points
        return ce + self.config.weight * self.penalty(model, points)

    def batch_centres(self, trajectory: torch.Tensor, batch: Batch) -> torch.Tensor:
        """The class centres of mass of the batch's memory states (detached), classes without
        trials dropped: (classes present, state)."""
        from rnn_timescales.analysis.recall_memory import centres_of_mass, memory_states
        from rnn_timescales.tasks.delayed_recall import N_CLASSES

        memory = memory_states(trajectory.detach(), batch.response_time)
        centres, counts = centres_of_mass(memory, batch.labels, N_CLASSES)
        return centres[counts > 0]

    def penalty(self, model: RecurrentModel, points: torch.Tensor) -> torch.Tensor:
        """Σ_k q(p_k) at ``points`` (K, state) under the configured input (for ``noise``, each
        point's mean over ``noise_samples`` draws): a scalar, differentiable in the parameters."""
        from rnn_timescales.analysis.recall_memory import rest_input

        rest = rest_input(self.task, False, points.device, points.dtype)
        if self.config.input == "mean":
            return speed(model, points, rest).sum()
        s = self.config.noise_samples
        repeated = points.repeat_interleave(s, dim=0)
        inputs = rest.expand(repeated.shape[0], -1).clone()
        inputs[:, :-1] = self._noise_frames(repeated.shape[0], points.device).to(points.dtype)
        return speed(model, repeated, inputs).sum() / s

    def _noise_frames(self, n: int, device) -> torch.Tensor:
        mean, std = self.task.noise_stats()
        d = self.task.image_size
        if self.task.params.noise == "gaussian":
            frames = torch.randn(n, d, generator=self.generator, device=device)
        else:  # unit variance
            frames = torch.rand(n, d, generator=self.generator, device=device).sub_(0.5).mul_(2.0 * 3.0 ** 0.5)
        return frames * std + mean

    # --- fixed points ----------------------------------------------------------------------------
    def prepare(self, model: RecurrentModel, level: Mapping[str, Any], global_step: int) -> None:
        """Before training step ``global_step``: compute the ``seeds`` / ``slow_points`` when there
        are none yet, or when ``recompute_every`` says so. Nothing for ``centres``."""
        c = self.config
        if c.at == "centres":
            return
        due = c.recompute_every is not None and global_step % c.recompute_every == 0
        if self.points is not None and not (due and global_step != self.points_step):
            return
        self.points = self.compute_points(model, level)
        self.points_step = global_step

    def compute_points(self, model: RecurrentModel, level: Mapping[str, Any]) -> torch.Tensor:
        """The network's per-class seeds or slow points now (classes without a seed dropped):
        (K, state), detached."""
        from rnn_timescales.analysis.recall_memory import H19_FINDER, class_seeds, rest_input

        c = self.config
        seeds = class_seeds(model, self.task, level, c.seed_steps, c.trials_per_class, c.seed_noise_factor,
                            self.generator).seeds
        seeds = seeds[torch.isfinite(seeds).all(-1)]
        if c.at == "seeds" or seeds.shape[0] == 0:
            return seeds
        rest = rest_input(self.task, False, seeds.device, seeds.dtype)
        found = find_slow_points(model, seeds, rest, **{"compute_jacobians": False, **H19_FINDER, **c.finder})
        keep = torch.as_tensor(found.assignment >= 0)
        return torch.as_tensor(found.final_states, device=seeds.device, dtype=seeds.dtype)[keep]

    # --- training state ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"points": self.points, "points_step": self.points_step, "generator": self.generator.get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.points = state["points"].to(self.generator.device) if state.get("points") is not None else None
        self.points_step = int(state["points_step"])
        self.generator.set_state(state["generator"])


def build_regularizer(config, task, device: torch.device | str = "cpu") -> SpeedRegularizer | None:
    """The regulariser a run configuration asks for, or None (no section, or λ = 0: plain training)."""
    section = config.training.speed_regularization
    if section is None or section.weight == 0:
        return None
    return SpeedRegularizer(section, task, config.seed, device)

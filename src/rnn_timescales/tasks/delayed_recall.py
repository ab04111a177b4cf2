"""Delayed recall of an image through noise [H19] (Haviv, Rivkind & Barak, ICML 2019).

A trial is ``length`` steps (20). At a stimulus time t_s, uniform in 0 ... T_max - g - 1 (g the
minimum gap, 4), the network sees a clean image; at every other step a frame of fresh per-pixel
noise with the data set's pixel mean and standard deviation. A trigger channel, appended to the
flattened image, is 1 at the response time t_a only, uniform in t_s + g ... T_max - 1. The single
readout head has 11 classes: 0 is "null", digit (or category) k is class k + 1. The target is null
at every step before T_max, the image's class at t_a, and nothing (IGNORE) from T_max on. The loss
counts every scored step, the response step weighted ``response_weight`` (20) to 1; classes not yet
in the vocabulary are removed from the softmax (``Batch.class_mask``). Accuracy is the share of
trials whose prediction at t_a is the image's class (held-out images); the null accuracy, the share
of the other steps before T_max predicted null, is reported beside it.

Level: ``{"n_classes": C, "max_delay": T_max}``: the vocabulary size (null included; class k + 1
for digits 0 ... C - 2) and T_max (responses fall before step T_max, so delays t_a - t_s run from
g to T_max - 1). The vocabulary and delay curricula change one each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Mapping

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rnn_timescales.tasks.base import IGNORE, Batch, Task
from rnn_timescales.tasks.datasets import IMAGE_SHAPES, N_LABELS, ImageDataset, ImageSplit, load_dataset

NULL = 0
"""The class of "no response"."""
N_CLASSES = N_LABELS + 1
"""Logits of the readout head: null and one class per label."""


class DelayedRecallParams(BaseModel):
    """Settings of delayed recall (``task:`` in a configuration).

    dataset / data_dir: ``digits`` (scikit-learn's bundled 8 x 8 digits; no files), ``mnist`` (IDX
    files in ``data_dir``) or ``cifar10`` (binary batches in ``data_dir``).
    length: steps per trial. max_delay: T_max of the task's own level (responses before step T_max).
    n_classes: vocabulary size of the task's own level, null included (11: all ten labels).
    min_gap: g, the least number of steps from stimulus to response.
    response_weight: loss weight of the response step (every other scored step weighs 1).
    loss_steps: ``all`` (every step before T_max, the paper's) or ``response`` (t_a only).
    noise: distribution of the noise frames, ``gaussian`` (the paper's) or ``uniform`` (same mean
    and s.d.); noise_mean / noise_std: null for the training images' pixel mean and s.d.
    """

    model_config = ConfigDict(extra="forbid")
    dataset: Literal["digits", "mnist", "cifar10"] = "digits"
    data_dir: str | None = None
    length: int = Field(20, ge=2)
    max_delay: int = Field(20, ge=2)
    n_classes: int = Field(N_CLASSES, ge=2, le=N_CLASSES)
    min_gap: int = Field(4, ge=1)
    response_weight: float = Field(20.0, gt=0)
    loss_steps: Literal["all", "response"] = "all"
    noise: Literal["gaussian", "uniform"] = "gaussian"
    noise_mean: float | None = None
    noise_std: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> DelayedRecallParams:
        if self.max_delay > self.length:
            raise ValueError(f"task.max_delay ({self.max_delay}) must not exceed task.length ({self.length}): "
                             "responses fall inside the trial")
        if self.max_delay < self.min_gap + 1:
            raise ValueError(f"task.max_delay ({self.max_delay}) must be at least task.min_gap + 1 ({self.min_gap + 1})")
        if self.dataset != "digits" and self.data_dir is None:
            raise ValueError(f"task.data_dir is required for task.dataset {self.dataset!r}: give the folder holding "
                             f"its files (--set task.data_dir=PATH), or use task.dataset=digits")
        return self


@dataclass
class RecallBatch(Batch):
    """A batch of delayed-recall trials: the :class:`Batch` fields and when each trial happens.

    stimulus_time, response_time: (batch,) long, t_s and t_a. labels: (batch,) long, the class
    expected at t_a (1 ... C - 1). scored_until: (batch,) long, steps before it are scored (T_max
    in training; t_a + 1 in trials of a given delay).
    """

    stimulus_time: torch.Tensor | None = None
    response_time: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    scored_until: torch.Tensor | None = None


class DelayedRecall(Task):
    """Delayed recall of an image through noise: report its class when the trigger comes ([H19])."""

    name = "delayed-recall"
    Params = DelayedRecallParams
    default_curriculum = "delay"
    recall = True
    level_keys = ("n_classes", "max_delay")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._on_device: dict[str, tuple[ImageSplit, ImageSplit]] = {}

    # --- what the task declares ---------------------------------------------------------------
    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of the images; the input is the flattened image, then the trigger."""
        return IMAGE_SHAPES[self.params.dataset]

    @property
    def image_size(self) -> int:
        return math.prod(self.image_shape)

    @property
    def input_size(self) -> int:
        return self.image_size + 1

    @property
    def n_classes(self) -> int:
        return N_CLASSES

    def default_level(self) -> dict[str, Any]:
        return {"n_classes": self.params.n_classes, "max_delay": self.params.max_delay}

    def describe(self, level: Mapping[str, Any]) -> str:
        return f"T_max={level['max_delay']}, classes={level['n_classes']}"

    # --- data ---------------------------------------------------------------------------------
    @property
    def dataset(self) -> ImageDataset:
        """The image set, read on first use (once per process)."""
        return load_dataset(self.params.dataset, self.params.data_dir)

    def check(self) -> None:
        """Read the data set now: a missing or malformed file is a DatasetError before a run starts."""
        load_dataset(self.params.dataset, self.params.data_dir)

    def _split(self, held_out: bool, device: torch.device) -> ImageSplit:
        key = str(device)
        if key not in self._on_device:
            data = self.dataset
            self._on_device[key] = (data.train.to(device), data.test.to(device))
        return self._on_device[key][1 if held_out else 0]

    def noise_stats(self) -> tuple[float, float]:
        """Mean and s.d. of the noise frames' pixels."""
        p, data = self.params, self.dataset
        return (data.mean if p.noise_mean is None else p.noise_mean, data.std if p.noise_std is None else p.noise_std)

    # --- trials -------------------------------------------------------------------------------
    def check_level(self, level: Mapping[str, Any]) -> tuple[int, int]:
        """(C, T_max) of ``level``; ValueError if the level cannot make trials."""
        n_classes, t_max = int(level["n_classes"]), int(level["max_delay"])
        if not 2 <= n_classes <= N_CLASSES:
            raise ValueError(f"n_classes must be in 2..{N_CLASSES}, got {n_classes}")
        if not self.params.min_gap + 1 <= t_max <= self.params.length:
            raise ValueError(f"max_delay must be in {self.params.min_gap + 1}..{self.params.length}, got {t_max}")
        return n_classes, t_max

    def sample(self, level, batch_size, generator=None, device="cpu") -> RecallBatch:
        """Training trials at ``level`` (training images)."""
        return self._sample(level, batch_size, generator, torch.device(device), held_out=False)

    def sample_held_out(self, level, batch_size, generator=None, device="cpu") -> RecallBatch:
        """The same trials with held-out (test) images."""
        return self._sample(level, batch_size, generator, torch.device(device), held_out=True)

    def _sample(self, level, batch_size: int, generator, device: torch.device, held_out: bool) -> RecallBatch:
        n_classes, t_max = self.check_level(level)
        g = self.params.min_gap
        t_s = torch.randint(0, t_max - g, (batch_size,), generator=generator, device=device)
        # t_a uniform in t_s + g ... t_max - 1: a range whose width depends on t_s
        u = torch.rand(batch_size, generator=generator, device=device)
        t_a = t_s + g + (u * (t_max - g - t_s)).long()
        scored_until = torch.full((batch_size,), t_max, dtype=torch.long, device=device)
        return self.trials(t_s, t_a, scored_until, self.params.length, n_classes, generator, held_out)

    def trials(
        self,
        stimulus_time: torch.Tensor,
        response_time: torch.Tensor,
        scored_until: torch.Tensor,
        length: int,
        n_classes: int,
        generator: torch.Generator | None = None,
        held_out: bool = False,
    ) -> RecallBatch:
        """Trials with the given timing: stimulus_time, response_time, scored_until (batch,) long on
        the device, 0 <= t_s < t_a < length and t_a < scored_until <= length. Each trial's class
        is uniform in 1 ... n_classes - 1 and its image uniform among that label's images (test
        images when ``held_out``).

        inputs (length, batch, D + 1): noise frames, the image at t_s, the trigger (last channel)
        at t_a. targets (length, batch, 1): null before scored_until, the class at t_a, IGNORE
        elsewhere (only t_a scored when ``loss_steps`` is ``response``). weights (length, batch):
        ``response_weight`` at t_a, 1 elsewhere.
        """
        device = stimulus_time.device
        batch = stimulus_time.shape[0]
        split = self._split(held_out, device)
        data = self.dataset
        digit = torch.randint(0, n_classes - 1, (batch,), generator=generator, device=device)
        u = torch.rand(batch, generator=generator, device=device)
        index = split.offsets[digit] + torch.minimum((u * split.counts[digit]).long(), split.counts[digit] - 1)
        image = split.pixels[index].float() * data.scale  # (batch, D)

        # every frame (and the trigger channel, zeroed below) drawn in one call
        d = self.image_size
        mean, std = self.noise_stats()
        if self.params.noise == "gaussian":
            inputs = torch.randn(length, batch, d + 1, generator=generator, device=device)
        else:  # uniform with unit variance: U(-sqrt(3), sqrt(3))
            inputs = torch.rand(length, batch, d + 1, generator=generator, device=device).sub_(0.5).mul_(2.0 * math.sqrt(3.0))
        inputs.mul_(std).add_(mean)
        rows = torch.arange(batch, device=device)
        inputs[stimulus_time, rows, :d] = image
        inputs[..., d] = 0.0
        inputs[response_time, rows, d] = 1.0

        steps = torch.arange(length, device=device).unsqueeze(1)
        labels = digit + 1
        if self.params.loss_steps == "all":
            targets = torch.where(steps < scored_until, NULL, IGNORE)
        else:
            targets = torch.full((length, batch), IGNORE, dtype=torch.long, device=device)
        targets[response_time, rows] = labels
        weights = torch.ones(length, batch, device=device)
        weights[response_time, rows] = self.params.response_weight
        class_mask = (torch.arange(N_CLASSES, device=device) < n_classes).unsqueeze(0)
        return RecallBatch(inputs=inputs, targets=targets.unsqueeze(-1), weights=weights, class_mask=class_mask,
                           stimulus_time=stimulus_time, response_time=response_time, labels=labels,
                           scored_until=scored_until)

    # --- scoring ------------------------------------------------------------------------------
    def score(self, logits: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Correct and scored responses: the prediction at t_a against the image's class, one per
        trial. ``logits``: (time, batch, 1, classes). Returns ((1,), (1,)) long."""
        if not isinstance(batch, RecallBatch):
            return super().score(logits, batch)
        rows = torch.arange(logits.shape[1], device=logits.device)
        pred = logits[batch.response_time, rows, 0].argmax(-1)
        correct = (pred == batch.labels).sum().reshape(1)
        return correct, torch.full_like(correct, rows.numel())

    def score_null(self, logits: torch.Tensor, batch: RecallBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Correct and scored null predictions: every step before ``scored_until`` except t_a,
        where the network should say nothing. ``logits``: (time, batch, 1, classes). ((1,), (1,)) long."""
        steps = torch.arange(logits.shape[0], device=logits.device).unsqueeze(1)
        scored = (steps < batch.scored_until) & (steps != batch.response_time)
        correct = (logits[:, :, 0].argmax(-1) == NULL) & scored
        return correct.sum().reshape(1), scored.sum().reshape(1)

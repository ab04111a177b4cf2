"""Front ends that turn each input frame into the recurrent core's input, trained with the core.

``model.encoder: linear`` (the default) needs none: the core's own input weights read the frame.
``model.encoder: cnn`` puts the convolutional network of [H19]'s CIFAR-10 runs in front of any
registered core: each frame's image goes through three 3 x 3 convolutions (128 channels, "same"
padding, leaky ReLU with slope 0.2, 2 x 2 max pooling rounding up) and three fully connected
layers (2048, 2048, 1024 units, leaky ReLU); the frame's other channels (the trigger of delayed
recall) bypass it and are appended to its output. :class:`EncodedModel` applies the encoder inside
``step`` as well as ``run``, so slow points and Jacobians see the same network that was trained,
and saves it in the checkpoint (keys ``encoder.*``, the core's under ``core.*``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rnn_timescales.models.base import RecurrentModel
from rnn_timescales.models.readout import MultiHeadReadout

CNN_CHANNELS = (128, 128, 128)
CNN_DENSE = (2048, 2048, 1024)
CNN_SLOPE = 0.2  # TensorFlow's leaky_relu default, which the paper's code uses


class ConvEncoder(nn.Module):
    """The [H19] CIFAR-10 front end: images (n, C, H, W) -> features (n, 1024).

    Three blocks of conv 3 x 3 (``CNN_CHANNELS``, padding 1) -> leaky ReLU -> max-pool 2 x 2 (ceil
    mode, as TensorFlow's "same" pooling), flattened, then dense layers ``CNN_DENSE`` with leaky
    ReLU. Layers start as PyTorch initialises them (the paper's code draws its own scaled normals).
    """

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        channels, height, width = self.image_shape
        convs = []
        for out in CNN_CHANNELS:
            convs.append(nn.Conv2d(channels, out, 3, padding=1))
            channels, height, width = out, math.ceil(height / 2), math.ceil(width / 2)
        self.convs = nn.ModuleList(convs)
        dense, width_in = [], channels * height * width
        for out in CNN_DENSE:
            dense.append(nn.Linear(width_in, out))
            width_in = out
        self.dense = nn.ModuleList(dense)
        self.out_features = width_in

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images
        for conv in self.convs:
            x = F.max_pool2d(F.leaky_relu(conv(x), CNN_SLOPE), 2, ceil_mode=True)
        x = x.flatten(1)
        for layer in self.dense:
            x = F.leaky_relu(layer(x), CNN_SLOPE)
        return x


class EncodedModel(RecurrentModel):
    """A recurrent core whose every input frame first passes through an image encoder.

    A frame x (..., D) holds the flattened image (its first prod(image_shape) entries) and then
    any other channels; the core sees (encoder(image), other channels). The state, the activity,
    the readout and the timescales are the core's.
    """

    name = "encoded"

    def __init__(self, encoder: ConvEncoder, core: RecurrentModel, input_size: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.core = core
        self.input_size = input_size
        self.hidden_size = core.hidden_size
        self.image_size = math.prod(encoder.image_shape)

    @classmethod
    def from_config(cls, config: Any, *, input_size: int, n_heads: int, n_classes: int,
                    image_shape: tuple[int, int, int] | None = None, core: type[RecurrentModel] | None = None) -> EncodedModel:
        """The ``config.type`` core behind the encoder ``config.encoder`` for frames of
        ``input_size`` whose first entries are an image of ``image_shape``."""
        if image_shape is None or core is None:
            raise ValueError("an encoded model needs the image shape of its frames and the class of its core")
        encoder = ConvEncoder(image_shape)
        extra = input_size - math.prod(image_shape)
        if extra < 0:
            raise ValueError(f"frames of {input_size} values cannot hold images of shape {tuple(image_shape)}")
        inner = core.from_config(config, input_size=encoder.out_features + extra, n_heads=n_heads, n_classes=n_classes)
        return cls(encoder, inner, input_size)

    @property
    def readout(self) -> MultiHeadReadout:
        return self.core.readout

    @property
    def state_size(self) -> int:
        return self.core.state_size

    def activity(self, states: torch.Tensor) -> torch.Tensor:
        return self.core.activity(states)

    def timescales(self) -> torch.Tensor | None:
        return self.core.timescales()

    def init_state(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.core.init_state(batch_size, generator)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The core's input for frames x (..., D): (..., features + other channels). All frames
        go through the encoder as one batch."""
        lead = x.shape[:-1]
        images = x[..., : self.image_size].reshape(-1, *self.encoder.image_shape)
        features = self.encoder(images).reshape(*lead, -1)
        return torch.cat([features, x[..., self.image_size:]], dim=-1)

    def step(self, state: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.core.step(state, self.encode(x))

    def run(self, inputs: torch.Tensor, state0: torch.Tensor) -> torch.Tensor:
        return self.core.run(self.encode(inputs), state0)

    def run_final(self, inputs: torch.Tensor, state0: torch.Tensor) -> torch.Tensor:
        return self.core.run_final(self.encode(inputs), state0)

    def run_activity(self, inputs: torch.Tensor, state0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.core.run_activity(self.encode(inputs), state0)


def build_encoded(core: type[RecurrentModel], config: Any, task: Any, n_heads: int) -> RecurrentModel:
    """The model ``config`` (a ``ModelConfig``) describes for ``task``: the ``core`` class alone
    for ``encoder: linear``, behind a :class:`ConvEncoder` for ``encoder: cnn``."""
    sizes = {"input_size": task.input_size, "n_heads": n_heads, "n_classes": task.n_classes}
    if getattr(config, "encoder", "linear") == "linear":
        return core.from_config(config, **sizes)
    image_shape = getattr(task, "image_shape", None)
    if image_shape is None:
        raise ValueError(f"model.encoder 'cnn' needs a task whose input is images; task {task.name!r} has none")
    return EncodedModel.from_config(config, **sizes, image_shape=image_shape, core=core)

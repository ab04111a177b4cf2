"""The elementwise nonlinearities phi of the leaky RNN, in one table.

Each entry gives phi (out of place, for the step-by-step model and analyses), phi applied in
place (for the fast recurrence), and dL/dp = dL/dy * phi'(p) computed from phi's *output*
y = phi(p) with PyTorch's own backward kernels (so the fast path keeps only the states), and
phi'(p) from the pre-activation p (for Jacobians). Adding a nonlinearity means adding one entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

LEAKY_RELU_SLOPE = 0.01
"""Negative slope of the default nonlinearity (docs/science.md, the model)."""

_aten = torch.ops.aten
Tensor = torch.Tensor


@dataclass(frozen=True)
class Nonlinearity:
    """phi and its derivatives.

    phi(p) -> y; phi_(p) -> p overwritten with phi(p); backward(grad, y, out) -> out = grad * phi'(p)
    given y = phi(p) (``out`` may be ``grad``); derivative(p) -> phi'(p), elementwise.
    """

    name: str
    phi: Callable[[Tensor], Tensor]
    phi_: Callable[[Tensor], Tensor]
    backward: Callable[[Tensor, Tensor, Tensor], Tensor]
    derivative: Callable[[Tensor], Tensor]


NONLINEARITIES: dict[str, Nonlinearity] = {
    # Leaky ReLU and ReLU: y > 0 exactly when p > 0, so the output decides the slope.
    "leaky_relu": Nonlinearity(
        "leaky_relu",
        phi=lambda p: F.leaky_relu(p, LEAKY_RELU_SLOPE),
        phi_=lambda p: F.leaky_relu_(p, LEAKY_RELU_SLOPE),
        backward=lambda g, y, out: _aten.leaky_relu_backward.grad_input(g, y, LEAKY_RELU_SLOPE, True, grad_input=out),
        derivative=lambda p: torch.where(p > 0, 1.0, LEAKY_RELU_SLOPE).to(p.dtype),
    ),
    "relu": Nonlinearity(
        "relu",
        phi=torch.relu,
        phi_=torch.relu_,
        backward=lambda g, y, out: _aten.threshold_backward.grad_input(g, y, 0.0, grad_input=out),
        derivative=lambda p: (p > 0).to(p.dtype),
    ),
    "tanh": Nonlinearity(
        "tanh",
        phi=torch.tanh,
        phi_=torch.tanh_,
        backward=lambda g, y, out: _aten.tanh_backward.grad_input(g, y, grad_input=out),
        derivative=lambda p: 1.0 - torch.tanh(p) ** 2,
    ),
    "sigmoid": Nonlinearity(
        "sigmoid",
        phi=torch.sigmoid,
        phi_=torch.sigmoid_,
        backward=lambda g, y, out: _aten.sigmoid_backward.grad_input(g, y, grad_input=out),
        derivative=lambda p: torch.sigmoid(p) * (1.0 - torch.sigmoid(p)),
    ),
}


def nonlinearity(name: str) -> Nonlinearity:
    """The table entry called ``name``; ValueError listing the choices otherwise."""
    try:
        return NONLINEARITIES[name]
    except KeyError:
        raise ValueError(f"unknown nonlinearity {name!r}; choose one of {', '.join(NONLINEARITIES)}") from None

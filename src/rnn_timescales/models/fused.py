"""The leaky RNN's whole-sequence recurrence as one autograd function (the fast path).

Plain autograd over a per-step loop records a dozen small operations per step and, in the
backward pass, forms the weight gradient as T separate (H, B) x (B, H) products. Here the
forward pass is one GEMM and one in-place nonlinearity per step, written into a preallocated
(T + 1, B, H) buffer; the backward pass runs the recurrence for dL/dh step by step (one
(B, H) x (H, H) GEMM per step) and then forms every parameter gradient at once, the recurrent
one as a single GEMM over all T * B rows. The maths is the model of
:mod:`rnn_timescales.models.leaky_rnn`; ``tests/test_fast_path.py`` checks the gradients against
plain autograd.

Notation (rows are sequences of the batch, as in ``(time, batch, hidden)`` tensors)::

    outside:  p_t = leak * h_{t-1} + inv * (h_{t-1} W^T + b + x_t U^T),   h_t = phi(p_t)
    inside:   a_t = h_{t-1} W^T + b + x_t U^T,   h_t = leak * h_{t-1} + inv * phi(a_t)

with inv = 1 / tau_hat, leak = 1 - inv, W the masked recurrent weight, b = b_W + b_U.
For ``outside`` the leak is folded into the GEMM: p_t = c_t + h_{t-1} A with
A = W^T diag(inv) + diag(leak), so one step is ``addmm`` then ``phi`` in place.

Every derivative phi' is computed from phi's output (leaky ReLU and ReLU: sign; tanh: 1 - y^2;
sigmoid: y (1 - y)), exactly as PyTorch's own backward formulas do, so only the states (and,
for ``inside``, phi(a_t)) are kept.

Precision ``bf16``: the operands of every matrix product are rounded to bfloat16, products are
accumulated in fp32 and the state stays fp32. Where the device has bf16 matrix units (CUDA, or a
CPU with AVX512-BF16 / AMX) the products run in bf16; elsewhere they are emulated by rounding the
operands and multiplying in fp32 (the same numbers up to summation order: a product of two bf16
values is exact in fp32), which is correct but no faster than fp32.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F

LEAKY_RELU_SLOPE = 0.01

Precision = str  # "fp32" | "bf16"


# --- nonlinearities: in place, and their derivative from the output ---------------------------------
_aten = torch.ops.aten


def phi_(name: str, y: torch.Tensor) -> torch.Tensor:
    """Apply the nonlinearity ``name`` to ``y`` in place."""
    if name == "leaky_relu":
        return F.leaky_relu_(y, LEAKY_RELU_SLOPE)
    if name == "relu":
        return y.relu_()
    if name == "tanh":
        return y.tanh_()
    if name == "sigmoid":
        return y.sigmoid_()
    raise ValueError(f"unknown nonlinearity {name!r}")


def phi_backward(name: str, grad: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """out = grad * phi'(p) given y = phi(p): PyTorch's own backward kernels, one fused op each
    (leaky ReLU and ReLU test y > 0, which holds exactly when p > 0; tanh: 1 - y^2; sigmoid:
    y (1 - y)). ``out`` may be ``grad``."""
    if name == "leaky_relu":
        return _aten.leaky_relu_backward.grad_input(grad, y, LEAKY_RELU_SLOPE, True, grad_input=out)
    if name == "relu":
        return _aten.threshold_backward.grad_input(grad, y, 0.0, grad_input=out)
    if name == "tanh":
        return _aten.tanh_backward.grad_input(grad, y, grad_input=out)
    if name == "sigmoid":
        return _aten.sigmoid_backward.grad_input(grad, y, grad_input=out)
    raise ValueError(f"unknown nonlinearity {name!r}")


# --- matrix products at the chosen precision ------------------------------------------------------
@lru_cache(maxsize=None)
def native_bf16(device_type: str) -> bool:
    """Whether bf16 matrix products run on dedicated hardware on this device type."""
    if device_type == "cuda":
        return True
    if device_type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


class _Products:
    """``addmm``/``mm`` into preallocated outputs, at fp32 or bf16-operand precision.

    The right-hand operands (weights) are converted once by :meth:`weight`; the left-hand ones
    (states, gradients) are converted per call into a reused buffer.
    """

    def __init__(self, precision: Precision, device: torch.device, dtype: torch.dtype) -> None:
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
        self.bf16 = precision == "bf16"
        self.native = self.bf16 and native_bf16(device.type)
        self.dtype = dtype
        self._lhs: dict[tuple, torch.Tensor] = {}

    def weight(self, w: torch.Tensor) -> torch.Tensor:
        if not self.bf16:
            return w
        wb = w.to(torch.bfloat16)
        return wb if self.native else wb.to(self.dtype)

    def _left(self, a: torch.Tensor) -> torch.Tensor:
        key = (tuple(a.shape), a.dtype)
        buf = self._lhs.get(key)
        if buf is None:
            buf = torch.empty(a.shape, dtype=torch.bfloat16 if self.native else a.dtype, device=a.device)
            self._lhs[key] = buf
        if self.native:
            return buf.copy_(a)
        return buf.copy_(a.to(torch.bfloat16))

    def addmm(self, c: torch.Tensor, a: torch.Tensor, w: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """out = c + a @ w (``w`` from :meth:`weight`)."""
        if not self.bf16:
            return torch.addmm(c, a, w, out=out)
        if self.native:
            return torch.add(c, torch.mm(self._left(a), w), out=out)
        return torch.addmm(c, self._left(a), w, out=out)

    def mm(self, a: torch.Tensor, w: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """out = a @ w (``w`` from :meth:`weight`)."""
        if not self.bf16:
            return torch.mm(a, w, out=out)
        if self.native:
            return out.copy_(torch.mm(self._left(a), w))
        return torch.mm(self._left(a), w, out=out)

    def big(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """a @ b for large one-off products (the weight gradient), result in the state dtype."""
        if not self.bf16:
            return a @ b
        if self.native:
            return (a.to(torch.bfloat16) @ b.to(torch.bfloat16)).to(self.dtype)
        return a.to(torch.bfloat16).to(self.dtype) @ b.to(torch.bfloat16).to(self.dtype)


# --- forward -------------------------------------------------------------------------------------
def _outside_matrix(w: torch.Tensor, inv: torch.Tensor) -> torch.Tensor:
    """A = W^T diag(inv) + diag(1 - inv), so that p_t = c_t + h_{t-1} A: (H, H)."""
    a = w.t() * inv[None, :]
    a.diagonal().add_(1.0 - inv)
    return a


def _forward(x, h0, w, bias, u, inv, placement, nonlinearity, precision, keep_phi):
    """Run the recurrence. Returns (buf, phis): buf (T + 1, B, H) with buf[0] = h0 and buf[t] = h_t;
    phis (T, B, H) = phi(a_t) for ``inside`` when ``keep_phi``, else None."""
    T, B, D = x.shape
    H = h0.shape[-1]
    prod = _Products(precision, h0.device, h0.dtype)
    buf = torch.empty(T + 1, B, H, dtype=h0.dtype, device=h0.device)
    buf[0].copy_(h0)
    x_flat = x.reshape(T * B, D)
    if placement == "outside":
        # Every step's input term inv * (U x_t + b) goes straight into the step's slot, and each
        # step then adds its product in place: no per-step copy or allocation.
        torch.addmm(bias * inv, x_flat, (u * inv[:, None]).t(), out=buf[1:].view(T * B, H))
        a_mat = prod.weight(_outside_matrix(w, inv).contiguous())
        for t in range(T):
            prod.addmm(buf[t + 1], buf[t], a_mat, out=buf[t + 1])
            phi_(nonlinearity, buf[t + 1])
        return buf, None
    leak = 1.0 - inv
    w_t = prod.weight(w.t().contiguous())
    if keep_phi:
        phis = torch.empty(T, B, H, dtype=h0.dtype, device=h0.device)
        torch.addmm(bias, x_flat, u.t(), out=phis.view(T * B, H))
        for t in range(T):
            prod.addmm(phis[t], buf[t], w_t, out=phis[t])
            phi_(nonlinearity, phis[t])
            torch.mul(buf[t], leak, out=buf[t + 1])
            buf[t + 1].addcmul_(phis[t], inv)
        return buf, phis
    c = F.linear(x, u, bias)
    scratch = torch.empty(B, H, dtype=h0.dtype, device=h0.device)
    for t in range(T):
        prod.addmm(c[t], buf[t], w_t, out=scratch)
        phi_(nonlinearity, scratch)
        torch.mul(buf[t], leak, out=buf[t + 1])
        buf[t + 1].addcmul_(scratch, inv)
    return buf, None


class LeakyRecurrence(torch.autograd.Function):
    """states = recurrence(x, h0, W, b, U, inv): the whole sequence with a hand-written backward.

    x (T, B, D), h0 (B, H), w (H, H) masked recurrent weight, bias (H,) = b_W + b_U,
    u (H, D), inv (H,) = 1 / tau_hat -> states (T, B, H), or only the final state (B, H) with
    ``final_only`` (then no (T, B, H) gradient is ever formed for the states nobody reads).
    """

    @staticmethod
    def forward(ctx, x, h0, w, bias, u, inv, placement, nonlinearity, precision, final_only):
        buf, phis = _forward(x, h0, w, bias, u, inv, placement, nonlinearity, precision, keep_phi=True)
        ctx.placement, ctx.nonlinearity, ctx.precision, ctx.final_only = placement, nonlinearity, precision, final_only
        ctx.save_for_backward(x, w, bias, u, inv, buf, phis)
        return buf[-1] if final_only else buf[1:]

    @staticmethod
    def backward(ctx, grad):
        x, w, bias, u, inv, buf, phis = ctx.saved_tensors
        final_only, name = ctx.final_only, ctx.nonlinearity
        T, B, H = buf.shape[0] - 1, buf.shape[1], buf.shape[2]
        D = x.shape[-1]
        dtype, device = buf.dtype, buf.device
        grad = grad.contiguous()
        prod = _Products(ctx.precision, device, dtype)
        leak = 1.0 - inv
        carry = torch.zeros(B, H, dtype=dtype, device=device)  # dL/dh_t through step t + 1
        h_prev = buf[:-1].reshape(T * B, H)
        x_flat = x.reshape(T * B, D)

        def total(t: int, out: torch.Tensor) -> torch.Tensor:
            """dL/dh_t: what the caller sends for h_t plus what flows back from step t + 1."""
            if final_only:
                return grad if t == T - 1 else carry
            return torch.add(grad[t], carry, out=out)

        if ctx.placement == "outside":
            # g_t = dL/dp_t = dL/dh_t * phi'(p_t);  dL/dh_{t-1} = g_t A^T.
            a_t = prod.weight(_outside_matrix(w, inv).t().contiguous())
            g = torch.empty(T, B, H, dtype=dtype, device=device)
            for t in range(T - 1, -1, -1):
                phi_backward(name, total(t, g[t]), buf[t + 1], out=g[t])
                prod.mm(g[t], a_t, out=carry)
            g_flat = g.view(T * B, H)
            m = prod.big(g_flat.t(), h_prev)  # sum_t g_t^T h_{t-1}: (H, H), one GEMM over T * B rows
            g_sum = g_flat.sum(0)
            gx = g_flat.t() @ x_flat  # (H, D)
            grad_w = m * inv[:, None]
            grad_bias = g_sum * inv
            grad_u = gx * inv[:, None]
            # dL/dinv_i = sum g_i (W h + b + U x - h)_i, written through m so no drive is recomputed.
            grad_inv = (m * w).sum(1) - m.diagonal() + bias * g_sum + (gx * u).sum(1)
            grad_x = (g_flat * inv) @ u if ctx.needs_input_grad[0] else None
        else:
            # e_t = dL/dh_t; d_t = dL/da_t = e_t inv phi'(a_t); dL/dh_{t-1} = leak e_t + d_t W.
            w_p = prod.weight(w.contiguous())
            e = torch.empty(T, B, H, dtype=dtype, device=device)
            d = torch.empty_like(e)
            for t in range(T - 1, -1, -1):
                e_t = total(t, e[t])
                if final_only:
                    e_t = e[t].copy_(e_t)
                phi_backward(name, e_t, phis[t], out=d[t]).mul_(inv)
                torch.mul(e_t, leak, out=carry)
                prod.addmm(carry, d[t], w_p, out=carry)
            d_flat = d.view(T * B, H)
            grad_w = prod.big(d_flat.t(), h_prev)
            grad_bias = d_flat.sum(0)
            grad_u = d_flat.t() @ x_flat
            e_flat = e.view(T * B, H)
            grad_inv = (e_flat * phis.view(T * B, H)).sum(0) - (e_flat * h_prev).sum(0)
            grad_x = d_flat @ u if ctx.needs_input_grad[0] else None

        if grad_x is not None:
            grad_x = grad_x.view(T, B, D)
        grad_h0 = carry if ctx.needs_input_grad[1] else None
        return grad_x, grad_h0, grad_w, grad_bias, grad_u, grad_inv, None, None, None, None


def leaky_recurrence(
    x: torch.Tensor,
    h0: torch.Tensor,
    w: torch.Tensor,
    bias: torch.Tensor,
    u: torch.Tensor,
    inv: torch.Tensor,
    placement: str = "outside",
    nonlinearity: str = "leaky_relu",
    precision: Precision = "fp32",
    final_only: bool = False,
) -> torch.Tensor:
    """States (T, B, H) of the leaky RNN over inputs x (T, B, D) from h0 (B, H); with
    ``final_only`` only the last one, (B, H).

    w: (H, H) recurrent weight as used (already masked); bias: (H,) = b_W + b_U; u: (H, D);
    inv: (H,) = 1 / tau_hat. Differentiable in every tensor argument; without gradients it
    keeps nothing but the states.
    """
    if placement not in ("outside", "inside"):
        raise ValueError(f"placement must be 'outside' or 'inside', got {placement!r}")
    if x.shape[0] == 0:
        return h0 if final_only else h0.new_empty(0, *h0.shape)
    tensors = (x, h0, w, bias, u, inv)
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return LeakyRecurrence.apply(x, h0, w, bias, u, inv, placement, nonlinearity, precision, final_only)
    buf, _ = _forward(x, h0, w, bias, u, inv, placement, nonlinearity, precision, keep_phi=False)
    return buf[-1] if final_only else buf[1:]

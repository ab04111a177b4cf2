"""The leaky RNN's whole-sequence recurrence as one autograd function (the fast path).

Plain autograd over a per-step loop records a dozen small operations per step and, in the
backward pass, forms the weight gradient as T separate (H, B) x (B, H) products. Here the
forward pass is one GEMM and one in-place nonlinearity per step, written into a preallocated
(T + 1, B, H) buffer; the backward pass runs the recurrence for dL/dh step by step (one
(B, H) x (H, H) GEMM per step) and then forms every parameter gradient at once, the recurrent
one as a single GEMM over all T * B rows. The maths is the model of
:mod:`rnn_timescales.models.leaky_rnn`; ``tests/models/test_fused.py`` checks the gradients against
plain autograd.

Notation (rows are sequences of the batch, as in ``(time, batch, hidden)`` tensors)::

    outside:  p_t = leak * h_{t-1} + inv * (h_{t-1} W^T + b + x_t U^T),   h_t = phi(p_t)
    inside:   a_t = h_{t-1} W^T + b + x_t U^T,   h_t = leak * h_{t-1} + inv * phi(a_t)

with inv = 1 / tau_hat, leak = 1 - inv, W the masked recurrent weight, b = b_W + b_U.
For ``outside`` the leak is folded into the GEMM: p_t = c_t + h_{t-1} A with
A = W^T diag(inv) + diag(leak), so one step is ``addmm`` then ``phi`` in place.

Backward pass. With e_t = dL/dh_t (what the caller sends for h_t plus what flows back from step
t + 1) and drive_t = h_{t-1} W^T + b + x_t U^T:

    outside:  p_t = h_{t-1} + inv * (drive_t - h_{t-1}),  g_t = dL/dp_t = e_t * phi'(p_t)
              dL/dh_{t-1} (through step t) = g_t A^T
              M = sum_t g_t^T h_{t-1}            (H, H): one GEMM over all T * B rows
              dL/dW = inv[:, None] * M,   dL/db = inv * sum_t g_t,   dL/dU = inv[:, None] * sum_t g_t^T x_t
              dp_t,i / dinv_i = (drive_t - h_{t-1})_i, so
              dL/dinv_i = sum_{t,b} g_i (drive - h)_i
                        = sum_j W_ij M_ij - M_ii + b_i sum_t g_t,i + sum_d U_id (sum_t g_t^T x_t)_id
              (read off M, so no drive is recomputed)

    inside:   h_t = h_{t-1} + inv * (phi(a_t) - h_{t-1}),  d_t = dL/da_t = e_t * inv * phi'(a_t)
              dL/dh_{t-1} (through step t) = leak * e_t + d_t W
              dL/dW = sum_t d_t^T h_{t-1},   dL/db = sum_t d_t,   dL/dU = sum_t d_t^T x_t
              dh_t,i / dinv_i = (phi(a_t) - h_{t-1})_i, so
              dL/dinv_i = sum_{t,b} e_i (phi(a_t) - h_{t-1})_i

The chain rule from inv to tau (inv = 1 / max(tau, 1)) is left to autograd outside the function.

Every derivative phi' is computed from phi's output (leaky ReLU and ReLU: sign; tanh: 1 - y^2;
sigmoid: y (1 - y)), exactly as PyTorch's own backward formulas do, so only the states (and,
for ``inside``, phi(a_t)) are kept.

Precision ``bf16``: the operands of every matrix product are rounded to bfloat16, the products
accumulate in fp32, and the state, the parameters and every elementwise operation stay fp32.
Where the device has bf16 matrix units (CUDA, or a CPU with AVX512-BF16 / AMX) the products run
in bf16, and each per-step product is rounded to bf16 once more before it is added to the fp32
state (PyTorch 2.13 offers no bf16 x bf16 -> fp32 product on the CPU; this is what autocast
does too). Elsewhere they are emulated by rounding the operands and multiplying in fp32 (exact
products, no output rounding), which is correct but no faster than fp32. The operands converted
for the per-step products are kept and reused for the weight-gradient product.
"""

from __future__ import annotations

import torch

from rnn_timescales import runtime
from rnn_timescales.runtime import Precision
from rnn_timescales.models.nonlinearities import nonlinearity as _table
from rnn_timescales.models.workspace import Call, Workspace, allocator



# --- matrix products at the chosen precision ------------------------------------------------------
class _Products:
    """Matrix products into preallocated outputs, at fp32 or bf16-operand precision.

    The right-hand operands (weights) are converted once by :meth:`weight`. A left-hand operand
    (a state or a gradient) is converted per call, into ``keep`` when given (a slot of a
    (T, B, H) tensor of ``operand_dtype``), so that the backward pass can form the weight
    gradient from the operands already converted (:meth:`outer`) instead of converting all T
    steps again. In fp32 the operands are the fp32 tensors themselves.
    """

    def __init__(self, precision: Precision, device: torch.device, dtype: torch.dtype) -> None:
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
        self.bf16 = precision == "bf16"
        self.native = self.bf16 and runtime.native_bf16(device.type)
        self.dtype = dtype
        # operands of the products: bf16 on bf16 hardware; fp32 holding bf16-rounded values elsewhere
        self.operand_dtype = torch.bfloat16 if self.native else dtype
        self._scratch: dict[tuple, torch.Tensor] = {}

    def _buffer(self, name: str, like: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        key = (name, tuple(like.shape), dtype)
        buf = self._scratch.get(key)
        if buf is None:
            buf = self._scratch[key] = torch.empty(like.shape, dtype=dtype, device=like.device)
        return buf

    def weight(self, w: torch.Tensor) -> torch.Tensor:
        if not self.bf16:
            return w
        return w.to(torch.bfloat16).to(self.operand_dtype)

    def _left(self, a: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        if not self.bf16:
            return a
        out = keep if keep is not None else self._buffer("left", a, self.operand_dtype)
        return out.copy_(a) if self.native else out.copy_(a.to(torch.bfloat16))

    def addmm_(self, c: torch.Tensor, a: torch.Tensor, w: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """c += a @ w in place (``w`` from :meth:`weight`)."""
        left = self._left(a, keep)
        if self.native:  # bf16 x bf16 -> bf16 (fp32 accumulation inside the product), added in fp32
            return c.add_(torch.mm(left, w, out=self._buffer("product", c, torch.bfloat16)))
        return c.addmm_(left, w)

    def addmm(self, c: torch.Tensor, a: torch.Tensor, w: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """out = c + a @ w (``w`` from :meth:`weight`)."""
        return self.addmm_(out.copy_(c), a, w)

    def mm(self, a: torch.Tensor, w: torch.Tensor, out: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """out = a @ w (``w`` from :meth:`weight`)."""
        left = self._left(a, keep)
        if self.native:
            return out.copy_(torch.mm(left, w, out=self._buffer("product", out, torch.bfloat16)))
        return torch.mm(left, w, out=out)

    def outer(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """a @ b in the state dtype, for the large one-off weight-gradient products; ``a`` and ``b``
        are operands already converted (kept slots, or fp32 tensors in fp32)."""
        return (a @ b).to(self.dtype)


# --- forward -------------------------------------------------------------------------------------
def _outside_matrix(w: torch.Tensor, inv: torch.Tensor) -> torch.Tensor:
    """A = W^T diag(inv) + diag(1 - inv), so that p_t = c_t + h_{t-1} A: (H, H)."""
    a = w.t() * inv[None, :]
    a.diagonal().add_(1.0 - inv)
    return a


def _forward(x, h0, w, bias, u, inv, placement, nonlinearity, precision, alloc, lhs=None):
    """Run the recurrence. Returns (buf, phis): buf (T + 1, B, H) with buf[0] = h0 and buf[t] = h_t;
    for ``inside``, phis (T, B, H) = phi(a_t) (the backward pass needs them), else None. ``alloc``
    provides the memory (see :func:`~rnn_timescales.models.workspace.allocator`); ``lhs``
    (T, B, H) of the products' operand dtype receives each h_{t-1} as converted for its product."""
    T, B, D = x.shape
    H = h0.shape[-1]
    phi_ = _table(nonlinearity).phi_
    prod = _Products(precision, h0.device, h0.dtype)
    buf = alloc("states", (T + 1, B, H))
    buf[0].copy_(h0)
    x_flat = x.reshape(T * B, D)
    keep = (lambda t: lhs[t]) if lhs is not None else (lambda t: None)
    # Every step's input term goes straight into the step's slot, and each step then adds its
    # product in place: no per-step copy or allocation.
    if placement == "outside":
        torch.addmm(bias * inv, x_flat, (u * inv[:, None]).t(), out=buf[1:].view(T * B, H))
        a_mat = prod.weight(_outside_matrix(w, inv).contiguous())
        for t in range(T):
            phi_(prod.addmm_(buf[t + 1], buf[t], a_mat, keep(t)))
        return buf, None
    leak = 1.0 - inv
    w_t = prod.weight(w.t().contiguous())
    phis = alloc("activations", (T, B, H))
    torch.addmm(bias, x_flat, u.t(), out=phis.view(T * B, H))
    for t in range(T):
        phi_(prod.addmm_(phis[t], buf[t], w_t, keep(t)))
        torch.mul(buf[t], leak, out=buf[t + 1])
        buf[t + 1].addcmul_(phis[t], inv)
    return buf, phis


class LeakyRecurrence(torch.autograd.Function):
    """states = recurrence(x, h0, W, b, U, inv): the whole sequence with a hand-written backward.

    x (T, B, D), h0 (B, H), w (H, H) masked recurrent weight, bias (H,) = b_W + b_U,
    u (H, D), inv (H,) = 1 / tau_hat -> states (T, B, H), or only the final state (B, H) with
    ``final_only`` (then no (T, B, H) gradient is ever formed for the states nobody reads).
    With a ``workspace`` and ``final_only``, what is saved for the backward pass lives in the
    workspace's memory, lent to this graph until its backward pass ends.
    """

    @staticmethod
    def forward(ctx, x, h0, w, bias, u, inv, placement, nonlinearity, precision, final_only, workspace):
        T, B, H = x.shape[0], h0.shape[0], h0.shape[1]
        # a trajectory is handed to the caller, so it never lives in reused memory
        ctx.workspace = workspace if final_only else None
        alloc = allocator(h0.dtype, h0.device, ctx.workspace, ctx)
        prod = _Products(precision, h0.device, h0.dtype)
        lhs = alloc("operands", (T, B, H), prod.operand_dtype) if prod.bf16 else None
        buf, phis = _forward(x, h0, w, bias, u, inv, placement, nonlinearity, precision, alloc, lhs)
        ctx.placement, ctx.nonlinearity, ctx.precision, ctx.final_only = placement, nonlinearity, precision, final_only
        ctx.save_for_backward(x, w, bias, u, inv, buf, phis, lhs)
        if not final_only:
            return buf[1:]
        return buf[-1].clone() if ctx.workspace is not None else buf[-1]

    @staticmethod
    def backward(ctx, grad):
        workspace = ctx.workspace
        if workspace is not None and not workspace.intact(ctx):
            raise RuntimeError(
                "the fused recurrence's saved states were reused by a later forward pass of the same model; "
                "a second backward pass through this graph (retain_graph) needs LeakyRNN(fused=False)"
            )
        call = Call()
        try:
            return LeakyRecurrence._backward(ctx, grad, allocator(grad.dtype, grad.device, workspace, call))
        finally:
            if workspace is not None:
                workspace.release(call)
                workspace.release(ctx)

    @staticmethod
    def _backward(ctx, grad, alloc):
        x, w, bias, u, inv, buf, phis, lhs = ctx.saved_tensors
        final_only = ctx.final_only
        phi_backward = _table(ctx.nonlinearity).backward
        T, B, H = buf.shape[0] - 1, buf.shape[1], buf.shape[2]
        D = x.shape[-1]
        dtype, device = buf.dtype, buf.device
        grad = grad.contiguous()
        prod = _Products(ctx.precision, device, dtype)
        leak = 1.0 - inv
        carry = torch.zeros(B, H, dtype=dtype, device=device)  # dL/dh_t through step t + 1
        h_prev = buf[:-1].reshape(T * B, H)
        # the products' operands: h_{t-1} as converted in the forward pass, the gradients below
        h_operand = h_prev if lhs is None else lhs.view(T * B, H)
        g_operand = alloc("gradient operands", (T, B, H), prod.operand_dtype) if prod.bf16 else None
        keep = (lambda t: g_operand[t]) if g_operand is not None else (lambda t: None)
        x_flat = x.reshape(T * B, D)

        def total(t: int, out: torch.Tensor) -> torch.Tensor:
            """dL/dh_t: what the caller sends for h_t plus what flows back from step t + 1."""
            if final_only:
                return grad if t == T - 1 else carry
            return torch.add(grad[t], carry, out=out)

        if ctx.placement == "outside":
            # g_t = dL/dp_t = dL/dh_t * phi'(p_t);  dL/dh_{t-1} = g_t A^T.
            a_t = prod.weight(_outside_matrix(w, inv).t().contiguous())
            g = alloc("gradients", (T, B, H))
            for t in range(T - 1, -1, -1):
                phi_backward(total(t, g[t]), buf[t + 1], g[t])
                prod.mm(g[t], a_t, out=carry, keep=keep(t))
            g_flat = g.view(T * B, H)
            g_op = g_flat if g_operand is None else g_operand.view(T * B, H)
            m = prod.outer(g_op.t(), h_operand)  # sum_t g_t^T h_{t-1}: (H, H), one GEMM over T * B rows
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
            e = alloc("gradients", (T, B, H))
            d = alloc("activation gradients", (T, B, H))
            for t in range(T - 1, -1, -1):
                e_t = total(t, e[t])
                if final_only:
                    e_t = e[t].copy_(e_t)
                phi_backward(e_t, phis[t], d[t]).mul_(inv)
                torch.mul(e_t, leak, out=carry)
                prod.addmm_(carry, d[t], w_p, keep=keep(t))
            d_flat = d.view(T * B, H)
            d_op = d_flat if g_operand is None else g_operand.view(T * B, H)
            grad_w = prod.outer(d_op.t(), h_operand)
            grad_bias = d_flat.sum(0)
            grad_u = d_flat.t() @ x_flat
            e_flat = e.view(T * B, H)
            grad_inv = (e_flat * phis.view(T * B, H)).sum(0) - (e_flat * h_prev).sum(0)
            grad_x = d_flat @ u if ctx.needs_input_grad[0] else None

        if grad_x is not None:
            grad_x = grad_x.view(T, B, D)
        grad_h0 = carry if ctx.needs_input_grad[1] else None
        return grad_x, grad_h0, grad_w, grad_bias, grad_u, grad_inv, None, None, None, None, None


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
    workspace: Workspace | None = None,
) -> torch.Tensor:
    """States (T, B, H) of the leaky RNN over inputs x (T, B, D) from h0 (B, H); with
    ``final_only`` only the last one, (B, H).

    w: (H, H) recurrent weight as used (already masked); bias: (H,) = b_W + b_U; u: (H, D);
    inv: (H,) = 1 / tau_hat. Differentiable in every tensor argument; without gradients it
    keeps nothing but the states. ``workspace``: memory to reuse from earlier calls (a
    :class:`Workspace`; only the final-state mode uses it, as a trajectory is the caller's).
    """
    if placement not in ("outside", "inside"):
        raise ValueError(f"placement must be 'outside' or 'inside', got {placement!r}")
    if x.shape[0] == 0:
        return h0 if final_only else h0.new_empty(0, *h0.shape)
    tensors = (x, h0, w, bias, u, inv)
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return LeakyRecurrence.apply(x, h0, w, bias, u, inv, placement, nonlinearity, precision, final_only, workspace)
    if not final_only:
        alloc = allocator(h0.dtype, h0.device, None, None)
        return _forward(x, h0, w, bias, u, inv, placement, nonlinearity, precision, alloc)[0][1:]
    call = Call()
    try:
        alloc = allocator(h0.dtype, h0.device, workspace, call)
        return _forward(x, h0, w, bias, u, inv, placement, nonlinearity, precision, alloc)[0][-1].clone()
    finally:
        if workspace is not None:
            workspace.release(call)

"""Memory that the fused recurrence reuses from one training step to the next.

Allocating the tens of megabytes a step of :mod:`rnn_timescales.models.fused` needs (states,
gradients, bf16 operands) costs page faults every step: about 15 % of a step at N = 50 on a
2-core CPU. A :class:`Workspace` keeps one flat buffer per role and lends it out; the lending
rules below make reuse safe: reused memory never aliases data someone still reads.
"""

from __future__ import annotations

import math
import weakref

import torch


class Workspace:
    """Memory that successive calls of :func:`leaky_recurrence` reuse (a model keeps one).

    Each role (the states, the gradients, ...) owns one flat buffer, grown to the largest size
    asked for. A buffer is lent to one holder at a time (a call, or the autograd graph that saved
    it for its backward pass) and a request while it is lent gets fresh memory, so reused memory
    never aliases live data; a holder that is garbage-collected returns what it held. Reuse spares
    the page faults of allocating tens of megabytes per training step (about 15 % of a step at
    N = 50 on a 2-core CPU).
    """

    def __init__(self) -> None:
        self._buffers: dict[tuple, torch.Tensor] = {}
        self._holder: dict[tuple, weakref.ref] = {}  # who holds each buffer now (dead ref: free)
        self._last: dict[tuple, weakref.ref] = {}  # who took each buffer last
        self._taken: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # holder -> its keys

    def take(self, role: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device,
             holder: object) -> torch.Tensor:
        """An uninitialised tensor of ``shape``, lent to ``holder`` until :meth:`release`."""
        key = (role, dtype, torch.device(device))
        current = self._holder.get(key)
        if current is not None and current() is not None:
            return torch.empty(shape, dtype=dtype, device=device)
        n = math.prod(shape)
        buf = self._buffers.get(key)
        if buf is None or buf.numel() < n:
            buf = self._buffers[key] = torch.empty(n, dtype=dtype, device=device)
        self._holder[key] = self._last[key] = weakref.ref(holder)
        self._taken.setdefault(holder, set()).add(key)
        return buf[:n].view(shape)

    def release(self, holder: object) -> None:
        """Return everything lent to ``holder``."""
        for key, ref in list(self._holder.items()):
            if ref() is holder or ref() is None:
                del self._holder[key]

    def intact(self, holder: object) -> bool:
        """Whether nobody has taken any of ``holder``'s buffers since it did (their contents are
        still its own, e.g. for a second backward pass through a retained graph)."""
        return all(self._last[key]() is holder for key in self._taken.get(holder, ()))

    def clear(self) -> None:
        self._buffers.clear()
        self._holder.clear()
        self._last.clear()

    def __deepcopy__(self, memo: dict) -> Workspace:
        return Workspace()  # a copy of a model starts with its own, empty workspace

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()


class Call:
    """Holder of workspace memory for the duration of one call."""


def allocator(dtype: torch.dtype, device: torch.device, workspace: Workspace | None, holder: object):
    """alloc(role, shape, dtype=None) -> an uninitialised tensor (of ``dtype`` unless given): lent
    by ``workspace`` to ``holder``, or fresh memory without a workspace."""

    def alloc(role: str, shape: tuple[int, ...], dt: torch.dtype | None = None) -> torch.Tensor:
        dt = dt or dtype
        if workspace is None:
            return torch.empty(shape, dtype=dt, device=device)
        return workspace.take(role, shape, dt, device, holder)

    return alloc

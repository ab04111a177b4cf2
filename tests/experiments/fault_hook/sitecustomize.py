"""A fault at one file write of a sweep, for tests/experiments/write_faults.py only: Python imports
this module at start-up when its folder is on PYTHONPATH (sweep workers are started fresh, so this
is how they get it); it does nothing unless ``RNN_TIMESCALES_TEST_FAULT`` is set.

Writes are seen through Python's audit events: ``open`` of a writer's temporary file
(``.NAME.*.tmp``: the write starts) and ``os.rename`` onto ``NAME`` (the write is complete, about to
be put in place). Each is named (phase, run, file): phase ``open`` or ``replace``, run the directory
under the sweep root (``ROOT`` itself for the sweep's own files), file the final file name.

``RNN_TIMESCALES_TEST_FAULT``:

- ``trace:FILE``: append one line ``phase<TAB>run<TAB>file`` per write to FILE;
- ``kill:PHASE:RUN:FILE:K``: at the K-th such write of this process, SIGKILL its process group
  (the sweep driver and its workers), first writing ``ROOT.killed``;
- ``enospc:PHASE:RUN:FILE:K``: the K-th such write fails with ENOSPC (the disk is full).

``RNN_TIMESCALES_TEST_FAULT_ROOT``: the sweep root (absolute); writes elsewhere are not counted.
"""

from __future__ import annotations

import errno
import os
import signal
import sys


def install(spec: str, root: str) -> None:
    """Add the audit hook for ``spec`` (the format above) under sweep root ``root``."""
    mode, _, rest = spec.partition(":")
    target = None if mode == "trace" else tuple(rest.split(":"))
    counts: dict[tuple[str, str, str], int] = {}
    busy = [False]
    root = root.rstrip("/")

    def name_of(event: str, args: tuple) -> tuple[str, str, str] | None:
        if event == "open":
            path = args[0]
            if not isinstance(path, str) or args[2] is None or not args[2] & os.O_CREAT:
                return None
            base = os.path.basename(path)
            if not (base.startswith(".") and base.endswith(".tmp")):
                return None
            name, phase = base[1:-4].rsplit(".", 1)[0], "open"
        elif event == "os.rename":
            path = args[1]
            if not isinstance(path, str):
                return None
            name, phase = os.path.basename(path), "replace"
        else:
            return None
        path = os.path.abspath(path)
        if not path.startswith(root + "/"):
            return None
        parent = os.path.dirname(path)
        if os.path.basename(parent) in ("checkpoints", "state"):
            parent = os.path.dirname(parent)
        run = "ROOT" if parent == root else os.path.relpath(parent, root)
        return phase, run, name

    def hook(event: str, args: tuple) -> None:
        if busy[0] or event not in ("open", "os.rename"):
            return
        busy[0] = True
        try:
            what = name_of(event, args)
            if what is None:
                return
            if target is None:
                with open(rest, "a") as f:
                    f.write("\t".join(what) + "\n")
                return
            counts[what] = counts.get(what, 0) + 1
            if what == target[:3] and counts[what] == int(target[3]):
                if mode == "kill":
                    with open(root + ".killed", "w") as f:
                        f.write("\t".join(what) + "\n")
                    os.killpg(os.getpgid(0), signal.SIGKILL)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), args[0] if event == "open" else args[1])
        finally:
            busy[0] = False

    sys.addaudithook(hook)


if os.environ.get("RNN_TIMESCALES_TEST_FAULT"):
    install(os.environ["RNN_TIMESCALES_TEST_FAULT"], os.environ["RNN_TIMESCALES_TEST_FAULT_ROOT"])

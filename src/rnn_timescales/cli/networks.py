"""The networks a command is given, loaded and checked before any work starts."""

from __future__ import annotations

from rnn_timescales.errors import UsageError


def recall_networks(paths: list[str], command: str = "this command") -> list:
    """The checkpoints of ``paths``, each checked to be a delayed-recall network with readable data."""
    from rnn_timescales.runs import load_any

    loaded = []
    for path in paths:
        ckpt = load_any(path)
        task = ckpt.make_task()
        if not task.recall:
            raise UsageError(f"{path!r} is a network trained on {ckpt.task}; {command} needs a delayed-recall network")
        task.check()
        loaded.append((ckpt, task))
    return loaded


def network_name(path: str, ckpt) -> str:
    from rnn_timescales.runs.checkpoints import is_run_dir

    run_dir = ckpt.path.parent.parent
    return run_dir.name if is_run_dir(run_dir) else ckpt.path.stem

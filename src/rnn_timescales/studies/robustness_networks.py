"""The networks ``rnn-timescales robustness`` is given (:func:`resolve_networks`): each PATH a run
directory, a checkpoint file, a folder of the paper code's checkpoints, or a sweep directory (each
of its finished runs), as a :class:`Network` (its checkpoints by largest N)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence


from rnn_timescales.runs import (
    CheckpointError, checkpoint_at_n, is_run_dir, n_of, n_range, solved_checkpoints)
from rnn_timescales.runs.files import CHECKPOINTS


@dataclass
class Network:
    """One network: ``name`` (its folder's name, or where it is when two share a name),
    ``files`` (its checkpoints, by largest N), ``run_dir`` when it is one of our runs, and
    ``where`` (the path it was found at)."""

    name: str
    files: list[Path]
    run_dir: Path | None = None
    where: str = ""

    @staticmethod
    def n_of(path: Path) -> int | None:
        return n_of(path)

    def checkpoint(self, n: int | None = None) -> Path:
        """The checkpoint whose largest N is ``n`` (default: the last one)."""
        found = checkpoint_at_n(self.files, n)
        if found is not None:
            return found
        have = ", ".join(str(self.n_of(f)) for f in self.files)
        raise CheckpointError(f"{self.name!r} has no checkpoint for N = {n} (it has N = {have})")

    def up_to(self, n: int | None = None) -> list[Path]:
        """Its checkpoints up to the one of :meth:`checkpoint`."""
        last = self.checkpoint(n)
        return self.files[: self.files.index(last) + 1]


def resolve_networks(paths: Sequence[str | Path]) -> list[Network]:
    """The networks named by ``paths`` (see the module docstring); CheckpointError (one line) for a
    path that is none of them."""
    from rnn_timescales.runs.paper import find_reference_files

    networks: list[Network] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise CheckpointError(f"{str(p)!r} does not exist; give a run directory, a checkpoint or a folder of "
                                  "the paper code's checkpoints")
        if p.is_file():
            run = p.parent.parent if p.parent.name == CHECKPOINTS and is_run_dir(p.parent.parent) else None
            networks.append(Network((run or p.parent).resolve().name, [p], run, str(p)))
        elif is_run_dir(p) or _run_dirs(p):  # a run directory, or a sweep (a folder of them): each finished run
            runs = [p] if is_run_dir(p) else _finished(_run_dirs(p))
            if not runs:
                raise CheckpointError(f"no run in {str(p)!r} has finished yet; give it when one has, or give a run "
                                      "directory")
            for run in runs:
                files = solved_checkpoints(run)
                if not files:
                    raise CheckpointError(f"run directory {str(run)!r} has no solved checkpoints yet")
                networks.append(Network(run.resolve().name, files, run, str(run)))
        else:
            for folder, files in find_reference_files([p]).items():
                solved = sorted((f for f in files if n_range(f.name)), key=Network.n_of)
                if not solved:
                    raise CheckpointError(f"{str(folder)!r} holds no solved checkpoints (rnn_N<min>_N<max> files)")
                networks.append(Network(folder.name, solved, None, str(folder)))
    names = [n.name for n in networks]
    for net in networks:
        if names.count(net.name) > 1:
            net.name = net.where
    return networks


def _run_dirs(folder: Path) -> list[Path]:
    """The run directories directly inside ``folder`` (a sweep's runs), by name."""
    return sorted(q for q in folder.iterdir() if q.is_dir() and is_run_dir(q))


def _finished(runs: list[Path]) -> list[Path]:
    """Of a sweep's runs, those that have finished (a final stop reason, not training now): the
    networks a campaign's robustness stage covers while other runs still train or wait to resume."""
    from rnn_timescales.runs.rundir import FINAL_STOPS, is_locked, read_summary

    return [q for q in runs if not is_locked(q) and (read_summary(q) or {}).get("stop_reason") in FINAL_STOPS]

"""A sweep killed, or its disk full, at each file write of a new run (issue 32): the re-run ends as
the uninterrupted sweep; see write_faults.py for what is compared and why some fields are not."""

from __future__ import annotations

import os

import pytest
from faults import Starter
from write_faults import enospc_campaign, kill_campaign, reference


@pytest.fixture(scope="module")
def start():
    old = os.environ.get("OMP_NUM_THREADS")
    yield Starter()
    if old is None:
        os.environ.pop("OMP_NUM_THREADS", None)
    else:
        os.environ["OMP_NUM_THREADS"] = old


@pytest.mark.slow
def test_kills_of_the_driver_group_at_twenty_writes_lose_no_run(tmp_path, start):
    outcome = kill_campaign(start, tmp_path, n=24, seed=32)
    assert len(outcome.hits) >= 24, outcome.differences
    for name in ("config.yaml", "init.safetensors", "epoch.safetensors", "metrics.csv", "rnn_", "final.safetensors",
                 "summary.json"):
        assert any(f"/{name}" in h for h in outcome.hits if h.startswith("open")), name
        assert any(f"/{name}" in h for h in outcome.hits if h.startswith("replace")), name
    assert not outcome.differences, outcome.differences


@pytest.mark.slow
def test_a_full_disk_at_each_write_of_a_new_run_is_one_line_and_the_re_run_is_identical(tmp_path, start):
    spec, ref, writes = reference(start, tmp_path)
    outcome = enospc_campaign(start, tmp_path, spec, ref, writes)
    assert len(outcome.hits) >= 7, outcome.hits
    assert not outcome.differences, outcome.differences


@pytest.mark.slow
def test_a_nearly_full_disk_ends_within_seconds_and_the_re_run_after_freeing_space_is_identical(tmp_path, start):
    """A real small file system (tmpfs, 1 MiB) filled to leave a few pages free: the sweep ends
    within seconds with one line per failed run, leaves no temporary file and no held lock; once
    the space is freed the re-run ends as the uninterrupted sweep. Needs root (CI runs as root)."""
    import shutil
    import subprocess
    import time

    from write_faults import _compare, run_sweep_with

    from rnn_timescales.experiments.sweep import load_spec, plan
    from rnn_timescales.runs.rundir import is_locked

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'mount failed'}); the ENOSPC injected at "
                    "each write (the test above) covers the same writes")
    try:
        spec, ref, _ = reference(start, tmp_path / "work")
        names = [p.name for p in plan(load_spec(ref))]
        failed_files = set()
        for i, free_kb in enumerate((12, 24, 48, 80)):
            root, fill = disk / f"sweep{i}", disk / "fill"
            total = shutil.disk_usage(disk)
            fill.write_bytes(b"\0" * max(0, total.free - free_kb * 1024))
            log = tmp_path / f"full{i}.log"
            t0 = time.monotonic()
            code = run_sweep_with(start, spec, root, log=log, timeout=120)
            elapsed = time.monotonic() - t0
            lines = [line for line in log.read_text().splitlines() if line.startswith("rnn-timescales:")]
            assert code == 1 and elapsed < 60, (free_kb, code, elapsed, lines)
            assert lines and all("No space left on device (ENOSPC)" in line for line in lines), lines
            assert len(lines) <= len(names), lines  # one line per failed run (or one for the sweep's own file)
            failed_files |= {line.split("could not write '")[1].split("'")[0].rsplit("/", 1)[-1] for line in lines}
            assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")]
            assert not [n for n in names if (root / n).is_dir() and is_locked(root / n)]
            fill.unlink()
            assert run_sweep_with(start, spec, root, timeout=300) == 0
            assert _compare(ref, root) == []
            shutil.rmtree(root)
        assert len(failed_files) >= 2, failed_files  # the levels hit different writes
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)

"""``sweep verify DIR`` (issue 32): a flipped byte anywhere in any checkpoint or training state of a
sweep is found, the run named, exit code 1; the report marks the run."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest
from sweep_testing import write_spec

from rnn_timescales.cli import main
from rnn_timescales.experiments.sweep import load_spec, plan, verify_sweep
from rnn_timescales.runs.verify import run_files, verify_run


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("verify")
    spec = write_spec(work / "spec.yaml", grid={"seed": [0, 1]})
    root = work / "sweep"
    assert main(["sweep", str(spec), "--out", str(root), "--workers", "1", "--no-progress"]) == 0
    return root


def _flip(path: Path, offset: int, value: int | None = None) -> bytes:
    """Change the byte at ``offset`` (to ``value``, else its complement); returns the original bytes."""
    data = path.read_bytes()
    changed = bytearray(data)
    changed[offset] = value if value is not None else data[offset] ^ 0xFF
    path.write_bytes(bytes(changed))
    return data


def test_an_undamaged_sweep_verifies(sweep, capsys):
    capsys.readouterr()
    assert main(["sweep", "verify", str(sweep)]) == 0
    assert capsys.readouterr().out.strip() == f"sweep {sweep}: 0 of 2 runs damaged, every checkpoint and training state verified"


def test_a_flipped_byte_in_any_checkpoint_or_state_is_found(sweep, capsys):
    name = plan(load_spec(sweep))[1].name
    files = run_files(sweep / name)
    kinds = {p.parent.name for p in files}
    assert kinds == {"checkpoints", "state"} and any(p.name.startswith("rnn_") for p in files)
    assert {p.name for p in files} >= {"init.safetensors", "final.safetensors", "epoch.safetensors"}
    rng = random.Random(32)
    tried = 0
    for path in files:
        size = path.stat().st_size
        (header,) = struct.unpack("<Q", path.read_bytes()[:8])
        for offset in sorted({0, 3, 8, 8 + rng.randrange(header), 8 + header + rng.randrange(size - 8 - header),
                              size - 1}):
            original = _flip(path, offset)
            try:
                damaged = verify_sweep(sweep)
                assert list(damaged) == [name], (path.name, offset)
                assert str(path) in damaged[name][0], damaged
                tried += 1
            finally:
                path.write_bytes(original)
    assert tried >= 5 * len(files) and verify_sweep(sweep) == {}


def test_a_changed_byte_the_files_own_digest_cannot_see_is_found_by_the_recorded_one(sweep):
    """The header's padding (spaces after its JSON) is outside the digest a safetensors file carries;
    a finished run's summary.json records the whole file's SHA-256."""
    name = plan(load_spec(sweep))[0].name
    path = sweep / name / "checkpoints" / "final.safetensors"
    data = path.read_bytes()
    (header,) = struct.unpack("<Q", data[:8])
    pad = data[8:8 + header].rstrip(b" ")
    if len(pad) == header:
        pytest.skip("this header has no padding")
    offset = 8 + len(pad)
    original = _flip(path, offset, ord("\t"))
    try:
        assert verify_run(sweep / name) == []  # the file's own digest: unchanged tensors and metadata
        damaged = verify_sweep(sweep)
        assert damaged == {name: [f"{str(path)!r} does not match the SHA-256 its summary.json records"]}
    finally:
        path.write_bytes(original)


def test_verify_names_the_damaged_run_and_exits_1_and_the_report_marks_it(sweep, capsys):
    name = plan(load_spec(sweep))[0].name
    path = sweep / name / "state" / "epoch.safetensors"
    original = _flip(path, path.stat().st_size // 2)
    try:
        capsys.readouterr()
        assert main(["sweep", "verify", str(sweep)]) == 1
        out = capsys.readouterr().out.strip().splitlines()
        assert out[0].startswith(f"damaged: {name}: training state {str(path)!r} is corrupt")
        assert out[1] == (f"sweep {sweep}: 1 of 2 runs damaged; remove a damaged run's directory (or restore its "
                          "files) and run the sweep again")
        assert main(["report", str(sweep)]) == 0
        page = (sweep / "report" / "index.html").read_text()
        assert f"{name}: damaged files (training state" in page and ">damaged<" in page
    finally:
        path.write_bytes(original)
    assert main(["sweep", "verify", str(sweep)]) == 0

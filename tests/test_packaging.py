"""The package as a user gets it: the wheel and sdist build, pass ``twine check``, and the wheel
alone, installed into a fresh virtual environment, runs ``--version``, ``--help``, a one-epoch
training (parity, and delayed recall on the bundled digits) and ``analyze``.

The fresh environment gets only the wheel (``--no-deps --no-index``); its dependencies (PyTorch,
NumPy, ...) are borrowed from the environment running the tests through a ``.pth`` path entry, so
nothing is downloaded. The test checks that every dependency the wheel declares is present there
and that ``rnn_timescales`` is imported from the fresh environment, not from this checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

import rnn_timescales

ROOT = Path(__file__).resolve().parents[1]
SOURCE_FILES = ["pyproject.toml", "README.md", "PACKAGE.md", "LICENSE", "CHANGELOG.md", "CITATION.cff", "MANIFEST.in"]
TINY = ["--hidden", "8", "--max-epochs", "1", "--no-progress", "--set", "training.steps_per_epoch=2",
        "--set", "training.eval_batches=1", "--set", "training.batch_size=8", "--device", "cpu"]


def _run(argv: list, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{' '.join(map(str, argv))}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_the_version_is_in_one_place():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and 'attr = "rnn_timescales.__version__"' in pyproject
    assert not re.search(r'^version\s*=\s*"', pyproject, flags=re.M)
    cff = (ROOT / "CITATION.cff").read_text()
    assert re.search(rf"^version: {re.escape(rnn_timescales.__version__)}$", cff, flags=re.M)
    assert f"## {rnn_timescales.__version__}" in (ROOT / "CHANGELOG.md").read_text()
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    for paper in ("arXiv:2309.12927", "arXiv:1902.07275"):  # the two papers are cited
        assert paper in cff


def test_the_package_description_has_only_absolute_links_and_says_how_to_get_the_cpu_build():
    """The package index shows PACKAGE.md: a relative link or image there would be broken."""
    text = (ROOT / "PACKAGE.md").read_text()
    assert 'readme = { file = "PACKAGE.md"' in (ROOT / "pyproject.toml").read_text()
    targets = re.findall(r"!?\[[^\]]*\]\(([^)\s]+)", text) + re.findall(r"""(?:src|href)=["']([^"']+)""", text)
    assert targets and all(t.startswith(("https://", "http://")) for t in targets), targets
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in text


def test_version_flag_prints_the_version(capsys):
    from rnn_timescales.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"rnn-timescales {rnn_timescales.__version__}"


@pytest.mark.slow
def test_wheel_and_sdist_build_pass_twine_and_run_in_a_fresh_environment(tmp_path):
    pytest.importorskip("build", reason="the packaging tools are in the dev extras: pip install -e '.[dev]'")
    pytest.importorskip("twine", reason="the packaging tools are in the dev extras: pip install -e '.[dev]'")
    # build from a copy of the sources, so nothing is written into the checkout
    tree = tmp_path / "source"
    tree.mkdir()
    for name in SOURCE_FILES:
        shutil.copy2(ROOT / name, tree / name)
    shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
    dist = tmp_path / "dist"
    # sdist first, then the wheel built from the unpacked sdist (so the sdist is known to be complete)
    built = _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, tree], cwd=tmp_path, timeout=600)
    log = built.stdout + built.stderr
    assert "license" not in log.lower() or "deprecat" not in log.lower(), "license metadata deprecation in the build"
    version = rnn_timescales.__version__
    (wheel,) = dist.glob(f"rnn_timescales-{version}-py3-none-any.whl")
    (sdist,) = dist.glob(f"rnn_timescales-{version}.tar.gz")
    _run([sys.executable, "-m", "twine", "check", "--strict", wheel, sdist], cwd=tmp_path)

    names = zipfile.ZipFile(wheel).namelist()
    metadata = zipfile.ZipFile(wheel).read(f"rnn_timescales-{version}.dist-info/METADATA").decode()
    assert "License-Expression: MIT" in metadata and "Classifier: License ::" not in metadata
    assert "Provides-Extra: docs" in metadata and "download.pytorch.org/whl/cpu" in metadata
    for preset in ("paper", "quick", "gated", "h19", "quick.delayed-recall"):
        assert f"rnn_timescales/presets/{preset}.yaml" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names)
    assert f"rnn_timescales-{version}.dist-info/entry_points.txt" in names
    members = tarfile.open(sdist).getnames()
    for name in ("LICENSE", "CHANGELOG.md", "CITATION.cff", "src/rnn_timescales/presets/quick.yaml"):
        assert f"rnn_timescales-{version}/{name}" in members, name

    env = tmp_path / "env"
    _run([sys.executable, "-m", "venv", env], cwd=tmp_path)
    py = env / "bin" / "python"
    purelib = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path).stdout.strip())
    # the dependencies, borrowed (after the fresh environment's own site-packages on sys.path)
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (purelib / "borrowed_dependencies.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    _run([py, "-m", "pip", "install", "--no-deps", "--no-index", "--disable-pip-version-check", "-q", wheel],
         cwd=tmp_path)
    check = ("import importlib.metadata as m, re, rnn_timescales, sys\n"
             "reqs = [r for r in m.requires('rnn-timescales') if 'extra ==' not in r]\n"
             "missing = [r for r in reqs if not any(d.metadata['Name'].lower().replace('_', '-') == "
             "re.split(r'[<>=!~ ;\\[]', r)[0].lower() for d in m.distributions())]\n"
             "assert not missing, missing\n"
             f"assert rnn_timescales.__file__.startswith({str(env)!r}), rnn_timescales.__file__\n"
             "print(rnn_timescales.__version__)")
    assert _run([py, "-c", check], tmp_path).stdout.strip() == version

    cli = env / "bin" / "rnn-timescales"
    work = tmp_path / "work"  # a directory with nothing of the checkout in it
    work.mkdir()
    assert _run([cli, "--version"], work).stdout.strip() == f"rnn-timescales {version}"
    assert "analyze" in _run([cli, "--help"], work).stdout
    _run([cli, "train", *TINY, "--out", "parity"], work)
    assert (work / "parity" / "checkpoints" / "final.safetensors").is_file()
    _run([cli, "analyze", "parity", "--steps", "300", "--trials", "1", "--max-lag", "40", "--no-progress"], work)
    assert (work / "parity" / "analysis" / "summary.csv").is_file()
    # the delayed-recall task's own preset layer and its bundled images (scikit-learn's digits)
    _run([cli, "train", "--task", "delayed-recall", "--model", "gru", *TINY, "--out", "recall"], work)
    assert (work / "recall" / "summary.json").is_file()

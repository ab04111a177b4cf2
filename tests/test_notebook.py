"""The tutorial notebooks run top to bottom (at small settings: ``RNN_TIMESCALES_TUTORIAL=small``,
a few seconds of training or fitting), so they cannot rot; and the committed copies carry their
outputs, so a reader sees them on the site (mkdocs-jupyter renders them) without running them.
The second one, "your own recording", runs ``rnn-timescales timescales`` on a spike-count file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "tutorials" / "first_hour.ipynb"
RECORDING = NOTEBOOK.parent / "your_recording.ipynb"


def test_the_committed_tutorial_shows_its_outputs():
    nbformat = pytest.importorskip("nbformat", reason="the notebook tools are in the dev extras")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code), "run the notebook before committing it"
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "run it top to bottom, in order"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for c in code for o in c.outputs) >= 4  # its figures
    text = "\n".join(c.source for c in nb.cells)
    for step in ("train(", "analyze_checkpoint(", "analyze_slow_points(", "perturbation_sweep(", '"single"'):
        assert step in text  # train, analyse, slow points, perturb, a second curriculum


@pytest.mark.slow
def test_the_tutorial_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="the notebook tools are in the dev extras")
    nbclient = pytest.importorskip("nbclient", reason="the notebook tools are in the dev extras")
    pytest.importorskip("ipykernel", reason="the notebook tools are in the dev extras")
    monkeypatch.setenv("RNN_TIMESCALES_TUTORIAL", "small")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook's run directories
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError naming the cell that failed
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("rnn-timescales-tutorial-" in o.get("text", "") for o in outputs)
    assert os.listdir(tmp_path)  # it wrote its runs where it was told


def test_the_committed_recording_tutorial_shows_its_outputs_and_reads_them():
    nbformat = pytest.importorskip("nbformat", reason="the notebook tools are in the dev extras")
    nb = nbformat.read(RECORDING, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "run it top to bottom, in order"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for c in code for o in c.outputs) >= 1  # the fits
    text = "\n".join(c.source for c in nb.cells)
    assert '"timescales", str(DATA)' in text and "--axes" in text  # the command, on a file
    # a sentence of interpretation after each result: every code cell with an output is followed by prose
    for i, cell in enumerate(nb.cells[:-1]):
        if cell.cell_type == "code" and cell.outputs and i > 1:
            nxt = nb.cells[i + 1]
            assert nxt.cell_type == "markdown", f"no interpretation after cell {i}"


@pytest.mark.slow
def test_the_recording_tutorial_runs_top_to_bottom(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="the notebook tools are in the dev extras")
    nbclient = pytest.importorskip("nbclient", reason="the notebook tools are in the dev extras")
    pytest.importorskip("ipykernel", reason="the notebook tools are in the dev extras")
    monkeypatch.setenv("RNN_TIMESCALES_TUTORIAL", "small")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    nb = nbformat.read(RECORDING, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("wrote " in o.get("text", "") and "timescales.csv" in o.get("text", "") for o in outputs)
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 1

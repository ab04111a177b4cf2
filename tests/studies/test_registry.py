"""Common tests over everything registered (scikit-learn's ``parametrize_with_checks``): every
measure and every study is checked by being registered, on one tiny trained network.

A measure: declares itself completely, computes on a tiny network, is written into ``neurons.csv``
and ``summary.csv`` as it declares, is printed by ``analyze`` when it has a headline, makes an older
analysis without it stale, is listed by ``rnn-timescales list`` and the docs' table, and has a report
panel. A study: declares itself completely and consistently, is listed, and a study a sweep runs
refuses bad settings in one line, runs on a tiny run directory writing what it declares, and then
counts as current (a rerun skips it: the sweep resumes). Every study a sweep can run is run by a
tiny sweep (a parity sweep and a delayed-recall sweep, each naming every analysis its task allows),
whose tables ``sweep collect`` gathers; a study a sweep cannot run says why; a spec naming an
unknown analysis, or one for another task, is refused in one line.
"""

from __future__ import annotations

import shutil
from fnmatch import fnmatch
from pathlib import Path

import pandas as pd
import pytest
from conftest import tiny_overrides

from rnn_timescales.cli import build_parser, main
from rnn_timescales.errors import ConfigError
from rnn_timescales.studies.analyze import IN_RUN, NEURONS, SUMMARY, printed_columns, registered_columns
from rnn_timescales.studies.measures import measures
from rnn_timescales.studies.measures.base import PER
from rnn_timescales.studies.registry import (
    all_studies, measures_markdown, report_entries, studies_markdown, sweep_analyses)

MEASURE_CLASSES = measures()
STUDIES = all_studies()
SWEEP_STUDIES = [s for s in STUDIES.values() if s.sweep is not None]
PARITY_BASE = {"preset": "paper", "device": "cpu", "model": {"hidden_size": 16, "n_heads": 8},
               "training": {"batch_size": 16, "steps_per_epoch": 5, "eval_batches": 1, "max_epochs": 3},
               "curriculum": {"threshold": 0.6}}  # low, so the curriculum advances and writes checkpoints
RECALL_BASE = {"preset": "quick", "device": "cpu", "task": {"name": "delayed-recall"}, "model": {"hidden_size": 8},
               "curriculum": {"kind": "vocabulary", "advance": "schedule", "schedule": [2, 4]},
               "training": {"batch_size": 16, "steps_per_epoch": 2, "eval_batches": 1, "max_epochs": 3}}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A tiny leaky RNN that solved N = 2 (threshold 0.5)."""
    from rnn_timescales.config import build_config
    from rnn_timescales.training.trainer import train

    run = tmp_path_factory.mktemp("registry") / "run"
    config = build_config("paper", overrides=tiny_overrides(hidden=8, batch=16, steps=5)
                          + ["curriculum.threshold=0.5", "training.max_epochs=1", "seed=3"])
    assert train(config, run, progress=False).solved == [[2]]
    return run


@pytest.fixture(scope="module")
def recall_run(tmp_path_factory) -> Path:
    """A tiny delayed-recall network (8 neurons, the bundled digits) of a vocabulary curriculum on the
    schedule 2, 4 classes (three short epochs): few classes, so some trials are recalled."""
    from rnn_timescales.config import build_config
    from rnn_timescales.training.trainer import train

    run = tmp_path_factory.mktemp("registry_recall") / "run"
    config = build_config("quick", overrides=tiny_overrides(hidden=8, batch=16, steps=2, eval_batches=1)
                          + ["task.name=delayed-recall", "curriculum.kind=vocabulary", "curriculum.advance=schedule",
                             "curriculum.schedule=[2,4]", "training.max_epochs=3"])
    train(config, run, progress=False)
    return run


def _run_for(study, trained_run: Path, recall_run: Path) -> Path:
    """The tiny run a sweep study applies to: delayed recall for those that need it, else parity."""
    return recall_run if study.sweep.requires == "recall" else trained_run


@pytest.fixture(scope="module")
def analysed_run(trained_run, tmp_path_factory) -> Path:
    """The tiny run, analysed as a sweep analyses it (every registered measure)."""
    run = tmp_path_factory.mktemp("analysed") / "run"
    shutil.copytree(trained_run, run)
    study = STUDIES["analyze"]
    study.sweep.run(run, study.sweep.validate(study.tiny, "test"))
    return run


def _ids(items) -> list[str]:
    return [getattr(i, "name") for i in items]


# --- measures -------------------------------------------------------------------------------------
@pytest.mark.parametrize("measure", MEASURE_CLASSES, ids=_ids(MEASURE_CLASSES))
def test_a_measure_declares_itself(measure):
    for attr in ("name", "label", "definition"):
        assert isinstance(getattr(measure, attr), str) and getattr(measure, attr).strip(), attr
    assert isinstance(measure.unit, str) and measure.per in PER
    assert "\n" not in measure.describe()
    others = [c for m in MEASURE_CLASSES if m is not measure for c in m.columns()]
    assert not set(measure.columns()) & set(others), "two measures write the same column"


@pytest.mark.parametrize("measure", MEASURE_CLASSES, ids=_ids(MEASURE_CLASSES))
def test_a_measure_is_written_where_it_declares(measure, analysed_run):
    summary = pd.read_csv(analysed_run / IN_RUN / SUMMARY)
    neurons = pd.read_csv(analysed_run / IN_RUN / NEURONS)
    columns = measure.columns()
    if measure.per == "neuron":
        assert columns[0] in neurons and len(neurons) == 8  # one value per neuron of the 8
        columns = columns[1:]
    for column in columns:
        assert column in summary, column
    headline = measure.summary_column()
    if headline is not None and summary[headline].notna().any():
        assert headline in printed_columns(summary)  # analyze prints it


@pytest.mark.parametrize("measure", MEASURE_CLASSES, ids=_ids(MEASURE_CLASSES))
def test_an_analysis_without_a_measure_is_stale(measure, analysed_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(analysed_run, run)
    study = STUDIES["analyze"]
    settings = study.sweep.validate(study.tiny, "test")
    assert study.sweep.is_current(run, settings)
    if measure.per == "neuron":
        path, column = run / IN_RUN / NEURONS, measure.name
    else:
        path, column = run / IN_RUN / SUMMARY, measure.columns()[0]
    pd.read_csv(path).drop(columns=column).to_csv(path, index=False)
    assert not study.sweep.is_current(run, settings)


@pytest.mark.parametrize("measure", MEASURE_CLASSES, ids=_ids(MEASURE_CLASSES))
def test_a_measure_is_listed_and_in_the_docs_table(measure, capsys):
    assert main(["list", "measures"]) == 0
    assert any(line.split()[0] == measure.name for line in capsys.readouterr().out.splitlines()[1:])
    assert f"| `{measure.name}` |" in measures_markdown()


@pytest.mark.parametrize("measure", [m for m in MEASURE_CLASSES if m.panel is None], ids=_ids(
    [m for m in MEASURE_CLASSES if m.panel is None]))
def test_a_measure_without_a_figure_gets_a_report_panel(measure, analysed_run):
    from rnn_timescales.experiments.report.data import load_report_data
    from rnn_timescales.experiments.report.page import panel_measures

    data = load_report_data(analysed_run)
    assert measure.summary_column() in data.analysis
    assert measure in [m for m, _ in panel_measures(data.analysis)]


@pytest.mark.parametrize("measure", MEASURE_CLASSES, ids=_ids(MEASURE_CLASSES))
def test_a_measure_belongs_to_a_report_section_of_a_study(measure):
    sections = {section for section, kind, _, _ in report_entries() if kind == "study"}
    assert (measure.section, "measure", measure.name, measure.panel) in report_entries()
    assert measure.section in sections


def test_the_registered_columns_are_the_analysis_columns(analysed_run):
    summary_cols, neuron_cols = registered_columns()
    assert set(summary_cols) <= set(pd.read_csv(analysed_run / IN_RUN / SUMMARY))
    assert set(neuron_cols) <= set(pd.read_csv(analysed_run / IN_RUN / NEURONS))


# --- studies --------------------------------------------------------------------------------------
def test_every_command_that_analyses_is_a_registered_study():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    commands = set(sub.choices)
    for name in STUDIES:
        assert name in commands or STUDIES[name].sweep_name, f"study {name} is neither a command nor a sweep analysis"
    assert {"analyze", "robustness", "slow-points", "extrapolate", "recall-memory", "speed-regularization",
            "compare-models", "evaluate", "timescales", "probe-forgetting"} <= set(STUDIES)


@pytest.mark.parametrize("study", list(STUDIES.values()), ids=list(STUDIES))
def test_a_study_declares_itself(study, capsys):
    assert study.name and study.summary and "\n" not in study.describe()
    assert study.settings is None or isinstance(study.settings, type)
    assert len(set(study.outputs)) == len(study.outputs) and all(isinstance(o, str) and o for o in study.outputs)
    assert all(f.endswith(".png") for f in study.figures)
    assert (study.sweep is None) == (study.sweep_name is None)
    assert main(["list", "studies"]) == 0
    assert any(line.split()[0] == study.name for line in capsys.readouterr().out.splitlines()[1:])
    assert f"| `{study.name}` |" in studies_markdown()


def test_the_sweep_runs_every_study_that_declares_how():
    from rnn_timescales.experiments.sweep import ANALYSES

    assert dict(ANALYSES) == sweep_analyses() and set(ANALYSES) == {s.sweep_name for s in SWEEP_STUDIES}


@pytest.mark.parametrize("study", SWEEP_STUDIES, ids=_ids(SWEEP_STUDIES))
def test_a_sweep_study_refuses_bad_settings_in_one_line(study):
    with pytest.raises(ConfigError) as e:
        study.sweep.validate({"no_such_setting": 1}, "spec.yaml: analyze")
    assert "\n" not in str(e.value) and "no_such_setting" in str(e.value) and "spec.yaml" in str(e.value)
    first = next(iter(study.sweep.validate({}, "x")))  # a real setting with a wrong type
    with pytest.raises(ConfigError) as e:
        study.sweep.validate({first: "not a value"}, "spec.yaml: analyze")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("study", SWEEP_STUDIES, ids=_ids(SWEEP_STUDIES))
def test_a_sweep_study_runs_writes_what_it_declares_and_resumes(study, trained_run, recall_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(_run_for(study, trained_run, recall_run), run)
    settings = study.sweep.validate(study.tiny, "test")
    assert not study.sweep.is_current(run, settings)
    study.sweep.run(run, settings)
    assert (run / study.sweep.output).exists()
    written = {str(p.relative_to(run)) for p in run.rglob("*") if p.is_file()}
    for table in study.sweep.tables:  # what sweep collect gathers
        assert any(fnmatch(w, table) for w in written), f"{study.name} declared the table {table} but did not write it"
    base = study.sweep.output.rsplit("/", 1)[0] if "." in study.sweep.output.rsplit("/", 1)[-1] else study.sweep.output
    for declared in () if study.sweep.tables else study.outputs:  # a bare file name: under the study's output
        where = declared if "/" in declared.rstrip("/") else f"{base}/*{declared}"
        pattern = where.replace("<n>", "*").replace("<level>", "*")
        assert any(fnmatch(w, pattern) for w in written), f"{study.name} declared {declared} but did not write it"
    assert study.sweep.is_current(run, settings)  # done: a sweep that resumes skips it
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    if study.sweep_name == "reproduction":  # it resumes row by row: a second run rewrites nothing
        study.sweep.run(run, settings)
        assert {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()} == before
    changed = study.sweep.validate({**study.tiny, **_other_value(study)}, "test")
    assert not study.sweep.is_current(run, changed)  # other settings: stale


def _other_value(study) -> dict:
    """One setting of ``study``'s tiny settings changed, one its staleness check compares (the
    older studies compare a few: analyze the trials, steps and method; slow points its initial states)."""
    settings = study.sweep.validate(study.tiny, "test")
    key = next(k for k in ("n_initial", "n_trials", "seed", "measure_seed") if isinstance(settings.get(k), int))
    return {key: settings[key] + 1}


def test_every_study_runs_in_sweeps_or_says_why(capsys):
    assert main(["list", "studies"]) == 0
    listed = capsys.readouterr().out
    table = studies_markdown()
    for name, study in STUDIES.items():
        assert (study.sweep is None) == bool(study.no_sweep), f"{name}: a sweep entry or the reason it has none"
        if study.no_sweep:
            assert f"no sweep: {study.no_sweep}" in listed and study.no_sweep in table
    assert {s.name for s in STUDIES.values() if s.sweep is None} == {"compare-models", "timescales"}


def test_a_spec_naming_an_unknown_analysis_is_refused_in_one_line():
    from rnn_timescales.experiments.sweep import SweepSpec

    with pytest.raises(ConfigError) as e:
        SweepSpec.from_mapping({"base": PARITY_BASE, "analyze": {"extrapolation": {}}}, "spec.yaml")
    assert "\n" not in str(e.value) and "unknown analysis 'extrapolation'" in str(e.value)
    assert all(name in str(e.value) for name in sweep_analyses())  # the choices, every one


@pytest.mark.parametrize("study", [s for s in SWEEP_STUDIES if s.sweep.requires],
                         ids=_ids([s for s in SWEEP_STUDIES if s.sweep.requires]))
def test_an_analysis_for_another_task_is_refused_before_anything_is_written(study, tmp_path):
    from rnn_timescales.experiments.sweep import SweepSpec, prepare_sweep
    from rnn_timescales.studies.registry import tasks_with

    other = next(t for t in ("parity", "delayed-recall") if t not in tasks_with(study.sweep.requires))
    spec = SweepSpec.from_mapping({"base": {**PARITY_BASE, "task": {"name": other}}, "analyze": {study.sweep_name: {}}})
    with pytest.raises(ConfigError) as e:
        prepare_sweep(spec, tmp_path / "sweep")
    assert "\n" not in str(e.value) and f"analyze.{study.sweep_name} applies to runs of" in str(e.value)
    assert not (tmp_path / "sweep").exists()


# --- a tiny sweep of every sweep study, collected ---------------------------------------------------

@pytest.fixture(scope="module")
def tiny_sweeps(tmp_path_factory) -> dict[str, Path]:
    """Two tiny sweeps, parity and delayed recall, each naming every analysis its task allows (at
    their tiny settings), run on one worker; then collected."""
    from rnn_timescales.experiments.results import collect
    from rnn_timescales.experiments.sweep import SweepSpec, run_sweep
    from rnn_timescales.studies.registry import tasks_with

    where = tmp_path_factory.mktemp("tiny_sweeps")
    roots = {}
    for label, base in (("parity", PARITY_BASE), ("recall", RECALL_BASE)):
        task = base.get("task", {}).get("name", "parity")
        analyze = {s.sweep_name: dict(s.tiny) for s in SWEEP_STUDIES if task in tasks_with(s.sweep.requires)}
        spec = SweepSpec.from_mapping({"base": base, "grid": {"seed": [0]}, "analyze": analyze})
        result = run_sweep(spec, where / label, workers=1, progress=False)
        assert result.counts["failed"] == 0, [(s.name, s.detail) for s in result.statuses]
        roots[label] = where / label
        again = run_sweep(spec, where / label, workers=1, progress=False)
        assert again.ran == 0  # every analysis is current: nothing to redo
    collect(roots.values(), where / "results", revision="test", machine="test")
    return {**roots, "results": where / "results"}


@pytest.mark.parametrize("study", SWEEP_STUDIES, ids=_ids(SWEEP_STUDIES))
def test_a_tiny_sweep_runs_every_sweep_study_and_collect_gathers_its_tables(study, tiny_sweeps):
    from rnn_timescales.studies.contract import collected_name

    root = tiny_sweeps["recall" if study.sweep.requires == "recall" else "parity"]
    assert (root / "run" / study.sweep.output).exists()
    for table in study.sweep.tables:
        collected = pd.read_csv(tiny_sweeps["results"] / collected_name(study.sweep_name, table))
        assert set(collected["run"]) == {"run"} and {"task", "seed", "curriculum"} <= set(collected)
    if study.sweep_name == "reproduction":  # its rows are the reproduction's own timescales.csv
        assert len(pd.read_csv(tiny_sweeps["results"] / "timescales.csv")) >= 1


def test_analyze_keeps_the_other_studies_folders_of_a_run(trained_run, tmp_path):
    """RUN_DIR/analysis holds analyze's files and a folder per other study: rewriting the analysis
    keeps those folders, and a folder holding only them is an analysis folder to write into."""
    from rnn_timescales.studies.analyze import check_out_dir

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / IN_RUN / "evaluation").mkdir(parents=True)
    (run / IN_RUN / "evaluation" / "accuracy.csv").write_text("head,accuracy\n0,1.0\n")
    assert check_out_dir(run / IN_RUN) == run / IN_RUN
    study = STUDIES["analyze"]
    for _ in range(2):  # written, then rewritten
        study.sweep.run(run, study.sweep.validate(study.tiny, "test"))
        assert (run / IN_RUN / SUMMARY).is_file()
        assert (run / IN_RUN / "evaluation" / "accuracy.csv").read_text() == "head,accuracy\n0,1.0\n"
    (run / IN_RUN / "notes.txt").write_text("mine")
    (run / IN_RUN / SUMMARY).unlink()
    with pytest.raises(ConfigError, match="holds files that are not an analysis"):
        check_out_dir(run / IN_RUN)

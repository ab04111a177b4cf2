"""Sweeps: one experiment over many settings and seeds, each point a self-contained run directory.

A sweep specification is YAML::

    description: what the sweep is for (free text)
    base:                  # a run configuration, nested as config.yaml is, or preset: NAME + settings
      preset: quick
      model: {hidden_size: 256}
    grid:                  # dotted setting -> values; every combination is a point
      curriculum.kind: [single, multi]
      seed: [0, 1]
    runs:                  # explicit settings, each combined with every grid point
      - {task.name: parity}
      - {task.name: dms, training.target_n: 8}
    overrides: ["device=cpu"]           # key=value applied to every point last (--set adds here)
    analyze:               # analyses run on every finished run (see ANALYSES)
      timescales: {n_trials: 4, n_steps: 20000}
    resources: {threads: 1, gpus: 0}    # per run: torch threads (= CPUs asked of Ray), GPUs,
                                        # and optionally timeout_s (a run without a result by then fails)
                                        # and max_points (default 10000; --max-points)

A spec is read strictly: a key given twice, a spec that defines no run (for one run, give its
settings as ``base``), a boolean or a quoted string where a setting is a number, and more points
than ``max_points`` are refused before anything is written.

A point's configuration is built in layers: its preset (``preset`` in the grid or a run, else in
``base``, else ``paper``), then ``base``, then the point's grid values and run settings, then
``overrides``. With only a grid, or only runs, that alone defines the points.

A sweep root holds::

    sweep.yaml             the specification as run (command-line overrides included)
    .sweep.lock            held by the one driver running the sweep (a second one is refused)
    runs.csv               one row per point: its directory name and each setting that varies
    <name>/                one run directory per point, named from its varying settings,
                           e.g. curriculum-single_seed-0 (see README "What a run writes")
    errors/                <name>.json (phase, one-line error) and <name>.traceback.txt of failed runs

A run is **done** when its ``summary.json`` exists with any stop reason other than
``interrupted`` or ``diverged`` (a budget, a target, solved, heads exhausted, max_epochs, or
imported), and its stopping settings (max_epochs, target_n, time_budget_s) are those the sweep
asks for; when the sweep asks for more, the run is pending and is extended from its saved state.
It is **running** while a process that trains it holds its lock (``RUN_DIR/.lock``, its heartbeat
current: :func:`~rnn_timescales.runs.rundir.lock_holder`), **failed** when ``errors/<name>.json``
exists (an exception, a dead worker, or a divergence) or its lock is held by a process that is not
training it (never waited for), and **pending**
otherwise (not started, or interrupted: it resumes from its saved state).

The package, in the order a sweep uses it (each module imports only the ones before it):

- :mod:`.analyses`: ``ANALYSES``, the studies a spec's ``analyze`` may name;
- :mod:`.spec`: :class:`SweepSpec` and :func:`load_spec`;
- :mod:`.points`: :func:`plan`, the points of a spec, their names and configurations;
- :mod:`.status`: where each point stands, and the failure records under ``errors/``;
- :mod:`.worker`: :func:`execute`, what a worker does for one point;
- :mod:`.driver`: :func:`run_sweep`, the driver's loop, its lock and the sweep root's files.

Every name is importable from ``rnn_timescales.experiments.sweep`` as before the split.
"""

from rnn_timescales.experiments.sweep.analyses import ANALYSES
from rnn_timescales.experiments.sweep.driver import (
    DRIVER_LOCK,
    RUNS_FILE,
    SweepResult,
    check_root,
    driver_lock,
    prepare_sweep,
    run_sweep,
)
from rnn_timescales.experiments.sweep.points import (
    SHORT_LABELS,
    SweepPoint,
    expand,
    parse_only,
    plan,
    point_config,
    select_points,
    setting_labels,
)
from rnn_timescales.experiments.sweep.spec import SPEC_FILE, SPEC_KEYS, SweepSpec, load_spec
from rnn_timescales.experiments.sweep.status import (
    ERRORS_DIR,
    FINAL_STOPS,
    STATUSES,
    RunStatus,
    clear_failure,
    configuration_mismatch,
    error_files,
    is_locked,
    read_failure,
    read_summary,
    record_failure,
    run_status,
    state_mismatch,
    status_counts,
    stopping_differences,
    sweep_status,
    verify_sweep,
)
from rnn_timescales.experiments.sweep.worker import RunTask, execute

__all__ = [
    "ANALYSES", "DRIVER_LOCK", "ERRORS_DIR", "FINAL_STOPS", "RUNS_FILE", "SHORT_LABELS", "SPEC_FILE", "SPEC_KEYS",
    "STATUSES", "RunStatus", "RunTask", "SweepPoint", "SweepResult", "SweepSpec", "check_root",
    "clear_failure", "configuration_mismatch", "driver_lock", "error_files", "execute", "expand", "is_locked",
    "load_spec", "parse_only", "plan", "point_config", "prepare_sweep", "read_failure", "read_summary", "record_failure",
    "run_status", "run_sweep", "select_points", "setting_labels", "state_mismatch", "status_counts", "stopping_differences",
    "sweep_status", "verify_sweep",
]

"""Reports across runs: aggregate a sweep (or one run) into PNG figures and one HTML page.

``rnn-timescales report DIR`` reads every run directory of DIR (a sweep root, a single run
directory, or a directory holding run directories, such as ``import-reference``'s output) and
writes ``DIR/report/index.html`` with its figures beside it. Every panel is drawn when some run
has the data for it and is otherwise listed on the page as "no data", with what would make it.

Runs are grouped into **conditions** by the settings that vary between them other than the seed;
each curve is the mean across a condition's runs (seeds) with the spread chosen by ``spread``:
``sem`` (mean ± standard error of the mean, the default) or ``bootstrap`` (95 % percentile
interval of 2000 resampled means, seeded). tau_net is aggregated two ways, each labelled: ours (the
median of the neurons' tau_net per network, then mean ± spread across networks) and the paper's
figures' (neurons with tau_net <= 1 step dropped, mean per network, then mean ± s.d. across
networks, s.d. with ddof 0 as the paper's notebooks compute it). Timescales below one step cannot
be resolved at integer lags and are shown as "below one step", never as numbers on a log axis.
Distributions over neurons (per-neuron trained tau, and tau_net of the neurons above one step) are
quantile bands per condition and N, pooled over the condition's networks, beside the share of
neurons below one step per network.

Largest N solved against epochs and time: N solved is n_start - 1 before a run's first advance; a
run that stopped because it reached its goal (target_n, solved, heads_exhausted) keeps its final N
to the right of its end, any other run leaves the mean there (the count n says how many remain).

The package, in the order a report is made (each module imports only the ones before it):
:mod:`.statistics` (spread intervals, curves on a common grid, quantiles over neurons),
:mod:`.data` (the runs of a directory and their tables, :func:`load_report_data`) and :mod:`.page`
(the sections, their figures and the HTML, :func:`write_report`). Every name is importable from
``rnn_timescales.experiments.report`` as before the split.
"""

from rnn_timescales.experiments.report.data import TABLES, ReportData, RunInfo, find_runs, load_report_data
from rnn_timescales.experiments.report.page import (
    OUTPUT,
    ROBUSTNESS_PANELS,
    Section,
    check_report_dir,
    render_html,
    write_report,
)
from rnn_timescales.experiments.report.statistics import (
    BOOTSTRAP_RESAMPLES,
    CARRY_STOPS,
    ONE_STEP,
    QUANTILES,
    SPREADS,
    aggregate,
    curve_on_grid,
    neuron_quantiles,
    paper_tau_net,
    share_below_one_step,
    solved_curves,
    spread_interval,
)

__all__ = [
    "BOOTSTRAP_RESAMPLES", "CARRY_STOPS", "ONE_STEP", "OUTPUT", "QUANTILES", "ROBUSTNESS_PANELS", "SPREADS", "TABLES",
    "ReportData", "RunInfo", "Section", "aggregate", "check_report_dir", "curve_on_grid", "find_runs",
    "load_report_data", "neuron_quantiles", "paper_tau_net", "render_html", "share_below_one_step", "solved_curves",
    "spread_interval", "write_report",
]

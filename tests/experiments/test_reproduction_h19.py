"""Every number the [H19] rows of docs/reproduction.md quote is what results/h19's tables give,
through the summaries `rnn-timescales report results/h19` writes (experiments.recall_results)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from conftest import agrees as _agrees

from rnn_timescales.experiments.recall_results import (
    extrapolation_summary,
    extrapolation_tests,
    regularization_summary,
    slow_point_summary,
)
from rnn_timescales.experiments.reproduction_numbers import provenance_gaps

ROOT = Path(__file__).resolve().parents[2]
_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
PAGE = ROOT / "docs" / "reproduction.md"
RESULTS = ROOT / "results" / "h19"


def _section() -> str:
    text = PAGE.read_text()
    return " ".join(text[text.index("## [H19] claims"):text.index("### Robustness, forgetting")].split())


def _quoted(pattern: str, what: str) -> re.Match:
    found = re.search(pattern, _section())
    assert found, f"the [H19] section no longer quotes {what}"
    return found


def test_every_h19_table_names_its_command_revision_and_settings():
    assert provenance_gaps(RESULTS) == []


def test_the_extrapolation_quoted_is_the_tables():
    table = pd.read_csv(RESULTS / "extrapolation.csv")
    summary = extrapolation_summary(table).set_index("curriculum")
    for label, curriculum in (("DeCu", "delay"), ("VoCu", "vocabulary")):
        found = _quoted(rf"{label} (\S+) \(([^)]+)\) over the trained delays and (\S+) ± (\S+) \(([^)]+)\)"
                        if label == "DeCu" else rf"VoCu (\S+) \(([^)]+)\) and (\S+) ± (\S+) \(([^)]+)\)",
                        f"{label}'s recall")
        r = summary.loc[curriculum]
        assert _agrees(found[1], r["accuracy_trained_mean"]) and _agrees(found[3], r["accuracy_untrained_mean"])
        assert _agrees(found[4], r["accuracy_untrained_sd"])
        assert found[2].replace(",", "") == r["each_trained"] and found[5].replace(",", "") == r["each_untrained"]
    tests = extrapolation_tests(table).set_index(["group_a", "group_b"])
    welch = _quoted(r"within their network-to-network spread \(Welch p = ([^;]+); one-sided, DeCu ahead, ([^)]+)\)",
                    "the Welch test")
    assert _agrees(welch[1], tests.loc[("delay", "vocabulary"), "p_value"])
    assert _agrees(welch[2], tests.loc[("delay", "vocabulary"), "p_one_sided"])


def test_the_slow_point_correlation_quoted_is_the_tables():
    summary = slow_point_summary(pd.read_csv(RESULTS / "recall_correlations.csv")).set_index(["curriculum", "speed"])
    r = summary.loc[("all", "slow_point_q")]
    networks = _quoted(r"\((\d+) networks, every r negative; t-test of the (\w+) r's against 0, p = ([^;)]+)[;)]",
                       "the t-test of the r's")
    assert r["negative"] == r["networks"] == int(networks[1]) == _NUMBERS[networks[2]]
    assert _agrees(networks[3], r["p_value"])
    each = _quoted(r"per network, Spearman r .*?: ([^(]+) \(DeCu\), ([^(]+) \(VoCu\), ([^(]+) \(none;",
                   "each network's r").groups()
    for quoted, curriculum in zip(each, ("delay", "vocabulary", "none")):
        values = [v.replace("−", "-") for v in re.split(r",? and |, ", quoted.strip())]
        assert values == summary.loc[(curriculum, "slow_point_q"), "each_r"].split(), curriculum


def test_the_speed_regularisation_quoted_is_the_tables():
    summary = regularization_summary(pd.read_csv(RESULTS / "speed_regularization_summary.csv"))
    summary = summary.set_index(["curriculum", "measure"])
    q, acc = summary.loc[("all", "centre_log10_q_mean")], summary.loc[("all", "accuracy_untrained")]
    lowered = _quoted(r"lowered log10 q at the class centres by (\S+) against the control", "the drop in q")[1]
    assert _agrees(lowered, -q["difference"])
    assert _agrees(_quoted(r"slower centres in every network \(paired t p = (\S+)\)", "q's test")[1], q["p_value"])
    assert _agrees(_quoted(r"the memory is no longer for it \(paired t p = (\S+)\)", "recall's test")[1], acc["p_value"])
    moved = _quoted(r"recall over the untrained delays moved by (\S+) on average", "recall's change")[1]
    assert _agrees(moved.replace("−", "-"), acc["difference"])

"""Every number docs/reproduction.md quotes from a committed table is what that table gives.

The page's timescale tables (mean over the networks at each N, their range in brackets) are checked
cell by cell against results/k24/timescales.csv, the section "Our tau_net against the authors'"
against results/k24/authors_tau_net.csv (it is generated from it: ``tau_net_comparison_markdown``),
and the verdict rows' numbers against the tables they name, through the generated summaries.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import agrees as _agrees

from rnn_timescales.experiments.reproduction_numbers import (
    TIMESCALE_ROWS,
    former_timescales,
    preset_comparison_markdown,
    provenance_gaps,
    refit_markdown,
    simulation_seeds_markdown,
    simulation_seeds_summary_markdown,
    tau_net_comparison_markdown,
)

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "reproduction.md"
RESULTS = ROOT / "results" / "k24"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _tables(text: str) -> list[list[list[str]]]:
    """Markdown tables whose header's first cell is N, as lists of rows of cells."""
    tables, current = [], None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("|") and line.endswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if current is None:
                current = [cells]
            elif not set("".join(cells)) <= set("- :"):
                current.append(cells)
        elif current is not None:
            if current[0][0] == "N":
                tables.append(current)
            current = None
    return tables


def _quoted(pattern: str, what: str) -> re.Match:
    """The page's text (whitespace collapsed) matched by ``pattern``; fails naming ``what`` if absent."""
    found = re.search(pattern, " ".join(PAGE.read_text().split()))
    assert found, f"the page no longer quotes {what}"
    return found


def test_the_timescale_tables_are_what_timescales_csv_gives():
    table = pd.read_csv(RESULTS / "timescales.csv")
    tables = [t for t in _tables(PAGE.read_text()) if all(row[0] in TIMESCALE_ROWS for row in t[1:])]
    assert len(tables) == 2, "the page's two timescale tables (multi-head, single-head) are missing"
    checked = 0
    for curriculum, rows in zip(("multi", "single"), tables[:2]):
        ns = [int(n) for n in rows[0][1:]]
        for cells in rows[1:]:
            column = TIMESCALE_ROWS[cells[0]]
            for n, cell in zip(ns, cells[1:]):
                values = table[(table["curriculum"] == curriculum) & (table["n"] == n)][column]
                assert len(values), (curriculum, n)
                numbers = NUMBER.findall(cell.replace("–", " "))
                assert _agrees(numbers[0], values.mean()), (cells[0], n, cell, values.mean())
                if len(numbers) == 3:
                    assert _agrees(numbers[1], values.min()) and _agrees(numbers[2], values.max()), (cells[0], n, cell)
                else:
                    assert len(values) == 1 or _agrees(numbers[0], values.min()) and _agrees(numbers[0], values.max()), \
                        (cells[0], n, cell, "a range is hidden")
                checked += 1
    assert checked > 100


def test_the_authors_comparison_section_is_generated_from_its_table():
    generated = tau_net_comparison_markdown(pd.read_csv(RESULTS / "authors_tau_net.csv"))
    assert generated.strip() in PAGE.read_text(), "regenerate it: python -m rnn_timescales.experiments.reproduction_numbers"


@pytest.mark.parametrize("name, generate", [("preset_comparison.csv", preset_comparison_markdown),
                                            ("simulation_seeds.csv", simulation_seeds_markdown),
                                            ("simulation_seeds.csv", simulation_seeds_summary_markdown)])
def test_the_sections_other_tables_are_generated_from_theirs(name, generate):
    generated = generate(pd.read_csv(RESULTS / name))
    assert generated.strip() in PAGE.read_text(), "regenerate it: python -m rnn_timescales.experiments.reproduction_numbers"


def _conclusion() -> list[list[str]]:
    tables = [t for t in _tables(PAGE.read_text()) if any("(c) `paper` preset" in c for c in t[0])]
    assert len(tables) == 1, "the conclusion table of \"Our tau_net against the authors'\" is missing"
    return tables[0]


def test_the_conclusions_authors_and_preset_numbers_are_the_tables():
    """In the conclusion per N: each "X / Y" of column (a) is the authors' code / ours of a row of
    authors_tau_net.csv at that N, each "quick X, paper preset Y" of column (c) the paper-style
    means of preset_comparison.csv at that N, and each "LO–HI (SD)" of the simulation-seed column
    the range and s.d. over the drawn seeds of simulation_seeds.csv."""
    authors = pd.read_csv(RESULTS / "authors_tau_net.csv")
    presets = pd.read_csv(RESULTS / "preset_comparison.csv").set_index(["group", "n"])["tau_net_paper_mean_aic"]
    table = _conclusion()
    col_a = next(i for i, c in enumerate(table[0]) if c.startswith("(a)"))
    col_c = next(i for i, c in enumerate(table[0]) if c.startswith("(c)"))
    pairs = quoted = 0
    for row in table[1:]:
        n = int(row[0])
        for a, b in re.findall(r"(\d+\.\d+) / (\d+\.\d+)", row[col_a]):
            at_n = authors[authors["n"] == n]
            assert any(_agrees(a, x) and _agrees(b, y) for x, y in zip(at_n["authors_paper_mean"], at_n["ours_paper_mean"])), \
                (n, a, b)
            pairs += 1
        for q, p in re.findall(r"quick (\d+\.\d+)(?: \(1 network\))?, paper preset (\d+\.\d+)", row[col_c]):
            assert _agrees(q, presets[("quick preset", n)]) and _agrees(p, presets[("paper preset", n)]), (n, q, p)
            quoted += 1
        for m in re.findall(r"modified model (\d+\.\d+)", row[col_c]):
            assert _agrees(m, presets[("modified model", n)]), (n, m)
            quoted += 1
    assert pairs >= 4 and quoted >= 4
    seeds = pd.read_csv(RESULTS / "simulation_seeds.csv")
    drawn = seeds[(seeds["rates"] == "drawn") & seeds["checkpoint"].str.startswith("k24_parity/")]  # the quick network
    col_s = next(i for i, c in enumerate(table[0]) if c.startswith("one network"))
    spreads = 0
    for row in table[1:]:
        for lo, hi, sd in re.findall(r"(\d+\.\d+)–(\d+\.\d+) \((\d+\.\d+)\)", row[col_s]):
            v = drawn.loc[drawn["n"] == int(row[0]), "paper_paper_mean"]
            assert _agrees(lo, v.min()) and _agrees(hi, v.max()) and _agrees(sd, v.std(ddof=1)), (row[0], lo, hi, sd)
            spreads += 1
    assert spreads >= 2
    col_m = next(i for i, c in enumerate(table[0]) if c.startswith("seed-0 networks over the same four simulations"))
    drawn_all = seeds[seeds["rates"] == "drawn"]
    by_stage = drawn_all.assign(stage=drawn_all["checkpoint"].str.split("/").str[0])
    means = 0
    for row in table[1:]:
        for values in re.findall(r"(\d+\.\d+) / (\d+\.\d+) / (\d+\.\d+)", row[col_m]):
            for stage, v in zip(["k24_parity", "k24_paper_preset", "k24_inside"], values):
                at = by_stage.loc[(by_stage["n"] == int(row[0])) & (by_stage["stage"] == stage), "paper_paper_mean"]
                assert _agrees(v, at.mean()), (row[0], stage, v)
            means += 1
        for value in re.findall(r"quick (\d+\.\d+) \(the others", row[col_m]):
            at = by_stage.loc[(by_stage["n"] == int(row[0])) & (by_stage["stage"] == "k24_parity"), "paper_paper_mean"]
            assert _agrees(value, at.mean()), (row[0], value)
            means += 1
    assert means >= 3


def test_every_committed_table_names_its_command_revision_and_settings():
    assert provenance_gaps(RESULTS) == []


def test_provenance_gaps_are_found(tmp_path):
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "b.csv").write_text("x\n1\n")
    (tmp_path / "provenance.json").write_text(json.dumps({"tables": {"b.csv": {"command": "c"}, "gone.csv": {}}}))
    gaps = provenance_gaps(tmp_path)
    assert "a.csv: no entry in provenance.json's tables" in gaps
    assert {"b.csv: no revision", "b.csv: no settings"} <= set(gaps) and "b.csv: no command" not in gaps
    assert any(g.startswith("gone.csv: named in provenance.json") for g in gaps)
    (tmp_path / "report").mkdir()  # what `report` derives from the tables is its own output
    (tmp_path / "report" / "figures.json").write_text("{}")
    (tmp_path / "report" / "summary.csv").write_text("x\n1\n")
    assert not any(g.startswith("report/") for g in provenance_gaps(tmp_path))


@pytest.mark.parametrize("cell, value, ok", [("2.48", 2.4849, True), ("2.48", 2.4851, False), ("3", 3.4, True),
                                             ("0.5", 0.56, False)])
def test_rounding_rule(cell, value, ok):
    assert _agrees(cell, value) is ok
    assert np.isfinite(value)


def test_the_simulation_seed_spread_quoted_is_the_tables():
    """The s.d. (ddof 1) and range over drawn simulation seeds that the page quotes at N = 15 and 30."""
    table = pd.read_csv(RESULTS / "simulation_seeds.csv")
    drawn = table[(table["rates"] == "drawn") & table["checkpoint"].str.startswith("k24_parity/")]  # the quick network
    found = re.search(r"s\.d\. \(ddof = 1\) (\S+) at N = 15 \((\S+)–(\S+)\) and (\S+) at N = 30 \((\S+)–(\S+)\)",
                      " ".join(PAGE.read_text().split()))
    assert found, "the page no longer quotes the simulation-seed spread"
    sd15, lo15, hi15, sd30, lo30, hi30 = found.groups()
    for n, sd, lo, hi in ((15, sd15, lo15, hi15), (30, sd30, lo30, hi30)):
        values = drawn.loc[drawn["n"] == n, "paper_paper_mean"]
        assert len(values) >= 2
        assert _agrees(sd, values.std(ddof=1)) and _agrees(lo, values.min()) and _agrees(hi, values.max()), (n, sd, lo, hi)


def test_the_networks_mean_over_simulations_quoted_is_the_tables():
    """The page's "Averaged over four simulations" sentence: per network (quick, paper preset,
    modified model; seed 0 each) the mean over the drawn simulation seeds at N = 30 and N = 15."""
    table = pd.read_csv(RESULTS / "simulation_seeds.csv")
    drawn = table[table["rates"] == "drawn"].assign(stage=lambda t: t["checkpoint"].str.split("/").str[0])
    found = re.search(r"Averaged over four simulations, the paper-style mean of the three networks is (\S+) \(quick\), "
                      r"(\S+) \(paper preset\) and (\S+) \(modified model\) at N = 30, where the figure shows ≈ 6\.5, "
                      r"and (\S+), (\S+) and (\S+) at N = 15", " ".join(PAGE.read_text().split()))
    assert found, "the page no longer quotes the networks' means over simulations"
    quoted = [float(v.rstrip(",")) for v in found.groups()]
    stages = ["k24_parity", "k24_paper_preset", "k24_inside"]
    for n, values in ((30, quoted[:3]), (15, quoted[3:])):
        for stage, value in zip(stages, values):
            mean = drawn.loc[(drawn["n"] == n) & (drawn["stage"] == stage), "paper_paper_mean"].mean()
            assert _agrees(f"{value:.2f}", mean), (n, stage, value, mean)


def test_the_optimiser_comparison_quoted_is_the_tables():
    """Point 2 of candidate (a): how the former optimiser and curve_fit differ on the quick seed-0
    network's simulation 0 at N = 15 and 30 (simulation_seeds.csv's optimiser columns)."""
    table = pd.read_csv(RESULTS / "simulation_seeds.csv")
    quick = table[table["checkpoint"].str.startswith("k24_parity/") & (table["simulation_seed"] == 0)
                  & (table["rates"] == "drawn")].set_index("n")
    found = _quoted(r"differs in (\d+) % of the neurons at N = 15 and (\d+) % at N = 30; for (\d+) % and (\d+) % of "
                      r"those the former optimiser's double exponential has the lower residual sum of squares \(by more "
                      r"than 1 %\), for (\d+) % and (\d+) % `curve_fit`'s\. `curve_fit` leaves (\d+) % and (\d+) % of its "
                      r"double exponentials on the line", "the optimiser comparison")
    columns = ["model_differs", "former_rss_double_lower_where_differs", "paper_rss_double_lower_where_differs",
               "paper_double_on_line"]
    values = [int(v) for v in found.groups()]
    for k, column in enumerate(columns):
        for n, value in zip((15, 30), values[2 * k: 2 * k + 2]):
            assert _agrees(str(value), 100 * quick.loc[n, column]), (column, n, value)
    shares = _quoted(r"share given two: (\S+) and (\S+) by `curve_fit`, (\S+) and (\S+) by the former optimiser",
                     "the shares given two exponentials")
    means = _quoted(r"gives a lower paper-style mean \((\S+) against (\S+) at N = 15, (\S+) against (\S+) at N = 30",
                    "the two optimisers' paper-style means")
    for n, paper, former in ((15, shares[1], shares[3]), (30, shares[2], shares[4])):
        assert _agrees(paper, quick.loc[n, "share_double_paper"]) and _agrees(former, quick.loc[n, "share_double_former"])
    for n, former, paper in ((15, means[1], means[2]), (30, means[3], means[4])):
        assert _agrees(former, quick.loc[n, "former_paper_mean"]) and _agrees(paper, quick.loc[n, "paper_paper_mean"])


def test_the_refit_table_is_generated_from_its_rows_and_retraces_the_committed_networks():
    """The section's table of the campaign's networks analysed again with the fix, and what makes it a
    comparison: the retraced networks' trained tau and our estimator's median tau_net (which the fix
    does not touch) are the committed rows' (the same networks, the same simulated activity)."""
    timescales = former_timescales(RESULTS)
    refit = pd.read_csv(RESULTS / "timescales_refit_rows.csv")
    generated = refit_markdown(timescales, refit)
    assert generated.strip() in PAGE.read_text(), "regenerate it: python -m rnn_timescales.experiments.reproduction_numbers"
    old = timescales.set_index(["curriculum", "seed", "n"])
    refit = refit.assign(curriculum=refit["group"].map({"multi-head": "multi", "single-head": "single"}))
    matched = 0
    for r in refit.itertuples():
        if (r.curriculum, r.seed, r.n) in old.index:
            o = old.loc[(r.curriculum, r.seed, r.n)]
            assert abs(o.tau_mean - r.tau_mean) < 1e-4 and abs(o.tau_net_median - r.tau_net_median) < 1e-3, (r.curriculum, r.n)
            matched += 1
    assert matched >= 10


def test_the_published_checkpoints_values_quoted_are_reference_timescales_csv():
    """The estimator question, point 2: the paper's estimator on the paper's published checkpoints."""
    ref = pd.read_csv(RESULTS / "reference_timescales.csv").set_index(["curriculum", "n"])["tau_net_paper_mean_aic"]
    found = re.search(r"gives on these networks: τ_net (\S+) at N = 2 for both, rising to (\S+) \(multi-head, N = 11\) "
                      r"and (\S+) \(single-head, N = 11\)", " ".join(PAGE.read_text().split()))
    assert found, "the page no longer quotes the published checkpoints' values"
    assert _agrees(found[1], ref[("multi", 2)]) and _agrees(found[1], ref[("single", 2)])
    assert _agrees(found[2], ref[("multi", 11)]) and _agrees(found[3], ref[("single", 11)])


def test_the_refit_change_quoted_is_the_tables():
    """"the fix alone moves the paper-style mean by LO % to HI %, up at every N but K": the range and
    the count of falls over the refit table's rows."""
    timescales = former_timescales(RESULTS).set_index(["curriculum", "seed", "n"])
    refit = pd.read_csv(RESULTS / "timescales_refit_rows.csv")
    refit = refit.assign(curriculum=refit["group"].map({"multi-head": "multi", "single-head": "single"}))
    change = [r.tau_net_paper_mean_aic / timescales.loc[(r.curriculum, r.seed, r.n), "tau_net_paper_mean_aic"] - 1
              for r in refit.itertuples() if (r.curriculum, r.seed, r.n) in timescales.index]
    found = re.search(r"the fix alone moves the paper-style mean by (\S+) % to \+(\S+) %, up at every N but (\w+)",
                      " ".join(PAGE.read_text().split()))
    assert found, "the page no longer quotes the refit's range"
    assert round(100 * min(change)) == int(found[1].replace("−", "-")) and round(100 * max(change)) == int(found[2])
    again = re.search(r"the fix moves them by (\S+) % to \+(\S+) %\)", " ".join(PAGE.read_text().split()))
    assert again and again.groups() == found.groups()[:2], "the conclusion quotes another range than the section"
    falls = sum(c < 0 for c in change)
    words = ["none", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    assert found[3] in words and words.index(found[3]) == falls, (found[3], falls)


def test_the_conclusions_refit_column_is_the_refit_rows():
    """The conclusion's column of the seed-0 multi-head network re-analysed with the fix."""
    refit = pd.read_csv(RESULTS / "timescales_refit_rows.csv")
    multi = refit[(refit["group"] == "multi-head") & (refit["seed"] == 0)].set_index("n")["tau_net_paper_mean_aic"]
    table = _conclusion()
    col = next(i for i, c in enumerate(table[0]) if c.startswith("ours, seed-0 networks re-analysed with the fix"))
    quoted = 0
    for row in table[1:]:
        found = re.fullmatch(r"(\d+\.\d+)(?: at N = (\d+))?", row[col])
        assert found, row[col]
        n = int(found[2] or row[0])
        assert _agrees(found[1], multi[n]), (n, found[1], multi[n])
        quoted += 1
    assert quoted == len(table) - 1


def test_the_continued_single_head_trained_tau_quoted_is_the_refit_rows():
    """The trained-tau and tau_net verdicts' continued single-head networks (k24_single_long): mean
    and slowest trained tau, and the paper-style tau_net, of seeds 0, 1 and 2 from N = 15."""
    refit = pd.read_csv(RESULTS / "timescales_refit_rows.csv")
    single = refit[refit["group"] == "single-head"].set_index(["seed", "n"])
    text = " ".join(PAGE.read_text().split())
    found = re.search(r"seed 0 continued to 150 000 steps \(`k24_single_long`; `timescales_refit_rows\.csv`\): mean τ "
                      r"(\S+) at N = 15, (\S+) at N = 20, (\S+) at N = 25, (\S+) at N = 28; its slowest neuron's τ "
                      r"(\S+), (\S+), (\S+), (\S+); seed 1 continued to 150 000 steps \(N = 27\): (\S+), (\S+), (\S+), (\S+) at "
                      r"N = 15, 20, 25, 27 \(slowest (\S+), (\S+), (\S+), (\S+)\); seed 2 continued \(in progress\): (\S+), (\S+) at "
                      r"N = 15, 20 \(slowest (\S+), (\S+)\)", text)
    assert found, "the page no longer quotes the continued single-head networks' trained tau"
    quoted = [(0, n, "tau_mean") for n in (15, 20, 25, 28)] + [(0, n, "tau_max") for n in (15, 20, 25, 28)]
    quoted += [(1, n, "tau_mean") for n in (15, 20, 25, 27)] + [(1, n, "tau_max") for n in (15, 20, 25, 27)]
    quoted += [(2, n, "tau_mean") for n in (15, 20)] + [(2, n, "tau_max") for n in (15, 20)]
    assert len(found.groups()) == len(quoted)
    for value, (seed, n, column) in zip(found.groups(), quoted):
        assert _agrees(value.rstrip(";,"), single.loc[(seed, n), column]), (seed, n, column, value)
    tau_net = re.search(r"and continued \(`k24_single_long`\) (\S+) at 20, (\S+) at 25, (\S+) at 28 \(multi-head (\S+) "
                        r"at 28\); seed 1 single-head continued: (\S+) at 15, (\S+) at 20, (\S+) at 25, (\S+) at 27 \(multi-head "
                        r"seed 0 (\S+) at 27\); seed 2: (\S+) at "
                        r"15, (\S+) at 20", text)
    assert tau_net, "the page no longer quotes the continued networks' tau_net"
    multi = refit[(refit["group"] == "multi-head") & (refit["seed"] == 0)].set_index("n")["tau_net_paper_mean_aic"]
    want = [single.loc[(0, n), "tau_net_paper_mean_aic"] for n in (20, 25, 28)] + [multi[28]]
    want += [single.loc[(1, n), "tau_net_paper_mean_aic"] for n in (15, 20, 25, 27)] + [multi[27]]
    want += [single.loc[(2, n), "tau_net_paper_mean_aic"] for n in (15, 20)]
    assert len(tau_net.groups()) == len(want)
    for value, w in zip(tau_net.groups(), want):
        assert _agrees(value, w), (value, w)


def test_the_n50_paragraph_quotes_the_tables():
    """"At N = 50": the authors' code and ours on the retraced seed-0 network (authors_tau_net.csv), and
    our four simulations of it (simulation_seeds.csv)."""
    text = " ".join(PAGE.read_text().split())
    found = re.search(r"At N = 50, on the same quick seed-0 network \(retraced\), the authors' code gives (\S+) on their "
                      r"simulation \((\d+) neurons at the bound; (\S+) without them\) and ours (\S+) on the same activity "
                      r"\(medians (\S+) / (\S+)\)", text)
    assert found, "the page no longer has the N = 50 paragraph"
    a = pd.read_csv(RESULTS / "authors_tau_net.csv")
    r = a[(a["n"] == 50) & a["checkpoint"].str.startswith("k24_parity/")].iloc[0]
    for text_value, column in zip(found.groups(), ["authors_paper_mean", "authors_n_at_bound", "authors_mean_without_bound",
                                                   "ours_paper_mean", "authors_median", "ours_median"]):
        assert _agrees(text_value, r[column]), (column, text_value)
    seeds = pd.read_csv(RESULTS / "simulation_seeds.csv")
    v = seeds.loc[(seeds["n"] == 50) & (seeds["rates"] == "drawn"), "paper_paper_mean"]
    spread = re.search(r"over four drawn simulations (\S+)–(\S+) \(s\.d\. (\S+), mean (\S+)\)", text)
    assert spread and len(v) == 4
    for text_value, value in zip(spread.groups(), [v.min(), v.max(), v.std(ddof=1), v.mean()]):
        assert _agrees(text_value, value)


def test_the_single_head_probe_quoted_is_its_table():
    """"Forgetting by probes", our seed-0 single-head network: the lowest earlier N' per checkpoint
    and the range of N' = 6-18 at the N = 21 checkpoint."""
    t = pd.read_csv(RESULTS / "probe_forgetting_ours_single" / "probe_forgetting.csv")
    earlier = t[(t["checkpoint_n"] > 0) & ~t["trained"]]
    lowest = earlier.groupby("checkpoint_n")["probe_accuracy"].min()
    found = _quoted(r"keep every earlier N′ at 1\.00 to N = (\d+) and then lose them as the paper's single-head network "
                      r"does \(the lowest earlier N′ (\S+) at N = 8, (\S+) at N = 9, (\S+) at N = 11\)\. At its N = 21 "
                      r"checkpoint the probe reads N′ = 6–18 at (\S+)–(\S+), at chance, while the network solves N = 21 "
                      r"itself \((\S+)\)", "the single-head probe")
    assert (lowest.loc[: int(found[1])] >= 0.9995).all() and lowest.loc[int(found[1]) + 1] < 0.9995
    for text_value, n in zip(found.groups()[1:4], (8, 9, 11)):
        assert _agrees(text_value, lowest.loc[n]), (n, text_value)
    at21 = earlier[(earlier["checkpoint_n"] == 21) & earlier["n"].between(6, 18)]["probe_accuracy"]
    assert _agrees(found[5], at21.min()) and _agrees(found[6], at21.max())
    own = t[(t["checkpoint_n"] == 21) & t["trained"]]["probe_accuracy"].iloc[0]
    assert _agrees(found[7], own)


def test_the_former_optimisers_rows_are_the_snapshot_once_timescales_csv_is_refitted(tmp_path):
    (tmp_path / "timescales.csv").write_text("run,n,tau_net_paper_mean_aic\nr,5,2.6\n")
    assert former_timescales(tmp_path)["tau_net_paper_mean_aic"].tolist() == [2.6]  # not re-analysed yet
    (tmp_path / "timescales_former_optimiser.csv").write_text("run,n,tau_net_paper_mean_aic\nr,5,2.2\n")
    assert former_timescales(tmp_path)["tau_net_paper_mean_aic"].tolist() == [2.2]

"""The HTML report as a person sees it: the page opened in headless Chromium (Debian's
``chromium`` with its ``chromedriver``, driven by Selenium; nothing is downloaded), every image
loaded with a natural size above zero, no console errors, the tables and every figure's caption
present, and no empty panel: every axes of every figure the report saved holds data (checked as
each figure is saved). The three kinds of report are opened: a sweep's, a single run's and the
committed results/k24's. Skipped, saying why, only where no browser or driver is installed; ``.ci/run`` installs
them, so CI always runs it.

``RNN_TIMESCALES_SCREENSHOTS=DIR`` also saves a full-page screenshot of each report into DIR.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_report import fake_run

from rnn_timescales.config import build_config
from rnn_timescales.experiments.report import write_report

ROOT = Path(__file__).resolve().parents[2]

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = "chromedriver"


def _browser() -> tuple[str, str]:
    browser = next((p for p in (shutil.which(n) for n in CHROMIUM) if p), None)
    driver = shutil.which(DRIVER) or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
    if browser is None or driver is None:
        if os.environ.get("RNN_TIMESCALES_REQUIRE_BROWSER"):  # set by .ci/run, which installs them
            pytest.fail("RNN_TIMESCALES_REQUIRE_BROWSER is set but chromium or chromedriver is missing")
        pytest.skip("no headless browser here: install Debian's chromium and chromium-driver "
                    "(apt-get install -y chromium chromium-driver; .ci/run does)")
    pytest.importorskip("selenium", reason="selenium is in the dev extras: pip install -e '.[dev]'")
    return browser, driver


@pytest.fixture(scope="module")
def chrome():
    browser, driver = _browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000", "--allow-file-access-from-files"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # an explicit driver path: Selenium Manager is never asked to find or download one
    drv = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


def look(chrome, page: Path, screenshot: str | None = None) -> dict:
    """Open ``page`` and return what a reader sees: images with their natural sizes, captions,
    tables, headings and the console's error messages."""
    chrome.get(page.resolve().as_uri())
    chrome.execute_script("return document.readyState")
    seen = chrome.execute_script(
        """
        const imgs = Array.from(document.images);
        return {
          images: imgs.map(i => ({src: i.getAttribute('src'), complete: i.complete, w: i.naturalWidth,
                                  h: i.naturalHeight, alt: i.alt,
                                  caption: (i.closest('figure') && i.closest('figure').querySelector('figcaption'))
                                           ? i.closest('figure').querySelector('figcaption').innerText : null})),
          tables: Array.from(document.querySelectorAll('table')).map(t => t.rows.length),
          headings: Array.from(document.querySelectorAll('h2')).map(h => h.innerText),
          definitions: document.querySelectorAll('dl.defs').length,
          links: Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href')),
          text: document.body.innerText,
        };
        """)
    errors = [e for e in chrome.get_log("browser") if e.get("level") == "SEVERE"]
    folder = os.environ.get("RNN_TIMESCALES_SCREENSHOTS")
    if folder and screenshot:
        Path(folder).mkdir(parents=True, exist_ok=True)
        height = chrome.execute_script("return document.body.scrollHeight")
        chrome.set_window_size(1280, min(int(height) + 100, 16000))
        chrome.save_screenshot(str(Path(folder) / f"{screenshot}.png"))
        chrome.set_window_size(1280, 1000)
    return {**seen, "errors": errors}


def _has_data(ax) -> bool:
    """Whether a visible axes draws something: a line with points, a filled area, markers, bars or
    an image (a title, a note or a legend alone is an empty panel)."""
    lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 0 and ln.get_visible()]
    collections = [c for c in ax.collections if c.get_visible() and (len(c.get_paths()) or len(c.get_offsets()))]
    return bool(lines or collections or [p for p in ax.patches if p.get_visible()] or ax.images)


def _strip_of(ax, strip) -> bool:
    """Whether ``strip`` is a thin axes under ``ax`` sharing its x axis (one panel together)."""
    a, b = ax.get_position(), strip.get_position()
    return (ax.get_shared_x_axes().joined(ax, strip) and abs(a.x0 - b.x0) < 1e-6 and abs(a.width - b.width) < 1e-6
            and b.height < a.height / 2)


@pytest.fixture
def panels(monkeypatch):
    """Every figure saved while the test runs: (file name, titles of its empty panels). Axes that
    make one panel together count as one: a twin axes (the same box) and the below-one-step strip
    under a timescale axis (sharing its x axis)."""
    from matplotlib.figure import Figure

    saved: list[tuple[str, list[str]]] = []
    original = Figure.savefig

    def savefig(fig, fname, *args, **kwargs):
        empty = []
        for ax in fig.axes:
            if not ax.get_visible() or not ax.axison:
                continue
            twins = [other for other in fig.axes if other is not ax and other.get_visible() and (
                other.bbox.bounds == ax.bbox.bounds or _strip_of(ax, other) or _strip_of(other, ax))]
            if not _has_data(ax) and not any(_has_data(t) for t in twins):
                empty.append(ax.get_title() or "untitled")
        saved.append((Path(str(fname)).name, empty))
        return original(fig, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return saved


def assert_no_empty_panel(panels: list[tuple[str, list[str]]], min_figures: int) -> None:
    assert len(panels) >= min_figures, panels
    empty = [(name, titles) for name, titles in panels if titles]
    assert not empty, f"empty panels: {empty}"


def assert_reads_well(seen: dict, min_images: int) -> None:
    assert not seen["errors"], f"console errors: {seen['errors']}"
    assert len(seen["images"]) >= min_images
    for img in seen["images"]:
        assert img["complete"] and img["w"] > 0 and img["h"] > 0, f"image did not load: {img['src']}"
        assert img["caption"] and len(img["caption"]) > 20, f"no caption under {img['src']}"
        assert "What to look for:" in img["caption"], f"no reading guide under {img['src']}"
    assert seen["tables"] and all(rows >= 2 for rows in seen["tables"]), "a table without rows"
    assert {"Runs", "Training", "Timescales and dimensionality"} <= set(seen["headings"])


def test_a_sweep_report_reads_well_in_a_browser(chrome, tmp_path, panels):
    for i, (cond, seed) in enumerate([("single", 0), ("single", 1), ("multi", 0), ("multi", 1)]):
        config = build_config("paper", overrides=["model.hidden_size=8", "device=cpu", f"seed={seed}",
                                                  f"curriculum.kind={cond}"])
        fake_run(tmp_path / "runs" / f"{cond}_{seed}", config, seed, tau_net_median=0.5 + i,
                 neurons_tau_net=[0.3, 0.9, 1.5 + i, 4.0 + i])
    out = write_report(tmp_path / "runs")
    seen = look(chrome, out / "index.html", "sweep_report")
    assert_reads_well(seen, min_images=8)
    assert "below one step" in seen["text"]
    assert_no_empty_panel(panels, min_figures=8)
    assert (out / "runs.csv").is_file() and (out / "timescales_by_n.csv").is_file()
    assert "As a table: timescales_by_n.csv" in seen["text"] and seen["definitions"] >= 2


def test_a_single_run_report_reads_well_in_a_browser(chrome, tmp_path, panels):
    """A real (tiny) run, trained and analysed by the package, then reported."""
    from rnn_timescales.cli import main

    run = tmp_path / "run"
    assert main(["train", "--hidden", "16", "--max-epochs", "3", "--no-progress", "--seed", "0", "--set",
                 "training.steps_per_epoch=5", "--set", "training.eval_batches=1", "--set", "training.batch_size=16",
                 "--set", "curriculum.threshold=0.5", "--device", "cpu", "--out", str(run)]) == 0
    assert main(["analyze", str(run), "--steps", "400", "--trials", "1", "--max-lag", "40", "--no-progress"]) == 0
    out = write_report(run)
    seen = look(chrome, out / "index.html", "single_run_report")
    assert_reads_well(seen, min_images=4)
    assert_no_empty_panel(panels, min_figures=4)


def test_the_k24_results_report_reads_well_in_a_browser(chrome, tmp_path, panels):
    """`report results/k24 --out DIR` writes DIR/index.html: every figure of the reproduction with
    its caption and what to look for, the tables with human names and their definitions, every
    CSV linked and present."""
    from rnn_timescales.cli import main

    out = tmp_path / "k24"
    assert main(["report", str(ROOT / "results" / "k24"), "--out", str(out)]) == 0
    seen = look(chrome, out / "index.html", "k24_report")
    assert not seen["errors"], seen["errors"]
    assert len(seen["images"]) >= 9
    for img in seen["images"]:
        assert img["complete"] and img["w"] > 0 and img["h"] > 0, f"image did not load: {img['src']}"
        assert "What to look for:" in img["caption"], f"no reading guide under {img['src']}"
    assert {"Runs", "Timescales against N", "Training speed", "Robustness", "Tables"} <= set(seen["headings"])
    assert seen["tables"] and all(rows >= 2 for rows in seen["tables"])
    assert seen["definitions"] >= 3
    assert_no_empty_panel(panels, min_figures=9)
    for raw in ("tau_jump_none", "iat_median", "± 0.00 (1)"):  # human names, one network without a spread
        assert raw not in seen["text"], raw
    for link in seen["links"]:
        assert (out / link).resolve().is_file(), f"broken link: {link}"

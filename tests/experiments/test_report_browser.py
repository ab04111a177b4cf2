"""The HTML report as a person sees it: the page opened in headless Chromium (Debian's
``chromium`` with its ``chromedriver``, driven by Selenium; nothing is downloaded), every image
loaded with a natural size above zero, no console errors, the tables and every figure's caption
present. Skipped, saying why, only where no browser or driver is installed; ``.ci/run`` installs
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


def assert_reads_well(seen: dict, min_images: int) -> None:
    assert not seen["errors"], f"console errors: {seen['errors']}"
    assert len(seen["images"]) >= min_images
    for img in seen["images"]:
        assert img["complete"] and img["w"] > 0 and img["h"] > 0, f"image did not load: {img['src']}"
        assert img["caption"] and len(img["caption"]) > 20, f"no caption under {img['src']}"
    assert seen["tables"] and all(rows >= 2 for rows in seen["tables"]), "a table without rows"
    assert {"Runs", "Training", "Timescales and dimensionality"} <= set(seen["headings"])


def test_a_sweep_report_reads_well_in_a_browser(chrome, tmp_path):
    for i, (cond, seed) in enumerate([("single", 0), ("single", 1), ("multi", 0), ("multi", 1)]):
        config = build_config("paper", overrides=["model.hidden_size=8", "device=cpu", f"seed={seed}",
                                                  f"curriculum.kind={cond}"])
        fake_run(tmp_path / "runs" / f"{cond}_{seed}", config, seed, tau_net_median=0.5 + i,
                 neurons_tau_net=[0.3, 0.9, 1.5 + i, 4.0 + i])
    out = write_report(tmp_path / "runs")
    seen = look(chrome, out / "index.html", "sweep_report")
    assert_reads_well(seen, min_images=8)
    assert "below one step" in seen["text"]


def test_a_single_run_report_reads_well_in_a_browser(chrome, tmp_path):
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

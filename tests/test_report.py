"""`llmflation report` in headless Chromium (Debian's chromium and chromedriver): one self-contained file that loads
with no console error, draws every chart, and leaves a screenshot at build/report.png."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from llmflation.flows import report
from llmflation.flows.hub import import_files
from llmflation.flows.pipeline import run_prices
from llmflation.flows.settings import Settings
from tests.helpers import ROOT, openrouter_body, real, ts

SCREENSHOT = ROOT / "build" / "report.png"


def _browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        reason = "Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


@pytest.fixture
def warehouse(settings: Settings, httpserver: HTTPServer) -> Settings:
    """Two real OpenRouter snapshots (prices and their events) and a week of real Hub snapshots (adoption)."""
    for name, as_of in (("2025-12-29", "2025-12-29T18:00"), ("2026-04-20", "2026-04-20T08:00")):
        httpserver.clear()
        httpserver.expect_request("/m").respond_with_data(
            openrouter_body(real(f"openrouter/openrouter_models_{name}.json"))
        )
        urls = {"openrouter": httpserver.url_for("/m")}
        assert run_prices(settings.model_copy(update={"source_urls": urls}), ["openrouter"], ts(as_of)).status == "ok"
    assert import_files(settings, [real("hf/daily_snapshots_namhyeokwoo/2026-08-07.json").parent]).status == "ok"
    return settings


def test_the_report_renders_in_chromium_with_its_charts_and_no_console_error(
    warehouse: Settings, tmp_path: Path
) -> None:
    out = report.write(warehouse.db, tmp_path / "report.html")
    document = out.read_text()
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=['\"]https?:", document)  # nothing fetched: works offline
    driver = _browser()
    try:
        driver.get(out.as_uri())
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script("return document.querySelectorAll('.js-plotly-plot .main-svg').length") > 0
        )
        charts = driver.execute_script(
            "return Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => "
            "p.querySelectorAll('.scatterlayer .trace, .barlayer .trace').length)"
        )
        assert len(charts) == report.CHART_COUNT
        assert charts[0] >= 2, "price at constant capability: a line per capability threshold with data"
        assert charts[2] >= 3, "open-family adoption: a line per family"
        tables = driver.execute_script("return document.querySelectorAll('section table').length")
        assert tables == 2  # the last 30 days of events and the freshness per source
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1280, min(int(height) + 100, 8000))
        SCREENSHOT.parent.mkdir(exist_ok=True)
        driver.save_screenshot(str(SCREENSHOT))
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        driver.quit()
    assert SCREENSHOT.stat().st_size > 20_000

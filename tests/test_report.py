"""`llmflation report` in headless Chromium (Debian's chromium and chromedriver): one self-contained file that loads
with no console error, draws every chart with data, states price_decline()'s rates, sorts and filters its events, and
leaves screenshots of the top of the page and of each section in build/."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from pytest_httpserver import HTTPServer
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from llmflation.flows import report
from llmflation.flows.hub import import_files
from llmflation.flows.pipeline import run_prices
from llmflation.flows.settings import Settings
from tests.helpers import ROOT, openrouter_body, real, ts

SHOTS = ROOT / "build"


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
    # a third run whose listing prices one model's input per 1K tokens: a unit error, held as implausible
    body = json.loads(openrouter_body(real("openrouter/openrouter_models_2026-04-20.json")))
    paid = next(m for m in body["data"] if float(m["pricing"]["prompt"]) > 0)
    paid["pricing"]["prompt"] = str(float(paid["pricing"]["prompt"]) * 1000)
    httpserver.clear()
    httpserver.expect_request("/m").respond_with_data(json.dumps(body))
    urls = {"openrouter": httpserver.url_for("/m")}
    assert (
        run_prices(settings.model_copy(update={"source_urls": urls}), ["openrouter"], ts("2026-04-21T08:00")).status
        == "ok"
    )
    assert import_files(settings, [real("hf/daily_snapshots_namhyeokwoo/2026-08-07.json").parent]).status == "ok"
    return settings


def test_the_report_renders_in_chromium_with_its_charts_and_no_console_error(
    warehouse: Settings, tmp_path: Path
) -> None:
    out = report.write(warehouse.db, tmp_path / "report.html")
    document = out.read_text()
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|https?://[^\s\"']*\.(js|css)\b", document)  # offline
    con = duckdb.connect(str(warehouse.db), read_only=True)
    driver = _browser()
    try:
        # offline: the browser's network is cut before the file opens, so anything it needed from outside would fail
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0},
        )
        driver.get(out.as_uri())
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script("return document.querySelectorAll('.js-plotly-plot .main-svg').length") > 0
        )
        # every chart is drawn, with data
        charts = driver.execute_script(
            "return Array.from(document.querySelectorAll('section.chart')).map(s => [s.id, "
            "s.querySelector('.js-plotly-plot').data.filter(t => t.x && t.x.length).length])"
        )
        assert [key for key, _ in charts] == ["capability", "price-vs-capability", "open-vs-closed", "adoption"]
        assert all(traces > 0 for _, traces in charts), charts
        # price versus capability: every model with a score, one benchmark at a time
        scored = con.execute(
            f"SELECT benchmark, count(*) FROM ({report.PRICE_VS_CAPABILITY_SQL}) GROUP BY 1 ORDER BY 1"
        ).fetchall()
        plotted = driver.execute_script(
            "const d = document.querySelector('#price-vs-capability .js-plotly-plot').data;"
            "return [d.filter(t => t.visible === true).reduce((n, t) => n + t.x.length, 0),"
            " d.reduce((n, t) => n + t.x.length, 0)]"
        )
        assert plotted == [dict(scored)["mmlu"], sum(n for _, n in scored)] and len(scored) == 2
        colours = driver.execute_script(
            "return document.querySelector('#adoption .js-plotly-plot').data.map(t => t.line.color)"
        )
        assert len(colours) > 10 and len(set(colours)) == len(colours), "a colour of its own for every family"
        # the headline rates are price_decline()'s, by both methods, with the query that gives them
        for key, _, bench, threshold, w_in, w_out in report.CAPABILITY_SERIES:
            cell = driver.find_element(By.CSS_SELECTOR, f"#rates tr[data-rate='{key}']")
            sql = report.decline_sql(bench, threshold, w_in, w_out)
            ((points, decline, r2),) = con.execute(f"SELECT points, decline_per_year, r2 FROM ({sql})").fetchall()
            assert int(cell.get_attribute("data-points")) == points
            if key in ("a16z", "epoch"):
                assert points >= 2 and float(cell.get_attribute("data-decline")) == decline
                assert float(cell.get_attribute("data-r2")) == r2
            assert sql in document.replace("&#39;", "'")
        ratios = {
            row.get_attribute("data-class"): row.get_attribute("data-ratio")
            for row in driver.find_elements(By.CSS_SELECTOR, "#ratios tr[data-class]")
        }
        expected = con.execute(f"SELECT class, closed_to_open_ratio FROM ({report.RATIO_SQL})").fetchall()
        assert ratios == {klass: str(ratio) for klass, ratio in expected} and ratios
        # every chart's data downloads as CSV: the rows it was drawn from
        for link in driver.find_elements(By.CSS_SELECTOR, "section.chart a.csv"):
            text = base64.b64decode(link.get_attribute("href").split(",", 1)[1]).decode()
            assert len(text.splitlines()) > 1, link.get_attribute("download")
        _check_the_events_table(driver, con)
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert not errors, errors
        _screenshots(driver)
    finally:
        driver.quit()
        con.close()
    assert (SHOTS / "report-top.png").stat().st_size > 20_000


def _check_the_events_table(driver, con: duckdb.DuckDBPyConnection) -> None:
    """The events table holds the news events (no baseline), marks implausible ones, sorts and filters."""
    news, implausible = con.execute("SELECT count(*), count_if(NOT plausible) FROM price_events WHERE news").fetchall()[
        0
    ]
    rows = driver.find_elements(By.CSS_SELECTOR, "#event-table tbody tr")
    assert len(rows) == min(news, report.EVENT_ROWS) > 0
    assert len(driver.find_elements(By.CSS_SELECTOR, "#event-table tbody tr.implausible")) == implausible > 0

    def column(index: int) -> list[str]:
        return driver.execute_script(
            "return Array.from(document.querySelectorAll('#event-table tbody tr'))"
            f".filter(r => r.style.display !== 'none').map(r => r.cells[{index}].textContent.trim())"
        )

    change = driver.find_element(By.CSS_SELECTOR, "#event-table thead th:nth-child(10)")
    change.click()
    values = [float(v) for v in column(9) if v]
    assert values == sorted(values) and len(values) > 1 and values[0] < values[-1]
    change.click()
    values = [float(v) for v in column(9) if v]
    assert values == sorted(values, reverse=True)
    driver.find_element(By.CSS_SELECTOR, "#event-table thead th:nth-child(5)").click()
    assert column(4) == sorted(column(4)) and len(set(column(4))) > 1
    # filter by text and by type
    provider, count = con.execute(
        "SELECT provider, count(*) FROM price_events WHERE news GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
    ).fetchall()[0]
    other = con.execute("SELECT count(*) FROM price_events WHERE news AND provider <> ?", [provider]).fetchall()[0][0]
    box = driver.find_element(By.ID, "event-filter")
    box.send_keys("no such model anywhere")
    assert column(0) == []
    box.clear()
    box.send_keys(provider)
    shown = driver.execute_script(
        "return Array.from(document.querySelectorAll('#event-table tbody tr'))"
        ".filter(r => r.style.display !== 'none').map(r => r.textContent.toLowerCase())"
    )
    assert all(provider.lower() in text for text in shown)
    assert len(shown) >= count and (other == 0 or len(shown) < len(rows))
    box.clear()
    box.send_keys(" ")  # an input event with no words: every row again
    Select(driver.find_element(By.ID, "event-type")).select_by_visible_text("price_cut")
    cuts = con.execute("SELECT count(*) FROM price_events WHERE news AND event_type = 'price_cut'").fetchall()[0][0]
    assert len(column(2)) == cuts > 0 and set(column(2)) == {"price_cut"}
    assert driver.find_element(By.ID, "event-count").text == f"{cuts} of {len(rows)} events"


def _screenshots(driver) -> None:
    """The top of the page, then each section, in build/."""
    SHOTS.mkdir(exist_ok=True)
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(SHOTS / "report-top.png"))
    for section in driver.find_elements(By.CSS_SELECTOR, "body > section"):
        driver.execute_script("arguments[0].scrollIntoView()", section)
        section.screenshot(str(SHOTS / f"report-{section.get_attribute('id')}.png"))

"""`llmflation report`: one self-contained HTML file (plotly.js inlined, no CDN) drawn from the warehouse alone,
rendered from flows/templates/report.html.j2.

Headline rates first (price_decline() by both methods, open versus closed per class, each with its query), then
price at constant capability with its fitted lines, price versus capability, open versus closed over time,
adoption shares, price events (a summary and a table to sort and filter), methodology and caveats, freshness.
Every chart's data can be downloaded from the page as CSV.
"""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

# (key, label, benchmark, threshold, input parts, output parts): a16z's MMLU 42 at a 1:1 blend, and a GPT-4-class
# threshold (MMLU 86, GPT-4's own published score) at Epoch AI's 3:1 blend, then GPQA where the data allows
CAPABILITY_SERIES = (
    ("a16z", "MMLU >= 42, 1:1 input:output (a16z)", "mmlu", 42, 1, 1),
    ("epoch", "MMLU >= 86 (GPT-4 class), 3:1 (Epoch AI)", "mmlu", 86, 3, 1),
    ("gpqa", "GPQA Diamond >= 50, 3:1", "gpqa_diamond", 50, 3, 1),
)
EVENT_ROWS = 2000  # the table holds the most recent news events; the summary counts them all
PALETTE = (  # 24 distinct colours (plotly's Dark24): one per family, none reused before the 25th
    "#2E91E5", "#E15F99", "#1CA71C", "#FB0D0D", "#DA16FF", "#222A2A", "#B68100", "#750D86", "#EB663B", "#511CFB",
    "#00A08B", "#FB00D1", "#FC0080", "#B2828D", "#6C7C32", "#778AAE", "#862A16", "#A777F1", "#620042", "#1616A7",
    "#DA60CA", "#6C4516", "#0D2A63", "#AF0038",
)  # fmt: skip


@dataclass
class Chart:
    """One figure of the report, with the rows it was drawn from (offered as CSV)."""

    key: str
    title: str
    lede: str
    figure: Any
    columns: list[str]
    rows: list[tuple[Any, ...]]
    query: str | None = None

    @property
    def csv_href(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows(["" if v is None else _plain(v) for v in row] for row in self.rows)
        return "data:text/csv;base64," + base64.b64encode(buffer.getvalue().encode()).decode()


def build(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> str:
    """The report as one HTML document."""
    import jinja2
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs

    now = now or datetime.now(UTC)
    rates = _rates(con)
    charts = [
        _capability(con, go, rates),
        _price_vs_capability(con, go),
        _open_closed_history(con, go),
        _adoption(con, go),
    ]
    for chart in charts:
        chart.figure.update_layout(
            margin={"l": 70, "r": 20, "t": 20, "b": 60}, height=460, legend={"orientation": "h", "y": -0.18}
        )
    events = _rows(con, EVENTS_SQL, [EVENT_ROWS])
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("llmflation.flows", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    return environment.get_template("report.html.j2").render(
        now=now,
        plotly_js=get_plotlyjs(),
        rates=rates,
        ratios=_rows(con, RATIO_SQL),
        ratio_sql=RATIO_SQL,
        charts=[
            {
                "chart": chart,
                "html": chart.figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{chart.key}"),
            }
            for chart in charts
        ],
        summary=_rows(con, SUMMARY_SQL),
        moves=_rows(con, MOVES_SQL),
        events=events,
        event_total=_rows(con, "SELECT count(*) AS n FROM price_events WHERE news")[0]["n"],
        event_rows=EVENT_ROWS,
        event_types=sorted({e["event_type"] for e in events}),
        freshness=_rows(con, FRESHNESS_SQL),
        top_models=_rows(con, TOP_MODELS_SQL),
    )


def write(db_path: Path, out: Path) -> Path:
    """Build the report from the warehouse at db_path into out. A writer opens the file first, so a warehouse from
    an earlier release gets this release's views (and a damaged view is restored); the report then reads it as
    `llmflation sql` does, read-only and nothing but the warehouse."""
    from llmflation.warehouse.db import WarehouseError, connect

    if not db_path.exists():
        raise WarehouseError(f"no warehouse at {db_path}; run `llmflation run` first")
    connect(db_path, wait_s=30).close()
    con = connect(db_path, sandboxed=True, wait_s=30)
    try:
        document = build(con)
    finally:
        con.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(document, encoding="utf-8")
    return out


def decline_sql(benchmark: str, threshold: float, w_in: int, w_out: int) -> str:
    """The query behind a headline rate: price_decline() over every month the warehouse prices that capability."""
    window = f"FROM cheapest_at_capability('{benchmark}', {threshold}, {w_in}, {w_out})"
    return (
        f"SELECT * FROM price_decline('{benchmark}', {threshold}, {w_in}, {w_out}, "
        f"(SELECT min(month) {window}), (SELECT max(month) {window}))"
    )


def _rates(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    rates = []
    for key, label, bench, threshold, w_in, w_out in CAPABILITY_SERIES:
        query = decline_sql(bench, threshold, w_in, w_out)
        (row,) = _rows(con, query)
        rates.append({"key": key, "label": label, "query": query, **row})
    return rates


def _table(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    relation = con.execute(sql, params or [])
    return [d[0] for d in relation.description], relation.fetchall()


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    names, rows = _table(con, sql, params)
    return [dict(zip(names, row, strict=True)) for row in rows]


def _empty(figure: Any, what: str) -> Any:
    figure.add_annotation(
        text=f"no {what} in the warehouse yet", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
    )
    return figure


CAPABILITY_SQL = """
SELECT '{label}' AS series, month, model_key, provider, offered_by, blended_usd_per_mtok, price_from
FROM cheapest_at_capability('{bench}', {threshold}, {w_in}, {w_out})"""


def _capability(con: duckdb.DuckDBPyConnection, go: Any, rates: list[dict[str, Any]]) -> Chart:
    figure = go.Figure()
    columns: list[str] = []
    rows: list[tuple[Any, ...]] = []
    for (key, label, bench, threshold, w_in, w_out), rate, colour in zip(
        CAPABILITY_SERIES, rates, PALETTE, strict=False
    ):
        sql = CAPABILITY_SQL.format(label=label, bench=bench, threshold=threshold, w_in=w_in, w_out=w_out)
        columns, series = _table(con, sql)
        rows += series
        if not series:
            continue
        # a marker where the cheapest model changes, named: the model that set the step
        steps = [r for i, r in enumerate(series) if i == 0 or r[2] != series[i - 1][2]]
        figure.add_trace(
            go.Scatter(
                x=[r[1] for r in series],
                y=[r[5] for r in series],
                text=[f"{r[2]} ({r[4]})" for r in series],
                hovertemplate="%{x|%Y-%m}: $%{y:.4g} per 1M tokens<br>%{text}<extra></extra>",
                mode="lines",
                line={"shape": "hv", "color": colour},
                name=label,
                legendgroup=key,
            )
        )
        figure.add_trace(
            go.Scatter(
                x=[r[1] for r in steps],
                y=[r[5] for r in steps],
                text=[r[2].split("/")[-1] for r in steps],
                mode="markers+text",
                textposition="top right",
                textfont={"size": 9, "color": colour},
                marker={"color": colour, "size": 6},
                hoverinfo="skip",
                showlegend=False,
                legendgroup=key,
            )
        )
        if rate["points"] and rate["points"] >= 2 and rate["fit_first_price"]:
            figure.add_trace(
                go.Scatter(
                    x=[rate["first_month"], rate["last_month"]],
                    y=[rate["fit_first_price"], rate["fit_last_price"]],
                    mode="lines",
                    line={"dash": "dot", "color": colour},
                    name=f"fit: {rate['decline_per_year']:.1f}x cheaper a year (r2 {rate['r2']:.2f})",
                    legendgroup=key,
                )
            )
    figure.update_yaxes(type="log", title="cheapest blended USD per 1M tokens")
    return Chart(
        "capability",
        "Price at constant capability",
        "Each month, the cheapest offer of any model scoring at or above the threshold (blended input and output "
        "prices); the dotted line is the log-linear fit behind the headline rate, labels name the model that set "
        "each step.",
        figure if figure.data else _empty(figure, "capability-matched prices"),
        columns,
        rows,
    )


PRICE_VS_CAPABILITY_SQL = """
WITH cheapest AS (
    SELECT model_key, any_value(open_weights) AS open_weights, min(usd_per_mtok) AS blended_usd_per_mtok,
           arg_min(offered_by, usd_per_mtok) AS offered_by
    FROM workload_prices(3, 1) GROUP BY model_key
)
SELECT c.benchmark, c.model_key, max(c.score) AS score, p.blended_usd_per_mtok, p.offered_by, p.open_weights
FROM capabilities c JOIN cheapest p USING (model_key)
GROUP BY ALL ORDER BY c.benchmark, score"""


BENCHMARKS = {"mmlu": "MMLU", "gpqa_diamond": "GPQA Diamond"}


def _price_vs_capability(con: duckdb.DuckDBPyConnection, go: Any) -> Chart:
    columns, rows = _table(con, PRICE_VS_CAPABILITY_SQL)
    figure = go.Figure()
    shown: list[str] = []  # the benchmark of each trace, for the buttons that switch between them
    benchmarks = [bench for bench in BENCHMARKS if any(r[0] == bench for r in rows)]
    for bench in benchmarks:
        for open_weights, name, colour, symbol in (
            (True, "open weights", "#1CA71C", "circle"),
            (False, "closed", "#E15F99", "diamond"),
            (None, "weights not known", "#888888", "square"),
        ):
            points = [r for r in rows if r[0] == bench and r[5] is open_weights]
            if not points:
                continue
            shown.append(bench)
            figure.add_trace(
                go.Scatter(
                    x=[r[2] for r in points],
                    y=[r[3] for r in points],
                    text=[f"{r[1]}<br>{r[4]}" for r in points],
                    hovertemplate=BENCHMARKS[bench] + " %{x}: $%{y:.4g} per 1M tokens<br>%{text}<extra></extra>",
                    mode="markers+text",
                    texttemplate=[r[1].split("/")[-1] for r in points],
                    textposition="top center",
                    textfont={"size": 9},
                    marker={"color": colour, "symbol": symbol, "size": 9},
                    name=name,
                    visible=bench == benchmarks[0],
                )
            )
    if len(benchmarks) > 1:
        figure.update_layout(
            updatemenus=[
                {
                    "type": "buttons",
                    "direction": "right",
                    "x": 0,
                    "y": 1.12,
                    "xanchor": "left",
                    "buttons": [
                        {
                            "label": BENCHMARKS[bench],
                            "method": "update",
                            "args": [
                                {"visible": [trace == bench for trace in shown]},
                                {"xaxis.title.text": f"{BENCHMARKS[bench]} score"},
                            ],
                        }
                        for bench in benchmarks
                    ],
                }
            ]
        )
    figure.update_xaxes(title=f"{BENCHMARKS[benchmarks[0]]} score" if benchmarks else "score")
    figure.update_yaxes(type="log", title="cheapest offer now, USD per 1M tokens (3:1 blend)")
    return Chart(
        "price-vs-capability",
        "Price versus capability",
        "Every model with a published benchmark score (MMLU, or GPQA Diamond with the buttons), at its cheapest "
        "offer in force now (3:1 blend): up and left is worse value, down and right better.",
        figure if figure.data else _empty(figure, "priced models with a score"),
        columns,
        rows,
        PRICE_VS_CAPABILITY_SQL.strip(),
    )


OPEN_CLOSED_SQL = "SELECT * FROM open_vs_closed ORDER BY class, day"


def _open_closed_history(con: duckdb.DuckDBPyConnection, go: Any) -> Chart:
    columns, rows = _table(con, OPEN_CLOSED_SQL)
    at = {name: i for i, name in enumerate(columns)}
    figure = go.Figure()
    for klass, colour in zip(sorted({r[at["class"]] for r in rows}), PALETTE, strict=False):
        points = [r for r in rows if r[at["class"]] == klass]
        for side, dash in (("open", "solid"), ("closed", "dash")):
            figure.add_trace(
                go.Scatter(
                    x=[r[at["day"]] for r in points],
                    y=[r[at[f"{side}_blended"]] for r in points],
                    text=[f"{r[at[f'{side}_model']]} ({r[at[f'{side}_offered_by']]})" for r in points],
                    hovertemplate="%{x|%Y-%m-%d}: $%{y:.4g}<br>%{text}<extra></extra>",
                    name=f"{klass}, cheapest {side}",
                    mode="lines",
                    line={"shape": "hv", "color": colour, "dash": dash},
                )
            )
    figure.update_yaxes(type="log", title="USD per 1M tokens (3:1 blend)")
    return Chart(
        "open-vs-closed",
        "Cheapest open versus closed, per model class",
        "Per catalogue class, the cheapest open-weights offer (solid) and the cheapest closed one (dashed) each day.",
        figure if figure.data else _empty(figure, "dated open and closed prices"),
        columns,
        rows,
        OPEN_CLOSED_SQL,
    )


ADOPTION_SQL = (
    "SELECT date, family, downloads_30d, share_of_tracked FROM family_adoption WHERE family IS NOT NULL "
    "ORDER BY date, family"
)


def _adoption(con: duckdb.DuckDBPyConnection, go: Any) -> Chart:
    columns, rows = _table(con, ADOPTION_SQL)
    figure = go.Figure()
    # the largest families first, so they sit at the bottom of the stack
    totals: dict[str, float] = {}
    for _, family, downloads, _ in rows:
        totals[family] = totals.get(family, 0) + float(downloads or 0)
    days = sorted({r[0] for r in rows})
    stack = [
        (family, colour, {r[0]: float(r[3] or 0) * 100 for r in rows if r[1] == family})
        for family, colour in zip(sorted(totals, key=lambda f: -totals[f]), PALETTE * 4, strict=False)
    ]
    if days:  # the rest of the tracked downloads (models of no open LLM family: encoders ...), so the stack is whole
        named = {day: sum(shares.get(day, 0) for _, _, shares in stack) for day in days}
        stack.append(("other tracked models", "#d9d9d9", {day: max(0.0, 100 - named[day]) for day in days}))
    for name, colour, shares in stack:
        figure.add_trace(
            go.Scatter(
                x=list(shares),
                y=list(shares.values()),
                hovertemplate="%{x|%Y-%m-%d}: %{y:.1f}%<extra>" + name + "</extra>",
                name=name,
                mode="lines",
                stackgroup="share",
                line={"width": 0.5, "color": colour},
            )
        )
    figure.update_yaxes(title="share of tracked 30-day downloads (%)", range=[0, 100])
    return Chart(
        "adoption",
        "Open-family adoption: share of tracked downloads",
        "Each family's share of the 30-day downloads of the tracked Hub models, per snapshot day, stacked with the "
        "tracked models of no open LLM family (grey) to 100%.",
        figure if figure.data else _empty(figure, "Hub snapshots"),
        columns,
        rows,
        ADOPTION_SQL,
    )


RATIO_SQL = (
    "SELECT class, day, open_model, open_offered_by, open_blended, closed_model, closed_offered_by, closed_blended, "
    "closed_to_open_ratio FROM open_vs_closed QUALIFY day = max(day) OVER (PARTITION BY class) ORDER BY class"
)
SUMMARY_SQL = """
SELECT provider,
       count_if(event_type = 'price_cut') AS cuts,
       count_if(event_type = 'price_increase') AS increases,
       count_if(event_type IN ('new_offer', 'new_tier')) AS new_offers,
       count_if(event_type = 'offer_removed') AS removed,
       count_if(NOT plausible) AS implausible,
       strftime(min(effective_at), '%Y-%m-%d') AS first_seen,
       strftime(max(effective_at), '%Y-%m-%d') AS last_seen
FROM price_events WHERE news AND event_type NOT IN ('source_broken', 'source_disagreement')
GROUP BY provider ORDER BY cuts + increases DESC, provider"""
MOVES_SQL = """
SELECT strftime(effective_at, '%Y-%m-%d') AS effective, event_type, provider,
       coalesce(provider_model_id, model_key) AS model, metric, tier,
       CAST(round(old_usd_per_mtok, 6) AS DOUBLE) AS old_usd,
       CAST(round(new_usd_per_mtok, 6) AS DOUBLE) AS new_usd, round(pct_change, 1) AS pct
FROM price_events
WHERE news AND plausible AND event_type IN ('price_cut', 'price_increase') AND old_usd_per_mtok > 0
  AND new_usd_per_mtok > 0
ORDER BY abs(ln(new_usd_per_mtok / old_usd_per_mtok)) DESC, effective_at DESC, provider, model LIMIT 10"""
EVENTS_SQL = """
SELECT strftime(effective_at, '%Y-%m-%d') AS effective, strftime(detected_at, '%Y-%m-%d') AS detected, event_type,
       provider, coalesce(provider_model_id, model_key) AS model, metric, tier,
       CAST(round(old_usd_per_mtok, 6) AS DOUBLE) AS old_usd,
       CAST(round(new_usd_per_mtok, 6) AS DOUBLE) AS new_usd, round(pct_change, 1) AS pct,
       source, plausible
FROM price_events WHERE news
ORDER BY effective_at DESC, detected_at DESC, provider, model, metric, tier LIMIT ?"""
FRESHNESS_SQL = (
    "SELECT source, status, strftime(last_run_at, '%Y-%m-%d %H:%M') AS last_run, "
    "strftime(last_observed_at, '%Y-%m-%d %H:%M') AS observed, rows, hours_since_ok, reason "
    "FROM source_health ORDER BY source"
)
TOP_MODELS_SQL = """
SELECT repo_id, family, downloads_30d FROM model_downloads
WHERE snapshot_date = (SELECT max(snapshot_date) FROM model_downloads)
ORDER BY downloads_30d DESC NULLS LAST, repo_id LIMIT 10"""


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if not isinstance(value, int | float | str) else value

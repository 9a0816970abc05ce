"""`llmflation report`: one self-contained HTML file (plotly.js inlined, no CDN) drawn from the warehouse alone.

Sections: price at constant capability over time (log scale), cheapest open versus closed per class, the last 30
days of price events, open-family adoption over time, and each source's freshness.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

# (label, benchmark, threshold, input parts, output parts): a16z's MMLU 42 at a 1:1 blend, and a GPT-4-class
# threshold (MMLU 86, GPT-4's own published score) at Epoch AI's 3:1 blend
CAPABILITY_SERIES = (
    ("MMLU >= 42, 1:1 input:output (a16z)", "mmlu", 42, 1, 1),
    ("MMLU >= 86 (GPT-4 class), 3:1 (Epoch AI)", "mmlu", 86, 3, 1),
    ("GPQA Diamond >= 50, 3:1", "gpqa_diamond", 50, 3, 1),
)
CHART_COUNT = 4  # figures drawn with plotly; events and freshness are tables


def build(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> str:
    """The report as one HTML document."""
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs

    now = now or datetime.now(UTC)
    figures = [
        ("Price at constant capability", _capability(con, go)),
        ("Cheapest open versus closed, per model class", _open_vs_closed(con, go)),
        ("Open-family adoption (downloads in the last 30 days)", _adoption(con, go)),
        ("Cheapest open versus closed over time (3:1 blend, USD per 1M tokens)", _open_closed_history(con, go)),
    ]
    sections = []
    for index, (title, figure) in enumerate(figures):
        figure.update_layout(title=None, margin={"l": 60, "r": 20, "t": 20, "b": 50}, height=420)
        body = figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{index}")
        sections.append(f"<section><h2>{html.escape(title)}</h2>{body}</section>")
    sections.insert(2, _table_section(con, "Price events in the last 30 days", EVENTS_SQL, [now]))
    sections.append(_table_section(con, "Freshness per source", FRESHNESS_SQL, []))
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>llmflation report</title>"
        f"<style>{STYLE}</style><script>{get_plotlyjs()}</script></head><body>"
        f"<h1>llmflation report</h1><p class='meta'>Generated {now:%Y-%m-%d %H:%M} UTC from the warehouse alone.</p>"
        + "".join(sections)
        + "</body></html>"
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


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    relation = con.execute(sql, params or [])
    names = [d[0] for d in relation.description]
    return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


def _empty(figure: Any, what: str) -> Any:
    figure.add_annotation(
        text=f"no {what} in the warehouse yet", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
    )
    return figure


def _capability(con: duckdb.DuckDBPyConnection, go: Any) -> Any:
    figure = go.Figure()
    for label, bench, threshold, w_in, w_out in CAPABILITY_SERIES:
        rows = _rows(con, "SELECT * FROM cheapest_at_capability(?, ?, ?, ?)", [bench, threshold, w_in, w_out])
        if rows:
            figure.add_trace(
                go.Scatter(
                    x=[r["month"] for r in rows],
                    y=[r["blended_usd_per_mtok"] for r in rows],
                    text=[f"{r['model_key']} via {r['provider']}" for r in rows],
                    mode="lines+markers",
                    line_shape="hv",
                    name=label,
                )
            )
    figure.update_yaxes(type="log", title="USD per 1M tokens (blended)")
    return figure if figure.data else _empty(figure, "capability-matched prices")


def _open_vs_closed(con: duckdb.DuckDBPyConnection, go: Any) -> Any:
    rows = _rows(con, "SELECT * FROM open_vs_closed QUALIFY day = max(day) OVER (PARTITION BY class) ORDER BY class")
    figure = go.Figure()
    if not rows:
        return _empty(figure, "priced open and closed models of a class")
    for side in ("open", "closed"):
        figure.add_trace(
            go.Bar(
                x=[r["class"] for r in rows],
                y=[float(r[f"{side}_blended"]) for r in rows],
                text=[r[f"{side}_model"] for r in rows],
                name=f"cheapest {side}",
            )
        )
    figure.update_yaxes(type="log", title="USD per 1M tokens (3:1 blend)")
    return figure


def _open_closed_history(con: duckdb.DuckDBPyConnection, go: Any) -> Any:
    rows = _rows(con, "SELECT * FROM open_vs_closed ORDER BY day")
    figure = go.Figure()
    for klass in sorted({r["class"] for r in rows}):
        for side in ("open", "closed"):
            points = [r for r in rows if r["class"] == klass]
            figure.add_trace(
                go.Scatter(
                    x=[r["day"] for r in points],
                    y=[float(r[f"{side}_blended"]) for r in points],
                    name=f"{klass}: {side}",
                    mode="lines",
                    line_shape="hv",
                )
            )
    figure.update_yaxes(type="log")
    return figure if figure.data else _empty(figure, "dated open and closed prices")


def _adoption(con: duckdb.DuckDBPyConnection, go: Any) -> Any:
    rows = _rows(
        con,
        "SELECT date, family, downloads_30d FROM family_adoption WHERE family IS NOT NULL ORDER BY family, date",
    )
    figure = go.Figure()
    for family in sorted({r["family"] for r in rows}):
        points = [r for r in rows if r["family"] == family]
        figure.add_trace(go.Scatter(x=[r["date"] for r in points], y=[r["downloads_30d"] for r in points], name=family))
    figure.update_yaxes(title="downloads, last 30 days")
    return figure if figure.data else _empty(figure, "Hub snapshots")


EVENTS_SQL = (
    "SELECT strftime(detected_at, '%Y-%m-%d') AS detected, event_type, provider, "
    "coalesce(provider_model_id, model_key) AS model, metric, tier, round(old_usd_per_mtok, 6) AS old_usd, "
    "round(new_usd_per_mtok, 6) AS new_usd, round(pct_change, 1) AS pct, source "
    "FROM price_events WHERE news AND detected_at >= CAST(? AS TIMESTAMPTZ) - INTERVAL 30 DAY "
    "ORDER BY detected_at DESC, provider, model LIMIT 500"
)
FRESHNESS_SQL = (
    "SELECT source, status, strftime(last_run_at, '%Y-%m-%d %H:%M') AS last_run, "
    "strftime(last_observed_at, '%Y-%m-%d %H:%M') AS observed, rows, hours_since_ok, reason "
    "FROM source_health ORDER BY source"
)


def _table_section(con: duckdb.DuckDBPyConnection, title: str, sql: str, params: list[Any]) -> str:
    rows = _rows(con, sql, params)
    if not rows:
        return f"<section><h2>{html.escape(title)}</h2><p class='meta'>nothing yet</p></section>"
    head = "".join(f"<th>{html.escape(name)}</th>" for name in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row.values()) + "</tr>"
        for row in rows
    )
    return f"<section><h2>{html.escape(title)}</h2><table><tr>{head}</tr>{body}</table></section>"


STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}"
    "h1{font-size:1.6rem}h2{font-size:1.15rem;margin-top:2rem}.meta{color:#666}"
    "table{border-collapse:collapse;font-size:.85rem;width:100%}"
    "td,th{border-bottom:1px solid #ddd;padding:.25rem .4rem;text-align:left}section{margin-bottom:1.5rem}"
)

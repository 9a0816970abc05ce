"""Price events and alerts end to end: real payloads replayed through a local HTTP server, alerts delivered to a
real local webhook receiver (Apprise json://) and a real local SMTP server (aiosmtpd), exactly once."""

from __future__ import annotations

import json
import re
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email import message_from_bytes
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from pytest_httpserver import HTTPServer

from llmflation.flows import alerts
from llmflation.flows.alert_config import EVENT_TYPES
from llmflation.flows.pipeline import run_prices
from llmflation.flows.settings import Settings
from tests.helpers import openrouter_body, real, ts
from tests.ledger_helpers import query
from tests.test_broken_official_pages import CASES as BROKEN_PAGES

SMTP_USER, SMTP_PASSWORD = "alerts", "Sm7p-Passw0rd-9f3k"
HOOK_TOKEN = "wh-S3cret-8c1d2e7f"
EVENT_ID = re.compile(r"\[event ([0-9a-f]{32})\]")


@dataclass
class Inbox:
    """A real SMTP server on 127.0.0.1 that requires AUTH and keeps what it receives."""

    port: int
    messages: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(envelope.original_content)  # type: ignore[attr-defined]
        return "250 OK"

    def bodies(self) -> list[str]:
        return [message_from_bytes(m).get_payload(decode=True).decode() for m in self.messages]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _authenticate(server: object, session: object, envelope: object, mechanism: str, auth_data: object) -> AuthResult:
    login, password = getattr(auth_data, "login", b""), getattr(auth_data, "password", b"")
    return AuthResult(success=(login, password) == (SMTP_USER.encode(), SMTP_PASSWORD.encode()))


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox(_free_port())
    controller = Controller(
        box, hostname="127.0.0.1", port=box.port, authenticator=_authenticate, auth_require_tls=False
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def receiver() -> Iterator[HTTPServer]:
    """A real HTTP server for Apprise's json:// posts, apart from the one serving the sources."""
    server = HTTPServer(host="127.0.0.1", port=_free_port())
    server.expect_request(f"/hook/{HOOK_TOKEN}", method="POST").respond_with_data("ok")
    server.start()
    try:
        yield server
    finally:
        server.clear()
        if server.is_running():
            server.stop()


def _config(tmp_path: Path, rules: str, *, hook_digest: bool = False, backoff: float = 0) -> Path:
    path = tmp_path / "llmflation.toml"
    path.write_text(
        f"""
[alerts]
backoff_minutes = {backoff}

[alerts.channels.hook]
url = "env:TEST_ALERT_HOOK"
digest = {str(hook_digest).lower()}

[alerts.channels.mail]
url = "env:TEST_ALERT_MAIL"
{rules}
"""
    )
    return path


def _settings(settings: Settings, config: Path) -> Settings:
    environ = {"LLMFLATION_CONFIG": str(config), "LLMFLATION_HTTP_TIMEOUT": "5", "LLMFLATION_HTTP_RETRIES": "0"}
    return Settings.from_env(db=settings.db, environ=environ)


def _env(monkeypatch: pytest.MonkeyPatch, hook_port: int, smtp_port: int) -> None:
    monkeypatch.setenv("TEST_ALERT_HOOK", f"json://127.0.0.1:{hook_port}/hook/{HOOK_TOKEN}")
    monkeypatch.setenv(
        "TEST_ALERT_MAIL",
        f"mailto://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{smtp_port}?from=llmflation@example.org&to=ops@example.org",
    )


@pytest.fixture
def configure(
    settings: Settings, receiver: HTTPServer, inbox: Inbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Settings]:
    """Settings whose llmflation.toml holds `rules`, with channel hook aimed at the local receiver and mail at the
    local SMTP server."""
    _env(monkeypatch, receiver.port, inbox.port)
    return lambda rules, **options: _settings(settings, _config(tmp_path, rules, **options))


def _replay(settings: Settings, server: HTTPServer, source: str, path: str, body: bytes, as_of: datetime) -> None:
    server.clear()
    server.expect_request(path).respond_with_data(body, content_type="application/json")
    summary = run_prices(settings.model_copy(update={"source_urls": {source: server.url_for(path)}}), [source], as_of)
    assert summary.status == "ok", summary.outcomes


def _cuts_rule(*channels: str) -> str:
    """The rule the issue names: price cuts of 10% or more, to these channels."""
    return '\n[[alerts.rules]]\nname = "cuts"\nevents = ["price_cut"]\nmin_pct = 10\nchannels = ' + json.dumps(
        list(channels)
    )


OPENROUTER_RUNS = (
    ("openrouter_models_2025-12-29.json", "2025-12-29T18:00"),
    ("openrouter_models_2026-04-20.json", "2026-04-20T08:00"),
)


def _openrouter_bodies() -> list[bytes]:
    return [openrouter_body(real(f"openrouter/{name}")) for name, _ in OPENROUTER_RUNS]


def _two_openrouter_runs(settings: Settings, httpserver: HTTPServer) -> list[bytes]:
    """The real OpenRouter snapshots of 2025-12-29 and 2026-04-20, replayed in order; returns their bodies."""
    bodies = _openrouter_bodies()
    for body, (_, as_of) in zip(bodies, OPENROUTER_RUNS, strict=True):
        _replay(settings, httpserver, "openrouter", "/api/v1/models", body, ts(as_of))
    return bodies


def _hook_event_ids(receiver: HTTPServer) -> list[str]:
    posts = [json.loads(request.get_data()) for request, _ in receiver.log]
    return [event for post in posts for event in EVENT_ID.findall(post["message"])]


def _token_cuts(body1: bytes, body2: bytes, threshold: Decimal) -> set[tuple[str, str]]:
    """(model id, metric) of every per-token price cut of at least `threshold`, straight from the two API bodies
    (a change of 100x or more is a unit error, not a cut)."""
    metrics = {
        "prompt": "input",
        "completion": "output",
        "input_cache_read": "cached_input",
        "input_cache_write": "cache_write",
        "internal_reasoning": "reasoning_output",
        "audio": "audio_input",
    }

    def prices(body: bytes) -> dict[tuple[str, str], Decimal]:
        found = {}
        for model in json.loads(body)["data"]:
            for name, raw in model["pricing"].items():
                value = Decimal(raw)
                if name in metrics and value >= 0 and (value > 0 or name in ("prompt", "completion")):
                    found[(model["id"], metrics[name])] = value
        return found

    old, new = prices(body1), prices(body2)
    cuts = set()
    for key in old.keys() & new.keys():
        a, b = old[key], new[key]
        if b < a and (a - b) / a >= threshold and not (b > 0 and a / b >= 100):
            cuts.add(key)
    return cuts


def test_openrouter_cuts_of_10_percent_reach_a_webhook_and_a_mailbox_once_each(
    configure: Callable[..., Settings],
    httpserver: HTTPServer,
    receiver: HTTPServer,
    inbox: Inbox,
) -> None:
    settings = configure(_cuts_rule("hook", "mail"))
    body1, body2 = _openrouter_bodies()
    t1, t2 = (ts(as_of) for _, as_of in OPENROUTER_RUNS)
    _replay(settings, httpserver, "openrouter", "/api/v1/models", body1, t1)
    assert not receiver.log and not inbox.messages  # the first run is a baseline: nothing to compare with
    _replay(settings, httpserver, "openrouter", "/api/v1/models", body2, t2)

    expected = _token_cuts(body1, body2, Decimal("0.10"))
    assert len(expected) > 20
    ids = dict(query(settings, "SELECT event_id, provider_model_id || ' ' || metric FROM price_events"))
    hook = Counter(ids[event] for event in _hook_event_ids(receiver))
    assert set(hook) == {f"{model} {metric}" for model, metric in expected}
    assert set(hook.values()) == {1}  # each cut once
    assert len(receiver.log) == len(expected)  # the hook is not a digest: one post per cut
    assert len(inbox.messages) == 1  # the mailbox gets one digest for the run
    mailed = Counter(ids[event] for event in EVENT_ID.findall(inbox.bodies()[0]))
    assert mailed == hook

    for body, as_of in ((body1, t1), (body2, t2)):  # rerunning either run sends nothing more
        _replay(settings, httpserver, "openrouter", "/api/v1/models", body, as_of)
    assert len(receiver.log) == len(expected) and len(inbox.messages) == 1
    statuses = query(settings, "SELECT channel, status, count(*) FROM alert_deliveries GROUP BY ALL ORDER BY ALL")
    assert statuses == [("hook", "sent", len(expected)), ("mail", "sent", len(expected))]


def test_a_per_1k_figure_corrected_is_a_suspected_unit_error_never_a_cut(
    configure: Callable[..., Settings],
    httpserver: HTTPServer,
    receiver: HTTPServer,
) -> None:
    settings = configure(_cuts_rule("hook"))
    for name, day in (("model_prices_2025-02-06.json", "2025-02-06"), ("model_prices_2025-03-14.json", "2025-03-14")):
        body = real(f"litellm/{name}").read_bytes()
        _replay(settings, httpserver, "litellm", "/prices.json", body, ts(f"{day}T00:00"))
    flash = query(
        settings,
        "SELECT DISTINCT event_type, old_usd_per_mtok, new_usd_per_mtok FROM price_events "
        "WHERE provider_model_id LIKE '%gemini-2.0-flash-001' AND metric = 'input' AND event_type IN "
        "('price_cut', 'price_increase', 'suspected_unit_error')",
    )
    assert flash == [("suspected_unit_error", Decimal(150), Decimal("0.15"))]
    ids = set(_hook_event_ids(receiver))
    assert ids, "other LiteLLM cuts of 10% or more were delivered"
    unit_errors = {
        e for (e,) in query(settings, "SELECT event_id FROM events WHERE event_type = 'suspected_unit_error'")
    }
    assert not ids & unit_errors
    assert query(
        settings,
        "SELECT count(*) FROM alert_deliveries JOIN events USING (event_id) "
        "WHERE provider_model_id LIKE '%gemini-2.0-flash-001'",
    ) == [(0,)]


@pytest.mark.parametrize(
    ("source", "name", "break_it"),
    [case for case in BROKEN_PAGES if case[0] != "aws_bedrock"],  # the official pages served as one document
    ids=[case[0] for case in BROKEN_PAGES if case[0] != "aws_bedrock"],
)
def test_a_page_that_lost_its_prices_raises_one_source_broken_alert_and_no_price_events(
    configure: Callable[..., Settings],
    httpserver: HTTPServer,
    receiver: HTTPServer,
    source: str,
    name: str,
    break_it: Callable[[str], str],
) -> None:
    rule = '\n[[alerts.rules]]\nname = "everything"\nevents = ' + json.dumps(list(EVENT_TYPES))
    settings = configure(rule + '\nchannels = ["hook"]\n')
    page = real(name).read_text()
    _replay(settings, httpserver, source, "/pricing", page.encode(), ts("2026-10-01T00:00"))
    for day in (2, 3, 4, 5):  # more broken runs than it takes to remove an offer
        server_settings = settings.model_copy(update={"source_urls": {source: httpserver.url_for("/pricing")}})
        httpserver.clear()
        httpserver.expect_request("/pricing").respond_with_data(break_it(page), content_type="text/html")
        assert run_prices(server_settings, [source], ts(f"2026-10-0{day}T00:00")).status == "failed"
    types = query(settings, "SELECT event_type, count(*) FROM price_events WHERE news GROUP BY ALL")
    assert types == [("source_broken", 1)]
    (post,) = [json.loads(request.get_data()) for request, _ in receiver.log]
    assert post["message"].startswith(f"source {source} broken: suspect, parse failed: ")


def test_a_receiver_down_keeps_the_alert_for_the_next_run_which_delivers_it_once(
    settings: Settings, httpserver: HTTPServer, inbox: Inbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _free_port()  # nothing listens here during the second run
    _env(monkeypatch, port, inbox.port)
    settings = _settings(settings, _config(tmp_path, _cuts_rule("hook"), hook_digest=True))
    _, body2 = _two_openrouter_runs(settings, httpserver)
    pending = query(settings, "SELECT DISTINCT status, attempts, last_error FROM alert_deliveries")
    assert len(pending) == 1 and pending[0][:2] == ("pending", 1)
    assert HOOK_TOKEN not in pending[0][2]
    cuts = query(settings, "SELECT count(*) FROM alert_deliveries")[0][0]

    server = HTTPServer(host="127.0.0.1", port=port)  # the receiver is back
    server.expect_request(f"/hook/{HOOK_TOKEN}", method="POST").respond_with_data("ok")
    server.start()
    try:
        for day in ("2026-04-21", "2026-04-22"):  # the next run delivers; the one after has nothing left
            _replay(settings, httpserver, "openrouter", "/api/v1/models", body2, ts(f"{day}T08:00"))
        assert len(server.log) == 1  # one digest
        delivered = Counter(EVENT_ID.findall(json.loads(server.log[0][0].get_data())["message"]))
        assert len(delivered) == cuts and set(delivered.values()) == {1}
    finally:
        server.clear()
        server.stop()
    assert query(settings, "SELECT DISTINCT status, attempts FROM alert_deliveries") == [("sent", 2)]


def test_apprise_debug_logs_and_errors_carry_no_secret(
    settings: Settings, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Apprise logs the URL it posts to at debug level; while llmflation sends, every such line is redacted."""
    from llmflation.flows.alert_config import Channel

    port = _free_port()  # nothing listens: the failure path, where URLs usually leak
    url = f"json://127.0.0.1:{port}/hook/{HOOK_TOKEN}?token=Q-{HOOK_TOKEN}"
    monkeypatch.setenv("HF_TOKEN", "unused")
    settings = settings.model_copy(update={"hf_token": "hf_Abcdefghijklmnop123"})
    caplog.set_level("DEBUG")
    error = alerts.send(settings, Channel(url=url, ref="env:TEST"), "title", "body hf_Abcdefghijklmnop123")
    assert error and "127.0.0.1" in error
    assert [r for r in caplog.records if r.name.startswith("apprise")], "apprise logged nothing at debug level"
    text = "\n".join(r.getMessage() for r in caplog.records) + error
    assert HOOK_TOKEN not in text and "hf_Abcdefghijklmnop123" not in text and "***" in text


def test_with_no_configuration_cuts_and_increases_of_5_percent_go_to_the_console(
    settings: Settings, httpserver: HTTPServer
) -> None:
    def body(a: str, b: str, c: str) -> bytes:
        prices = {"x/a": a, "x/b": b, "x/c": c}
        return json.dumps({"data": [{"id": k, "pricing": {"prompt": v}} for k, v in prices.items()]}).encode()

    _replay(settings, httpserver, "openrouter", "/m", body("0.000002", "0.000001", "0.000001"), ts("2026-01-01T00:00"))
    httpserver.clear()
    httpserver.expect_request("/m").respond_with_data(body("0.000001", "0.00000104", "0.0000011"))
    summary = run_prices(
        settings.model_copy(update={"source_urls": {"openrouter": httpserver.url_for("/m")}}),
        ["openrouter"],
        ts("2026-01-02T00:00"),
    )
    (delivery,) = summary.alerts
    assert (delivery.channel, delivery.sent, delivery.events) == ("console", True, 2)  # x/b moved 4%: below 5%
    assert [line.split(" [event ")[0] for line in delivery.lines] == [
        "price cut: openrouter x/a input $2.00 -> $1.00 per 1M tokens (-50.0%) [openrouter]",
        "price increase: openrouter x/c input $1.00 -> $1.10 per 1M tokens (+10.0%) [openrouter]",
    ]


@pytest.mark.parametrize(
    ("rule", "matched"),
    [
        ({}, {"cut", "bump"}),
        ({"min_pct": 40}, {"cut"}),  # -30% is below it
        ({"min_usd": 0.5}, {"cut"}),  # $1.00 -> $0.70 moved 0.30: ignored
        ({"providers": ["openr*"]}, {"bump"}),
        ({"models": ["*llama*"]}, {"bump"}),
        ({"families": ["gpt"]}, {"cut"}),
        ({"open_weights": True}, {"bump"}),
        ({"events": ["price_increase"]}, set()),
    ],
)
def test_rules_filter_by_threshold_dollar_floor_globs_and_open_weights(rule: dict, matched: set[str]) -> None:
    from llmflation.flows.alert_config import Rule

    events = {
        "cut": {
            "event_type": "price_cut",
            "pct_change": -50.0,
            "old_usd_per_mtok": Decimal(2),
            "new_usd_per_mtok": Decimal(1),
            "provider": "openai",
            "model_key": "openai/gpt-4o",
            "provider_model_id": "gpt-4o",
            "family": "gpt",
            "open_weights": False,
        },
        "bump": {
            "event_type": "price_cut",
            "pct_change": -30.0,
            "old_usd_per_mtok": Decimal(1),
            "new_usd_per_mtok": Decimal("0.7"),
            "provider": "openrouter",
            "model_key": "meta/llama-3-8b",
            "provider_model_id": "meta-llama/llama-3-8b-instruct",
            "family": "llama",
            "open_weights": True,
        },
    }
    chosen = Rule(name="r", **{"events": ["price_cut"], **rule})
    assert {name for name, event in events.items() if chosen.matches(event)} == matched


def test_a_delivery_cut_off_while_sending_is_sent_again_with_the_same_message_id(
    configure: Callable[..., Settings], httpserver: HTTPServer, receiver: HTTPServer
) -> None:
    """A run killed between sending and marking leaves rows in 'sending': the next delivery resends them (never
    lost) under the message id they had, so a receiver can tell the repeat."""
    from llmflation.flows.alert_config import AlertConfig
    from llmflation.warehouse import db

    settings = configure(_cuts_rule("hook"), hook_digest=True)
    _two_openrouter_runs(settings, httpserver)
    (first,) = [json.loads(request.get_data())["message"] for request, _ in receiver.log]
    message_id = first.rsplit("message ", 1)[1]
    con = db.connect(settings.db)
    try:  # as if the process died after the post and before marking the rows sent
        con.execute("UPDATE alert_deliveries SET status = 'sending', sent_at = NULL")
        results = alerts.deliver(con, settings, settings.alert_config(), datetime.now(UTC))
        again = alerts.deliver(con, settings, AlertConfig.model_validate({}), datetime.now(UTC), force=True)
    finally:
        con.close()
    assert [(r.channel, r.sent) for r in results] == [("hook", True)] and again == []
    second = json.loads(receiver.log[1][0].get_data())["message"]
    assert second == first and second.endswith(f"message {message_id}")
    assert len(receiver.log) == 2


def test_a_disagreement_is_news_only_after_both_sources_have_a_baseline(settings: Settings) -> None:
    from tests.helpers import payload
    from tests.ledger_helpers import openrouter_payload, run_once

    page = real("html/anthropic_pricing_2025-11-13.html").read_text()
    assert run_once(settings, "anthropic", payload("anthropic", page), ts("2026-10-01T00:00")).status == "ok"
    official = query(
        settings,
        "SELECT usd_per_mtok FROM price_history WHERE source = 'anthropic' AND model_key = 'anthropic/claude-opus-4.1' "
        "AND metric = 'input' AND tier = 'standard'",
    )[0][0]
    for day, price in (("02", official * 2), ("03", official * 3)):  # OpenRouter states USD per token
        per_token = format(price / 1_000_000, "f")
        body = openrouter_payload({"anthropic/claude-opus-4.1": {"prompt": per_token, "completion": "0.000075"}})
        assert run_once(settings, "openrouter", body, ts(f"2026-10-{day}T00:00")).status == "ok"
    rows = query(
        settings,
        "SELECT news, new_usd_per_mtok / old_usd_per_mtok FROM price_events "
        "WHERE event_type = 'source_disagreement' AND metric = 'input' ORDER BY detected_at",
    )
    # OpenRouter's first run: its disagreement with the official page is a baseline; the next one is news
    assert [(news, round(float(ratio))) for news, ratio in rows] == [(False, 2), (True, 3)]

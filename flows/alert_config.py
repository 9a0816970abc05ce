"""The alert rules and channels of llmflation.toml, validated (pydantic). Read only by flows/settings.py."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

EventType = Literal[
    "price_cut",
    "price_increase",
    "new_offer",
    "offer_removed",
    "new_tier",
    "suspected_unit_error",
    "source_broken",
    "source_disagreement",
    "all_time_low",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
CONSOLE = "console"


class Channel(BaseModel):
    """Where alerts go: an Apprise URL (https://github.com/caronc/apprise), resolved from its reference."""

    # strict, like the models below: `digest = "yes"` or `min_pct = true` is refused, never converted
    model_config = ConfigDict(extra="forbid", strict=True)

    url: SecretStr | None = None  # the resolved URL: a secret, never printed, logged or stored
    ref: str = ""  # how llmflation.toml names it: env:NAME, prefect-secret:BLOCK, or "inline"
    digest: bool = True  # one message per run, grouped by provider


class Rule(BaseModel):
    """Which events go to which channels."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str
    events: list[EventType] = Field(default_factory=lambda: ["price_cut", "price_increase"])
    min_pct: float = Field(0.0, ge=0)  # |percent change| at least this (price changes, lows, disagreements)
    min_usd: float = Field(0.0, ge=0)  # |new - old| in USD per 1M tokens at least this
    providers: list[str] = Field(default_factory=lambda: ["*"])  # globs on the provider
    models: list[str] = Field(default_factory=lambda: ["*"])  # globs on model_key or the provider's model id
    families: list[str] = Field(default_factory=lambda: ["*"])  # globs on the model family
    open_weights: bool = False  # true: open-weights models only
    min_runs: int = Field(1, ge=1)  # a new price alerts once it has held this many runs of its source
    max_changes_30d: int | None = Field(None, ge=0)  # offers that changed more often in 30 days are flapping
    channels: list[str] = Field(default_factory=lambda: [CONSOLE])

    def matches(self, event: dict[str, Any]) -> bool:
        """Whether an event (a price_events row as a dict) passes this rule."""
        if event["event_type"] not in self.events:
            return False
        if event.get("plausible") is False and event["event_type"] != "suspected_unit_error":
            return False  # a price held out as implausible alerts nobody until something confirms it
        pct, old, new = event.get("pct_change"), event.get("old_usd_per_mtok"), event.get("new_usd_per_mtok")
        if self.min_pct and pct is not None and abs(pct) < self.min_pct:
            return False
        if self.min_usd and old is not None and new is not None and abs(float(new) - float(old)) < self.min_usd:
            return False
        if self.open_weights and not event.get("open_weights"):
            return False
        changes = event.get("changes_30d")
        if self.max_changes_30d is not None and changes is not None and changes > self.max_changes_30d:
            return False
        held, reverted = event.get("held_runs"), event.get("reverted_runs")
        if held is not None and (held < self.min_runs or (reverted is not None and reverted < self.min_runs)):
            return False  # not held long enough yet, or undoing a change that never held long enough to alert
        checks = (
            (self.providers, [event.get("provider") or ""]),
            (self.models, [event.get("model_key") or "", event.get("provider_model_id") or ""]),
            (self.families, [event.get("family") or ""]),
        )
        return all(any(fnmatchcase(v, g) for g in globs for v in values) for globs, values in checks)


DEFAULT_RULE = Rule(name="default", events=["price_cut", "price_increase"], min_pct=5.0, channels=[CONSOLE])


class AlertConfig(BaseModel):
    """The [alerts] table of llmflation.toml."""

    model_config = ConfigDict(extra="forbid", strict=True)

    channels: dict[str, Channel] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=lambda: [DEFAULT_RULE])
    backoff_minutes: float = Field(5.0, ge=0)  # first retry of a failed delivery; doubles, at most 6 hours

    @field_validator("channels")
    @classmethod
    def _no_console(cls, channels: dict[str, Channel]) -> dict[str, Channel]:
        if CONSOLE in channels:
            raise ValueError(f"'{CONSOLE}' is built in (the run log and the command's output); choose another name")
        return channels

    @model_validator(mode="after")
    def _known_channels(self) -> AlertConfig:
        for rule in self.rules:
            for name in rule.channels:
                if name != CONSOLE and name not in self.channels:
                    raise ValueError(f"rule {rule.name!r} names channel {name!r}, which [alerts.channels] lacks")
        return self

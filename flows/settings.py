"""The only place that reads the environment. Everything else takes a Settings argument."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmflation.extractors.base import ADOPTION_SOURCES, source_names

if TYPE_CHECKING:
    from llmflation.flows.alert_config import AlertConfig

DEFAULT_DB = Path("data") / "llmflation.duckdb"
DEFAULT_CRON = "0 3 * * *"
DEFAULT_HF_AUTHORS = (
    "meta-llama",
    "mistralai",
    "Qwen",
    "google",
    "microsoft",
    "deepseek-ai",
    "tiiuae",
    "bigscience",
    "openai",
    "moonshotai",
    "zai-org",
)


@dataclass(frozen=True)
class Settings:
    """Resolved configuration of one llmflation process."""

    db: Path = DEFAULT_DB
    source_urls: Mapping[str, str] = field(default_factory=dict)
    http_timeout: float = 30.0
    http_retries: int = 3
    http_backoff: float = 1.0
    http_max_retry_after: int = 120
    http_deadline: float = 300.0  # one fetch, from connecting to its body's last byte, retries and their waits included
    run_deadline: float | None = None  # every fetch of a run is over this long after the run starts; None: no limit
    removal_runs: int = 3
    suspect_ratio: float = 0.5
    cron: str = DEFAULT_CRON
    lock_wait_s: float = 3600.0  # how long a flow waits for another run on the same warehouse
    hf_authors: tuple[str, ...] = DEFAULT_HF_AUTHORS
    hf_top_downloads: int = 300
    hf_top_trending: int = 100
    hf_page_size: int = 1000
    hf_census_pages_per_commit: int = 50  # a killed census refetches at most this many pages
    hf_census_memory_mb: int = 256  # DuckDB's memory limit while a census applies its changes
    hf_census_deadline: float = 7200.0  # the census's whole walk (each of its pages: http_deadline as well)
    hf_census_workers: int = 2  # processes that archive, decode and stage census pages while the walk goes on
    hf_token: str | None = field(default=None, repr=False)  # a secret: never in repr, logs or the warehouse
    config_path: Path | None = None  # llmflation.toml (alert rules and channels); None: the built-in defaults

    @property
    def data_dir(self) -> Path:
        """Folder of the warehouse file; raw payloads and Prefect's local state live under it."""
        return self.db.parent

    @property
    def lock_path(self) -> Path:
        return self.db.with_name(self.db.name + ".lock")

    def url_for(self, source: str) -> str:
        """The URL a source fetches: its LLMFLATION_<SOURCE>_URL override or its default."""
        if source in ADOPTION_SOURCES:
            from llmflation.extractors.hub import huggingface

            return self.source_urls.get(source) or huggingface.URL
        from llmflation.extractors.base import source_module

        return self.source_urls.get(source) or source_module(source).URL

    @classmethod
    def from_env(cls, db: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from explicit arguments first, then LLMFLATION_* variables, then defaults."""
        env = os.environ if environ is None else environ
        urls = {
            name: env[f"LLMFLATION_{name.upper()}_URL"]
            for name in [*source_names(), *ADOPTION_SOURCES]
            if env.get(f"LLMFLATION_{name.upper()}_URL")
        }
        return cls(
            db=Path(db or env.get("LLMFLATION_DB") or DEFAULT_DB).expanduser(),
            source_urls=urls,
            http_timeout=_number(env, "LLMFLATION_HTTP_TIMEOUT", 30.0),
            http_retries=int(_number(env, "LLMFLATION_HTTP_RETRIES", 3)),
            http_backoff=_number(env, "LLMFLATION_HTTP_BACKOFF", 1.0),
            http_max_retry_after=int(_number(env, "LLMFLATION_HTTP_MAX_RETRY_AFTER", 120)),
            http_deadline=_seconds(env, "LLMFLATION_HTTP_DEADLINE") or 300.0,
            run_deadline=_seconds(env, "LLMFLATION_RUN_DEADLINE"),
            removal_runs=int(_number(env, "LLMFLATION_REMOVAL_RUNS", 3)),
            suspect_ratio=_number(env, "LLMFLATION_SUSPECT_RATIO", 0.5),
            cron=env.get("LLMFLATION_CRON") or DEFAULT_CRON,
            lock_wait_s=_number(env, "LLMFLATION_LOCK_WAIT", 3600.0),
            hf_authors=tuple(a.strip() for a in env["LLMFLATION_HF_AUTHORS"].split(",") if a.strip())
            if env.get("LLMFLATION_HF_AUTHORS")
            else DEFAULT_HF_AUTHORS,
            hf_top_downloads=int(_number(env, "LLMFLATION_HF_TOP_DOWNLOADS", 300)),
            hf_top_trending=int(_number(env, "LLMFLATION_HF_TOP_TRENDING", 100)),
            hf_page_size=int(_number(env, "LLMFLATION_HF_PAGE_SIZE", 1000)),
            hf_census_pages_per_commit=max(1, int(_number(env, "LLMFLATION_HF_CENSUS_PAGES_PER_COMMIT", 50))),
            hf_census_memory_mb=max(64, int(_number(env, "LLMFLATION_HF_CENSUS_MEMORY_MB", 256))),
            hf_census_workers=max(1, int(_number(env, "LLMFLATION_HF_CENSUS_WORKERS", 2))),
            hf_census_deadline=_seconds(env, "LLMFLATION_HF_CENSUS_DEADLINE") or 7200.0,
            hf_token=env.get("HF_TOKEN") or None,
            config_path=_config_path(env),
        )

    def alert_config(self, environ: Mapping[str, str] | None = None) -> AlertConfig:
        """The [alerts] of llmflation.toml, with channel URLs resolved from the environment (env:NAME) or left for
        a Prefect Secret block (prefect-secret:NAME); the built-in default rule when there is no file."""
        from llmflation.flows.alert_config import AlertConfig

        if self.config_path is None:
            return AlertConfig()
        import tomllib

        from pydantic import ValidationError

        env = os.environ if environ is None else environ
        try:
            data = tomllib.loads(self.config_path.read_text(encoding="utf-8")).get("alerts", {})
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{self.config_path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                "save it as UTF-8"
            ) from None
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{self.config_path}: {exc}") from exc
        channels = data.get("channels") if isinstance(data, dict) else None
        for name, channel in (channels if isinstance(channels, dict) else {}).items():
            if isinstance(channel, dict) and isinstance(channel.get("url"), str):
                ref = channel["url"]
                if ref.startswith("env:"):
                    value = env.get(ref[4:])
                    if not value:
                        raise ConfigError(f"{self.config_path}: channel {name!r} reads {ref[4:]}, which is not set")
                    channel.update(url=value, ref=ref)
                elif ref.startswith("prefect-secret:"):
                    channel.update(url=None, ref=ref)
                else:
                    channel.update(ref="inline")
        try:
            return AlertConfig.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(["alerts", *(str(part) for part in first["loc"])])
            raise ConfigError(f"{self.config_path}: {where}: {_toml_problem(first)}") from None


def _config_path(env: Mapping[str, str]) -> Path | None:
    """LLMFLATION_CONFIG (which must exist), else ./llmflation.toml when there is one."""
    named = env.get("LLMFLATION_CONFIG")
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigError(f"LLMFLATION_CONFIG={named!r}: no such file")
        return path
    local = Path("llmflation.toml")
    return local if local.is_file() else None


class ConfigError(ValueError):
    """A configuration value that cannot be used."""


# what a value of the wrong type in llmflation.toml should have been, by pydantic error type
TOML_EXPECTED = {
    "dict_type": "a table",
    "model_type": "a table",
    "bool_type": "true or false",
    "float_type": "a number",
    "int_type": "a whole number",
    "string_type": "a string",
    "list_type": "an array",
}


def _toml_problem(error: Any) -> str:
    """A pydantic error on llmflation.toml in TOML's words: what the value should be and what it is."""
    expected = TOML_EXPECTED.get(error["type"])
    if expected is None:
        return str(error["msg"])
    return f"must be {expected}, not {_toml_value(error['input'])}"


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {json.dumps(value)}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"the value {value}"  # dates and times


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a number") from exc
    if value < 0:
        raise ConfigError(f"{name}={raw!r} must not be negative")
    return value


def _seconds(env: Mapping[str, str], name: str) -> float | None:
    """A number of seconds greater than zero (a deadline of 0 would end every fetch before it starts); None when
    not set."""
    if not env.get(name):
        return None
    value = _number(env, name, 0.0)
    if value == 0:
        raise ConfigError(f"{name}={env[name]!r} must be more than 0 seconds")
    return value


def prefect_environment(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Prefect variables to set before prefect is imported.

    With no Prefect API, profile or home configured by the user, Prefect's state goes into llmflation's data
    folder and its ephemeral server runs quietly; otherwise the user's Prefect configuration is left alone.
    """
    env = os.environ if environ is None else environ
    if any(env.get(name) for name in ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_HOME")):
        return {}
    if _profile_sets_api(Path(env.get("HOME") or Path.home()) / ".prefect" / "profiles.toml"):
        return {}
    wanted = {
        "PREFECT_HOME": str((settings.data_dir / "prefect").resolve()),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_TASKS_RUNNER_THREAD_POOL_MAX_WORKERS": "4",
    }
    return {name: value for name, value in wanted.items() if not env.get(name)}


def _profile_sets_api(profiles: Path) -> bool:
    """True when the user's active Prefect profile points at a server or Prefect Cloud."""
    import tomllib

    try:
        data = tomllib.loads(profiles.read_text())
    except (OSError, ValueError):
        return False
    active = data.get("active")
    profile = data.get("profiles", {}).get(active, {}) if isinstance(active, str) else {}
    return bool(profile.get("PREFECT_API_URL"))

"""The only place that reads the environment and llmflation.toml. Everything else takes a Settings argument."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, AliasChoices, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from llmflation.extractors.base import source_names

if TYPE_CHECKING:
    from llmflation.flows.alert_config import AlertConfig
    from llmflation.flows.workloads import Workload

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
CONFIG_FILE = "llmflation.toml"
# fields no single LLMFLATION_<FIELD> variable sets: one variable per source's URL, the file found before it is read,
# and alerts from llmflation.toml alone
NOT_FROM_ENV = ("source_urls", "source_options", "config_path", "alerts", "workloads")


class Settings(BaseSettings):
    """Resolved configuration of one llmflation process: Settings(...) is its arguments and the defaults, whatever
    the environment holds; Settings.from_env() adds LLMFLATION_* variables and llmflation.toml."""

    model_config = SettingsConfigDict(env_prefix="LLMFLATION_", env_ignore_empty=True, frozen=True, extra="forbid")

    db: Annotated[Path, AfterValidator(Path.expanduser)] = DEFAULT_DB
    source_urls: dict[str, str] = Field(default_factory=dict)  # LLMFLATION_<SOURCE>_URL, by source
    # LLMFLATION_<SOURCE>_<KEY> for the settings a source module declares (SETTINGS), by source; may hold secrets
    source_options: dict[str, dict[str, str]] = Field(default_factory=dict, repr=False)
    http_timeout: float = Field(30.0, ge=0)
    http_retries: int = Field(3, ge=0)
    http_backoff: float = Field(1.0, ge=0)
    http_max_retry_after: int = Field(120, ge=0)
    http_deadline: float = Field(300.0, gt=0)  # one fetch, from connecting to its body's last byte, retries included
    run_deadline: float | None = Field(None, gt=0)  # every fetch of a run is over this long after it starts
    removal_runs: int = Field(3, ge=0)
    suspect_ratio: float = Field(0.5, ge=0)
    cron: str = DEFAULT_CRON
    lock_wait: float = Field(3600.0, ge=0)  # seconds a flow waits for another run on the same warehouse
    hf_authors: Annotated[tuple[str, ...], NoDecode] = DEFAULT_HF_AUTHORS  # comma-separated in the environment
    hf_top_downloads: int = Field(300, ge=0)
    hf_top_trending: int = Field(100, ge=0)
    hf_page_size: int = Field(1000, ge=0)
    hf_census_pages_per_commit: int = Field(50, ge=1)  # a killed census refetches at most this many pages
    hf_census_memory_mb: int = Field(256, ge=64)  # DuckDB's memory limit while a census applies its changes
    hf_census_deadline: float = Field(7200.0, gt=0)  # the census's whole walk (each page: http_deadline as well)
    # a secret: never in repr, logs or the warehouse; HF_TOKEN, the Hub's own name for it
    hf_token: str | None = Field(None, repr=False, validation_alias=AliasChoices("hf_token", "HF_TOKEN"))
    export_dir: Path | None = None  # where a price run brings `llmflation export` up to date after it; None: no export
    config_path: Path | None = None  # llmflation.toml; None: no file, the built-in alert rule
    alerts: dict[str, Any] = Field(default_factory=dict, repr=False)  # [alerts], validated by alert_config()
    workloads: dict[str, Any] = Field(default_factory=dict, repr=False)  # [workloads.NAME], validated by workload()

    @field_validator("hf_authors", mode="before")
    @classmethod
    def _comma_separated(cls, authors: Any) -> Any:
        return tuple(a.strip() for a in authors.split(",") if a.strip()) if isinstance(authors, str) else authors

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: Any, **_: Any) -> tuple[Any]:
        return (init_settings,)  # the environment and llmflation.toml: from_env

    @property
    def data_dir(self) -> Path:
        """Folder of the warehouse file; raw payloads and Prefect's local state live under it."""
        return self.db.parent

    @property
    def lock_path(self) -> Path:
        return self.db.with_name(self.db.name + ".lock")

    def url_for(self, source: str) -> str:
        """The URL a source fetches: its LLMFLATION_<SOURCE>_URL override or its default."""
        from llmflation.extractors.base import source_module

        return self.source_urls.get(source) or source_module(source).URL

    @classmethod
    def from_env(cls, db: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
        """Explicit arguments first, then LLMFLATION_* variables (and HF_TOKEN), then llmflation.toml, then
        defaults."""
        env = os.environ if environ is None else environ
        config = _config_path(env)
        variables = {name: f"LLMFLATION_{name.upper()}_URL" for name in source_names()}
        urls = {name: env[variable] for name, variable in variables.items() if env.get(variable)}
        explicit = {
            "config_path": config,
            "source_urls": urls,
            "source_options": _source_options(env),
            **({"db": db} if db else {}),
        }
        try:
            return cls(**{**_toml(cls, config), **_Environment(cls, env)(), **explicit})
        except ValidationError as exc:
            raise ConfigError(_problem(exc.errors()[0], env, config)) from None

    def workload(self, name: str, **given: Any) -> Workload:
        """The workload profile `name` ([workloads.NAME] of llmflation.toml, or a built-in one: flows/workloads.py),
        with the amounts in `given` in place of the profile's."""
        from llmflation.flows.workloads import PROFILES, Workload

        where = self.config_path or CONFIG_FILE
        profiles = {**PROFILES, **self.workloads}
        if name not in profiles:
            raise ConfigError(f"no workload profile {name!r}; known: {', '.join(sorted(profiles))}")
        try:
            Workload.model_validate(profiles[name])
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(["workloads", name, *(str(part) for part in first["loc"])])
            source = where if name in self.workloads else "built-in profile"
            raise ConfigError(f"{source}: {loc}: {_toml_problem(first).removeprefix('Value error, ')}") from None
        return Workload.model_validate({**profiles[name], **given})  # a mistake in `given` is the caller's to name

    def alert_config(self, environ: Mapping[str, str] | None = None) -> AlertConfig:
        """The [alerts] of llmflation.toml, with channel URLs resolved from the environment (env:NAME) or left for
        a Prefect Secret block (prefect-secret:NAME); the built-in default rule when there is none."""
        from llmflation.flows.alert_config import AlertConfig

        env = os.environ if environ is None else environ
        where = self.config_path or CONFIG_FILE
        data = copy.deepcopy(self.alerts)
        channels = data.get("channels")
        for name, channel in (channels if isinstance(channels, dict) else {}).items():
            if isinstance(channel, dict) and isinstance(channel.get("url"), str):
                ref = channel["url"]
                if ref.startswith("env:"):
                    value = env.get(ref[4:])
                    if not value:
                        raise ConfigError(f"{where}: channel {name!r} reads {ref[4:]}, which is not set")
                    channel.update(url=value, ref=ref)
                elif ref.startswith("prefect-secret:"):
                    channel.update(url=None, ref=ref)
                else:
                    channel.update(ref="inline")
        try:
            return AlertConfig.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(["alerts", *(str(part) for part in first["loc"])])
            raise ConfigError(f"{where}: {loc}: {_toml_problem(first)}") from None


class _Environment(EnvSettingsSource):
    """LLMFLATION_<FIELD> variables (and HF_TOKEN) of a mapping: os.environ, or the one a caller gives."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.env_vars = {name.lower(): value for name, value in environ.items() if value}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name in NOT_FROM_ENV:
            return None, field_name, False
        return super().get_field_value(field, field_name)


def _toml(settings_cls: type[Settings], path: Path | None) -> dict[str, Any]:
    """The settings in llmflation.toml: any field but the secret, the source URLs and the file's own path."""
    import tomllib

    if path is None:
        return {}
    try:
        values = TomlConfigSettingsSource(settings_cls, path)()
    except UnicodeDecodeError as exc:
        where = f"byte 0x{exc.object[exc.start]:02x} at offset {exc.start}"
        raise ConfigError(f"{path}: not UTF-8 text ({where}); save it as UTF-8") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    known = sorted(set(settings_cls.model_fields) - {"source_urls", "source_options", "config_path", "hf_token"})
    for key in values:
        if key not in known:
            raise ConfigError(f'{path}: unknown key "{key}" (known: {", ".join(known)})')
    return values


def _source_options(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """LLMFLATION_<SOURCE>_<KEY> (the URL aside) for each key the source's module declares in SETTINGS; a key it
    does not declare stops the command, naming the ones it has. Only the modules of the sources named are read."""
    from llmflation.extractors.base import source_module

    names = sorted(source_names(), key=len, reverse=True)  # aws_bedrock before a source named aws
    found: dict[str, dict[str, str]] = {}
    for variable, value in env.items():
        rest = variable.lower().removeprefix("llmflation_")
        if not value or rest == variable.lower() or rest.endswith("_url"):
            continue
        name = next((name for name in names if rest.startswith(f"{name}_")), None)
        if name is None:
            continue
        key = rest.removeprefix(f"{name}_")
        declared = getattr(source_module(name), "SETTINGS", {})
        if key not in declared:
            keys = ", ".join(f"LLMFLATION_{name.upper()}_{k.upper()}" for k in ["url", *declared])
            raise ConfigError(f"{variable}: the source {name} has no setting {key!r} (it reads {keys})")
        found.setdefault(name, {})[key] = value
    return found


def _config_path(env: Mapping[str, str]) -> Path | None:
    """LLMFLATION_CONFIG (which must exist), else ./llmflation.toml when there is one."""
    named = env.get("LLMFLATION_CONFIG")
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigError(f"LLMFLATION_CONFIG={named!r}: no such file")
        return path
    local = Path(CONFIG_FILE)
    return local if local.is_file() else None


class ConfigError(ValueError):
    """A configuration value that cannot be used."""


def _problem(error: Any, env: Mapping[str, str], config: Path | None) -> str:
    """One line on the first bad value: the variable and its value, or where in llmflation.toml it is."""
    field = str(error["loc"][0])
    variable = "HF_TOKEN" if field == "hf_token" else f"LLMFLATION_{field.upper()}"
    if field not in NOT_FROM_ENV and env.get(variable):
        return f"{variable}={env[variable]!r} {_env_problem(error)}"
    return f"{config or CONFIG_FILE}: {'.'.join(str(part) for part in error['loc'])}: {_toml_problem(error)}"


def _env_problem(error: Any) -> str:
    kind, limits = error["type"], error.get("ctx", {})
    if kind == "float_parsing":
        return "is not a number"
    if kind == "int_parsing":
        return "is not a whole number"
    if kind == "greater_than":
        return f"must be more than {limits['gt']:g} seconds"  # only durations have an open lower bound
    if kind == "greater_than_equal":
        return "must not be negative" if limits["ge"] == 0 else f"must be at least {limits['ge']}"
    return f"is not valid: {error['msg']}"


# what a value of the wrong type in llmflation.toml should have been, by pydantic error type
TOML_EXPECTED = {
    "dict_type": "a table",
    "model_type": "a table",
    "bool_type": "true or false",
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
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
        "DO_NOT_TRACK": "1",  # Prefect's client telemetry, and its notice on a terminal
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


def use_own_prefect(settings: Settings) -> dict[str, str]:
    """Set Prefect's variables before prefect is imported (its state in the data folder, no telemetry) unless the
    user configured Prefect; the ones set."""
    own = prefect_environment(settings)
    os.environ.update(own)
    if "PREFECT_HOME" in own:  # Prefect does not create its home's parents
        Path(own["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    return own

"""Connection and location settings: the one module that reads the environment.

Precedence: environment variables, then the TOML config file (``LATTEPROV_CONFIG`` or
``<user config dir>/latteprov/config.toml``), then defaults. The password may also come from
the file that ``latteprov db start`` writes (mode 0600) next to the local server's data.
"""
from __future__ import annotations

import json
import os
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]
from dataclasses import dataclass, field, replace
from pathlib import Path

import platformdirs

from latteprov.errors import LatteprovError

DEFAULT_URI = "bolt://127.0.0.1:7687"


class ConfigError(LatteprovError):
    """The configuration file or environment is unusable."""


@dataclass(frozen=True)
class Settings:
    """Everything latteprov needs to find its database and its local files."""

    uri: str = DEFAULT_URI
    user: str = "neo4j"
    password: str | None = field(default=None, repr=False)
    database: str | None = None
    data_dir: Path = Path(platformdirs.user_data_dir("latteprov"))
    cache_dir: Path = Path(platformdirs.user_cache_dir("latteprov"))
    spool_dir: Path = Path(platformdirs.user_data_dir("latteprov")) / "spool"
    config_file: Path | None = None
    web_secret_key: str | None = field(default=None, repr=False)

    @property
    def server_dir(self) -> Path:
        """Home of the locally started Neo4j (data, logs, pid file)."""
        return self.data_dir / "neo4j"

    @property
    def password_file(self) -> Path:
        return self.server_dir / "password"

    def with_(self, **changes: object) -> "Settings":
        return replace(self, **changes)


def _config_path(env: os._Environ | dict) -> Path:
    named = env.get("LATTEPROV_CONFIG")
    if named:
        return Path(named).expanduser()
    return Path(platformdirs.user_config_dir("latteprov")) / "config.toml"


def _local_server_uri(server_dir: Path) -> str | None:
    """The URI of the server ``latteprov db start`` runs from ``server_dir``, if any."""
    try:
        state = json.loads((server_dir / "server.json").read_text())
        return f"bolt://127.0.0.1:{int(state['port'])}"
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_settings(env: os._Environ | dict | None = None) -> Settings:
    """Build the settings from the environment and the config file."""
    env = os.environ if env is None else env
    path = _config_path(env)
    values: dict[str, object] = {}
    if path.is_file():
        try:
            with path.open("rb") as fh:
                raw = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {path}: {exc}") from exc
        section = raw.get("neo4j", {})
        for key in ("uri", "user", "password", "database"):
            if key in section:
                values[key] = str(section[key])
        paths = raw.get("paths", {})
        for key in ("data_dir", "cache_dir", "spool_dir"):
            if key in paths:
                values[key] = Path(str(paths[key])).expanduser()
        if "secret_key" in raw.get("web", {}):
            values["web_secret_key"] = str(raw["web"]["secret_key"])
        values["config_file"] = path
    env_map = {
        "NEO4J_URI": "uri",
        "NEO4J_USER": "user",
        "NEO4J_USERNAME": "user",
        "NEO4J_PASSWORD": "password",
        "NEO4J_DATABASE": "database",
        "LATTEPROV_SECRET_KEY": "web_secret_key",
    }
    for var, key in env_map.items():
        if env.get(var):
            values[key] = env[var]
    if env.get("LATTEPROV_DATA_DIR"):
        values["data_dir"] = Path(env["LATTEPROV_DATA_DIR"]).expanduser()
    if env.get("LATTEPROV_CACHE_DIR"):
        values["cache_dir"] = Path(env["LATTEPROV_CACHE_DIR"]).expanduser()
    settings = Settings(**values)  # type: ignore[arg-type]
    spool = env.get("LATTEPROV_SPOOL")
    if spool:
        settings = settings.with_(spool_dir=Path(spool).expanduser())
    elif "spool_dir" not in values:
        settings = settings.with_(spool_dir=settings.data_dir / "spool")
    if "uri" not in values:
        settings = settings.with_(uri=_local_server_uri(settings.server_dir) or DEFAULT_URI)
    if settings.password is None and settings.password_file.is_file():
        settings = settings.with_(password=settings.password_file.read_text().strip())
    return settings

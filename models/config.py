"""Configuration: one TOML file, overridden by ``CAIGOU_*`` environment variables.

Every layer reads it (the crawler needs the database URL, the digests need SMTP), so it sits at the bottom.
A value ``[section] key`` is looked up as the environment variable ``CAIGOU_SECTION_KEY`` first, then in the
file, then the default. ``[database] url`` is therefore ``CAIGOU_DATABASE_URL``.

The file is, in order: ``--config FILE``; ``$CAIGOU_CONFIG``; ``./caigou.toml``;
``$XDG_CONFIG_HOME/caigou/caigou.toml`` (``~/.config/caigou/caigou.toml``). None is needed: the defaults work.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from caigou.models.errors import CaigouError


def _xdg(var: str, fallback: str) -> Path:
    return Path(os.environ.get(var) or Path.home() / fallback)


def default_config_path() -> Path | None:
    for candidate in (os.environ.get("CAIGOU_CONFIG"), "caigou.toml",
                      _xdg("XDG_CONFIG_HOME", ".config") / "caigou" / "caigou.toml"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


@dataclass(frozen=True)
class Config:
    """The parsed file (``values``) and where it came from (``path``, None when no file was found)."""

    path: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def get(self, section: str, key: str, default: Any = None) -> Any:
        env = os.environ.get(f"CAIGOU_{section}_{key}".upper())
        if env is not None:
            return _coerce(env, default)
        return self.values.get(section, {}).get(key, default)

    def section(self, section: str) -> dict[str, Any]:
        """A whole section, e.g. the list of configured crawls; environment overrides apply to scalar keys."""
        merged = dict(self.values.get(section, {}))
        prefix = f"CAIGOU_{section.upper()}_"
        for name, value in os.environ.items():
            if name.startswith(prefix):
                merged[name[len(prefix):].lower()] = value
        return merged

    @property
    def data_dir(self) -> Path:
        return Path(self.get("paths", "data_dir") or _xdg("XDG_DATA_HOME", ".local/share") / "caigou")

    @property
    def database_url(self) -> str:
        return self.get("database", "url") or f"sqlite:///{self.data_dir / 'caigou.db'}"


def _coerce(raw: str, default: Any) -> Any:
    """Environment values are strings; give them the type of the default where there is one."""
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError as exc:
            raise CaigouError(f"environment value {raw!r} is not a whole number") from exc
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError as exc:
            raise CaigouError(f"environment value {raw!r} is not a number") from exc
    return raw


def load_config(path: str | Path | None = None) -> Config:
    """Read the configuration file; a missing or malformed file named explicitly is a clear error."""
    chosen = Path(path) if path else default_config_path()
    if chosen is None:
        return Config()
    try:
        with open(chosen, "rb") as handle:
            return Config(path=chosen, values=tomllib.load(handle))
    except FileNotFoundError as exc:
        raise CaigouError(f"configuration file {chosen} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CaigouError(f"configuration file {chosen} is not valid TOML: {exc}") from exc

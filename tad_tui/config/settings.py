"""The frozen settings dataclasses, one a section, and what they say about paths."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tad_tui import paths
from tad_tui.config.key import Key
from tad_tui.config.schema import KEYS, SCHEMA
from tad_tui.telegram.proxy import Proxy, parse_proxy


@dataclass(frozen=True)
class GeneralSettings:
    data_dir: Path | None
    db_path: Path | None
    log_level: str
    audit_log: bool
    audit_log_max_size: int


@dataclass(frozen=True)
class TelegramSettings:
    api_id: int
    api_hash: str = field(repr=False)  # kept out of repr so logging the settings cannot leak it
    session_name: str
    flood_sleep_threshold: int
    proxy: str = field(repr=False)  # may hold a proxy password

    @property
    def proxy_url(self) -> Proxy | None:
        """The parsed ``proxy`` (validated when loaded), or None for a direct connection."""
        return parse_proxy(self.proxy)

    @property
    def has_credentials(self) -> bool:
        return bool(self.api_id and self.api_hash)


@dataclass(frozen=True)
class DownloadSettings:
    max_concurrent: int
    adaptive: bool
    chunk_size: int
    retry_attempts: int
    retry_delay: float
    parts_per_file: int
    filename_template: str
    unknown: str
    output_dir: Path | None


@dataclass(frozen=True)
class PerformanceSettings:
    max_memory_mb: int
    rate_limit_requests_per_second: float
    rate_limit_burst_size: int
    bandwidth_limit: int


@dataclass(frozen=True)
class MetadataSettings:
    extract_extended: bool
    verify_checksums: bool
    update_id3_tags: bool
    embed_cover: bool
    save_cover_file: bool


@dataclass(frozen=True)
class LibrarySettings:
    group_playlists: bool


@dataclass(frozen=True)
class NotificationSettings:
    enabled: bool
    on_batch_complete: bool
    on_file_failed: bool
    on_queue_empty: bool
    on_new_file: bool
    urls: tuple[str, ...] = field(default=(), repr=False)  # Apprise URLs hold tokens and passwords


@dataclass(frozen=True)
class FollowSettings:
    check_interval: float


@dataclass(frozen=True)
class UISettings:
    theme: str
    player: str


@dataclass(frozen=True)
class ServeSettings:
    host: str
    port: int
    token: str = field(repr=False)  # the browser's key to the app


@dataclass(frozen=True)
class DemoSettings:
    latency_ms: int
    bandwidth_per_connection: int
    signed_in: bool
    password: str = field(repr=False)
    catalogue_dir: Path | None
    output_dir: Path | None = None
    premium: bool = False
    account_download_limit: int = 2_000_000
    request_flood_limit: int = 50
    server_error_rate: float = 0.0
    other_dcs: bool = True
    connection_drop_rate: float = 0.0
    live_interval: float = 20.0


SECTION_CLASSES: dict[str, type] = {
    "general": GeneralSettings,
    "telegram": TelegramSettings,
    "downloads": DownloadSettings,
    "performance": PerformanceSettings,
    "metadata": MetadataSettings,
    "library": LibrarySettings,
    "notifications": NotificationSettings,
    "follow": FollowSettings,
    "ui": UISettings,
    "serve": ServeSettings,
    "demo": DemoSettings,
}


@dataclass(frozen=True)
class Settings:
    general: GeneralSettings
    telegram: TelegramSettings
    downloads: DownloadSettings
    performance: PerformanceSettings
    metadata: MetadataSettings
    library: LibrarySettings
    notifications: NotificationSettings
    follow: FollowSettings
    ui: UISettings
    serve: ServeSettings
    demo: DemoSettings
    config_file: Path | None = None  # the file actually read, if any

    def value(self, dotted: str) -> Any:
        """The value of ``"section.name"``; KeyError for an unknown key."""
        key = KEYS[dotted]
        return getattr(getattr(self, key.section), key.name)


def default_settings() -> Settings:
    """The built-in defaults alone, ignoring any file and the environment."""
    return build_settings({key.dotted: default_value(key) for key in SCHEMA}, None)


def build_paths(
    settings: Settings, *, demo: bool, named_for_demo: bool = False, output_on_command_line: bool = False
) -> paths.Paths:
    """The data dir and files these settings point at (``demo``: the demo's, see ``resolve_data_dir``).

    The demo keeps its database and downloads in its own data dir whatever ``general.db_path`` and
    ``downloads.output_dir`` say (from the config file or the environment: a real library's places),
    except a download folder named on this command line (``-o``, ``output_on_command_line``).
    """
    keep_output = not demo or output_on_command_line
    return paths.Paths(
        data_dir=paths.resolve_data_dir(settings.general.data_dir, demo=demo, named_for_demo=named_for_demo),
        db_override=None if demo else settings.general.db_path,
        output_override=settings.downloads.output_dir if keep_output else settings.demo.output_dir,
        catalogue_override=settings.demo.catalogue_dir,
    )


def ignored_by_demo(settings: Settings, *, output_on_command_line: bool = False) -> list[Key]:
    """The keys set for a real library that ``build_paths(demo=True)`` leaves aside, in schema order."""
    keys = [KEYS["general.db_path"]] if settings.general.db_path else []
    # With demo.output_dir the demo's download folder is named for it: nothing is left aside.
    if settings.downloads.output_dir and not output_on_command_line and settings.demo.output_dir is None:
        keys.append(KEYS["downloads.output_dir"])
    return keys


def build_settings(values: Mapping[str, Any], config_file: Path | None) -> Settings:
    """The settings of ``values`` (every key's, by ``"section.name"``), read from ``config_file``."""
    sections = {
        section: cls(**{key.name: values[key.dotted] for key in SCHEMA if key.section == section})
        for section, cls in SECTION_CLASSES.items()
    }
    return Settings(**sections, config_file=config_file)


def default_value(key: Key) -> Any:
    """``key``'s default as a loaded value (a path's "" is None: the default place)."""
    return None if key.kind == "path" and not key.default else key.default


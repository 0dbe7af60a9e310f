"""The typed settings, loaded and validated once.

Sources, lowest first: the defaults in ``SCHEMA`` < a ``config.toml`` file < environment variables <
command-line overrides. ``SCHEMA`` is the single description of every key: it validates input,
fills the frozen dataclasses and renders ``config.toml.example`` (``render_example``), so the
documentation cannot drift from the code. Every problem surfaces as one ``ConfigError`` whose
message is a single line naming where the value came from, the key, the value and what is allowed.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import shlex
import string
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tad_tui import paths
from tad_tui.sizes import format_size, format_size_exact, parse_size
from tad_tui.telegram.proxy import PROXY_RULE, Proxy, parse_proxy

Kind = Literal["bool", "int", "float", "size", "str", "choice", "path", "list"]

TEMPLATE_FIELDS = (
    "title",
    "performer",
    "album",
    "track_number",
    "date",
    "genre",
    "group",
    "topic",
    "message_id",
    "file_name",
    "ext",
)
CONFIG_ENV = "TAD_CONFIG"  # the config file's path when --config is not given
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
CHUNK_SIZES = tuple(4096 << shift for shift in range(9))  # 4 KiB .. 1 MiB, the sizes upload.getFile takes
MIN_BANDWIDTH = 16 * 1024
_TRUE_WORDS = ("true", "1", "yes")
_FALSE_WORDS = ("false", "0", "no")
_SESSION_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}")
_API_HASH_RE = re.compile(r"(?:[0-9a-fA-F]{32})?")
_MAX_SHOWN = 80  # longer values are cut in messages so they stay readable on one line


class ConfigError(Exception):
    """A bad configuration; ``str(error)`` is one line fit to show the user as-is."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message.replace("\r", " ").replace("\n", " "))
        self.key = key  # "section.name" when one key is at fault


@dataclass(frozen=True)
class Key:
    """One setting: where it lives, its kind and default, what is allowed, and its documentation."""

    section: str
    name: str
    kind: Kind
    default: Any
    doc: str
    env: str | None = None
    low: float | None = None  # inclusive bounds for int, float and size kinds
    high: float | None = None
    choices: tuple[str, ...] = ()
    check: Callable[[Any], None] | None = None  # extra rule; raises ValueError with the problem
    rule: str | None = None  # "allowed" text when the generated one would not say enough
    secret: bool = False  # never shown in messages

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}"

    @property
    def allowed(self) -> str:
        return self.rule or _generated_rule(self)


def _generated_rule(key: Key) -> str:
    if key.kind == "bool":
        return "true or false"
    if key.kind == "choice":
        return f"one of {', '.join(key.choices)} (any case)"
    if key.kind == "path":
        return 'a path ("~" and relative paths allowed), or "" for the default'
    if key.kind == "str":
        return "any text"
    if key.kind == "list":
        return "an array of strings (in an environment variable: separated by spaces or commas)"
    noun = {"int": "an integer", "float": "a number", "size": "a size"}[key.kind]
    show = _show_size if key.kind == "size" else _show_number
    bounds = f"from {show(key.low)} to {show(key.high)}" if key.high is not None else f"of at least {show(key.low)}"
    units = ' (bytes, or with a unit such as "512KiB" or "4MB")' if key.kind == "size" else ""
    return f"{noun} {bounds}{units}"


def _show_number(value: float | None) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _show_size(value: float | None) -> str:
    return format_size(int(value or 0))


# --- extra rules (each raises ValueError naming the problem) ---------------------------------


def _check_api_hash(value: str) -> None:
    if not _API_HASH_RE.fullmatch(value):
        raise ValueError("not 32 hexadecimal characters")


def _check_session_name(value: str) -> None:
    if not _SESSION_RE.fullmatch(value):
        raise ValueError("not a valid session name")


def _check_proxy(value: str) -> None:
    parse_proxy(value)  # raises ValueError naming the problem, never the password


def _check_demo_password(value: str) -> None:
    if len(value) > 256:
        raise ValueError("longer than 256 characters")
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError("contains a control character")


def _check_notify_urls(value: tuple[str, ...]) -> None:
    if value:  # Apprise is imported only when there is a URL to check
        from tad_tui.notify_urls import check_urls

        check_urls(value)  # raises ValueError naming the URL masked, never its secrets


def _check_host(value: str) -> None:
    if not value or len(value) > 253 or any(char.isspace() or char in "/@?#[]" for char in value):
        raise ValueError("empty" if not value else "not an address or host name")
    if ":" in value:  # only an IPv6 address has one; "nas:8765" is a port in the wrong place
        import ipaddress  # here: only serve's address needs it, not every start

        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            raise ValueError("not an address or host name (the port goes in serve.port)") from None


def _check_token(value: str) -> None:
    if value and not 16 <= len(value) <= 256:
        raise ValueError("shorter than 16 characters" if len(value) < 16 else "longer than 256 characters")
    if any(not char.isprintable() or char.isspace() for char in value):
        raise ValueError("contains a space or control character")


def _check_chunk_size(value: int) -> None:
    if value not in CHUNK_SIZES:
        raise ValueError("not a multiple of 4 KiB that divides 1 MiB")


def _check_bandwidth(value: int) -> None:
    if 0 < value < MIN_BANDWIDTH:
        raise ValueError("too low")


def _check_positive(value: float) -> None:
    if value <= 0:
        raise ValueError("must be greater than 0")


def _check_theme(value: str) -> None:
    if not 1 <= len(value) <= 64:
        raise ValueError("empty" if not value else "too long")


def _check_player(value: str) -> None:
    try:
        shlex.split(value)
    except ValueError as error:
        raise ValueError(f"not a command line: {error}") from None
    if "\0" in value:
        raise ValueError("contains a NUL character")


def _check_unknown(value: str) -> None:
    if len(value) > 64 or any(char in value for char in "/\\\0"):
        raise ValueError("too long" if len(value) > 64 else "holds a / or \\")


def _check_path(value: str) -> None:
    if "\0" in value:
        raise ValueError("contains a NUL character")


def check_filename_template(template: str) -> None:
    """Raise ValueError unless ``template`` is a str.format template over ``TEMPLATE_FIELDS``."""
    if not 1 <= len(template) <= 512:
        raise ValueError("empty" if not template else "longer than 512 characters")
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValueError(f"not a valid template ({error})") from None
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS:
            raise ValueError(f"unknown field {{{name}}}")
        if spec and ("{" in spec or "}" in spec):
            raise ValueError(f"the format spec of {{{name}}} cannot contain fields")
        if conversion not in (None, "s", "r", "a"):
            raise ValueError(f"unknown conversion !{conversion} in {{{name}}}")


# --- the schema ----------------------------------------------------------------------------

SECTION_DOCS: dict[str, str] = {
    "general": "Where tad-tui keeps its data, and how much it logs.",
    "telegram": "Telegram API credentials (from https://my.telegram.org) and client behaviour.",
    "downloads": "How files are fetched and where they are saved.",
    "performance": "Limits on memory, request rate and bandwidth.",
    "metadata": "What is checked and written after a file is downloaded.",
    "library": "What tad-tui keeps beside the downloaded files.",
    "notifications": "Notifications: on the desktop (or in the terminal), and to any service Apprise reaches (urls).",
    "follow": "Following groups (tad-tui follow, watch): their new audio is queued as it is posted.",
    "ui": "The full-screen terminal interface.",
    "serve": "The app in a browser (tad-tui serve): where it listens and the token every request needs.",
    "demo": "The offline demo (--demo): a simulated Telegram serving a generated catalogue.",
}

_TEMPLATE_RULE = (
    "a non-empty str.format template of at most 512 characters using only the fields "
    + " ".join(f"{{{name}}}" for name in TEMPLATE_FIELDS)
    + " (format specs such as {track_number:02} allowed)"
)

SCHEMA: tuple[Key, ...] = (
    Key("general", "data_dir", "path", "", 'Folder for the database, session, logs, cache and downloads; "" = the platform default (~/.local/share/tad-tui on Linux). The demo uses its demo/ sub-folder, except with --demo --data-dir DIR together (DIR is then the demo data dir).', env="TAD_DATA_DIR", check=_check_path),
    Key("general", "db_path", "path", "", 'The library database file; "" = <data_dir>/library.sqlite3. The demo ignores it: its library is always <demo data dir>/library.sqlite3.', env="DB_PATH", check=_check_path),
    Key("general", "log_level", "choice", "INFO", "How much goes into the log file.", env="LOG_LEVEL", choices=LOG_LEVELS),
    Key("general", "audit_log", "bool", True, "Record user actions, security events, files written and config changes in <data_dir>/logs/audit.jsonl (JSON lines, mode 0600, never secrets)."),
    Key("general", "audit_log_max_size", "size", 1_000_000, "Size at which the audit log is rotated; the 5 previous files are kept.", low=64 * 1024, high=1 << 30),
    Key("telegram", "api_id", "int", 0, "Your Telegram API id; 0 = not set.", env="API_ID", low=0, high=2147483647),
    Key("telegram", "api_hash", "str", "", 'Your Telegram API hash (secret); "" = not set.', env="API_HASH", check=_check_api_hash, rule='"" or exactly 32 hexadecimal characters', secret=True),
    Key("telegram", "session_name", "str", "tad", "Name of the Telegram session file kept in the data dir.", env="SESSION_NAME", check=_check_session_name, rule="1 to 64 characters of A-Z a-z 0-9 _ . -, not starting with '.'"),
    Key("telegram", "flood_sleep_threshold", "int", 60, "FLOOD_WAITs up to this many seconds are waited out silently.", low=0, high=86400),
    Key("telegram", "proxy", "str", "", 'Reach Telegram through this proxy, e.g. "socks5://user:password@127.0.0.1:1080" (socks5, socks4 or http); "" = connect directly. The password is never shown or logged.', env="TAD_PROXY", check=_check_proxy, rule=PROXY_RULE, secret=True),
    Key("downloads", "max_concurrent", "int", 3, "How many files of several parts (bigger than chunk_size) download at the same time; with adaptive = false, files of any size.", env="MAX_CONCURRENT_DOWNLOADS", low=1, high=32),
    Key("downloads", "adaptive", "bool", True, "Files of a single part (at most chunk_size) do not count against max_concurrent: they get slots of their own, as many as raise the files finished per second (grown while more files raise it, cut when they do not, on flood waits, memory pressure or a busy CPU; at most 64). performance --json shows the count and why (concurrency, concurrency_reason). false: max_concurrent files of any size."),
    Key("downloads", "chunk_size", "size", 1048576, "Bytes asked for per request (Telegram's upload.getFile rules apply).", low=4096, high=1048576, check=_check_chunk_size, rule="a size from 4 KiB to 1 MiB that is a multiple of 4 KiB and divides 1 MiB: " + ", ".join(format_size_exact(n) for n in CHUNK_SIZES)),
    Key("downloads", "retry_attempts", "int", 3, "How many times a failed download is retried.", low=0, high=100),
    Key("downloads", "retry_delay", "float", 5.0, "Seconds to wait before a retry.", low=0.0, high=3600.0),
    Key("downloads", "parts_per_file", "int", 8, "Parts of one file fetched at once over separate connections.", low=1, high=32),
    Key("downloads", "filename_template", "str", "{performer} - {title}.{ext}", "File name for a downloaded track, as a Python format string.", check=check_filename_template, rule=_TEMPLATE_RULE),
    Key("downloads", "unknown", "str", "Unknown", 'What a missing {performer}, {album} or {group} becomes in file names ("Unknown/Unknown/01 Intro.mp3"); "" = nothing, so a folder level it alone names is dropped.', check=_check_unknown, rule="at most 64 characters, no / or \\"),
    Key("downloads", "output_dir", "path", "", 'Folder downloads are saved to; "" = <data_dir>/downloads. The demo ignores it and saves to <demo data dir>/downloads, unless -o/--output names a folder on its command line.', env="DEFAULT_DOWNLOAD_DIR", check=_check_path),
    Key("performance", "max_memory_mb", "int", 1024, "Memory budget in MiB.", low=64, high=1048576),
    Key("performance", "rate_limit_requests_per_second", "float", 20.0, "Steady rate of Telegram API requests other than file parts (bandwidth_limit governs those).", low=0.0, high=1000.0, check=_check_positive, rule="a number greater than 0 and at most 1000"),
    Key("performance", "rate_limit_burst_size", "int", 40, "Requests allowed in a burst above the steady rate.", low=1, high=10000),
    Key("performance", "bandwidth_limit", "size", 0, "Total download bandwidth in bytes per second; 0 = unlimited. The Queue pane's l key can save a new limit here.", low=0, check=_check_bandwidth, rule='0 (unlimited) or a size of at least 16 KiB per second (bytes, or with a unit such as "2MB")'),
    Key("metadata", "extract_extended", "bool", True, "Read extended tags (album, genre, track number) from downloaded files."),
    Key("metadata", "verify_checksums", "bool", True, "Check each downloaded part: its bytes against the SHA-256 hashes Telegram holds for the file's ranges (upload.getFileHashes; a part that does not match is fetched again and never written; for a file Telegram gives no hashes for, the log says so and only the next check is made), and each part's CRC-32, read back from disk before the file is renamed into place. false: neither (parts kept from an interrupted run are still re-read against their CRC). Either way the library records checksum_md5, the MD5 of the file on disk (tags included), and source_md5, that of the bytes Telegram sent."),
    Key("metadata", "update_id3_tags", "bool", True, "Write title and performer from Telegram into the file's tags."),
    Key("metadata", "embed_cover", "bool", True, "Fetch a track's cover (the thumbnail Telegram keeps with the audio) and embed it in a file that has no picture: ID3 APIC (MP3), a FLAC picture block, METADATA_BLOCK_PICTURE (Ogg), MP4 covr. A cover that cannot be fetched is logged; the file completes without it."),
    Key("metadata", "save_cover_file", "bool", False, "Also write the cover as cover.jpg in the track's folder, when the folder has none."),
    Key("library", "group_playlists", "bool", False, "Keep a playlist of each group's downloaded tracks, in message order: <output_dir>/<group title>.m3u8 (extended M3U8, paths relative to it), rewritten when a batch of downloads finishes and when the queue runs empty, and removed when the group has no downloaded track left. false: none is written (tad-tui playlist writes one on demand)."),
    Key("notifications", "enabled", "bool", True, "Notify at all: on the desktop and to the urls below."),
    Key("notifications", "on_batch_complete", "bool", True, "Notify when a batch of downloads finishes."),
    Key("notifications", "on_file_failed", "bool", True, "Notify when a file fails for good."),
    Key("notifications", "on_queue_empty", "bool", True, "Notify when the download queue runs empty."),
    Key("notifications", "on_new_file", "bool", True, 'Notify when a followed group posts audio and it is queued ("New in Jazz Archive: …"; tad-tui follow).'),
    Key("notifications", "urls", "list", (), 'Also send each notification to these services, as Apprise URLs (https://github.com/caronc/apprise/wiki), e.g. ["ntfy://ntfy.sh/my-topic", "gotifys://gotify.example.com/TOKEN", "mailtos://user:app-password@gmail.com"]; [] = none. Sent in the background (a service that does not answer is given up after its timeout, Apprise\'s cto/rto URL options, 4 s each by default); one that fails is reported once. The URLs hold tokens and passwords: they are shown and logged masked. `tad-tui notify-test` sends a test message to each.', env="TAD_NOTIFY_URLS", check=_check_notify_urls, rule='an array of Apprise URLs, each of a service Apprise knows (in TAD_NOTIFY_URLS: separated by spaces or commas)', secret=True),
    Key("follow", "check_interval", "float", 300.0, "While the app or tad-tui watch runs, seconds between looks for new audio in each followed group besides what Telegram pushes (a newer-than search: what Telegram did not push is found this way); 0 = only at start and after a reconnection.", low=0.0, high=86400.0),
    Key("ui", "theme", "str", "textual-dark", "Colour theme (built-in or from the themes folder; checked when the UI starts).", check=_check_theme, rule="a name of 1 to 64 characters"),
    Key("ui", "player", "str", "", 'Command that plays a downloaded track when you press o in the app, the file\'s path added as its last argument (e.g. "mpv --no-video"); "" = the system\'s opener (xdg-open on Linux, open on macOS). Started detached, its output discarded.', check=_check_player, rule='"" or a command line (shell-style quoting)'),
    Key("serve", "host", "str", "127.0.0.1", 'Address tad-tui serve listens on. Loopback (127.0.0.1, ::1, localhost) by default, reached from elsewhere through an SSH tunnel; any other address (e.g. "0.0.0.0") needs a token. There is no TLS: put a TLS reverse proxy in front to expose it.', env="TAD_SERVE_HOST", check=_check_host, rule="an IP address or host name (no spaces, no scheme or port)"),
    Key("serve", "port", "int", 8765, "TCP port tad-tui serve listens on.", env="TAD_SERVE_PORT", low=1, high=65535),
    Key("serve", "token", "str", "", 'The token (secret) a browser must give once (?token= or the sign-in page) before tad-tui serve answers it; "" = on loopback a new random token each run, printed in the URL; off loopback one must be set. Never logged.', env="TAD_SERVE_TOKEN", check=_check_token, rule='"" or 16 to 256 printable characters without spaces', secret=True),
    Key("demo", "latency_ms", "int", 60, "Simulated round-trip time in milliseconds.", low=0, high=10000),
    Key("demo", "bandwidth_per_connection", "size", 4_000_000, "Simulated bandwidth of each connection in bytes per second; 0 = unlimited.", low=0, check=_check_bandwidth, rule='0 (unlimited) or a size of at least 16 KiB per second (bytes, or with a unit such as "4MB")'),
    Key("demo", "signed_in", "bool", True, "Whether a new demo session starts signed in; false makes the demo ask for a login (phone +15550100000, code 12345). An existing demo session keeps its state: `tad-tui --demo logout` signs it out."),
    Key("demo", "password", "str", "", 'The two-step verification password of the simulated account, asked after the code when signing in; "" = none.', check=_check_demo_password, rule="text of at most 256 characters without control characters", secret=True),
    Key("demo", "catalogue_dir", "path", "", 'Folder of the generated demo catalogue; "" = <data_dir>/cache/demo-catalogue (set it to share one catalogue between data dirs).', check=_check_path),
    Key("demo", "output_dir", "path", "", 'Folder the demo\'s downloads are saved to; "" = <demo data dir>/downloads. Apart from downloads.output_dir, so demo files never land in your library (a container image points it at /music/demo); -o/--output on the command line still wins.', env="TAD_DEMO_OUTPUT_DIR", check=_check_path),
    Key("demo", "premium", "bool", False, "Whether the simulated account has Telegram Premium; without it, file downloads share account_download_limit and Telegram answers more with FLOOD_PREMIUM_WAIT, as it does for most real accounts."),
    Key("demo", "account_download_limit", "size", 2_000_000, "What a non-Premium simulated account may download in bytes per second, over all its connections on all data centres; 0 = no limit.", low=0, check=_check_bandwidth, rule='0 (no limit) or a size of at least 16 KiB per second (bytes, or with a unit such as "2MB")'),
    Key("demo", "request_flood_limit", "int", 50, "Requests of one kind per second the simulated account may send before Telegram answers FLOOD_WAIT; 0 = no limit.", low=0, high=100_000),
    Key("demo", "server_error_rate", "float", 0.0, "Chance that a request starts a burst of 1 to 8 server errors (-500 INTERNAL, RPC_CALL_FAIL, -503 Timeout), as Telegram's servers have; 0 = never.", low=0.0, high=1.0),
    Key("demo", "other_dcs", "bool", True, "Whether about one demo file in four lives on another data centre (DC 1, 4 or 5), reached with an exported authorization as on Telegram; false keeps every file on the home DC."),
    Key("demo", "connection_drop_rate", "float", 0.0, "Chance that a file part's connection breaks before it is answered (Telethon reconnects and sends it again); 0 = never.", low=0.0, high=1.0),
    Key("demo", "live_interval", "float", 20.0, "Seconds between two new tracks in the demo channel @tad_demo_live (wall-clock time, also while nothing runs: a restarted watcher finds what was posted meanwhile, up to 30 tracks).", low=0.1, high=86_400.0),
)  # fmt: skip

KEYS: dict[str, Key] = {key.dotted: key for key in SCHEMA}
SECTIONS: tuple[str, ...] = tuple(SECTION_DOCS)


def describe_keys() -> tuple[Key, ...]:
    """Every key, in file order (for ``config`` listings and docs)."""
    return SCHEMA


# --- the settings --------------------------------------------------------------------------


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
    return _build({key.dotted: _default(key) for key in SCHEMA}, None)


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


# --- loading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """Where values come from: decides the error label and what relative paths are relative to."""

    kind: Literal["file", "env", "option"]
    base_dir: Path
    file: Path | None = None

    def where(self, key: Key) -> str:
        if self.kind == "file":
            return f"config file {self.file}, key {key.dotted}"
        if self.kind == "env":
            return f"environment variable {key.env} (for {key.dotted})"
        return f"command-line option for {key.dotted}"

    @property
    def label(self) -> str:
        return {"file": f"config file {self.file}", "env": "environment", "option": "command-line options"}[self.kind]


def load_settings(
    config_file: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Defaults < ``config_file`` (or the default one, if it exists) < ``env`` < ``overrides``."""
    values = {key.dotted: _default(key) for key in SCHEMA}
    environ = os.environ if env is None else env
    file = _pick_config_file(config_file, environ.get(CONFIG_ENV, "").strip())
    if file is not None:
        values.update(_file_values(_read_toml(file), _Source("file", file.parent, file)))
    values.update(_env_values(environ))
    values.update(_override_values(overrides or {}))
    return _build(values, file)


def _pick_config_file(given: Path | None, from_env: str = "") -> Path | None:
    """``--config``, else ``TAD_CONFIG``, else the user config dir's file if there is one."""
    if given is None and not from_env:
        default = paths.default_config_file()
        return default.absolute() if default.exists() else None  # the default file is optional
    file = Path(given or from_env).expanduser().absolute()
    if not file.exists():
        named = "" if given is not None else f" (from the environment variable {CONFIG_ENV})"
        raise ConfigError(f"config file {file}{named} does not exist")
    return file


def _read_toml(file: Path) -> dict[str, Any]:
    try:
        with file.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {file} is not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {file} is not valid TOML: it is not UTF-8 text") from None
    except OSError as error:
        raise ConfigError(f"config file {file} cannot be read: {error.strerror or error}") from None


def _file_values(document: Mapping[str, Any], source: _Source) -> Iterator[tuple[str, Any]]:
    for section, table in document.items():
        if section not in SECTION_DOCS:
            raise _unknown_section(section, table, source)
        if not isinstance(table, dict):
            raise ConfigError(f"{source.label}: [{section}] must be a section (a table), not a single value")
        for name, raw in table.items():
            key = KEYS.get(f"{section}.{name}")
            if key is None:
                raise _unknown_key(f"{section}.{name}", source)
            yield key.dotted, _coerce(key, raw, source, from_text=False)


def _env_values(env: Mapping[str, str]) -> Iterator[tuple[str, Any]]:
    for key in SCHEMA:
        text = env.get(key.env, "").strip() if key.env else ""
        if text:  # an empty variable counts as unset
            yield key.dotted, _coerce(key, text, _Source("env", Path.cwd()), from_text=True)


def _override_values(overrides: Mapping[str, object]) -> Iterator[tuple[str, Any]]:
    source = _Source("option", Path.cwd())
    for dotted, raw in overrides.items():
        key = KEYS.get(dotted)
        if key is None:
            raise _unknown_key(dotted, source)
        if raw is not None:  # None = flag not given, so argparse defaults can be passed through
            textual = isinstance(raw, str) and key.kind not in ("str", "choice", "path")
            yield key.dotted, _coerce(key, raw, source, from_text=textual)


def _build(values: Mapping[str, Any], config_file: Path | None) -> Settings:
    sections = {
        section: cls(**{key.name: values[key.dotted] for key in SCHEMA if key.section == section})
        for section, cls in SECTION_CLASSES.items()
    }
    return Settings(**sections, config_file=config_file)


def _default(key: Key) -> Any:
    return None if key.kind == "path" and not key.default else key.default


# --- one value -----------------------------------------------------------------------------


def _coerce(key: Key, raw: Any, source: _Source, *, from_text: bool) -> Any:
    """``raw`` checked against ``key`` and converted to its Python type, or a one-line ConfigError."""
    try:
        value = _from_text(key, raw) if from_text else _from_typed(key, raw)
        _check_bounds(key, value)
        if key.check is not None:
            key.check(value)
    except ValueError as error:
        shown = "value hidden" if key.secret else _shown(raw)
        raise ConfigError(
            f"{source.where(key)}: {error} (got {shown}); allowed: {key.allowed}", key=key.dotted
        ) from None
    return _to_path(value, source.base_dir) if key.kind == "path" else value


def _from_typed(key: Key, raw: Any) -> Any:
    """A value as TOML (or a typed override) gives it: the Python type must already be right."""
    if key.kind == "bool" and isinstance(raw, bool):
        return raw
    if key.kind == "int" and isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if key.kind == "float" and isinstance(raw, int | float) and not isinstance(raw, bool):
        return _finite(float(raw))
    if key.kind == "size" and isinstance(raw, int | str) and not isinstance(raw, bool):
        return parse_size(raw)
    if key.kind == "choice" and isinstance(raw, str):
        return _choice(key, raw)
    if key.kind == "path" and isinstance(raw, str | os.PathLike):
        return os.fspath(raw)
    if key.kind == "str" and isinstance(raw, str):
        return raw
    if key.kind == "list" and isinstance(raw, list | tuple):
        for number, item in enumerate(raw, start=1):
            if not isinstance(item, str):
                raise ValueError(f"expected an array of strings, but item {number} is {_type_noun(item)}")
        return tuple(item.strip() for item in raw if item.strip())
    raise ValueError(f"expected {_KIND_NOUNS[key.kind]}, not {_type_noun(raw)}")


def _from_text(key: Key, text: str) -> Any:
    """A value given as text (environment variables, string overrides), parsed by the key's kind."""
    text = text.strip()
    if key.kind == "bool":
        return _bool_word(text)
    if key.kind == "int":
        if not re.fullmatch(r"[+-]?\d+(?:_\d+)*", text):
            raise ValueError("not an integer")
        return int(text)
    if key.kind == "float":
        try:
            return _finite(float(text))
        except ValueError:
            raise ValueError("not a number") from None
    if key.kind == "size":
        return parse_size(text)
    if key.kind == "list":
        return tuple(split_list(text))
    return _from_typed(key, text)


def split_list(text: str) -> list[str]:
    """The items of a list given as text: separated by whitespace or commas, as Apprise takes URLs
    (a comma not followed by another "scheme://" stays inside the URL: a query's "to=a@x,b@y")."""
    items = []
    for word in text.split():
        items += [item for item in _LIST_COMMA.split(word.strip(",")) if item]
    return items


_LIST_COMMA = re.compile(r",+(?=[A-Za-z][A-Za-z0-9+.-]*://)")


_KIND_NOUNS = {
    "bool": "true or false",
    "int": "an integer",
    "float": "a number",
    "size": "a size (an integer or text such as \"4MB\")",
    "str": "a string",
    "choice": "a string",
    "path": "a string (a path)",
    "list": "an array of strings",
}


def _type_noun(raw: Any) -> str:
    if isinstance(raw, bool):
        return "a boolean"
    if isinstance(raw, dict):
        return "a table"
    if isinstance(raw, list):
        return "an array"
    nouns = {int: "an integer", float: "a number", str: "a string"}
    return nouns.get(type(raw), f"a {type(raw).__name__}")


def _bool_word(text: str) -> bool:
    word = text.lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError("not a boolean (use true/false, yes/no or 1/0)")


def _choice(key: Key, raw: str) -> str:
    if raw.upper() not in key.choices:
        raise ValueError("not one of the choices")
    return raw.upper()  # stored in the canonical spelling whatever case was typed


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _check_bounds(key: Key, value: Any) -> None:
    if key.kind not in ("int", "float", "size"):
        return
    if (key.low is not None and value < key.low) or (key.high is not None and value > key.high):
        raise ValueError("out of range")


def _to_path(value: str, base_dir: Path) -> Path | None:
    if not value:
        return None  # "" means "use the default", decided later by paths.Paths
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # "~" with no resolvable home directory
        path = Path(value)
    return path if path.is_absolute() else base_dir / path


def _shown(raw: Any) -> str:
    text = repr(os.fspath(raw) if isinstance(raw, os.PathLike) else raw)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


# --- unknown names -------------------------------------------------------------------------


def _unknown_section(section: str, table: Any, source: _Source) -> ConfigError:
    if not isinstance(table, dict):  # a key written above the first [section] header
        return _unknown_key(section, source)
    close = difflib.get_close_matches(section, SECTIONS, n=1)
    hint = f"did you mean [{close[0]}]?" if close else f"known sections: {', '.join(SECTIONS)}"
    return ConfigError(f"{source.label}: unknown section [{section}]; {hint}")


def _unknown_key(dotted: str, source: _Source) -> ConfigError:
    section, _, name = dotted.rpartition(".")
    in_section = [key.name for key in SCHEMA if key.section == section]
    close = difflib.get_close_matches(name, in_section, n=1)
    if close:
        hint = f"did you mean {section}.{close[0]}?"
    else:
        # Maybe the right name in the wrong section (or no section at all).
        elsewhere = difflib.get_close_matches(name, [key.name for key in SCHEMA], n=1)
        if elsewhere:
            hint = f"did you mean {next(k.dotted for k in SCHEMA if k.name == elsewhere[0])}?"
        elif in_section:
            hint = f"keys in [{section}]: {', '.join(in_section)}"
        else:
            hint = f"keys are written section.name, with sections {', '.join(SECTIONS)}"
    return ConfigError(f"{source.label}: unknown key {dotted!r}; {hint}", key=dotted)


# --- the example file ----------------------------------------------------------------------

_HEADER = """\
# tad-tui configuration: every key with its default, so this file as shipped changes nothing.
# Generated from the schema in tad_tui/config.py (render_example); do not edit it by hand.
#
# Precedence, lowest first: built-in defaults < this file < environment variables < command-line flags.
#
# tad-tui reads config.toml from the platformdirs user config dir:
#   Linux    ~/.config/tad-tui/config.toml  ($XDG_CONFIG_HOME/tad-tui/config.toml if set)
#   macOS    ~/Library/Application Support/tad-tui/config.toml
#   Windows  %LOCALAPPDATA%\\tad-tui\\config.toml
# Copy this file there and delete the keys you do not change. --config PATH, or the environment
# variable TAD_CONFIG=PATH, reads another file instead (then it must exist).
#
# Relative paths are relative to this file's folder and "~" is your home; "" means the default.
# Sizes are bytes (an integer) or text with a unit: B, KB MB GB TB (powers of 1000) or
# KiB MiB GiB TiB (powers of 1024); the bare K M G T are rejected as ambiguous.
#
# Environment variables (an empty one counts as unset):
"""


def render_example() -> str:
    """The text of ``config.toml.example``: a header, then every section and key at its default."""
    width = max(len(key.env) for key in SCHEMA if key.env)
    env_lines = [f"#   {key.env:<{width}}  {key.dotted}" for key in SCHEMA if key.env]
    blocks = [_HEADER + "\n".join(env_lines) + "\n"]
    blocks += [_render_section(section) for section in SECTIONS]
    return "\n".join(blocks)


def _render_section(section: str) -> str:
    lines = [f"# {SECTION_DOCS[section]}", f"[{section}]"]
    for key in SCHEMA:
        if key.section == section:
            lines += ["", f"# {key.doc}", f"# Allowed: {key.allowed}"]
            lines += [f"# Environment variable: {key.env}"] if key.env else []
            lines.append(f"{key.name} = {_toml_literal(key)}")
    return "\n".join(lines) + "\n"


def _toml_literal(key: Key) -> str:
    value = key.default
    if key.kind == "bool":
        return "true" if value else "false"
    if key.kind == "size":
        exact = format_size_exact(value)
        return exact if exact.isdigit() else _toml_string(exact)
    if key.kind in ("int", "float"):
        return repr(value)
    if key.kind == "list":
        return "[" + ", ".join(_toml_string(str(item)) for item in value) + "]"
    return _toml_string(str(value))


def _toml_string(text: str) -> str:
    escapes = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
    body = "".join(
        escapes.get(char) or (f"\\u{ord(char):04X}" if ord(char) < 32 or ord(char) == 127 else char)
        for char in text
    )
    return f'"{body}"'


def save_setting(config_file: Path, section: str, name: str, value: str | int, *, what: str) -> object:
    """Set ``[section] name`` in the config file, keeping every comment and other key as it was.

    Returns the value it had (None: unset). ``what`` names the change in an error ("the theme").
    The file is replaced in one rename: a crash never leaves half a config file.
    """
    import tomlkit

    try:
        text = config_file.read_text(encoding="utf-8") if config_file.exists() else ""
        document = tomlkit.parse(text)
    except OSError as error:
        raise ConfigError(f"cannot read {config_file} to save {what}: {error.strerror or error}") from None
    except tomlkit.exceptions.ParseError as error:
        raise ConfigError(f"cannot save {what}: {config_file} is not valid TOML ({error})") from None
    table = document.get(section)
    if table is None:
        table = tomlkit.table()
        document[section] = table
    old = table[name].unwrap() if name in table else None
    table[name] = value
    temporary = config_file.with_name(f".{config_file.name}.{os.getpid()}.tmp")
    try:
        config_file.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(tomlkit.dumps(document), encoding="utf-8")
        os.replace(temporary, config_file)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise ConfigError(f"cannot save {what} to {config_file}: {error.strerror or error}") from None
    return old

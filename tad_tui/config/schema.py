"""``SCHEMA``: every key, its section, kind, default, rules and documentation, in file order."""

from __future__ import annotations

from tad_tui.config.key import Key
from tad_tui.config.rules import (
    CHUNK_SIZES,
    TEMPLATE_FIELDS,
    check_api_hash,
    check_bandwidth,
    check_chunk_size,
    check_demo_password,
    check_filename_template,
    check_host,
    check_notify_urls,
    check_path,
    check_player,
    check_positive,
    check_proxy,
    check_session_name,
    check_theme,
    check_token,
    check_unknown,
)
from tad_tui.sizes import format_size_exact
from tad_tui.telegram.proxy import PROXY_RULE

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

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
    Key("general", "data_dir", "path", "", 'Folder for the database, session, logs, cache and downloads; "" = the platform default (~/.local/share/tad-tui on Linux). The demo uses its demo/ sub-folder, except with --demo --data-dir DIR together (DIR is then the demo data dir).', env="TAD_DATA_DIR", check=check_path),
    Key("general", "db_path", "path", "", 'The library database file; "" = <data_dir>/library.sqlite3. The demo ignores it: its library is always <demo data dir>/library.sqlite3.', env="DB_PATH", check=check_path),
    Key("general", "log_level", "choice", "INFO", "How much goes into the log file.", env="LOG_LEVEL", choices=LOG_LEVELS),
    Key("general", "audit_log", "bool", True, "Record user actions, security events, files written and config changes in <data_dir>/logs/audit.jsonl (JSON lines, mode 0600, never secrets)."),
    Key("general", "audit_log_max_size", "size", 1_000_000, "Size at which the audit log is rotated; the 5 previous files are kept.", low=64 * 1024, high=1 << 30),
    Key("telegram", "api_id", "int", 0, "Your Telegram API id; 0 = not set.", env="API_ID", low=0, high=2147483647),
    Key("telegram", "api_hash", "str", "", 'Your Telegram API hash (secret); "" = not set.', env="API_HASH", check=check_api_hash, rule='"" or exactly 32 hexadecimal characters', secret=True),
    Key("telegram", "session_name", "str", "tad", "Name of the Telegram session file kept in the data dir.", env="SESSION_NAME", check=check_session_name, rule="1 to 64 characters of A-Z a-z 0-9 _ . -, not starting with '.'"),
    Key("telegram", "flood_sleep_threshold", "int", 60, "FLOOD_WAITs up to this many seconds are waited out silently.", low=0, high=86400),
    Key("telegram", "proxy", "str", "", 'Reach Telegram through this proxy, e.g. "socks5://user:password@127.0.0.1:1080" (socks5, socks4 or http); "" = connect directly. The password is never shown or logged.', env="TAD_PROXY", check=check_proxy, rule=PROXY_RULE, secret=True),
    Key("downloads", "max_concurrent", "int", 3, "How many files of several parts (bigger than chunk_size) download at the same time; with adaptive = false, files of any size.", env="MAX_CONCURRENT_DOWNLOADS", low=1, high=32),
    Key("downloads", "adaptive", "bool", True, "Files of a single part (at most chunk_size) do not count against max_concurrent: they get slots of their own, as many as raise the files finished per second (grown while more files raise it, cut when they do not, on flood waits, memory pressure or a busy CPU; at most 64). performance --json shows the count and why (concurrency, concurrency_reason). false: max_concurrent files of any size."),
    Key("downloads", "chunk_size", "size", 1048576, "Bytes asked for per request (Telegram's upload.getFile rules apply).", low=4096, high=1048576, check=check_chunk_size, rule="a size from 4 KiB to 1 MiB that is a multiple of 4 KiB and divides 1 MiB: " + ", ".join(format_size_exact(n) for n in CHUNK_SIZES)),
    Key("downloads", "retry_attempts", "int", 3, "How many times a failed download is retried.", low=0, high=100),
    Key("downloads", "retry_delay", "float", 5.0, "Seconds to wait before a retry.", low=0.0, high=3600.0),
    Key("downloads", "parts_per_file", "int", 8, "Parts of one file fetched at once over separate connections.", low=1, high=32),
    Key("downloads", "filename_template", "str", "{performer} - {title}.{ext}", "File name for a downloaded track, as a Python format string.", check=check_filename_template, rule=_TEMPLATE_RULE),
    Key("downloads", "unknown", "str", "Unknown", 'What a missing {performer}, {album} or {group} becomes in file names ("Unknown/Unknown/01 Intro.mp3"); "" = nothing, so a folder level it alone names is dropped.', check=check_unknown, rule="at most 64 characters, no / or \\"),
    Key("downloads", "output_dir", "path", "", 'Folder downloads are saved to; "" = <data_dir>/downloads. The demo ignores it and saves to <demo data dir>/downloads, unless -o/--output names a folder on its command line.', env="DEFAULT_DOWNLOAD_DIR", check=check_path),
    Key("performance", "max_memory_mb", "int", 1024, "Memory budget in MiB.", low=64, high=1048576),
    Key("performance", "rate_limit_requests_per_second", "float", 20.0, "Steady rate of Telegram API requests other than file parts (bandwidth_limit governs those).", low=0.0, high=1000.0, check=check_positive, rule="a number greater than 0 and at most 1000"),
    Key("performance", "rate_limit_burst_size", "int", 40, "Requests allowed in a burst above the steady rate.", low=1, high=10000),
    Key("performance", "bandwidth_limit", "size", 0, "Total download bandwidth in bytes per second; 0 = unlimited. The Queue pane's l key can save a new limit here.", low=0, check=check_bandwidth, rule='0 (unlimited) or a size of at least 16 KiB per second (bytes, or with a unit such as "2MB")'),
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
    Key("notifications", "urls", "list", (), 'Also send each notification to these services, as Apprise URLs (https://github.com/caronc/apprise/wiki), e.g. ["ntfy://ntfy.sh/my-topic", "gotifys://gotify.example.com/TOKEN", "mailtos://user:app-password@gmail.com"]; [] = none. Sent in the background (a service that does not answer is given up after its timeout, Apprise\'s cto/rto URL options, 4 s each by default); one that fails is reported once. The URLs hold tokens and passwords: they are shown and logged masked. `tad-tui notify-test` sends a test message to each.', env="TAD_NOTIFY_URLS", check=check_notify_urls, rule='an array of Apprise URLs, each of a service Apprise knows (in TAD_NOTIFY_URLS: separated by spaces or commas)', secret=True),
    Key("follow", "check_interval", "float", 300.0, "While the app or tad-tui watch runs, seconds between looks for new audio in each followed group besides what Telegram pushes (a newer-than search: what Telegram did not push is found this way); 0 = only at start and after a reconnection.", low=0.0, high=86400.0),
    Key("ui", "theme", "str", "textual-dark", "Colour theme (built-in or from the themes folder; checked when the UI starts).", check=check_theme, rule="a name of 1 to 64 characters"),
    Key("ui", "player", "str", "", 'Command that plays a downloaded track when you press o in the app, the file\'s path added as its last argument (e.g. "mpv --no-video"); "" = the system\'s opener (xdg-open on Linux, open on macOS). Started detached, its output discarded.', check=check_player, rule='"" or a command line (shell-style quoting)'),
    Key("serve", "host", "str", "127.0.0.1", 'Address tad-tui serve listens on. Loopback (127.0.0.1, ::1, localhost) by default, reached from elsewhere through an SSH tunnel; any other address (e.g. "0.0.0.0") needs a token. There is no TLS: put a TLS reverse proxy in front to expose it.', env="TAD_SERVE_HOST", check=check_host, rule="an IP address or host name (no spaces, no scheme or port)"),
    Key("serve", "port", "int", 8765, "TCP port tad-tui serve listens on.", env="TAD_SERVE_PORT", low=1, high=65535),
    Key("serve", "token", "str", "", 'The token (secret) a browser must give once (?token= or the sign-in page) before tad-tui serve answers it; "" = on loopback a new random token each run, printed in the URL; off loopback one must be set. Never logged.', env="TAD_SERVE_TOKEN", check=check_token, rule='"" or 16 to 256 printable characters without spaces', secret=True),
    Key("demo", "latency_ms", "int", 60, "Simulated round-trip time in milliseconds.", low=0, high=10000),
    Key("demo", "bandwidth_per_connection", "size", 4_000_000, "Simulated bandwidth of each connection in bytes per second; 0 = unlimited.", low=0, check=check_bandwidth, rule='0 (unlimited) or a size of at least 16 KiB per second (bytes, or with a unit such as "4MB")'),
    Key("demo", "signed_in", "bool", True, "Whether a new demo session starts signed in; false makes the demo ask for a login (phone +15550100000, code 12345). An existing demo session keeps its state: `tad-tui --demo logout` signs it out."),
    Key("demo", "password", "str", "", 'The two-step verification password of the simulated account, asked after the code when signing in; "" = none.', check=check_demo_password, rule="text of at most 256 characters without control characters", secret=True),
    Key("demo", "catalogue_dir", "path", "", 'Folder of the generated demo catalogue; "" = <data_dir>/cache/demo-catalogue (set it to share one catalogue between data dirs).', check=check_path),
    Key("demo", "output_dir", "path", "", 'Folder the demo\'s downloads are saved to; "" = <demo data dir>/downloads. Apart from downloads.output_dir, so demo files never land in your library (a container image points it at /music/demo); -o/--output on the command line still wins.', env="TAD_DEMO_OUTPUT_DIR", check=check_path),
    Key("demo", "premium", "bool", False, "Whether the simulated account has Telegram Premium; without it, file downloads share account_download_limit and Telegram answers more with FLOOD_PREMIUM_WAIT, as it does for most real accounts."),
    Key("demo", "account_download_limit", "size", 2_000_000, "What a non-Premium simulated account may download in bytes per second, over all its connections on all data centres; 0 = no limit.", low=0, check=check_bandwidth, rule='0 (no limit) or a size of at least 16 KiB per second (bytes, or with a unit such as "2MB")'),
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


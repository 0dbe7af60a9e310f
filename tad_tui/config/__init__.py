"""The typed settings, loaded and validated once.

Sources, lowest first: the defaults in ``SCHEMA`` < a ``config.toml`` file < environment variables <
command-line overrides. ``SCHEMA`` is the single description of every key: it validates input,
fills the frozen dataclasses and renders ``config.toml.example`` (``render_example``), so the
documentation cannot drift from the code. Every problem surfaces as one ``ConfigError`` whose
message is a single line naming where the value came from, the key, the value and what is allowed.

The parts: ``key`` (what a setting is, ``ConfigError``), ``rules`` (the extra checks some keys have),
``schema`` (``SCHEMA``), ``settings`` (the dataclasses and the paths they point at), ``values`` (one
value parsed and checked), ``loading`` (file, environment, overrides), ``example`` (the example file)
and ``saving`` (one key written back into the file).
"""

from tad_tui.config.example import render_example
from tad_tui.config.key import ConfigError, Key, Kind
from tad_tui.config.loading import CONFIG_ENV, load_settings
from tad_tui.config.rules import CHUNK_SIZES, MIN_BANDWIDTH, TEMPLATE_FIELDS, check_filename_template
from tad_tui.config.saving import save_setting
from tad_tui.config.schema import KEYS, LOG_LEVELS, SCHEMA, SECTION_DOCS, SECTIONS, describe_keys
from tad_tui.config.settings import (
    SECTION_CLASSES,
    DemoSettings,
    DownloadSettings,
    FollowSettings,
    GeneralSettings,
    LibrarySettings,
    MetadataSettings,
    NotificationSettings,
    PerformanceSettings,
    ServeSettings,
    Settings,
    TelegramSettings,
    UISettings,
    build_paths,
    default_settings,
    ignored_by_demo,
)
from tad_tui.config.values import split_list

__all__ = [
    "CHUNK_SIZES",
    "CONFIG_ENV",
    "KEYS",
    "LOG_LEVELS",
    "MIN_BANDWIDTH",
    "SCHEMA",
    "SECTIONS",
    "SECTION_CLASSES",
    "SECTION_DOCS",
    "TEMPLATE_FIELDS",
    "ConfigError",
    "DemoSettings",
    "DownloadSettings",
    "FollowSettings",
    "GeneralSettings",
    "Key",
    "Kind",
    "LibrarySettings",
    "MetadataSettings",
    "NotificationSettings",
    "PerformanceSettings",
    "ServeSettings",
    "Settings",
    "TelegramSettings",
    "UISettings",
    "build_paths",
    "check_filename_template",
    "default_settings",
    "describe_keys",
    "ignored_by_demo",
    "load_settings",
    "render_example",
    "save_setting",
    "split_list",
]

"""The one surface the rest of tad-tui sees of Telegram: groups, audio, ranged reads, login.

Implemented once, over Telethon. The demo and the tests hand the same code a simulated client
(``telegram/sim``), so paging, entity handling and error classes are Telethon's own.
``model``: the :class:`Source` protocol and its records; ``telethon_source``: :class:`TelethonSource`;
``parse``: Telethon's chats and messages read into those records.
"""

from tad_tui.telegram.source.model import (
    AudioInfo,
    FileLocation,
    GroupInfo,
    MessageUpdate,
    NotAForum,
    Source,
    SourceError,
    TopicInfo,
    UpdateHandler,
)
from tad_tui.telegram.source.parse import GENERAL_TITLE, GENERAL_TOPIC, parse_audio, topic_of
from tad_tui.telegram.source.telethon_source import TelethonSource, explain_takeout

__all__ = [
    "GENERAL_TITLE",
    "GENERAL_TOPIC",
    "AudioInfo",
    "FileLocation",
    "GroupInfo",
    "MessageUpdate",
    "NotAForum",
    "Source",
    "SourceError",
    "TelethonSource",
    "TopicInfo",
    "UpdateHandler",
    "explain_takeout",
    "parse_audio",
    "topic_of",
]

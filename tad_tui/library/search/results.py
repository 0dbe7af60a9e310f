"""What a search returns: the hits, and how the line was read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tad_tui.library.search.query import ParsedQuery
from tad_tui.library.text import track_name


@dataclass(frozen=True, slots=True)
class SearchHit:
    id: int
    file_id: str
    title: str | None
    performer: str | None
    album: str | None
    file_name: str | None
    group: str
    format: str | None
    file_size: int
    duration: int | None
    status: str  # one of status.STATES: new, queued, running, downloaded…
    local_path: str | None
    checksum_md5: str | None  # of the file on disk
    source_md5: str | None  # of the bytes as Telegram sent them
    posted_at: datetime | None
    score: int  # 0-100, how well the words match (100 when there are none)

    @property
    def name(self) -> str:
        """What a person calls the track: title – performer (the title first: a narrow column keeps
        it), else the title or file name."""
        return track_name(self.title, self.performer, self.file_name, self.file_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "title": self.title,
            "performer": self.performer,
            "album": self.album,
            "group": self.group,
            "format": self.format,
            "file_size": self.file_size,
            "duration": self.duration,
            "status": self.status,
            "local_path": self.local_path,
            "checksum_md5": self.checksum_md5,
            "source_md5": self.source_md5,
            "score": self.score,
        }


@dataclass(frozen=True)
class SearchResult:
    hits: list[SearchHit]
    hints: list[str]  # unknown or malformed filters, groups that match nothing: shown beside the hits
    elapsed_ms: float
    matched: int  # tracks that match (counted up to the candidate cap)
    more: bool  # more tracks match than were counted: the TUI shows "400+"
    relaxed: bool  # no track has every word: these have some of them
    query: ParsedQuery

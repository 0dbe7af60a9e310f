"""Following groups (tad_tui/following.py) against the simulated Telegram's live channel, whose
posts reach the client as real updates through Telethon's update loop: new audio is stored, queued
and downloaded with the source's MD5; a match keeps what it finds; lost updates, a "too long" gap
and a broken link lose nothing; an unfollowed group stops; nothing is queued twice. The CLI's
``watch`` (SIGTERM, SIGKILL and a restart) is at the end. Nothing here asserts a time."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from telethon.sessions import MemorySession

from faults_support import cli_command, json_lines, write_config
from notify_support import Receiver
from tad_tui.config import default_settings
from tad_tui.download.events import EntryFinished, NewAudio, Notice
from tad_tui.engine import Engine
from tad_tui.paths import Paths
from tad_tui.store import AudioFile, Follow, Priority, QueueEntry, opened_store
from tad_tui.telegram.sim.catalogue import Catalogue, synthetic_catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.live import LIVE_TITLE, LIVE_USERNAME, LiveChannel, live_track
from tad_tui.telegram.sim.server import FaultRule, SimulatedTelegram
from tad_tui.telegram.source import TelethonSource

INTERVAL = 0.3  # seconds between the live channel's posts
LIVE = "@" + LIVE_USERNAME


@pytest.fixture(scope="module")
def small_catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    return synthetic_catalogue(tmp_path_factory.mktemp("synthetic"), sizes=[4096, 8192, 12288])


@dataclass
class Seen:
    """What the engine told: new files queued, files downloaded."""

    new: list[NewAudio] = field(default_factory=list)
    downloaded: list[EntryFinished] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, event: object) -> None:
        if isinstance(event, NewAudio):
            self.new.append(event)
        elif isinstance(event, EntryFinished) and event.outcome == "downloaded":
            self.downloaded.append(event)
        else:
            return
        self.changed.set()

    async def until(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    def new_ids(self) -> list[int]:
        return [_message_id(event.file_id) for event in self.new]


def _message_id(file_id: str) -> int:
    return int(file_id.rsplit("_", 1)[1])


@dataclass
class Rig:
    engine: Engine
    server: SimulatedTelegram
    seen: Seen

    async def follow(self, key: str = LIVE, **options: object) -> None:
        await self.engine.follow(key, **options)  # type: ignore[arg-type]

    async def run(self) -> asyncio.Task[object]:
        """Following and downloading, as ``watch`` does, until the test ends."""
        await self.engine.start_downloads()
        follower = await self.engine.start_following()
        return asyncio.create_task(self._forever(follower))

    async def _forever(self, follower: object) -> None:
        await asyncio.gather(self.engine.run_downloads(until_idle=False), follower.stay_connected())  # type: ignore[attr-defined]

    async def first_new_file(self) -> None:
        """Follow the live channel, run, and wait for its first new file."""
        await self.follow()
        await self.run()
        await self.seen.until(lambda: len(self.seen.new) >= 1)

    def posted(self) -> int:
        """The highest message id the live channel has now (post k is message k + 1)."""
        return self.server.live.count()

    async def posts_after(self, message_id: int, count: int) -> int:
        """Wait until ``count`` more posts exist after ``message_id``; returns the last one's id."""
        target = message_id + count
        async with asyncio.timeout(30):
            while self.posted() < target:
                await asyncio.sleep(INTERVAL / 3)
        return target


@pytest.fixture
async def rig(tmp_path: Path, small_catalogue: Catalogue) -> AsyncIterator[Rig]:
    server = SimulatedTelegram(small_catalogue, live=LiveChannel.every(tmp_path / "live", INTERVAL))
    source = TelethonSource(SimulatedClient(server, MemorySession(), receive_updates=True))
    base = default_settings()
    settings = replace(
        base,
        downloads=replace(base.downloads, retry_delay=0.0),
        follow=replace(base.follow, check_interval=0.0),  # only pushes, gaps and reconnections here
    )
    paths = Paths(tmp_path / "data", output_override=tmp_path / "out")
    paths.ensure()
    seen = Seen()
    async with opened_store(paths.db):
        engine = Engine(settings, paths, source)
        engine.events.subscribe(seen)
        await engine.connect()
        rig = Rig(engine, server, seen)
        try:
            yield rig
        finally:
            for task in asyncio.all_tasks():
                if task.get_coro().__qualname__ == "Rig._forever":  # type: ignore[union-attr]
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            await engine.close()
            await source.stop()


async def test_new_posts_are_downloaded_with_the_sources_md5(rig: Rig) -> None:
    before = rig.posted()  # posts that land while the follow scans are in the library: not new either
    await rig.follow()
    await rig.run()
    await rig.seen.until(lambda: len(rig.seen.downloaded) >= 3)
    assert all(message_id > before for message_id in rig.seen.new_ids())  # what it held was not new
    for event in rig.seen.downloaded:
        row = await AudioFile.get(file_id=event.file_id)
        source = rig.server.file(int(row.file_unique_id))
        assert hashlib.md5(Path(event.local_path).read_bytes()).hexdigest() == event.checksum_md5
        assert event.source_md5 == source.md5 and row.title == source.title
    ids = rig.seen.new_ids()
    assert ids == sorted(set(ids))  # each once, in order
    follow = (await rig.engine.follows())[0]
    assert follow.last_message_id >= max(ids) and follow.last_new_title is not None


async def test_a_followed_groups_new_file_is_sent_to_the_configured_services(rig: Rig, receiver: Receiver) -> None:
    notifications = replace(rig.engine.settings.notifications, urls=(receiver.url(),))
    rig.engine.settings = replace(rig.engine.settings, notifications=notifications)
    rig.engine.start_notifier(lambda title, message: None)
    await rig.first_new_file()
    first = rig.seen.new[0]
    sent = await asyncio.to_thread(receiver.wait_for, 1)
    assert (sent[0].title, sent[0].message) == (f"New in {first.group_title}", first.name)
    assert first.group_title == LIVE_TITLE


async def test_a_match_queues_only_what_it_finds(rig: Rig) -> None:
    soon = rig.posted() + 2  # a post to come (post k is message k + 1)
    performer = live_track(soon).performer
    await rig.follow(match=f'performer:"{performer}"', priority=Priority.HIGH)
    first = rig.posted()
    await rig.run()
    wanted: set[int] = set()
    last = first
    while len(wanted) < 2:  # until two posts of that performer came after the follow
        last = await rig.posts_after(last, 1)
        wanted |= {last} if live_track(last - 1).performer == performer else set()
    await rig.seen.until(lambda: wanted <= set(rig.seen.new_ids()))
    assert all(live_track(i - 1).performer == performer for i in rig.seen.new_ids())  # nothing else
    entries = await QueueEntry.all().prefetch_related("audio")
    assert entries and all(entry.priority == Priority.HIGH for entry in entries)
    assert all(entry.audio.performer == performer for entry in entries)


async def test_a_match_that_excludes_everything_queues_nothing(rig: Rig) -> None:
    await rig.follow(match="size>1GB")
    first = rig.posted()
    await rig.run()
    last = await rig.posts_after(first, 4)
    async with asyncio.timeout(30):  # every post looked at…
        while (await Follow.get(group__username=LIVE_USERNAME)).last_message_id < last:
            await asyncio.sleep(INTERVAL / 3)
    assert await AudioFile.filter(group__username=LIVE_USERNAME, message_id__gt=first).count() >= 4
    assert rig.seen.new == [] and await QueueEntry.all().count() == 0  # …and none queued


async def _every_post_arrives(rig: Rig, count: int) -> None:
    """``count`` more posts come; each one from the first new file on is queued, once."""
    last = await rig.posts_after(max(rig.seen.new_ids()), count)
    await rig.seen.until(lambda: max(rig.seen.new_ids()) >= last)
    ids = rig.seen.new_ids()
    assert set(range(min(ids), last + 1)) <= set(ids) and len(ids) == len(set(ids))


async def test_lost_updates_are_recovered(rig: Rig) -> None:
    await rig.first_new_file()
    rig.server.inject(FaultRule("UpdateNewChannelMessage", drop=True, times=3))
    await _every_post_arrives(rig, 6)
    assert [push for push in rig.server.pushes if push.dropped]  # three were lost on the way


async def test_a_too_long_gap_is_filled_by_a_scan(rig: Rig) -> None:
    await rig.first_new_file()
    rig.server.inject(FaultRule("GetChannelDifferenceRequest", damage="too_long"))
    rig.server.inject(FaultRule("UpdateNewChannelMessage", drop=True, times=4))
    await _every_post_arrives(rig, 7)


async def test_a_broken_link_loses_nothing(rig: Rig) -> None:
    await rig.first_new_file()
    rig.server.inject(FaultRule("GetUsersRequest", disconnect=True, outage=3 * INTERVAL))
    await rig.engine.source.client.get_me()  # the link breaks under it, for three posts' time
    await _every_post_arrives(rig, 6)
    assert rig.engine.source.client._sender.reconnects >= 1


async def test_a_catch_up_that_cannot_reach_telegram_is_said_once_per_failure(rig: Rig) -> None:
    from tad_tui.following import Follower
    from tad_tui.telegram.source import SourceError

    await rig.follow()
    told: list[Notice] = []
    rig.engine.events.subscribe(lambda event: told.append(event) if isinstance(event, Notice) else None)

    def no_network(*_args: object, **_kwargs: object) -> object:
        raise SourceError("cannot reach Telegram: no network")

    rig.engine.source.scan_audio = no_network  # type: ignore[method-assign]
    follower = Follower(rig.engine, check_interval=0)
    assert await follower.catch_up_all() == 0 and await follower.catch_up_all() == 0
    assert [(n.title, n.warning) for n in told] == [("Following", True)] * 2
    assert told[0].text.endswith("could not look for new audio: cannot reach Telegram: no network")


async def test_unfollow_stops_it(rig: Rig) -> None:
    await rig.first_new_file()
    assert (await rig.engine.unfollow(LIVE)) is not None
    stopped_at = rig.posted()
    count = len(rig.seen.new)
    await rig.posts_after(stopped_at, 4)
    await asyncio.sleep(INTERVAL)  # the last push handled
    assert len(rig.seen.new) <= count + 1  # one already on its way when the follow went
    assert await rig.engine.follows() == [] and await rig.engine.unfollow(LIVE) is None


async def test_two_groups_followed_at_once(rig: Rig, small_catalogue: Catalogue) -> None:
    quiet = "@" + small_catalogue.groups[0].username
    await rig.follow(quiet)
    await rig.follow(LIVE, match="size<1GB")
    assert [f.title for f in await rig.engine.follows()] == [small_catalogue.groups[0].title, "TAD Demo · Live Radio"]
    searches = len(rig.server.requests("SearchRequest"))
    await rig.run()
    assert len(rig.server.requests("SearchRequest")) > searches  # both caught up at the start
    await rig.seen.until(lambda: len(rig.seen.downloaded) >= 2)
    assert {event.group_title for event in rig.seen.new} == {"TAD Demo · Live Radio"}  # the quiet one posted nothing
    quiet_follow = next(f for f in await rig.engine.follows() if f.username == quiet[1:])
    assert quiet_follow.last_message_id == len(small_catalogue.groups[0].messages)


async def test_following_a_group_again_changes_how_and_a_bad_match_saves_nothing(rig: Rig) -> None:
    from tad_tui.following import FollowError

    await rig.follow(match="format:mp3")
    info, created = await rig.engine.follow(LIVE, match=None, priority=Priority.CRITICAL)
    assert not created and info.match is None and info.priority == "critical"
    with pytest.raises(FollowError, match="format"):
        await rig.engine.follow(LIVE, match="format:")
    assert (await rig.engine.follows())[0].priority == "critical"


# ---- the CLI: watch as a service --------------------------------------------------------------


def _config(tmp_path: Path, catalogue: Catalogue, interval: float) -> Path:
    return write_config(tmp_path / "config.toml", catalogue, extra_demo=f"live_interval = {interval}\n")


def _watch(config: Path, data: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli_command(config, data, "watch", "--json"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _run(config: Path, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli_command(config, data, *args), capture_output=True, text=True, timeout=120)


def _downloaded_ids(stdout: str) -> list[int]:
    return [_message_id(e["file_id"]) for e in json_lines(stdout) if e.get("event") == "downloaded"]


def _wait_for_posts(db: Path, count: int) -> None:
    """Until the watcher's library holds ``count`` live posts beyond what it had."""
    import sqlite3
    from contextlib import closing

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
                done = conn.execute("SELECT count(*) FROM audio_file WHERE status = 'completed'").fetchone()[0]
        except sqlite3.Error:
            done = 0
        if done >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} files downloaded in time")


def test_watch_downloads_new_posts_stops_on_sigterm_and_a_killed_watcher_misses_nothing(
    tmp_path: Path, demo_catalogue: Catalogue
) -> None:
    interval = 0.5
    config, data = _config(tmp_path, demo_catalogue, interval), tmp_path / "data"
    followed = _run(config, data, "follow", LIVE)
    assert followed.returncode == 0, followed.stderr
    (state,) = json.loads(_run(config, data, "following", "--json").stdout)
    assert state["title"] == "TAD Demo · Live Radio" and state["match"] is None
    db = data / "library.sqlite3"

    watcher = _watch(config, data)
    _wait_for_posts(db, 2)
    watcher.send_signal(signal.SIGTERM)
    out, err = watcher.communicate(timeout=60)
    assert watcher.returncode == 0, err
    first_run = _downloaded_ids(out)
    assert len(first_run) >= 2 and "Stopped" in err

    # Killed outright, then three posts while nothing runs: the next watcher fetches exactly those.
    watcher = _watch(config, data)
    _wait_for_posts(db, len(first_run) + 1)
    os.kill(watcher.pid, signal.SIGKILL)
    out, _ = watcher.communicate(timeout=60)
    before_restart = set(first_run) | set(_downloaded_ids(out))
    time.sleep(3 * interval + 0.2)
    watcher = _watch(config, data)
    try:
        _wait_for_posts(db, len(before_restart) + 4)
    finally:
        watcher.send_signal(signal.SIGTERM)
        out, err = watcher.communicate(timeout=60)
    assert watcher.returncode == 0, err
    events = json_lines(out)
    new = [_message_id(e["file_id"]) for e in events if e.get("event") == "new"]
    assert new and min(new) > 0 and len(new) == len(set(new))
    import sqlite3
    from contextlib import closing

    # A file finished just as the first watcher was killed is in the library though no line said so.
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        finished = {row[0] for row in conn.execute("SELECT message_id FROM audio_file WHERE status = 'completed'")}
    everything = before_restart | set(_downloaded_ids(out)) | finished
    assert set(range(min(everything), max(everything) + 1)) <= everything  # no post was missed…
    assert not (set(_downloaded_ids(out)) & before_restart) and not (set(new) & set(first_run))  # …none twice
    (state,) = json.loads(_run(config, data, "following", "--json").stdout)
    assert state["last_message_id"] >= max(everything) and state["last_new"]


# ---- edits and deletions (handed to the follower as Telethon's handlers hand them) -------------


async def _follower_with_new_file(rig: Rig) -> tuple[object, int, object]:
    """Following the live channel, downloads not started: one post handled, its file queued."""
    from tad_tui.following import Follower
    from tad_tui.telegram.source import MessageUpdate, parse_audio

    await rig.follow()
    follower = Follower(rig.engine, check_interval=0)
    info = await rig.engine.resolve_group(LIVE)
    (follow,) = await rig.engine.follows()
    last = await rig.posts_after(follow.last_message_id, 1)  # the next post: no gap for the follower to fill
    message = await rig.engine.source.client.get_messages(info.input_peer(), ids=last)
    audio = parse_audio(info.group_id, message)
    assert audio is not None
    await follower.on_update(MessageUpdate("new", info.group_id, (last,), audio))
    assert [event.file_id for event in rig.seen.new] == [audio.file_id]
    return follower, info.group_id, audio


async def test_an_edit_that_adds_audio_to_an_older_message_counts_once(rig: Rig) -> None:
    from tad_tui.telegram.source import MessageUpdate

    follower, group_id, audio = await _follower_with_new_file(rig)
    first = await AudioFile.filter(group_id=group_id).order_by("message_id").first()
    assert first is not None and first.message_id < audio.message_id
    await AudioFile.filter(id=first.pk).delete()  # as if it had been a text message when scanned…
    document = replace(audio.location, document_id=int(first.file_unique_id))  # type: ignore[attr-defined]
    older = replace(audio, message_id=first.message_id, location=document)  # …now edited to hold audio
    await follower.on_update(MessageUpdate("edited", group_id, (older.message_id,), older))  # type: ignore[attr-defined]
    await follower.on_update(MessageUpdate("edited", group_id, (older.message_id,), older))  # type: ignore[attr-defined]
    await follower.on_update(MessageUpdate("edited", group_id, (audio.message_id,), None))  # type: ignore[attr-defined]
    assert [_message_id(event.file_id) for event in rig.seen.new] == [audio.message_id, older.message_id]
    assert await AudioFile.filter(group_id=group_id, message_id=older.message_id).count() == 1
    assert await QueueEntry.all().count() == 2


async def test_a_deleted_message_cancels_its_queued_download_and_keeps_a_downloaded_file(rig: Rig) -> None:
    from tad_tui.store import QueueState
    from tad_tui.telegram.source import MessageUpdate

    follower, group_id, audio = await _follower_with_new_file(rig)
    kept = await AudioFile.filter(group_id=group_id).exclude(message_id=audio.message_id).first()
    assert kept is not None
    await AudioFile.filter(id=kept.pk).update(status="completed", local_path="/music/kept.mp3")
    await follower.on_update(MessageUpdate("deleted", group_id, (audio.message_id, kept.message_id)))  # type: ignore[attr-defined]
    entry = await QueueEntry.get(audio__file_id=audio.file_id)
    assert entry.state == QueueState.CANCELLED
    again = await AudioFile.get(id=kept.pk)
    assert again.status == "completed" and again.local_path == "/music/kept.mp3"  # nothing of it deleted


async def test_a_repost_of_a_file_already_queued_is_kept_in_the_library_but_not_queued_again(rig: Rig) -> None:
    from tad_tui.telegram.source import MessageUpdate

    follower, group_id, audio = await _follower_with_new_file(rig)
    repost = replace(audio, message_id=audio.message_id + 1)  # the same document, posted again
    await follower.on_update(MessageUpdate("new", group_id, (repost.message_id,), repost))  # type: ignore[attr-defined]
    assert [event.file_id for event in rig.seen.new] == [audio.file_id]  # no "new" for what is on its way
    assert await AudioFile.filter(group_id=group_id, message_id=repost.message_id).exists()
    assert await QueueEntry.all().count() == 1

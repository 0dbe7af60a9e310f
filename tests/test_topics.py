"""Forum topics on the simulated Telegram: ``groups --topics``, ``scan``/``download --topic``,
``{topic}`` in a template, the refusals, the source's topic reading and migration 0006."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest
from tortoise import Tortoise
from telethon import utils
from tortoise.migrations.api import migrate

from helpers import assert_one_clean_line, run
from tad_tui.store import AudioFile, GroupKind, TelegramGroup, close_store, open_store
from tad_tui.store.db import tortoise_config
from tad_tui.telegram.sim.catalogue import Catalogue, DemoGroup, DemoMessage
from tad_tui.telegram.source import NotAForum, TelethonSource, telethon_source
from tad_tui.telegram.source.parse import message_update

FORUM = "tad_demo_forum"
FORUM_ID = -1001000000016


@pytest.fixture
def dirs(tmp_path: Path, demo_config: Path) -> dict[str, str]:
    return {"config": str(demo_config), "data": str(tmp_path / "data"), "out": str(tmp_path / "out")}


def tad(dirs: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run("--config", dirs["config"], "--demo", "--data-dir", dirs["data"], *args)


def forum(catalogue: Catalogue) -> DemoGroup:
    return catalogue.group(FORUM)


def thread(message: DemoMessage) -> int:
    """The reference: the topic the catalogue put a message in (a creation message opens its own)."""
    return message.id if message.created_topic else message.topic


def audio_in(catalogue: Catalogue, topic: int) -> list[DemoMessage]:
    return [m for m in forum(catalogue).messages if m.file is not None and thread(m) == topic]


def library(dirs: dict[str, str], sql: str) -> list[tuple]:
    with closing(sqlite3.connect(Path(dirs["data"]) / "library.sqlite3")) as db:
        return db.execute(sql).fetchall()


def test_groups_topics_lists_the_forum_topics_as_telegram_does(dirs, demo_catalogue: Catalogue) -> None:
    group = forum(demo_catalogue)
    listed = tad(dirs, "groups", "--topics", "tad demo · FORUM", "--json")  # found as groups are: any case
    assert listed.returncode == 0, listed.stderr
    topics = json.loads(listed.stdout)
    newest = {t.id: max(m.id for m in group.messages if thread(m) == t.id) for t in group.topics}
    assert [(t["id"], t["title"], t["last_message_id"]) for t in topics] == sorted(
        ((t.id, t.title, newest[t.id]) for t in group.topics), key=lambda t: -t[2]
    )
    assert {t["title"] for t in topics} == {"General", "Jazz Standards", "Field Recordings", "Live Sessions",
                                           "Live Requests"}
    assert all(t["tracks"] == 0 for t in topics)  # nothing scanned yet

    scanned = tad(dirs, "scan", "@" + FORUM, "--topic", "jazz")
    assert scanned.returncode == 0, scanned.stderr
    jazz = audio_in(demo_catalogue, 2)
    assert f"{len(jazz)} new, {len(jazz)} in the library" in scanned.stdout
    stored = library(dirs, f"SELECT message_id, topic_id, topic_title FROM audio_file WHERE group_id = {FORUM_ID} "
                           "ORDER BY message_id")
    assert stored == [(m.id, 2, "Jazz Standards") for m in jazz] and len(jazz) == 4
    assert any(m.reply_to for m in jazz)  # a reply inside the topic is filed under the topic, not the message
    # One topic read: the other topics' messages are still unread, so the scan cursor stays.
    assert library(dirs, f"SELECT forum, last_message_id FROM telegram_group WHERE group_id = {FORUM_ID}") == [(1, 0)]

    # Tracks stored before the topics were known (a library from before them) are filed by a topic scan.
    with closing(sqlite3.connect(Path(dirs["data"]) / "library.sqlite3")) as db, db:
        db.execute(f"UPDATE audio_file SET topic_id = NULL, topic_title = NULL WHERE group_id = {FORUM_ID}")
    again = tad(dirs, "scan", FORUM, "--topic", "2")
    assert again.returncode == 0, again.stderr
    assert "0 new" in again.stdout and library(dirs, "SELECT DISTINCT topic_id FROM audio_file") == [(2,)]

    table = tad(dirs, "groups", "--topics", "@" + FORUM)
    assert table.returncode == 0, table.stderr
    rows = {line.split()[0]: line for line in table.stdout.splitlines()[2:]}
    assert rows["2"].split()[1:4] == ["Jazz", "Standards", "4"] and rows["3"].split()[3] == "0"


def test_download_topic_takes_only_its_messages_with_the_source_md5(dirs, demo_catalogue: Catalogue) -> None:
    field = audio_in(demo_catalogue, 3)
    result = tad(dirs, "download", "@" + FORUM, "--topic", "FÍELD rec", "-o", dirs["out"], "--json",
                 "-t", "{group}/{topic}/{title}.{ext}")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    done = {int(e["file_id"].rsplit("_", 1)[1]): e for e in events if e.get("event") == "downloaded"}
    assert sorted(done) == [m.id for m in field] and len(field) == 3
    assert events[-1] == {"downloaded": 3, "skipped": 0, "failed": 0}
    for message in field:
        event = done[message.id]
        path = Path(event["local_path"])
        assert path.parent == Path(dirs["out"]) / "TAD Demo · Forum" / "Field Recordings"
        assert message.file.md5 == event["source_md5"]  # the bytes Telegram sent; on disk, its cover embedded
        assert hashlib.md5(path.read_bytes()).hexdigest() == event["checksum_md5"]
    assert f"(3 of them in topic Field Recordings)" in result.stderr

    # General (topic 1): its messages carry no reply header; a topic with no audio downloads nothing.
    general = tad(dirs, "download", FORUM, "--topic", "1", "-o", dirs["out"], "--json", "-t", "{topic}/{title}.{ext}")
    assert general.returncode == 0, general.stderr
    paths = [json.loads(line)["local_path"] for line in general.stdout.splitlines()[:-1]]
    assert sorted(Path(p).relative_to(dirs["out"]).parts[0] for p in paths) == ["General"] * len(audio_in(demo_catalogue, 1))
    requests = tad(dirs, "download", FORUM, "--topic", "live req", "-o", dirs["out"], "--json")
    assert requests.returncode == 0, requests.stderr
    assert json.loads(requests.stdout.splitlines()[-1]) == {"downloaded": 0, "skipped": 0, "failed": 0}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("scan", "@" + FORUM, "--topic", "bossa"), "TAD Demo · Forum has no topic matching 'bossa': its topics are "
                                                   "1 General; 2 Jazz Standards; 3 Field Recordings; 4 Live Sessions; "
                                                   "5 Live Requests"),
        (("download", "@" + FORUM, "--topic", "live"), "'live' matches 2 topics of TAD Demo · Forum: 4 Live Sessions; "
                                                      "5 Live Requests; give more of the title or its id"),
        (("scan", "@tad_demo_mixes", "--topic", "1"), "TAD Demo · DJ Mixes is not a forum group: it has no topics"),
        (("groups", "--topics", "@tad_demo_archive"), "TAD Demo · Radio Archive is not a forum group: it has no topics"),
        (("download", "https://t.me/tad_demo_forum/2/13", "--topic", "2"), "--topic chooses within a group"),
    ],
)
def test_a_topic_that_cannot_be_chosen_is_one_line_and_exit_2(dirs, args: tuple[str, ...], words: str) -> None:
    result = tad(dirs, *args)
    assert result.returncode == 2
    assert words in assert_one_clean_line(result)


async def test_source_pages_topics_and_scans_one_topic(source: TelethonSource, monkeypatch: pytest.MonkeyPatch,
                                                       demo_catalogue: Catalogue) -> None:
    monkeypatch.setattr(telethon_source, "TOPICS_PAGE", 2)  # three pages for five topics
    info = await source.resolve_group("@" + FORUM)
    assert info.forum
    topics = await source.list_topics(info)
    assert sorted((t.id, t.title) for t in topics) == [(t.id, t.title) for t in forum(demo_catalogue).topics]
    pages = [page async for page in source.scan_audio(info, topic=1)]
    general = [audio for page in pages for audio in page]
    assert [(a.message_id, a.topic_id, a.topic_title) for a in general] == [
        (m.id, 1, "General") for m in audio_in(demo_catalogue, 1)
    ]
    whole = [audio for page in [p async for p in source.scan_audio(info)] for audio in page]
    assert {a.message_id: a.topic_id for a in whole} == {
        m.id: thread(m) for m in forum(demo_catalogue).messages if m.file is not None
    }
    mixes = await source.resolve_group("@tad_demo_mixes")
    with pytest.raises(NotAForum):
        await source.list_topics(mixes)
    assert all(a.topic_id is None for page in [p async for p in source.scan_audio(mixes)] for a in page)


async def test_topic_migration_adds_the_columns_and_rolls_back_keeping_the_rows(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    await open_store(path)
    try:
        group = await TelegramGroup.create(group_id=FORUM_ID, title="Forum", kind=GroupKind.MEGAGROUP, forum=True)
        await AudioFile.create(
            file_id=f"{FORUM_ID}_6", file_unique_id="6", file_size=10, group=group, message_id=6, document_id=6,
            access_hash=1, file_reference=b"r", dc_id=2, posted_at="2025-09-01T00:00:00+00:00", title="Waltz",
            topic_id=2, topic_title="Jazz Standards",
        )
    finally:
        await close_store()
    await migrate(config=tortoise_config(path), target="models.0005_follow")
    await Tortoise.close_connections()
    with closing(sqlite3.connect(path)) as db:
        assert not {"topic_id", "topic_title"} & {row[1] for row in db.execute("PRAGMA table_info('audio_file')")}
        assert "forum" not in {row[1] for row in db.execute("PRAGMA table_info('telegram_group')")}
        assert db.execute("SELECT message_id, title FROM audio_file").fetchall() == [(6, "Waltz")]  # the rows stay
        assert db.execute("SELECT rowid FROM audio_search WHERE audio_search MATCH 'waltz'").fetchall() == [(1,)]
    await open_store(path)  # applied again: the columns are back, empty
    try:
        audio = await AudioFile.get(message_id=6)
        assert (audio.topic_id, audio.topic_title) == (None, None)
        assert (await TelegramGroup.get(group_id=FORUM_ID)).forum is False
    finally:
        await close_store()


class _Pushed:
    """What Telethon's NewMessage handler is given: the message and the chat Telegram sent with it."""

    def __init__(self, message: object, chat: object) -> None:
        self.message, self.chat = message, chat
        self.chat_id = utils.get_peer_id(chat)


async def test_a_followed_forums_pushed_posts_keep_their_topics(
    source: TelethonSource, server, tmp_path: Path, demo_catalogue: Catalogue
) -> None:
    from tad_tui.config import default_settings
    from tad_tui.engine import Engine
    from tad_tui.following import Follower
    from tad_tui.paths import Paths
    from tad_tui.store import opened_store
    from tad_tui.store.models import Follow

    # The forum's last three posts: in Jazz Standards, Live Sessions, General (the only topic no message names).
    pushed = [m for m in forum(demo_catalogue).messages if m.file is not None][-3:]
    assert [thread(m) for m in pushed] == [2, 4, 1]
    titles = {topic.id: topic.title for topic in forum(demo_catalogue).topics}
    paths = Paths(tmp_path / "data", output_override=tmp_path / "out")
    paths.ensure()
    async with opened_store(paths.db):
        engine = Engine(default_settings(), paths, source)
        await engine.follow("@" + FORUM)
        # As if they came after the follow, while the app ran: not stored yet, and the library does not
        # know the title of Live Sessions (as for a topic opened since the scan).
        await AudioFile.filter(group_id=FORUM_ID, message_id__gte=pushed[0].id).delete()
        await AudioFile.filter(group_id=FORUM_ID, topic_id=4).update(topic_title=None)
        await TelegramGroup.filter(group_id=FORUM_ID).update(last_message_id=pushed[0].id - 1)
        await Follow.filter(group_id=FORUM_ID).update(last_message_id=pushed[0].id - 1)
        follower = Follower(engine, check_interval=0)
        info = await engine.resolve_group("@" + FORUM)
        chat = await source.client.get_entity(info.input_peer())
        asked = len(server.requests("GetForumTopicsRequest"))
        for message_id in range(pushed[0].id, pushed[-1].id + 1):
            message = await source.client.get_messages(info.input_peer(), ids=message_id)
            await follower.on_update(message_update("new", _Pushed(message, chat)))
        stored = await AudioFile.filter(group_id=FORUM_ID, message_id__gte=pushed[0].id).order_by("message_id")
        assert [(row.message_id, row.topic_id, row.topic_title) for row in stored] == [
            (m.id, thread(m), titles[thread(m)]) for m in pushed
        ]
        assert len(server.requests("GetForumTopicsRequest")) > asked  # the unknown title, asked of Telegram
        await engine.close()

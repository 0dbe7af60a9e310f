"""The simulated Telegram's updates, through Telethon's own update loop (MessageBox, gap handling,
getChannelDifference): the live channel @tad_demo_live posts, the server pushes, events arrive."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from helpers import run
from telethon import events, utils
from telethon.sessions import MemorySession
from telethon.tl import functions, types

from tad_tui.telegram.sim.catalogue import Catalogue, synthetic_catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.live import (
    LIVE_USERNAME,
    MAX_BACKLOG,
    LiveChannel,
    Schedule,
    live_track,
)
from tad_tui.telegram.sim.server import FaultRule, SimulatedTelegram

INTERVAL = 0.3  # seconds between posts: a test waits a few of them


@pytest.fixture(scope="module")
def small_catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    """One tiny static group besides the live channel: quick to make, enough to prove both answer."""
    return synthetic_catalogue(tmp_path_factory.mktemp("synthetic"), sizes=[4096, 8192])


@pytest.fixture
def live_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("live")


def _server(catalogue: Catalogue, live_dir: Path, interval: float = INTERVAL, **options: object) -> SimulatedTelegram:
    return SimulatedTelegram(catalogue, live=LiveChannel.every(live_dir, interval), **options)  # type: ignore[arg-type]


class Received:
    """What an events.NewMessage handler saw: messages by id, and a way to wait for some."""

    def __init__(self) -> None:
        self.messages: dict[int, object] = {}
        self._changed = asyncio.Event()

    async def handler(self, event: events.NewMessage.Event) -> None:
        self.messages[event.message.id] = event.message
        self._changed.set()

    async def until(self, condition: Callable[[dict[int, object]], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition(self.messages):
                self._changed.clear()
                await self._changed.wait()


async def _following(server: SimulatedTelegram, session: object = None, **options: object) -> tuple[SimulatedClient, Received]:
    client = SimulatedClient(server, session if session is not None else MemorySession(), receive_updates=True, **options)  # type: ignore[arg-type]
    received = Received()
    client.add_event_handler(received.handler, events.NewMessage())
    await client.connect()
    return client, received


@pytest.fixture
async def live_server(small_catalogue: Catalogue, live_dir: Path) -> AsyncIterator[SimulatedTelegram]:
    server = _server(small_catalogue, live_dir)
    yield server
    assert server.subscribed() == 0  # every test disconnects its clients: the timer stopped with them


async def test_new_posts_arrive_as_new_message_events_with_their_audio(live_server: SimulatedTelegram) -> None:
    client, received = await _following(live_server)
    try:
        first = await live_server.post_due()
        await received.until(lambda got: len(got) >= 2)
        ids = sorted(received.messages)
        assert ids[0] >= first and ids == list(range(ids[0], ids[0] + len(ids)))  # none from before it connected
        message = received.messages[ids[0]]
        assert isinstance(message.peer_id, types.PeerChannel) and message.peer_id.channel_id == live_server.live.group.id
        track = live_track(ids[0] - 1)
        assert message.file.title == track.title and message.file.performer == track.performer
        assert message.file.duration == track.duration and message.file.mime_type == "audio/mpeg"
        data = await client.download_media(message, file=bytes)
        assert hashlib.md5(data).hexdigest() == live_server.file(message.document.id).md5
        assert 5_000 < len(data) < 200_000
        pushed = [push for push in live_server.pushes if not push.dropped]
        assert [push.pts for push in pushed][: len(ids)] == ids
    finally:
        await client.disconnect()


async def test_a_dropped_update_is_recovered_by_telethons_gap_handling(live_server: SimulatedTelegram) -> None:
    client, received = await _following(live_server)
    try:
        await received.until(lambda got: len(got) >= 1)  # the channel is known (pts, access hash)
        live_server.inject(FaultRule("UpdateNewChannelMessage", drop=True))
        async with asyncio.timeout(10):
            while not (dropped := [push.pts for push in live_server.pushes if push.dropped]):
                await asyncio.sleep(0.02)
        assert dropped[0] not in received.messages
        await received.until(lambda got: max(got) >= dropped[0] + 1)
        assert {dropped[0], dropped[0] + 1} <= set(received.messages)  # the lost one too
        assert len(dropped) == 1
        # The gap (the next post's pts two past the last) was filled by asking for the difference.
        assert live_server.requests("GetChannelDifferenceRequest")
    finally:
        await client.disconnect()


async def _stopped_after_a_post(server: SimulatedTelegram) -> tuple[MemorySession, int]:
    """A client that followed the live channel until one post arrived, then stopped: its session
    (Telethon saved the channel's pts in it) and that pts."""
    client, received = await _following(server)
    try:
        await received.until(lambda got: len(got) >= 1)
    finally:
        await client.disconnect()
    session = client.session
    pts = dict(session.get_update_states())[server.live.group.id].pts
    assert pts >= max(received.messages)
    return session, pts


async def test_channel_difference_from_an_old_pts_is_exactly_what_was_missed(
    small_catalogue: Catalogue, live_dir: Path
) -> None:
    server = _server(small_catalogue, live_dir)
    session, seen = await _stopped_after_a_post(server)
    await asyncio.sleep(3 * INTERVAL + 0.05)  # three posts while nothing runs
    restarted, caught = await _following(server, session, catch_up=True)
    try:
        await caught.until(lambda got: len(got) >= 3)
        first = min(caught.messages)
        assert first == seen + 1
        assert sorted(caught.messages)[:3] == [seen + 1, seen + 2, seen + 3]
        difference = server.requests("GetChannelDifferenceRequest")
        assert difference
    finally:
        await restarted.disconnect()


async def test_channel_difference_answers_by_telegrams_rules(small_catalogue: Catalogue, live_dir: Path) -> None:
    ticks = [1_000_000.0]
    live = LiveChannel(live_dir, Schedule.starting(ticks[0], 10.0, initial=8), clock=lambda: ticks[0])
    server = SimulatedTelegram(small_catalogue, live=live)
    client = SimulatedClient(server)
    await client.connect()
    try:
        channel = await client.get_input_entity(LIVE_USERNAME)
        assert await server.post_due() == 8

        def ask(pts: int, limit: int = 100) -> functions.updates.GetChannelDifferenceRequest:
            return functions.updates.GetChannelDifferenceRequest(
                channel=utils.get_input_channel(channel), filter=types.ChannelMessagesFilterEmpty(), pts=pts, limit=limit
            )

        empty = await client(ask(8))
        assert isinstance(empty, types.updates.ChannelDifferenceEmpty) and empty.pts == 8 and empty.final
        some = await client(ask(5))
        assert isinstance(some, types.updates.ChannelDifference) and some.pts == 8
        assert [m.id for m in some.new_messages] == [6, 7, 8]
        too_long = await client(ask(2, limit=3))
        assert isinstance(too_long, types.updates.ChannelDifferenceTooLong)
        assert too_long.dialog.pts == 8 and too_long.dialog.top_message == 8
        assert [m.id for m in too_long.messages] == [8, 7, 6]
        server.inject(FaultRule("GetChannelDifferenceRequest", damage="too_long"))
        forced = await client(ask(7))
        assert isinstance(forced, types.updates.ChannelDifferenceTooLong) and forced.dialog.pts == 8
        ticks[0] += 25.0  # two more posts
        assert await server.post_due() == 10
        later = await client(ask(8))
        assert [m.id for m in later.new_messages] == [9, 10]
        static = server.catalogue.groups[0]
        entity = await client.get_input_entity(static.username)
        answer = await client(
            functions.updates.GetChannelDifferenceRequest(
                channel=utils.get_input_channel(entity), filter=types.ChannelMessagesFilterEmpty(), pts=len(static.messages), limit=100
            )
        )
        assert isinstance(answer, types.updates.ChannelDifferenceEmpty) and answer.pts == len(static.messages)
    finally:
        await client.disconnect()


async def test_a_too_long_difference_moves_telethon_to_the_channels_pts(
    small_catalogue: Catalogue, live_dir: Path
) -> None:
    server = _server(small_catalogue, live_dir)
    session, old = await _stopped_after_a_post(server)
    await asyncio.sleep(2 * INTERVAL + 0.05)
    server.inject(FaultRule("GetChannelDifferenceRequest", damage="too_long"))
    restarted, caught = await _following(server, session, catch_up=True)
    try:
        async with asyncio.timeout(10):
            while not server.requests("GetChannelDifferenceRequest"):
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        missed = [m for m in caught.messages if m <= old + 2]
        assert missed == []  # Telethon gives no events for a TooLong: a scan must fill that gap
        assert restarted._message_box.map[server.live.group.id].pts >= old + 2
    finally:
        await restarted.disconnect()


async def test_updates_keep_flowing_after_a_reconnection(live_server: SimulatedTelegram) -> None:
    client, received = await _following(live_server)
    try:
        await received.until(lambda got: len(got) >= 1)
        live_server.inject(FaultRule("GetUsersRequest", disconnect=True, outage=2 * INTERVAL))
        await client.get_me()  # the link breaks under it, for two posts' time
        assert client._sender.reconnects == 1
        before = max(received.messages)
        await received.until(lambda got: max(got) >= before + 4)
        assert set(range(before, before + 5)) <= set(received.messages)  # none lost: the gap was fetched
    finally:
        await client.disconnect()


async def test_the_same_post_is_the_same_track_on_two_servers(
    small_catalogue: Catalogue, tmp_path_factory: pytest.TempPathFactory
) -> None:
    at = [2_000_000.0]
    first = LiveChannel(tmp_path_factory.mktemp("a"), Schedule.starting(at[0], 20.0), clock=lambda: at[0])
    second = LiveChannel(tmp_path_factory.mktemp("b"), Schedule.starting(at[0] - 40.0, 20.0), clock=lambda: at[0])
    one, other = SimulatedTelegram(small_catalogue, live=first), SimulatedTelegram(small_catalogue, live=second)
    await one.post_due()
    await other.post_due()
    for k in (0, 1, 2):
        a, b = first.rendered(k), second.rendered(k)
        assert a is not None and b is not None and a.path != b.path
        assert (a.document_id, a.size, a.md5, a.title) == (b.document_id, b.size, b.md5, b.title)
        assert hashlib.md5(a.path.read_bytes()).hexdigest() == a.md5 == b.md5
    assert first.rendered(1).md5 != first.rendered(2).md5


def test_the_schedule_never_rewrites_the_past() -> None:
    start = Schedule.starting(1000.0, 20.0)
    assert start.count(1000.0) == 3 and start.count(1019.9) == 3 and start.count(1020.0) == 4
    assert start.time_of(0) == 960.0
    same = start.resume(1100.0, 20.0, seen=4)
    assert same is start and same.count(1100.0) == 8
    slower = start.resume(1100.0, 60.0, seen=8)
    assert slower.count(1100.0) == 8 and slower.time_of(5) == start.time_of(5) and slower.count(1160.0) == 9
    back = start.resume(1000.0 + 20.0 * 1000, 20.0, seen=5)  # a long silence: at most MAX_BACKLOG kept
    assert back.count(1000.0 + 20.0 * 1000) == 5 + MAX_BACKLOG
    assert Schedule.from_json(back.to_json()).to_json() == back.to_json()


async def test_the_demo_state_file_keeps_the_channels_history(small_catalogue: Catalogue, tmp_path: Path, live_dir: Path) -> None:
    state = tmp_path / "demo-telegram.json"
    now = [5_000_000.0]
    first = SimulatedTelegram(
        small_catalogue, state_file=state, live=LiveChannel.every(live_dir, 20.0, clock=lambda: now[0])
    )
    assert await first.post_due() == 3
    now[0] += 45.0
    again = SimulatedTelegram(
        small_catalogue, state_file=state, live=LiveChannel.every(live_dir, 20.0, clock=lambda: now[0])
    )
    assert await again.post_due() == 5  # not a new channel of three posts: the same one, two posts on
    assert again.live.time_of(0) == first.live.time_of(0)


async def test_a_client_without_updates_is_never_pushed_to(live_server: SimulatedTelegram) -> None:
    client = SimulatedClient(live_server)
    await client.connect()
    try:
        dialogs = await client.get_dialogs()
        assert LIVE_USERNAME in {getattr(d.entity, "username", None) for d in dialogs}
        await asyncio.sleep(2 * INTERVAL)
        assert live_server.subscribed() == 0 and live_server.pushes == []
        assert not live_server.requests("GetStateRequest")
    finally:
        await client.disconnect()


async def test_the_demo_client_receives_updates_only_when_asked(demo_config: Path, tmp_path: Path) -> None:
    from tad_tui.config import build_paths, load_settings
    from tad_tui.runtime import build_source

    settings = load_settings(demo_config, env={}, overrides={"general.data_dir": str(tmp_path), "demo.live_interval": 0.5})
    paths = build_paths(settings, demo=True)
    paths.ensure()
    without = load_settings(demo_config, env={}, overrides={"general.data_dir": str(tmp_path), "telegram.session_name": "other"})
    assert build_source(without, paths, demo=True).client._no_updates  # the default
    source = build_source(settings, paths, demo=True, receive_updates=True)
    client = source.client
    received = Received()
    client.add_event_handler(received.handler, events.NewMessage())
    await client.connect()
    try:
        await received.until(lambda got: len(got) >= 1)
        message = next(iter(received.messages.values()))
        assert message.chat.username == LIVE_USERNAME
        assert paths.demo_server_state.exists() and (paths.demo_live_dir / f"{message.document.id}.mp3").exists()
    finally:
        await client.disconnect()


def test_download_of_live_tracks_checks_the_md5_a_second_server_agrees_on(
    demo_config: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    config = tmp_path / "live.toml"
    config.write_text(demo_config.read_text() + "live_interval = 3600\n")  # three posts, the next an hour away
    result = run("--config", str(config), "--demo", "--data-dir", str(tmp_path / "data"), "download", f"@{LIVE_USERNAME}", "--json")
    assert result.returncode == 0, result.stderr
    done = [event for event in map(json.loads, result.stdout.splitlines()) if event.get("event") == "downloaded"]
    assert len(done) == 3
    elsewhere = LiveChannel.every(tmp_path_factory.mktemp("elsewhere"), 3600.0)
    expected = {elsewhere.render(k).md5 for k in range(3)}
    assert {event["source_md5"] for event in done} == expected

"""Following groups in the app: f on a group (a dialog asks for the optional match), the mark and the
Last new column, new audio arriving live (the Groups row, the Queue pane, a toast), and following
that fails without taking the app down.

What a line shows is read from the screen (``drawn``, ``on_screen``), and after each key the screen
equals a full repaint (``assert_screen_is_true``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from textual.widgets import Input, Label

from tad_tui.download.events import NewAudio
from tad_tui.engine import Engine
from tad_tui.store.models import AudioFile, Follow, TelegramGroup
from tad_tui.telegram.source import SourceError
from tad_tui.ui.dialogs import FollowDialog
from tad_tui.ui.groups import GroupsPane
from tad_tui.ui.queue import QueuePane
from test_ui import CLASSICAL, held, make_app, queue_ids, settle  # noqa: F401  (held: the fixture)
from test_ui_panes import drawn, quick, scanned, title_index
from test_ui_repaint import assert_screen_is_true, on_screen
from test_ui_support import DEMO_GROUPS, Gate, until


def no_following(engine: Engine) -> list[str]:
    """The app's following fails as it would where Telegram pushes no updates; returns what it raised."""
    raised: list[str] = []

    async def refused():
        raised.append("start_following")
        raise SourceError("updates are not available here")

    engine.start_following = refused  # type: ignore[method-assign]
    return raised


async def open_groups(app, pilot) -> GroupsPane:
    groups = app.query_one(GroupsPane)
    await until(lambda: len(groups._groups.rows) == DEMO_GROUPS, pilot.pause)
    await settle(app, pilot)
    return groups


async def test_f_asks_for_a_match_follows_with_it_and_f_again_unfollows(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    app = quick(make_app(engine))
    async with app.run_test(size=(100, 30)) as pilot:
        groups = await open_groups(app, pilot)
        table = groups._groups
        assert "Last new" not in on_screen(table)[0]  # nothing followed: the list as it always was
        table.go_to(title_index(groups, "tad_demo_classical"))
        await pilot.press("f")
        await until(lambda: isinstance(app.screen, FollowDialog), pilot.pause)
        await pilot.press(*"format:mp3", "enter")
        await until(lambda: table.rows[title_index(groups, "tad_demo_classical")].followed, pilot.pause)
        await settle(app, pilot)
        (follow,) = await engine.follows()
        assert (follow.title, follow.match) == ("TAD Demo · Classical", "format:mp3")
        # The follow scanned the group first: what it holds now is in the library, and not "new".
        stored = await AudioFile.filter(group__username="tad_demo_classical").count()
        assert stored > 0 and follow.last_message_id > 0
        i = title_index(groups, "tad_demo_classical")
        assert "Last new" in on_screen(table)[0]
        line = drawn(table, i)
        assert line.startswith("★ TAD Demo · Classical") and f" {stored} just now" in line
        assert line.endswith("nothing new yet")
        lines = on_screen(table)
        mixes = lines[title_index(groups, "tad_demo_mixes") + 1]
        assert "★" not in mixes and mixes.index("TAD Demo · DJ") == lines[i + 1].index("TAD Demo · Cl")  # titles aligned
        status = str(app.query_one("#groups-status", Label).render())
        assert "new audio matching format:mp3 is queued as it is posted" in status
        await assert_screen_is_true(table, pilot)

        await pilot.press("f")  # followed: unfollowed at once, no question
        await until(lambda: not table.rows[title_index(groups, "tad_demo_classical")].followed, pilot.pause)
        await settle(app, pilot)
        assert await engine.follows() == []
        assert any("f follows it again" in n.message for n in app._notifications)
        assert "Last new" not in on_screen(table)[0]
        assert not drawn(table, title_index(groups, "tad_demo_classical")).startswith("★")
        await assert_screen_is_true(table, pilot)


async def test_a_match_the_search_language_cannot_read_is_refused_in_the_dialog(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        groups = await open_groups(app, pilot)
        groups._groups.go_to(title_index(groups, "tad_demo_classical"))
        await pilot.press("f")
        await until(lambda: isinstance(app.screen, FollowDialog), pilot.pause)
        await pilot.press(*"format:flacc", "enter")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, FollowDialog)  # still asking
        error = str(dialog.query_one("#follow-error", Label).render())
        assert "unknown format flacc" in error
        assert await Follow.all().count() == 0
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, FollowDialog), pilot.pause)
        await settle(app, pilot)
        assert await Follow.all().count() == 0
        assert not any(row.followed for row in groups._groups.rows)


async def test_an_empty_match_follows_every_new_file_and_escape_follows_nothing(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        groups = await open_groups(app, pilot)
        groups._groups.go_to(title_index(groups, "tad_demo_mixes"))
        await pilot.press("f", *"x")
        await until(lambda: isinstance(app.screen, FollowDialog), pilot.pause)
        await pilot.press("escape")
        await settle(app, pilot)
        assert await engine.follows() == []
        await pilot.press("f")
        await until(lambda: isinstance(app.screen, FollowDialog), pilot.pause)
        assert app.screen.query_one(Input).value == ""  # a fresh question each time
        await pilot.press("enter")
        await until(lambda: any(row.followed for row in groups._groups.rows), pilot.pause)
        (follow,) = await engine.follows()
        assert (follow.title, follow.match) == ("TAD Demo · DJ Mixes", None)


async def test_f_does_nothing_on_an_open_groups_tracks(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    await scanned(engine)
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        groups = await open_groups(app, pilot)
        groups._groups.go_to(title_index(groups, "tad_demo_classical"))
        await pilot.press("enter")
        await until(lambda: len(groups._tracks.rows) > 0, pilot.pause)
        await pilot.press("f")
        await pilot.pause()
        assert not isinstance(app.screen, FollowDialog)
        assert await Follow.all().count() == 0


async def test_new_audio_shows_on_its_groups_row_in_the_queue_and_as_a_toast(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    raised = no_following(engine)  # the events below are the only news: no catch-up races them
    await engine.follow(CLASSICAL)
    group = await TelegramGroup.get(username="tad_demo_classical")
    newest = await AudioFile.filter(group_id=group.group_id).order_by("-message_id").first()
    assert newest is not None
    stored = group.audio_count
    await TelegramGroup.filter(group_id=group.group_id).update(audio_count=stored - 1)  # not stored yet
    app = quick(make_app(engine))
    async with app.run_test(size=(100, 30)) as pilot:
        app._notifier.desktop = False
        groups = await open_groups(app, pilot)
        await until(lambda: raised == ["start_following"], pilot.pause)
        assert any(n.title == "Following" and "not followed this session" in n.message for n in app._notifications)
        table = groups._groups
        i = title_index(groups, "tad_demo_classical")
        assert f" {stored - 1} " in drawn(table, i) and drawn(table, i).endswith("nothing new yet")
        queue = app.query_one(QueuePane)
        assert queue_ids(app) == []

        # What the follower does for a new post: store it (the count), queue it, say so.
        await TelegramGroup.filter(group_id=group.group_id).update(audio_count=stored)
        await Follow.filter(group_id=group.group_id).update(
            last_new_title="Arrival – Live", last_new_at=datetime.now(UTC)
        )
        enqueued = await engine.enqueue([newest.pk])
        engine.events.publish(NewAudio(group.group_id, group.title, newest.pk, newest.file_id, "Arrival – Live"))
        await until(lambda: "Arrival – Live" in drawn(table, i), pilot.pause)
        assert drawn(table, i).endswith(" just now    Arrival – Live · just n…")  # the name, then its age (cut)
        await until(lambda: f" {stored} " in drawn(table, i), pilot.pause)  # the count follows shortly
        await until(lambda: queue_ids(app) == enqueued.entry_ids, pilot.pause)  # no key pressed
        await assert_screen_is_true(table, pilot)
        toasts = [(n.title, n.message) for n in app._notifications]
        assert ("New in TAD Demo · Classical", "Arrival – Live") in toasts
        await pilot.press("f2")
        await pilot.pause()
        await assert_screen_is_true(queue.table, pilot)
        shown = on_screen(queue.table)[1]
        assert (newest.title or "")[:20] in shown and "queued" in shown, shown


async def test_the_app_follows_once_online_shows_the_followers_problems_and_stops_on_quit(
    held: tuple[Engine, Gate],
) -> None:
    engine, _ = held
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_groups(app, pilot)
        await until(lambda: engine.follower is not None, pilot.pause)
        worker = app._following
        assert worker is not None and not worker.is_finished  # stay_connected runs until quit
        await engine.follow(CLASSICAL)

        def no_network(*_args: object, **_kwargs: object) -> object:
            raise SourceError("cannot reach Telegram: no network")

        engine.source.scan_audio = no_network  # type: ignore[method-assign]
        assert await engine.follower.catch_up_all() == 0  # as after a reconnection: said, not raised
        await until(
            lambda: any(n.title == "Following" and "no network" in n.message for n in app._notifications), pilot.pause
        )
        await app.stop_downloads()
        assert worker.is_cancelled and app._following is None

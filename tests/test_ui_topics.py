"""The Groups pane's topic level: a forum group opens on its topics, Enter opens one topic's tracks
(only its own), Escape goes back a level at a time, and the footer names where it goes."""

from __future__ import annotations

from tad_tui.engine import Engine
from tad_tui.store.models import AudioFile
from tad_tui.telegram.sim.catalogue import Catalogue
from tad_tui.ui.groups import ALL_TOPICS, GroupsPane
from test_ui import held, make_app, settle  # noqa: F401  (held: the fixture)
from test_ui_panes import quick
from test_ui_support import DEMO_GROUPS, Gate, until

FORUM = "tad_demo_forum"


def footer_keys(app) -> dict[str, str]:
    return {key: active.binding.description for key, active in app.screen.active_bindings.items()}


async def test_a_forum_opens_on_its_topics_and_a_topic_on_its_tracks(
    held: tuple[Engine, Gate], demo_catalogue: Catalogue
) -> None:
    engine, _ = held
    await engine.scan("@" + FORUM)
    forum = demo_catalogue.group(FORUM)
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        groups = app.query_one(GroupsPane)
        await until(lambda: len(groups._groups.rows) == DEMO_GROUPS and any(g.forum for g in groups._groups.rows),
                    pilot.pause)
        groups._groups.go_to(next(i for i, g in enumerate(groups._groups.rows) if g.username == FORUM))
        await pilot.press("enter")
        await until(lambda: len(groups._topics.rows) == len(forum.topics) + 1, pilot.pause)
        assert groups._topics.has_focus and groups.group is not None and groups.topic is None
        rows = {t.title: t for t in groups._topics.rows}
        assert rows["All topics"].tracks == await AudioFile.filter(group__username=FORUM).count() == 12
        assert (rows["Jazz Standards"].tracks, rows["Live Requests"].tracks, rows["General"].tracks) == (4, 0, 2)
        assert footer_keys(app)["escape"] == "Groups"

        groups._topics.go_to(next(i for i, t in enumerate(groups._topics.rows) if t.title == "Field Recordings"))
        await pilot.press("enter")
        field = [m.id for m in forum.messages if m.file is not None and m.topic == 3]
        await until(lambda: len(groups._tracks.rows) == len(field), pilot.pause)
        await settle(app, pilot)
        shown = await AudioFile.filter(id__in=[t.id for t in groups._tracks.rows]).values_list("message_id", "topic_id")
        assert sorted(shown) == [(message_id, 3) for message_id in field]
        assert str(app.query_one("#tracks-title").content).startswith("TAD Demo · Forum › Field Recordings · 3 tracks")
        assert groups._tracks.has_focus and footer_keys(app)["escape"] == "Topics"

        await pilot.press("escape")  # back to the topics, the cursor on the topic left
        assert groups.topic is None and groups._topics.has_focus
        assert groups._topics.current is not None and groups._topics.current.title == "Field Recordings"
        groups._topics.go_to(0)
        await pilot.press("enter")  # "All topics": every track of the group
        assert groups.topic is not None and groups.topic.id == ALL_TOPICS
        await until(lambda: len(groups._tracks.rows) == 12, pilot.pause)
        await pilot.press("backspace", "backspace")  # topics, then the groups
        await settle(app, pilot)
        assert groups.group is None and groups._groups.has_focus
        assert groups._groups.current is not None and groups._groups.current.username == FORUM


async def test_a_group_that_is_no_forum_still_opens_on_its_tracks(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        groups = app.query_one(GroupsPane)
        await until(lambda: len(groups._groups.rows) == DEMO_GROUPS, pilot.pause)
        groups.open_group(next(g for g in groups._groups.rows if g.username == "tad_demo_mixes"))
        await pilot.pause()
        assert groups._tracks.has_focus and groups.topic is None and footer_keys(app)["escape"] == "Groups"
        await pilot.press("escape")
        assert groups.group is None

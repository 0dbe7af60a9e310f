"""Message links as people paste them (tad_tui/library/links.py): every form, and malformed ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from tad_tui.library.links import LinkError, MessageLink, chat_key, looks_like_link, parse_link, parse_links, read_link_file


@pytest.mark.parametrize(
    ("text", "username", "channel", "first", "last", "topic"),
    [
        ("https://t.me/tad_demo_mixes/3", "tad_demo_mixes", None, 3, 3, None),
        ("http://t.me/tad_demo_mixes/3", "tad_demo_mixes", None, 3, 3, None),
        ("t.me/tad_demo_mixes/3", "tad_demo_mixes", None, 3, 3, None),
        ("https://telegram.me/Tad_Demo_Mixes/3?single", "Tad_Demo_Mixes", None, 3, 3, None),
        ("https://www.telegram.dog/tad_demo_mixes/3/", "tad_demo_mixes", None, 3, 3, None),
        ("https://t.me/s/tad_demo_mixes/4", "tad_demo_mixes", None, 4, 4, None),
        ("https://t.me/tad_demo_forum/7/42", "tad_demo_forum", None, 42, 42, 7),
        ("https://t.me/c/1000000077/5", None, 1000000077, 5, 5, None),
        ("https://t.me/c/1000000077/2/5?thread=2", None, 1000000077, 5, 5, 2),
        ("tg://resolve?domain=tad_demo_mixes&post=3", "tad_demo_mixes", None, 3, 3, None),
        ("tg://resolve?domain=tad_demo_forum&post=42&thread=7", "tad_demo_forum", None, 42, 42, 7),
        ("tg://privatepost?channel=1000000077&post=5", None, 1000000077, 5, 5, None),
        ("https://t.me/tad_demo_archive/100-250", "tad_demo_archive", None, 100, 250, None),
        ("https://t.me/c/1000000077/1-6", None, 1000000077, 1, 6, None),
        ("tg://resolve?domain=tad_demo_archive&post=10-12", "tad_demo_archive", None, 10, 12, None),
        ("  https://t.me/tad_demo_mixes/7-7  ", "tad_demo_mixes", None, 7, 7, None),
    ],
)
def test_every_form(text: str, username: str | None, channel: int | None, first: int, last: int, topic: int | None) -> None:
    link = parse_link(text)
    assert (link.username, link.channel_id, link.first_id, link.last_id, link.topic_id) == (
        username, channel, first, last, topic,
    )
    assert link.text == text.strip()
    assert link.chat == (f"@{username}" if username else f"-100{channel}")


def test_descriptions() -> None:
    assert parse_link("https://t.me/tad_demo_mixes/3").describe() == "message 3 of @tad_demo_mixes"
    assert parse_link("https://t.me/c/77/1-6").describe() == "messages 1-6 of private channel 77"
    assert not parse_link("https://t.me/x_y_z/3").is_range and parse_link("https://t.me/x_y_z/3-4").is_range


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "an empty link"),
        ("https://t.me/tad_demo_mixes", "not to a message"),
        ("https://t.me/tad_demo_mixes/", "not to a message"),
        ("https://t.me/tad_demo_mixes/abc", "'abc' is not a message number"),
        ("https://t.me/tad_demo_mixes/0", "'0' is not a message number"),
        ("https://t.me/tad_demo_mixes/-3", "'' is not a message number"),
        ("https://t.me/tad_demo_mixes/99999999999", "is not a message number"),
        ("https://t.me/tad_demo_mixes/250-100", "ends before it starts"),
        ("https://t.me/tad_demo_mixes/1-", "'' is not a message number"),
        ("https://t.me/tad_demo_mixes/x/3", "'x' is not a topic number"),
        ("https://t.me/tad_demo_mixes/1/2/3", "too many parts"),
        ("https://t.me/c/abc/3", "t.me/c/CHANNEL_ID/MESSAGE_ID"),
        ("https://t.me/c/", "t.me/c/CHANNEL_ID/MESSAGE_ID"),
        ("https://t.me/+AbCdEf123", "an invite"),
        ("https://t.me/joinchat/AbCdEf", "an invite"),
        ("https://t.me/", "names no chat"),
        ("https://t.me/a!b/3", "is not a Telegram username"),
        ("https://t.me/ab/3", "is not a Telegram username"),
        ("https://example.com/tad_demo_mixes/3", "is not a t.me link"),
        ("ftp://t.me/tad_demo_mixes/3", "is not a t.me link"),
        ("https://t.me:8443/tad_demo_mixes/3", "is not a t.me link"),
        ("tg://resolve?domain=tad_demo_mixes", "names no message"),
        ("tg://resolve?post=3", "needs domain=USERNAME"),
        ("tg://privatepost?channel=x&post=3", "needs channel=CHANNEL_ID"),
        ("tg://privatepost?channel=77&post=3&thread=zz", "'zz' is not a topic number"),
        ("tg://msg?text=hello", "only tg://resolve and tg://privatepost"),
        ("tad_demo_mixes", "is not a t.me link"),
    ],
)
def test_malformed_links_are_refused_in_one_line(text: str, words: str) -> None:
    with pytest.raises(LinkError) as raised:
        parse_link(text)
    message = str(raised.value)
    assert words in message and "\n" not in message


def test_a_long_bad_link_is_shortened_in_the_message() -> None:
    with pytest.raises(LinkError) as raised:
        parse_link("https://t.me/tad_demo_mixes/" + "9" * 300)
    assert len(str(raised.value)) < 200


def test_which_texts_are_links() -> None:
    assert looks_like_link("https://t.me/x_y_z/3") and looks_like_link("t.me/x_y_z") and looks_like_link("tg://resolve")
    assert looks_like_link("HTTPS://T.ME/x_y_z") and looks_like_link("telegram.me/abc")
    assert not looks_like_link("TAD Demo · Classical") and not looks_like_link("@tad_demo_mixes")
    assert looks_like_link("https://example.com/x")  # a URL, only t.me ones are read
    with pytest.raises(LinkError):
        chat_key("https://example.com/tad_demo_mixes")
    assert looks_like_link("t.me")  # the bare host is a (bad) link, not a title


def test_chat_of_a_link_with_or_without_a_message() -> None:
    assert chat_key("https://t.me/tad_demo_mixes") == "@tad_demo_mixes"
    assert chat_key("t.me/tad_demo_mixes/3") == "@tad_demo_mixes"
    assert chat_key("https://t.me/c/1000000077") == "-1001000000077"
    assert chat_key("https://t.me/c/1000000077/5") == "-1001000000077"
    assert chat_key("tg://privatepost?channel=77&post=1") == "-10077"
    assert chat_key("TAD Demo") is None
    with pytest.raises(LinkError):
        chat_key("https://t.me/+invite")


def test_several_links_in_one_paste() -> None:
    links = parse_links(["https://t.me/tad_demo_mixes/3 https://t.me/c/77/1\nhttps://t.me/abcd/4-5,tg://resolve?domain=abcd&post=9"])
    assert [(l.chat, l.first_id, l.last_id) for l in links] == [
        ("@tad_demo_mixes", 3, 3), ("-10077", 1, 1), ("@abcd", 4, 5), ("@abcd", 9, 9),
    ]


def test_link_file(tmp_path: Path) -> None:
    file = tmp_path / "links.txt"
    file.write_text("# my picks\n\nhttps://t.me/tad_demo_mixes/3\n   \n  https://t.me/c/77/2  # no\n", encoding="utf-8")
    with pytest.raises(LinkError) as raised:  # a comment must start the line
        read_link_file(file)
    assert f"{file}, line 5:" in str(raised.value)
    file.write_text("# my picks\n\nhttps://t.me/tad_demo_mixes/3\n   \n  https://t.me/c/77/2\n", encoding="utf-8")
    assert [link.first_id for link in read_link_file(file)] == [3, 2]
    assert isinstance(read_link_file(file)[0], MessageLink)


@pytest.mark.parametrize("content", [None, "", "# only a comment\n\n", b"\xff\xfe\x00bad"])
def test_bad_link_files(tmp_path: Path, content: str | bytes | None) -> None:
    file = tmp_path / "links.txt"
    if isinstance(content, bytes):
        file.write_bytes(content)
    elif content is not None:
        file.write_text(content, encoding="utf-8")
    with pytest.raises(LinkError) as raised:
        read_link_file(file)
    assert str(file) in str(raised.value) and "\n" not in str(raised.value)


def test_chat_links_without_a_message() -> None:
    from tad_tui.library.links import is_chat_link

    assert is_chat_link("https://t.me/tad_demo_mixes") and is_chat_link("t.me/c/77/")
    assert not is_chat_link("https://t.me/tad_demo_mixes/3") and not is_chat_link("tg://resolve?domain=abcd")
    assert not is_chat_link("TAD Demo")
    with pytest.raises(LinkError):
        is_chat_link("https://t.me/+invite")

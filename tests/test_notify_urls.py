"""Notifications to services through Apprise URLs ([notifications] urls), against a receiver on
127.0.0.1: each event kind arrives with its title and body, a service that is down is told once
and never fails a download, ``notify-test`` says how each URL went, and the URLs' secrets are
shown masked and never written (test_secrets.py checks a whole run for them too)."""

from __future__ import annotations

import json
import logging
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from helpers import assert_one_clean_line, run
from notify_support import PASSWORD, PATH_TOKEN, QUERY_TOKEN, SECRETS, USER, Receiver, broken_url, closed_port
from tad_tui import redact
from tad_tui.config import ConfigError, default_settings, load_settings, render_example, split_list
from tad_tui.download.events import BatchProgress, EntryFinished, EventBus, NewAudio, Notice, QueueIdle
from tad_tui.notify import Notifier
from tad_tui.notify_urls import GIVE_UP_AFTER, ServiceSender, mask

SETTINGS = default_settings().notifications


def _config(demo_config: Path, *urls: str) -> Path:
    listed = ", ".join(json.dumps(url) for url in urls)
    demo_config.write_text(demo_config.read_text() + f"[notifications]\nurls = [{listed}]\n")
    return demo_config


def _no_secret_in(where: str, text: str) -> None:
    for name, secret in SECRETS.items():
        assert secret not in text, f"the {name} found in {where}"


# ---- a real download -------------------------------------------------------------------------


def test_a_demo_download_sends_batch_complete_and_queue_empty_and_a_dead_service_is_told_once(
    tmp_path: Path, demo_config: Path, receiver: Receiver
) -> None:
    config = _config(demo_config, receiver.url(), broken_url(closed_port()))
    data = tmp_path / "data"
    result = run("--config", str(config), "--demo", "--data-dir", str(data),
                 "download", "@tad_demo_classical", "-o", str(tmp_path / "out"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("44 downloaded, 0 skipped, 0 failed")
    got = receiver.wait_for(2)
    assert [(item.title, item.message) for item in got] == [
        ("Batch complete", "TAD Demo · Classical: 44 files"),
        ("Queue empty", "44 downloaded, 0 failed"),
    ]
    # The URL as configured reached the service: its path, the query token, the basic password.
    assert {item.path for item in got} == {f"/hook/{PATH_TOKEN}"}
    assert got[0].query == {"token": [QUERY_TOKEN]} and got[0].auth == f"{USER}:{PASSWORD}"
    output = result.stdout + result.stderr
    told = [line for line in output.splitlines() if "notifications to json://127.0.0.1:" in line]
    assert len(told) == 1 and "failed" in told[0] and "/down/" in told[0], output  # once, not per event
    assert "Traceback" not in output
    log = (data / "logs" / "tad-tui.log").read_text()
    audit = (data / "logs" / "audit.jsonl").read_text()
    assert log.count("failed: A Connection error") == 1  # logged once, masked
    assert '"action": "notification_failed"' in audit
    for where, text in {"stdout": result.stdout, "stderr": result.stderr, "log": log, "audit": audit}.items():
        _no_secret_in(where, text)


# ---- each event kind, in-process -------------------------------------------------------------


async def _notify(urls: tuple[str, ...], *events: object, **switches: bool) -> tuple[Notifier, list[Notice]]:
    bus = EventBus()
    notices: list[Notice] = []
    bus.subscribe(lambda event: notices.append(event) if isinstance(event, Notice) else None)
    notifier = Notifier(replace(SETTINGS, urls=urls, **switches), bus, lambda title, message: None)
    notifier.desktop = False
    for event in events:
        bus.publish(event)  # type: ignore[arg-type]
    await notifier.close()
    return notifier, notices


async def test_a_file_that_failed_for_good_and_a_followed_groups_new_file_are_sent(receiver: Receiver) -> None:
    await _notify(
        (receiver.url(secret=False),),
        EntryFinished(3, "-1001_3", "failed", error_message="disk full: no space left"),
        NewAudio(-1005, "Live Radio", 9, "-1005_9", "Helix – Quiet Tide"),
        QueueIdle(5, 1),
    )
    got = receiver.wait_for(3)
    assert [(item.title, item.message) for item in got] == [
        ("Download failed", "-1001_3: disk full: no space left"),
        ("New in Live Radio", "Helix – Quiet Tide"),
        ("Queue empty", "5 downloaded, 1 failed"),
    ]


async def test_the_switches_apply_to_services_too(receiver: Receiver) -> None:
    url = (receiver.url(secret=False),)
    failed = EntryFinished(3, "-1001_3", "failed", error_message="gone")
    notifier, _ = await _notify(url, BatchProgress(1, "Mixes", 5, 5, 0), failed, enabled=False)
    assert notifier.services is None
    await _notify(url, BatchProgress(1, "Mixes", 5, 5, 0), failed, on_batch_complete=False)
    assert receiver.titles() == ["Download failed"]


async def test_a_dead_service_is_told_once_and_given_up_after_failures_in_a_row() -> None:
    notifier, notices = await _notify(
        (broken_url(closed_port()),), *(BatchProgress(n, f"Batch {n}", 1, 1, 0) for n in range(1, GIVE_UP_AFTER + 3))
    )
    assert len(notices) == 1 and notices[0].warning and "failed" in notices[0].text
    assert notices[0].text.startswith("notifications to json://127.0.0.1:")
    assert notifier.services is not None and len(notifier.services.delivered) == GIVE_UP_AFTER  # then left alone
    _no_secret_in("the notice", notices[0].text)


def test_a_service_that_never_answers_is_left_behind_at_the_end() -> None:
    with socket.socket() as silent:  # accepts connections (the kernel does) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        sender = ServiceSender([f"json://127.0.0.1:{silent.getsockname()[1]}/x?rto=30"])
        sender.send("Queue empty", "1 downloaded, 0 failed")
        assert sender.drain(0.2) is False  # the end of a run does not wait for it
        assert sender.delivered == []


# ---- notify-test -----------------------------------------------------------------------------


def test_notify_test_reports_each_url(tmp_path: Path, demo_config: Path, receiver: Receiver) -> None:
    data = ["--demo", "--data-dir", str(tmp_path / "data")]
    dead_port = closed_port()
    dead = broken_url(dead_port)
    both = run("--config", str(_config(demo_config, receiver.url(), dead)), *data, "notify-test")
    assert both.returncode == 1, both.stderr
    lines = both.stdout.splitlines()
    assert lines[0] == f"ok      json://{USER}:****@127.0.0.1:{receiver.port}/hook/t...0?…"
    assert lines[1].startswith(f"failed  json://127.0.0.1:{dead_port}/down/0...t: A Connection error")
    assert lines[2] == "1 of 2 URLs worked"
    (test,) = receiver.wait_for(1)
    assert test.title == "tad-tui test" and socket.gethostname() in test.message and str(tmp_path / "data") in test.message

    as_json = run("--config", str(demo_config), *data, "notify-test", "--json")
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert [(item["ok"], item["reason"] is None) for item in report["urls"]] == [(True, True), (False, False)]
    assert report["worked"] == 1 and report["failed"] == 1
    for result in (both, as_json):
        _no_secret_in("notify-test's output", result.stdout + result.stderr)
    audit = (tmp_path / "data" / "logs" / "audit.jsonl").read_text()
    assert audit.count('"action": "notify_test"') == 4
    _no_secret_in("the audit log", audit)

    good = run(*data, "notify-test", env={"TAD_NOTIFY_URLS": receiver.url(secret=False)})
    assert good.returncode == 0 and good.stdout.splitlines()[-1] == "1 of 1 URL worked"
    none = run(*data, "notify-test", "--json")
    assert none.returncode == 2 and none.stdout == ""
    assert "TAD_NOTIFY_URLS" in assert_one_clean_line(none) and "[notifications] urls" in none.stderr


def test_a_url_apprise_cannot_use_exits_2_naming_the_key_and_the_url_masked(tmp_path: Path, demo_config: Path) -> None:
    bad = f"nosuchservice://{USER}:{PASSWORD}@example.org/{PATH_TOKEN}"
    data = ["--demo", "--data-dir", str(tmp_path / "data")]
    from_file = run("--config", str(_config(demo_config, "ntfy://ntfy.sh/topic", bad)), *data, "notify-test")
    line = assert_one_clean_line(from_file)
    assert from_file.returncode == 2 and "notifications.urls" in line
    assert f"the 2nd URL (nosuchservice://{USER}:****@example.org/t...0)" in line
    from_env = run(*data, "download", "@tad_demo_classical", env={"TAD_NOTIFY_URLS": f"json://127.0.0.1/x {bad}"})
    line = assert_one_clean_line(from_env)
    assert from_env.returncode == 2 and "environment variable TAD_NOTIFY_URLS" in line
    for result in (from_file, from_env):
        _no_secret_in("the error", result.stdout + result.stderr)


# ---- the config key --------------------------------------------------------------------------


def test_urls_come_from_a_toml_array_or_the_environment_split_as_apprise_does(tmp_path: Path) -> None:
    file = tmp_path / "config.toml"
    file.write_text('[notifications]\nurls = ["ntfy://ntfy.sh/a", " json://127.0.0.1/x "]\n')
    assert load_settings(file, env={}).notifications.urls == ("ntfy://ntfy.sh/a", "json://127.0.0.1/x")
    env = {"TAD_NOTIFY_URLS": "ntfy://ntfy.sh/a, json://127.0.0.1/x\n mailto://u:p@example.com?to=a@b.org,c@d.org"}
    assert load_settings(file, env=env).notifications.urls == (
        "ntfy://ntfy.sh/a", "json://127.0.0.1/x", "mailto://u:p@example.com?to=a@b.org,c@d.org"
    )  # fmt: skip
    assert split_list("a://x,b://y") == ["a://x", "b://y"]
    assert default_settings().notifications.urls == ()
    assert "\nurls = []\n" in render_example() and "TAD_NOTIFY_URLS           notifications.urls" in render_example()
    with pytest.raises(ConfigError, match="expected an array of strings, not a string"):
        file.write_text('[notifications]\nurls = "ntfy://ntfy.sh/a"\n')
        load_settings(file, env={})
    assert "urls=" not in repr(default_settings().notifications)  # kept out of reprs, like the API hash


# ---- masking ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        (f"json://{USER}:{PASSWORD}@127.0.0.1:8080/hook/{PATH_TOKEN}?-token={QUERY_TOKEN}", [PASSWORD, PATH_TOKEN, QUERY_TOKEN]),
        ("ntfy://ntfy.sh/my-private-topic-42", ["my-private-topic-42"]),
        ("ntfys://privatetopic", ["privatetopic"]),
        ("ntfy://ntfy.sh/mytopic", ["mytopic"]),  # a topic is the secret however short
        ("ntfys://ntfy.example.org/abc", ["abc"]),
        ("ntfy://user:pw@ntfy.example.org/music", ["music"]),
        ("gotifys://gotify.example.com/AbCdEf1234567890", ["AbCdEf1234567890"]),
        ("mailtos://me:app-password-99@gmail.com", ["app-password-99"]),
        ("tgram://123456789:ABCdefGHIjklMNOpqrSTUvwx/12345", ["ABCdefGHIjklMNOpqrSTUvwx"]),
        ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", ["JHMHI8qBe7bk2ZwO5U711o3dV_js"]),
        ("nosuchservice://user:hunter22@host.example/s3cr3tT0ken", ["hunter22", "s3cr3tT0ken"]),
        ("not a url at all hunter22", ["hunter22"]),
    ],
)
def test_a_masked_url_shows_none_of_its_secrets(url: str, secrets: list[str]) -> None:
    shown = mask(url)
    for secret in secrets:
        assert secret not in shown, shown


def test_what_a_library_logs_of_a_url_is_scrubbed(tmp_path: Path) -> None:
    ServiceSender([f"json://{USER}:{PASSWORD}@127.0.0.1:9/hook/{PATH_TOKEN}?-token={QUERY_TOKEN}"])
    stream = tmp_path / "log"
    handler = logging.FileHandler(stream)
    handler.addFilter(redact.ScrubFilter())
    logger = logging.getLogger("urllib3.connectionpool")
    logger.addHandler(handler)
    try:
        logger.warning("Retrying after connection broken: /hook/%s?token=%s (auth %s)", PATH_TOKEN, QUERY_TOKEN, PASSWORD)
        try:
            raise OSError(f"cannot reach /hook/{PATH_TOKEN}")
        except OSError:
            logger.exception("request failed")
    finally:
        logger.removeHandler(handler)
        handler.close()
    text = stream.read_text()
    assert "/hook/****?token=**** (auth ****)" in text and "cannot reach /hook/****" in text
    _no_secret_in("the log", text)

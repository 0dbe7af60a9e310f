"""A whole demo run with every kind of secret in play: none of them in any log, audit line or output.

Secrets used: the API hash, a proxy password, the login code, a wrong and the right two-step
password, the session's auth key (read from the session file while signed in), and the password and
tokens of two notification URLs (one service up, one down: its failure is told and logged). Every command
runs at log level DEBUG, so anything that logs more than it should is caught here.
"""

from __future__ import annotations

import base64
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from notify_support import SECRETS, Receiver, broken_url, closed_port
from tad_tui.telegram.sim.catalogue import Catalogue
from tad_tui.telegram.sim.server import DEMO_LOGIN_CODE, DEMO_PHONE

API_HASH = "5ec7e7a91d2b4c6f8e0a1b3c5d7e9f01"
PASSWORD = "correct horse battery staple 4711"
WRONG_PASSWORD = "tr0ub4dor&3-wrong"
PROXY_PASSWORD = "pr0xy-s3cr3t-99"


def _run(base: tuple[str, ...], *args: str, stdin: str = "", urls: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TAD_NOTIFY_URLS": urls,
        "API_ID": "1234567",
        "API_HASH": API_HASH,
        "TAD_PROXY": f"socks5://listener:{PROXY_PASSWORD}@127.0.0.1:1080",
    }
    return subprocess.run(
        [sys.executable, "-m", "tad_tui", *base, *args],
        input=stdin, capture_output=True, text=True, timeout=180, env=env, start_new_session=True,
    )  # fmt: skip


def _auth_key(session: Path) -> bytes:
    with sqlite3.connect(session) as db:
        (key,) = db.execute("SELECT auth_key FROM sessions").fetchone()
    return bytes(key)


def test_no_secret_reaches_logs_audit_or_output_of_a_full_demo_run(
    tmp_path: Path, demo_catalogue: Catalogue, receiver: Receiver
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        "[general]\nlog_level = \"DEBUG\"\n"
        f'[demo]\ncatalogue_dir = "{demo_catalogue.root}"\nlatency_ms = 0\nbandwidth_per_connection = 0\npremium = true\nrequest_flood_limit = 0\n'
        f'signed_in = false\npassword = "{PASSWORD}"\n'
    )
    data, out = tmp_path / "data", tmp_path / "out"
    base = ("--config", str(config), "--demo", "--data-dir", str(data))
    outputs: list[str] = []
    urls = f"{receiver.url()}, {broken_url(closed_port())}"

    def step(*args: str, stdin: str = "", expect: int = 0) -> None:
        result = _run(base, *args, stdin=stdin, urls=urls)
        outputs.extend((result.stdout, result.stderr))
        assert result.returncode == expect, (args, result.stderr)

    # A wrong code, the right one, a wrong password, the right one (stdin: no terminal here).
    step("login", "--phone", DEMO_PHONE, stdin=f"00000\n{DEMO_LOGIN_CODE}\n{WRONG_PASSWORD}\n{PASSWORD}\n")
    assert "Signed in" in outputs[-2]
    key = _auth_key(data / "tad.demo.session")
    assert len(key) == 256
    step("scan", "@tad_demo_classical", "--json")
    step("download", "@tad_demo_classical", "-o", str(out), "--json")
    assert receiver.titles()[:2] == ["Batch complete", "Queue empty"]  # the URLs were used
    step("download", "@tad_demo_hostile", "-o", str(out))
    step("queue", "--json")
    step("search", "beethoven")
    step("performance", "--json")
    step("groups")
    step("notify-test", "--json", expect=1)  # the service that is down fails
    step("notify-test", expect=1)
    step("logout")

    secrets = {
        "API hash": API_HASH,
        "proxy password": PROXY_PASSWORD,
        "two-step password": PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "auth key (hex)": key.hex(),
        "auth key (base64)": base64.b64encode(key).decode(),
        "auth key (repr)": repr(key)[2:40],
        **SECRETS,
    }
    code = re.compile(rf"(?<!\d){DEMO_LOGIN_CODE}(?!\d)")
    # The demo tells its own (public) account's code once, as a hint; a real code is never printed.
    hint = re.compile(r"^Signing in to the simulated Telegram \(demo account: .*$", re.MULTILINE)
    texts = {f"output {i}": hint.sub("", text, count=1) for i, text in enumerate(outputs)}
    files = [path for path in data.rglob("*") if path.is_file() and (path.parent.name == "logs" or path.suffix == ".json")]
    assert any(path.name == "audit.jsonl" for path in files) and any(path.name == "tad-tui.log" for path in files)
    texts |= {str(path): path.read_text(encoding="utf-8", errors="replace") for path in files}
    texts["output file names"] = "\n".join(str(path) for path in out.rglob("*"))
    for where, text in texts.items():
        for name, secret in secrets.items():
            assert secret not in text, f"{name} found in {where}"
        assert not code.search(text), f"the login code found in {where}"
    log = (data / "logs" / "tad-tui.log").read_text(encoding="utf-8")
    assert "DEBUG" in log  # the run did log at DEBUG: the check above looked at a real log

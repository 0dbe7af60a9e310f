"""What the fault-injection suite shares: the invariant checker, configs, and running the real CLI.

``check_invariants`` is the one judge every fault scenario calls after the fault (and after the run
that must finish what the fault left): it reads the library database as a second process would and
walks the disk, so it trusts nothing the engine says about itself.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import zlib
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tad_tui.telegram.sim.catalogue import Catalogue

DONE = ("completed", "skipped")
UNFINISHED_QUEUE = ("queued", "waiting", "running")


@dataclass(frozen=True)
class Expected:
    """What a finished file must be: its MD5 and size (the source's, or a reference run's)."""

    md5: str
    size: int


@dataclass
class Verdict:
    completed: list[str] = field(default_factory=list)  # file ids, downloaded here
    skipped: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)  # pending, failed, downloading
    failed_messages: dict[str, str] = field(default_factory=dict)


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _rows(db: Path) -> list[sqlite3.Row]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(
            "SELECT a.id, a.file_id, a.status, a.local_path, a.partial_file_path, a.file_size, a.checksum_md5,"
            " a.source_md5, a.resume_state,"
            " a.document_id, a.downloaded_bytes, a.error_message, q.state AS queue_state"
            " FROM audio_file a LEFT JOIN queue_entry q ON q.audio_id = a.id"
        ).fetchall()


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def check_invariants(
    *,
    root: Path,
    data_dir: Path,
    out_dir: Path,
    catalogue: Catalogue,
    finished: bool = True,
    expected: dict[str, Expected] | None = None,
    allowed: tuple[Path, ...] = (),
) -> Verdict:
    """Assert what must hold after any fault; returns what the library holds.

    - every completed file is in ``out_dir``, has the source's MD5 and size (or ``expected``'s, for
      runs that write tags and covers), the MD5 the DB recorded, and no ``.part`` or resume state left behind;
      the DB's ``source_md5`` (what Telegram sent) is the source's MD5, tags written or not;
    - the DB says what is on disk: a completed (or skipped) row ⇔ its QueueEntry completed ⇔ its file
      exists at ``local_path``; an unfinished row has no ``local_path``; every file in ``out_dir`` is
      a completed row's file or an unfinished row's ``.part`` (no orphan, no duplicate, no temp file)
      — or, not ``finished`` (just after a kill), the file that ``.part`` was renamed to;
    - nothing was written anywhere under ``root`` but in ``out_dir`` and ``data_dir`` (and ``allowed``);
    - ``finished``: the queue ran dry — nothing queued, waiting or running, no download in progress.
    """
    verdict = Verdict()
    rows = _rows(data_dir / "library.sqlite3")
    owned: dict[Path, str] = {}
    completed_paths: dict[int, Path] = {}
    for row in rows:
        file_id, status, queue_state = row["file_id"], row["status"], row["queue_state"]
        where = f"{file_id} ({status}, queue {queue_state})"
        if status == "completed":
            local = Path(row["local_path"] or "")
            assert row["local_path"] and local.is_file(), f"{where}: the DB says downloaded, {local} is not there"
            assert _inside(local, out_dir), f"{where}: {local} is outside {out_dir}"
            want = (expected or {}).get(file_id)
            if want is None:
                source = catalogue.document(row["document_id"])
                want = Expected(source.md5, source.size)
            size, md5 = local.stat().st_size, md5_of(local)
            assert size == want.size, f"{where}: {local} holds {size} bytes, not {want.size}"
            recorded = row["checksum_md5"]
            assert md5 == want.md5 == recorded, f"{where}: md5 {md5}, want {want.md5}, DB {recorded}"
            sent = catalogue.document(row["document_id"]).md5
            assert row["source_md5"] == sent, f"{where}: source_md5 {row['source_md5']}, Telegram sent {sent}"
            assert row["partial_file_path"] is None, f"{where}: still has a partial file path"
            assert not Path(str(local) + ".part").exists(), f"{where}: {local}.part left behind"
            assert row["downloaded_bytes"] == row["file_size"], f"{where}: downloaded_bytes {row['downloaded_bytes']}"
            assert local not in owned, f"{where}: {local} is also {owned.get(local)}'s file"
            owned[local] = file_id
            completed_paths[row["document_id"]] = local
            verdict.completed.append(file_id)
        elif status == "skipped":
            verdict.skipped.append(file_id)
        else:
            assert row["local_path"] is None, f"{where}: unfinished but points at {row['local_path']}"
            if row["partial_file_path"]:
                part = Path(row["partial_file_path"])
                assert part.name.endswith(".part") and _inside(part, out_dir), f"{where}: partial file {part}"
                owned[part] = file_id
                if not finished:  # killed between the rename and the DB write: the next run records it
                    owned[part.with_name(part.name.removesuffix(".part"))] = file_id
                    # The name from the file's own tags, recorded before the move (Telegram may not
                    # have given a title: the planned name came from the file name).
                    final = json.loads(row["resume_state"] or "{}").get("final")
                    if final:
                        owned[Path(final)] = file_id
            verdict.unfinished.append(file_id)
            if status == "failed":
                verdict.failed_messages[file_id] = row["error_message"] or ""
        if queue_state is not None:
            assert (queue_state == "completed") == (status in DONE), f"{where}: queue and file disagree"
            if finished:
                assert queue_state not in UNFINISHED_QUEUE, f"{where}: left in the queue after the run"
        if finished:
            assert status != "downloading", f"{where}: still downloading after the run"
    for row in rows:  # a skipped file points at the completed twin's file
        if row["status"] == "skipped":
            twin = completed_paths.get(row["document_id"])
            assert twin is not None and Path(row["local_path"]) == twin, f"{row['file_id']}: skipped without a twin"
    on_disk = {p for p in out_dir.rglob("*") if p.is_file() or p.is_symlink()} if out_dir.exists() else set()
    strays = sorted(str(p) for p in on_disk - set(owned))
    assert not strays, f"files in the output dir the DB does not know: {strays}"
    outside = [
        p for p in root.rglob("*")
        if (p.is_file() or p.is_symlink())
        and not _inside(p, out_dir) and not _inside(p, data_dir) and p not in allowed
    ]
    assert not outside, f"written outside the output and data dirs: {outside}"
    return verdict


def write_config(
    path: Path,
    catalogue: Catalogue,
    *,
    latency_ms: int = 0,
    bandwidth: str | int = 0,
    tags: bool = False,
    flood_sleep_threshold: int = 60,
    retry_delay: float = 0.05,
    retry_attempts: int = 5,
    premium: bool = True,
    account_limit: str | int = 0,
    request_flood_limit: int = 0,
    extra_demo: str = "",
) -> Path:
    """A demo config; Premium with no request limit unless asked (the demo's own default is neither)."""
    bandwidth_value = f'"{bandwidth}"' if isinstance(bandwidth, str) else str(bandwidth)
    account_value = f'"{account_limit}"' if isinstance(account_limit, str) else str(account_limit)
    path.write_text(
        f'[demo]\ncatalogue_dir = "{catalogue.root}"\nlatency_ms = {latency_ms}\n'
        f"bandwidth_per_connection = {bandwidth_value}\n"
        f"premium = {'true' if premium else 'false'}\naccount_download_limit = {account_value}\n"
        f"request_flood_limit = {request_flood_limit}\n{extra_demo}"
        f"[telegram]\nflood_sleep_threshold = {flood_sleep_threshold}\n"
        f"[downloads]\nretry_delay = {retry_delay}\nretry_attempts = {retry_attempts}\n"
        f"[metadata]\nupdate_id3_tags = {'true' if tags else 'false'}\nembed_cover = {'true' if tags else 'false'}\n"
        "[notifications]\nenabled = false\n"
    )
    return path


def _default_sigint() -> None:
    # A parent started in the background of a non-interactive shell hands its children SIGINT
    # ignored, and Python then keeps ignoring it: Ctrl+C tests must start the CLI with the default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def cli_command(config: Path, data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "tad_tui", "--config", str(config), "--demo", "--data-dir", str(data), *args]


def _env(failpoint: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"API_ID", "API_HASH", "TAD_DATA_DIR", "TAD_TUI_FAILPOINT"}}
    if failpoint:
        env["TAD_TUI_FAILPOINT"] = failpoint
    return env


def run_cli(config: Path, data: Path, *args: str, failpoint: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_command(config, data, *args), capture_output=True, text=True, timeout=120,
        env=_env(failpoint), preexec_fn=_default_sigint,
    )


def start_cli(config: Path, data: Path, *args: str, failpoint: str | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli_command(config, data, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=_env(failpoint), preexec_fn=_default_sigint,
    )


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip().startswith("{")]


def db_value(db: Path, query: str, *params: object) -> int:
    """One number from the library of a running process (0 while the file or row is not there yet)."""
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
            row = conn.execute(query, params).fetchone()
            return int(row[0] or 0) if row else 0
    except sqlite3.Error:
        return 0


class PartWriteAudit:
    """Records every ``os.pwrite`` into a ``.part`` file, to prove no wrong byte was ever written."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, int, int, int]] = []  # (path, offset, length, crc32)
        self.published: dict[str, str] = {}  # final path → the .part moved there (names are decided at the end)
        self._real = os.pwrite
        self._real_replace = os.replace

    def replace(self, src: str | os.PathLike[str], dst: str | os.PathLike[str], **kwargs: object) -> None:
        """``os.replace`` that remembers which ``.part`` became which file."""
        if os.fspath(src).endswith(".part"):
            self.published[os.fspath(dst)] = os.fspath(src)
        self._real_replace(src, dst, **kwargs)  # type: ignore[arg-type]

    def part_of(self, local_path: str) -> str:
        return self.published.get(local_path, local_path + ".part")

    def __call__(self, fd: int, data: bytes, offset: int) -> int:
        path = os.readlink(f"/proc/self/fd/{fd}")
        if path.endswith(".part"):
            self.writes.append((path, offset, len(data), zlib.crc32(data)))
        return self._real(fd, data, offset)

    def assert_all_good(self, part_to_source: dict[str, Path]) -> int:
        """Every write into a known ``.part`` equals the source bytes at that offset; returns how many."""
        checked = 0
        for path, offset, length, crc in self.writes:
            source = part_to_source.get(path)
            if source is None:
                continue
            with open(source, "rb") as handle:
                handle.seek(offset)
                good = handle.read(length)
            assert len(good) == length and zlib.crc32(good) == crc, f"bad bytes written to {path} at {offset}"
            checked += 1
        return checked


def refuse(path_error: int, folder: Path):
    """Wrappers of os.open/os.replace/os.rename that fail like a read-only ``folder`` (for root)."""
    real_open, real_replace, real_rename = os.open, os.replace, os.rename

    def inside(path: object) -> bool:
        return Path(os.fsdecode(path)).parent.resolve() == folder.resolve()  # type: ignore[arg-type]

    def opener(path, flags, *args, **kwargs):
        if inside(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and not Path(path).exists():
            raise OSError(path_error, os.strerror(path_error), os.fsdecode(path))
        return real_open(path, flags, *args, **kwargs)

    def replacer(src, dst, *args, **kwargs):
        if inside(dst) or inside(src):
            raise OSError(path_error, os.strerror(path_error), os.fsdecode(dst))
        return real_replace(src, dst, *args, **kwargs)

    def renamer(src, dst, *args, **kwargs):
        if inside(dst) or inside(src):
            raise OSError(path_error, os.strerror(path_error), os.fsdecode(dst))
        return real_rename(src, dst, *args, **kwargs)

    return opener, replacer, renamer


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` read-only: really (chmod), and for root, whom chmod does not stop, by refusing the calls."""
    mode = folder.stat().st_mode
    folder.chmod(0o555)
    with pytest.MonkeyPatch.context() as patch:
        if os.geteuid() == 0:
            opener, replacer, renamer = refuse(errno.EACCES, folder)
            patch.setattr(os, "open", opener)
            patch.setattr(os, "replace", replacer)
            patch.setattr(os, "rename", renamer)
        try:
            yield
        finally:
            folder.chmod(mode)

"""Rendering a catalogue plan's files, quick ones first, in worker processes that die with their parent.

A worker is a fresh interpreter (``python -m tad_tui.telegram.sim.catalogue.render_worker``), not a fork: it
inherits no descriptor of the parent (the data dir's writer lock least of all), asks Linux to kill
it when the parent dies (``PR_SET_PDEATHSIG``), and elsewhere stops at the end of its task when its
parent is gone or its stdin closes. Every file is written under a temporary name and renamed, so a
reader (the simulated server, a later run) sees a file whole or not at all; the caller records each
finished file, so an interrupted render is resumed rather than redone.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from tad_tui.telegram.sim.catalogue.model import FilePlan

Rendered = tuple[int, int, str]  # (document_id, size, md5)
PART_MARK = ".part-"  # in the temporary name a file is written under: ".<name>.part-<pid>"
BIG_COST = 20_000_000  # files that cost more than this (the DJ mixes, the big FLACs) render last


def tiny_pdf(text: str) -> bytes:
    """A minimal valid one-page PDF showing ``text`` (ASCII), with a correct xref table."""
    content = f"BT /F1 12 Tf 20 50 Td ({text}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 100] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref_at)
    return bytes(out)


def render_file(root: Path, file: FilePlan) -> Rendered:
    """Write one file at ``root / file.relpath`` via a temporary name; return (id, size, md5)."""
    from tad_tui.telegram.sim.catalogue.model import AudioSource

    path = root / file.relpath
    temporary = path.with_name(f".{path.name}{PART_MARK}{os.getpid()}")
    try:
        if isinstance(file.source, AudioSource):
            from tad_tui.telegram.sim.audio import render_audio  # numpy and libsndfile: rendering only

            source = file.source
            size, md5 = render_audio(temporary, source.tone, source.encoding, source.tags, source.ogg_serial)
        else:
            data = tiny_pdf(file.source.text)
            temporary.write_bytes(data)
            size, md5 = len(data), hashlib.md5(data).hexdigest()
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return file.document_id, size, md5


def render_cost(file: FilePlan) -> float:
    """Rough relative encoding time: to put the quick files first and cut batches of even work."""
    from tad_tui.telegram.sim.catalogue.model import AudioSource

    if not isinstance(file.source, AudioSource):
        return 1.0
    per_sample = {"mp3": 6.0, "ogg": 3.0, "flac": 0.3}[file.source.encoding.format]
    tone = file.source.tone
    return 50_000 + tone.frames * tone.channels * per_sample


def render_order(files: Iterable[FilePlan]) -> list[FilePlan]:
    """What a catalogue needs first: the quick files in plan order, then the big ones, biggest first
    (so the last worker to finish is not the one that drew the biggest file)."""
    files = list(files)
    quick = [f for f in files if render_cost(f) <= BIG_COST]
    big = sorted((f for f in files if render_cost(f) > BIG_COST), key=lambda f: (-render_cost(f), f.document_id))
    return quick + big


@dataclass(frozen=True)
class Progress:
    """How far a render is: files and bytes written, and the share of the estimated work done."""

    files_done: int
    files_total: int
    bytes_done: int
    work_done: float  # 0..1, by render_cost (bytes are not known before a file is written)

    @property
    def complete(self) -> bool:
        return self.files_done >= self.files_total

    def bar(self, width: int = 20) -> str:
        filled = round(self.work_done * width)
        return "█" * filled + "░" * (width - filled)

    def line(self, width: int = 20) -> str:
        """E.g. ``▕██████░░░░▏  63%  812/1,168 files, 21.4 MB``."""
        return (
            f"▕{self.bar(width)}▏ {self.work_done:4.0%}  {self.files_done:,}/{self.files_total:,} files, "
            f"{self.bytes_done / 1e6:.1f} MB"
        )


class RenderFailed(Exception):
    """A worker could not render a file (the message says which and why)."""


def _worker_command() -> list[str]:
    return [sys.executable, "-m", "tad_tui.telegram.sim.catalogue.render_worker", str(os.getpid())]


def _send(stream: BinaryIO, value: Any) -> None:
    pickle.dump(value, stream, protocol=pickle.HIGHEST_PROTOCOL)
    stream.flush()


class Renderer:
    """Renders ``files`` into ``root`` with ``workers`` processes (1 = in this thread), quick files first.

    ``on_file(file, size, md5)`` is called (from a rendering thread, one call at a time) as each file
    lands. ``prioritize`` moves files still to do to the front. ``run`` blocks until every file is
    rendered, or raises the first failure; ``stop`` ends the workers early.
    """

    def __init__(
        self,
        root: Path,
        files: Sequence[FilePlan],
        workers: int,
        on_file: Callable[[FilePlan, int, str], None],
    ) -> None:
        self.root = root
        self.workers = max(1, workers)
        self._todo = render_order(files)
        self._on_file = on_file
        self._lock = threading.Lock()
        self._processes: list[subprocess.Popen[bytes]] = []
        self._failure: BaseException | None = None
        self._stopped = False
        # Small batches: per-task overhead is tiny next to the work, and a prioritized file waits
        # for at most one batch per worker.
        total = sum(map(render_cost, self._todo))
        self._batch_cost = max(total / (self.workers * 40), BIG_COST / 4)

    def prioritize(self, document_ids: Iterable[int]) -> None:
        wanted = set(document_ids)
        with self._lock:
            first = [f for f in self._todo if f.document_id in wanted]
            if first:
                self._todo = first + [f for f in self._todo if f.document_id not in wanted]

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            processes = list(self._processes)
        for process in processes:
            process.kill()

    def _next_batch(self) -> list[FilePlan]:
        with self._lock:
            if self._stopped or self._failure is not None:
                return []
            batch: list[FilePlan] = []
            cost = 0.0
            while self._todo and (not batch or cost + render_cost(self._todo[0]) <= self._batch_cost):
                file = self._todo.pop(0)
                batch.append(file)
                cost += render_cost(file)
            return batch

    def _landed(self, file: FilePlan, size: int, md5: str) -> None:
        with self._lock:
            self._on_file(file, size, md5)

    def run(self) -> None:
        (self.root / "files").mkdir(parents=True, exist_ok=True)
        count = min(self.workers, len(self._todo))
        if count <= 1:
            self._in_process()
        else:
            threads = [threading.Thread(target=self._guarded, name=f"render-{n}", daemon=True) for n in range(count)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        if self._failure is not None:
            raise self._failure

    def _in_process(self) -> None:
        while batch := self._next_batch():
            for file in batch:
                _, size, md5 = render_file(self.root, file)
                self._landed(file, size, md5)

    def _guarded(self) -> None:
        try:
            self._with_a_worker()
        except BaseException as error:  # noqa: BLE001 - handed to run(), which raises it
            with self._lock:
                if self._failure is None:
                    self._failure = error
            self.stop()

    def _with_a_worker(self) -> None:
        # close_fds (the default) and PEP 446 keep every descriptor of ours, the writer lock's and
        # the other workers' pipes included, out of the worker.
        process = subprocess.Popen(
            _worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        with self._lock:
            self._processes.append(process)
            stopped = self._stopped
        if stopped:
            process.kill()
        assert process.stdin is not None and process.stdout is not None
        try:
            while batch := self._next_batch():
                _send(process.stdin, (str(self.root), batch))
                for _ in batch:
                    answer = pickle.load(process.stdout)
                    if answer[0] == "error":
                        raise RenderFailed(answer[1])
                    _, document_id, size, md5 = answer
                    file = next(f for f in batch if f.document_id == document_id)
                    self._landed(file, size, md5)
        except (EOFError, BrokenPipeError, pickle.UnpicklingError) as error:
            with self._lock:
                if self._stopped:
                    return
            stderr = process.stderr.read().decode(errors="replace").strip() if process.stderr else ""
            raise RenderFailed(f"a catalogue worker ended unexpectedly: {stderr.splitlines()[-1:] or error}") from None
        finally:
            process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
            if process.stderr is not None:
                process.stderr.close()

"""Rendering a catalogue in place, in the background, resumably; and loading it.

``open_catalogue`` returns at once: the complete catalogue, or one whose files a background thread
renders (``catalogue.rendering``) while the simulated server serves it. ``load_catalogue`` and
``load_plan`` wait for a complete one. Files land under temporary names and are renamed into
place; ``rendered.jsonl`` lists those that landed, so a render cut short (even by ``kill -9``) is
finished by the next run; ``manifest.json`` is written last, under the catalogue's lock.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from tad_tui.telegram.sim.catalogue.content import build_demo_plan
from tad_tui.telegram.sim.catalogue.desktop_export import ensure_desktop_export
from tad_tui.telegram.sim.catalogue.locking import exclusive_lock
from tad_tui.telegram.sim.catalogue.manifest import (
    _demo_file,
    _file_entry,
    _write_json,
    catalogue_from_manifest,
    manifest_for,
    read_catalogue,
)
from tad_tui.telegram.sim.catalogue.model import (
    CATALOGUE_VERSION,
    DEMO_PLAN_NAME,
    MANIFEST_NAME,
    Catalogue,
    CataloguePlan,
    FilePlan,
)
from tad_tui.telegram.sim.catalogue.render import PART_MARK, Progress, Renderer, render_cost

MAX_WORKERS = 4
RENDERING_NAME = "rendering.json"  # the version and plan of a render in progress (no manifest yet)
JOURNAL_NAME = "rendered.jsonl"  # the files a render in progress has finished, one JSON line each


def _usable_workers(requested: int | None) -> int:
    """Worker processes to render with (1 = in the calling thread)."""
    if requested is not None:
        return max(1, requested)
    return min(MAX_WORKERS, _available_cpus())


def _available_cpus() -> int:
    """CPUs this process may run on (a container's affinity mask can be smaller than the host)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def render_files(root: Path, files: Sequence[FilePlan], workers: int | None = None) -> dict[int, tuple[int, str]]:
    """Write every file under ``root``; return document_id -> (size, md5). Output is independent of workers."""
    rendered: dict[int, tuple[int, str]] = {}

    def landed(file: FilePlan, size: int, md5: str) -> None:
        rendered[file.document_id] = (size, md5)

    Renderer(root, files, _usable_workers(workers), landed).run()
    return rendered


def _staging_prefix(root: Path) -> str:
    return f".{root.name}.staging-"


def _remove_leftovers(root: Path) -> None:
    """Dirs of replaced catalogues a crash left behind, and files caught half-written in ``root``;
    only called under the lock, so none is in use."""
    for leftover in root.parent.glob(_staging_prefix(root) + "*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for part in (root / "files").glob(f".*{PART_MARK}*"):
        part.unlink(missing_ok=True)


def _retire(root: Path) -> None:
    """Remove ``root`` (a catalogue of another version or plan): renamed aside first, then deleted."""
    if root.exists() or root.is_symlink():
        retired = Path(tempfile.mkdtemp(prefix=_staging_prefix(root), dir=root.parent)) / "retired"
        os.rename(root, retired)
        shutil.rmtree(retired.parent, ignore_errors=True)


def _render_stamp(plan: CataloguePlan) -> dict[str, Any]:
    return {"version": CATALOGUE_VERSION, "plan": plan.name}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _journal(root: Path, plan: CataloguePlan) -> dict[int, tuple[int, str]]:
    """The files an interrupted render of this plan finished (and that are still there whole)."""
    wanted = {f.document_id for f in plan.files()}
    landed: dict[int, tuple[int, str]] = {}
    try:
        lines = (root / JOURNAL_NAME).read_text(encoding="utf-8").splitlines()
    except OSError:
        return landed
    for line in lines:
        try:
            document_id, relpath, size, md5 = json.loads(line)
            if document_id in wanted and (root / relpath).stat().st_size == size:
                landed[document_id] = (size, md5)
        except (ValueError, TypeError, OSError):
            continue  # a line cut by a crash, or a file gone since
    return landed


def catalogue_from_plan(root: Path, plan: CataloguePlan, rendered: dict[int, tuple[int, str]]) -> Catalogue:
    """The catalogue ``plan`` renders into ``root``; files not rendered yet read size 0 and md5 ""."""
    sizes = {f.document_id: rendered.get(f.document_id, (0, "")) for f in plan.files()}
    return catalogue_from_manifest(root, manifest_for(plan, sizes))


class CatalogueRender:
    """A catalogue being rendered in place by a background thread, served while it renders.

    The thread takes the catalogue's lock (``<root>.lock``; a concurrent render of the same dir
    waits for it), resumes what an interrupted render of the same plan left (``rendered.jsonl``
    lists the files that landed whole), renders the rest quick files first, updates ``catalogue``
    as each file lands, and writes ``manifest.json`` last, which makes the catalogue complete.
    ``wait_for`` is how the simulated server holds back an answer that needs files still to come.
    """

    def __init__(
        self,
        root: Path,
        plan: CataloguePlan,
        workers: int | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.root = root
        self.plan = plan
        self._files = {f.document_id: f for f in plan.files()}
        self._costs = {d: render_cost(f) for d, f in self._files.items()}
        self._total_cost = sum(self._costs.values()) or 1.0
        self._workers = _usable_workers(workers)
        self._on_progress = on_progress
        self._lock = threading.Lock()
        self._landed: dict[int, tuple[int, str]] = {}
        self._wanted_first: set[int] = set()
        self._waiters: list[tuple[frozenset[int], asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._renderer: Renderer | None = None
        self._finished = threading.Event()
        self._abandoned = False
        self.error: BaseException | None = None
        self.catalogue = Catalogue(root, catalogue_from_plan(root, plan, {}).groups, rendering=self)
        self._thread = threading.Thread(target=self._run, name="catalogue-render", daemon=True)

    def start(self) -> CatalogueRender:
        self._thread.start()
        return self

    # ---- what others ask --------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def progress(self) -> Progress:
        with self._lock:
            done = dict(self._landed)
        work = sum(self._costs[d] for d in done) / self._total_cost
        return Progress(len(done), len(self._files), sum(size for size, _ in done.values()), min(1.0, work))

    def ready(self, document_ids: Iterable[int]) -> bool:
        with self._lock:
            return all(d in self._landed or d not in self._files for d in document_ids)

    def wait_for(self, document_ids: Iterable[int]) -> asyncio.Future[None]:
        """A future (of the running loop) done when these files have landed; they are rendered next."""
        wanted = frozenset(d for d in document_ids if d in self._files)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            missing = wanted - self._landed.keys()
            if self.error is not None:
                future.set_exception(self.error)
            elif not missing:
                future.set_result(None)
            else:
                self._waiters.append((wanted, loop, future))
                self._wanted_first |= missing
                renderer = self._renderer
        if not future.done() and renderer is not None:
            renderer.prioritize(missing)
        return future

    def wait(self, timeout: float | None = None) -> Catalogue:
        """Block until the render ends; the complete catalogue, or the render's error raised."""
        self._finished.wait(timeout)
        if self.error is not None:
            raise self.error
        return self.catalogue

    def stop(self) -> None:
        renderer = self._renderer
        if renderer is not None:
            renderer.stop()

    @property
    def abandoned(self) -> bool:
        return self._abandoned

    def abandon(self) -> None:
        """The command was interrupted: stop now and leave the rest to the next run (which keeps
        every file already rendered); a process exiting does not wait for the render then."""
        self._abandoned = True
        self.stop()

    # ---- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._render()
        except BaseException as error:  # noqa: BLE001 - handed to the waiters and to wait()
            self._fail(error)
        finally:
            self._finished.set()
            self._report()

    def _render(self) -> None:
        root = self.root
        root.parent.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(root.parent / (root.name + ".lock")):
            done = read_catalogue(root, self.plan.name)  # whoever held the lock may have finished it
            if done is None:
                if _read_json(root / RENDERING_NAME) != _render_stamp(self.plan):
                    _retire(root)  # another version or plan, or not a catalogue at all
                _remove_leftovers(root)
                (root / "files").mkdir(parents=True, exist_ok=True)
                _write_json(root / RENDERING_NAME, _render_stamp(self.plan))
                for document_id, (size, md5) in _journal(root, self.plan).items():
                    self._land(self._files[document_id], size, md5, record=False)
                self._report()  # where the interrupted render got to
                todo = [f for d, f in self._files.items() if d not in self._landed]
                with open(root / JOURNAL_NAME, "a", encoding="utf-8") as journal:
                    renderer = Renderer(root, todo, self._workers, lambda f, s, m: self._land(f, s, m, journal))
                    with self._lock:
                        self._renderer = renderer
                        wanted = set(self._wanted_first)
                    renderer.prioritize(wanted)
                    renderer.run()
                if len(self._landed) < len(self._files):  # stopped: no manifest for part of a catalogue
                    raise RenderStopped(f"the demo catalogue's render in {root} stopped before its end")
                _write_json(root / MANIFEST_NAME, manifest_for(self.plan, self._landed))
                (root / JOURNAL_NAME).unlink(missing_ok=True)
                (root / RENDERING_NAME).unlink(missing_ok=True)
                done = read_catalogue(root, self.plan.name)
                if done is None:
                    raise RuntimeError(f"the catalogue rendered in {root} does not read back")
            for file in done.files:
                self._land(self._files[file.document_id], file.size, file.md5, record=False)
            ensure_desktop_export(done)  # before the waiters hear of the end: a finished render has it

    def _land(self, file: FilePlan, size: int, md5: str, journal: Any = None, *, record: bool = True) -> None:
        if record and journal is not None:
            journal.write(json.dumps([file.document_id, file.relpath, size, md5]) + "\n")
            journal.flush()
        self.catalogue._documents[file.document_id] = _demo_file(
            self.root, file.document_id, _file_entry(file, size, md5)
        )
        with self._lock:
            self._landed[file.document_id] = (size, md5)
            ready = [(loop, future) for ids, loop, future in self._waiters if ids <= self._landed.keys()]
            self._waiters = [w for w in self._waiters if not w[0] <= self._landed.keys()]
        for loop, future in ready:
            _tell(loop, future, None)
        if record:
            self._report()

    def _fail(self, error: BaseException) -> None:
        with self._lock:
            self.error = error
            waiters, self._waiters = self._waiters, []
        for _, loop, future in waiters:
            _tell(loop, future, error)

    def _report(self) -> None:
        if self._on_progress is not None:
            self._on_progress(self.progress())


class RenderStopped(RuntimeError):
    """The render was stopped (``stop``, ``abandon``) before every file landed."""


def _tell(loop: asyncio.AbstractEventLoop, future: asyncio.Future[None], error: BaseException | None) -> None:
    """Settle a waiter's future on its loop; a loop already closed (its command ended) has no one
    waiting any more, and the render goes on."""
    try:
        loop.call_soon_threadsafe(_settle, future, error)
    except RuntimeError:  # "Event loop is closed"
        pass


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def open_catalogue(
    root: Path,
    plan: Callable[[], CataloguePlan] | CataloguePlan = build_demo_plan,
    *,
    workers: int | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> Catalogue:
    """The catalogue in ``root`` at once: the complete one if it is there, else one whose files render
    in the background (``catalogue.rendering`` tells how far, and lets a caller wait for files)."""
    root = Path(root)
    name = plan.name if isinstance(plan, CataloguePlan) else DEMO_PLAN_NAME
    catalogue = read_catalogue(root, name)
    if catalogue is not None:
        ensure_desktop_export(catalogue)  # a catalogue rendered before the sample existed
        return catalogue
    built = plan if isinstance(plan, CataloguePlan) else plan()
    return CatalogueRender(root, built, workers, on_progress).start().catalogue


def _load_or_generate(root: Path, plan: Callable[[], CataloguePlan] | CataloguePlan, workers: int | None) -> Catalogue:
    catalogue = open_catalogue(root, plan, workers=workers)
    if catalogue.rendering is None:
        return catalogue
    catalogue.rendering.wait()
    complete = read_catalogue(Path(root), catalogue.rendering.plan.name)
    if complete is None:
        raise RuntimeError(f"the catalogue generated in {root} does not read back")
    return complete


def load_catalogue(root: Path, *, workers: int | None = None) -> Catalogue:
    """Return the demo catalogue stored in `root`, generating it there first if it is missing,
    incomplete or of another CATALOGUE_VERSION. Files are rendered in place under a lock file
    (root.parent / (root.name + '.lock')), each via a temporary name, and manifest.json is written
    last: a catalogue without it is incomplete, and the next load finishes it (keeping the files a
    crash left whole). A second load reads manifest.json and stats the files; nothing is hashed or
    encoded again."""
    return _load_or_generate(Path(root), build_demo_plan, workers)


def load_plan(root: Path, plan: CataloguePlan, *, workers: int | None = None) -> Catalogue:
    """Like load_catalogue for any plan, e.g. ``build_demo_plan().only("tad_demo_hostile")``."""
    return _load_or_generate(Path(root), plan, workers)

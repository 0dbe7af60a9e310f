"""A synthetic one-group catalogue of files of exactly given sizes, for benchmarks and tests."""

from __future__ import annotations

import hashlib
import json
import os
import random
import zlib
from datetime import timedelta
from pathlib import Path

from tad_tui.telegram.sim.catalogue.content import _utc
from tad_tui.telegram.sim.catalogue.locking import exclusive_lock
from tad_tui.telegram.sim.catalogue.manifest import _write_json
from tad_tui.telegram.sim.catalogue.model import Catalogue, DemoFile, DemoGroup, DemoMessage, Ids
from tad_tui.telegram.sim.media import md5_of_file


SYNTHETIC_MD5_INDEX = "synthetic-md5.json"
_RANDOM_CHUNK = 1 << 20


def _write_random_file(path: Path, size: int, seed: int, index: int) -> str:
    """Pseudo-random bytes from (seed, index), written via a temporary name; returns the md5."""
    import numpy as np  # generating only: reading a catalogue never loads numpy

    rng = np.random.default_rng([seed, index])
    digest = hashlib.md5()
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as sink:
        for offset in range(0, size, _RANDOM_CHUNK):
            chunk = rng.bytes(min(_RANDOM_CHUNK, size - offset))
            digest.update(chunk)
            sink.write(chunk)
    os.replace(temporary, path)
    return digest.hexdigest()


def _synthetic_file_md5(path: Path, size: int, seed: int, index: int, known: dict[str, str]) -> str:
    """Reuse a file already present with the right size; hash it only if its md5 was not recorded."""
    try:
        present = path.stat().st_size == size
    except OSError:
        present = False
    if not present:
        return _write_random_file(path, size, seed, index)
    return known.get(path.name) or md5_of_file(path)


def _synthetic_ids(seed: int, index: int, size: int, taken: set[int]) -> tuple[int, int]:
    """(document_id, access_hash) fixed by seed, position and size, so a changed size is a new document."""
    ids = Ids(f"synthetic:{seed}:{index}:{size}", taken)
    return ids.document_id(), ids.access_hash()


def synthetic_catalogue(root: Path, *, sizes: list[int], seed: int = 0, username: str = "tad_bench") -> Catalogue:
    """A one-group catalogue of files of exactly these sizes (pseudo-random bytes, need not be
    audio; mime audio/mpeg) for benchmarks and tests; deterministic in `seed`; files written once
    and reused if already present with the right size."""
    if any(size < 0 for size in sizes):
        raise ValueError("sizes must be non-negative")
    root = Path(root)
    (root / "files").mkdir(parents=True, exist_ok=True)
    with exclusive_lock(root / ".lock"):
        index_path = root / SYNTHETIC_MD5_INDEX
        try:
            known: dict[str, str] = json.loads(index_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            known = {}
        taken: set[int] = set()
        messages = []
        start = _utc(2025, 1, 1)
        for index, size in enumerate(sizes):
            document_id, access_hash = _synthetic_ids(seed, index, size, taken)
            path = root / "files" / f"s{seed}-{index:05d}-{size}.mp3"
            md5 = known[path.name] = _synthetic_file_md5(path, size, seed, index, known)
            file = DemoFile(
                document_id=document_id, access_hash=access_hash, path=path, size=size, md5=md5,
                mime_type="audio/mpeg", file_name=f"bench-{index + 1:05d}.mp3", title=f"Bench Track {index + 1}",
                performer="TAD Bench", duration=max(1, size // 16_000),  # as if 128 kbit/s
            )
            messages.append(DemoMessage(index + 1, start + timedelta(hours=index), f"Benchmark file {index + 1}", file))
        _write_json(index_path, known)
    group_rng = random.Random(f"synthetic:{seed}:{username}")
    group = DemoGroup(
        id=1_000_100_000 + zlib.crc32(username.encode()) % 100_000,
        access_hash=group_rng.getrandbits(63) + 1,
        title=f"TAD Bench · {username}",
        username=username,
        megagroup=False,
        about=f"{len(sizes)} synthetic files (seed {seed}) for benchmarks.",
        messages=tuple(messages),
    )
    return Catalogue(root, (group,))

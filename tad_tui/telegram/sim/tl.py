"""Building and round-tripping real Telethon TL objects in the simulated server.

Telethon's generated constructors gain required parameters between layers (``Dialog`` grew
``unread_poll_votes_count`` after 1.39), so the simulation fills any required field it does not set
with that type's zero value; the same code then runs on every supported Telethon release.
"""

from __future__ import annotations

import inspect
import struct
import typing
from functools import cache
from typing import Any

from telethon.extensions import BinaryReader
from telethon.tl.functions import InvokeWithTakeoutRequest
from telethon.tl.tlobject import TLObject, TLRequest

_VECTOR = 0x1CB5C415
_BOOL_TRUE = 0x997275B5
_BOOL_FALSE = 0xBC799737


@cache
def _required_fields(cls: type) -> tuple[tuple[str, Any], ...]:
    """The parameters of ``cls`` without a default, each with a zero value for its annotation."""
    fields = []
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or param.default is not inspect.Parameter.empty:
            continue
        fields.append((name, _zero_for(param.annotation)))
    return tuple(fields)


def _zero_for(annotation: Any) -> Any:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    origin = typing.get_origin(annotation)
    if annotation is int or text == "int":
        return 0
    if annotation is bool or text == "bool":
        return False
    if annotation is str or text == "str":
        return ""
    if annotation is bytes or text == "bytes":
        return b""
    if origin is list or text.startswith("List"):
        return []
    return None


@cache
def _accepted(cls: type[TLObject]) -> frozenset[str]:
    return frozenset(inspect.signature(cls.__init__).parameters)  # ~70 µs a call: once per class


def make(cls: type[TLObject], **fields: Any) -> Any:
    """``cls(**fields)`` with unknown fields dropped and missing required ones zeroed."""
    accepted = _accepted(cls)
    kwargs = {name: value for name, value in fields.items() if name in accepted}
    for name, zero in _required_fields(cls):
        kwargs.setdefault(name, zero)
    return cls(**kwargs)


def serialize(result: Any) -> bytes:
    """The bytes a server would send for ``result`` (a TL object, a vector of them, or a bool)."""
    if isinstance(result, bool):
        return struct.pack("<I", _BOOL_TRUE if result else _BOOL_FALSE)
    if isinstance(result, list):
        return struct.pack("<Ii", _VECTOR, len(result)) + b"".join(serialize(item) for item in result)
    return bytes(result)


def read_back(request: TLRequest, data: bytes) -> Any:
    """The result the client reads from ``data``, the bytes the server sent (``serialize``): a new
    object, so nothing is shared with the server."""
    with BinaryReader(data) as reader:
        return request.read_result(reader)


def unwrap(request: TLRequest) -> TLRequest:
    """The request inside invokeWithLayer / initConnection / invokeWithoutUpdates.

    invokeWithTakeout is kept: the server checks its takeout id before answering what it wraps.
    """
    while (
        hasattr(request, "query")
        and isinstance(request.query, TLRequest)
        and not isinstance(request, InvokeWithTakeoutRequest)
    ):
        request = request.query
    return request

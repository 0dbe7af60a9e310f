"""How a simulated server handler refuses: an RPC error, or a connection that breaks."""

from __future__ import annotations


class RpcErrorReply(Exception):
    """Raised by a handler: the server answers with rpc_error ``code`` / ``message``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class DropConnection(Exception):
    """Raised by a handler: the server closes the connection instead of answering."""

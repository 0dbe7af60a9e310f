"""The engine facade: the only thing the TUI and the CLI talk to.

Its methods are the commands; what they return, the events it publishes and the enums they use are
in ``tad_tui.api``. Its parts (``source``, ``scheduler``, ``search_service``) are public for tests and
benchmarks only: the UI and the CLI never reach into them.

It owns no event loop of its own: whoever drives it (Textual's app, or ``asyncio.run`` in the CLI)
runs Telethon, the store and everything else on one loop.
"""

from tad_tui.engine.facade import Engine

__all__ = ["Engine"]

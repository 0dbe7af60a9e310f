"""tad-tui: find, queue, download and manage audio from Telegram channels and groups."""

__version__ = "0.1.0"

"""The container files say only what tad-tui reads: every setting variable in the Dockerfile,
compose.yaml and .env.example is one the settings schema (or compose itself) knows, so a renamed
key cannot leave them silently behind. `.ci/container` builds and runs the image for real."""

from __future__ import annotations

import re
from pathlib import Path

from tad_tui.config import CONFIG_ENV, SCHEMA, load_settings

ROOT = Path(__file__).resolve().parent.parent
SETTING_VARIABLES = {key.env for key in SCHEMA if key.env} | {CONFIG_ENV}
COMPOSE_VARIABLES = {"MUSIC_DIR", "BASE"}  # read by compose.yaml itself, not by tad-tui
PLATFORM_VARIABLES = {"PATH", "LANG", "PYTHONUNBUFFERED", "TERM", "COLORTERM", "XDG_CONFIG_HOME"}


def _dockerfile_env() -> dict[str, str]:
    """The runtime stage's ENV (the last FROM on)."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ").rsplit("\nFROM ", 1)[1]
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            pairs.update(re.findall(r"(\w+)=(\S+)", line))
    return pairs


def _env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    return dict(re.findall(r"^#?\s*([A-Z_]+)=(\S*)", "\n".join(lines), re.MULTILINE))


def test_the_images_environment_names_settings_tad_tui_reads() -> None:
    env = _dockerfile_env()
    assert set(env) - PLATFORM_VARIABLES <= SETTING_VARIABLES
    assert env["TAD_DATA_DIR"] == "/data" and env["DEFAULT_DOWNLOAD_DIR"] == "/music"
    assert env["TAD_DEMO_OUTPUT_DIR"].startswith("/music/")  # demo files in the volume, apart from the library's
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert 'VOLUME ["/data", "/music"]' in dockerfile and "\nUSER tad\n" in dockerfile
    assert 'ENTRYPOINT ["tad-tui"]' in dockerfile and "HEALTHCHECK" in dockerfile
    settings = load_settings(env={k: v for k, v in env.items() if k in SETTING_VARIABLES})
    assert (settings.general.data_dir, settings.downloads.output_dir) == (Path("/data"), Path("/music"))


def test_env_example_and_compose_name_only_known_variables() -> None:
    example = _env_example()
    assert {"API_ID", "API_HASH", "SESSION_NAME", "MAX_CONCURRENT_DOWNLOADS", "LOG_LEVEL"} <= set(example)
    assert set(example) <= SETTING_VARIABLES | COMPOSE_VARIABLES
    compose = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    named = set(re.findall(r"^\s+([A-Z_]+): ", compose, re.MULTILINE)) | set(re.findall(r"\$\{(\w+)", compose))
    assert named <= SETTING_VARIABLES | COMPOSE_VARIABLES, named - SETTING_VARIABLES - COMPOSE_VARIABLES
    assert ".env" in (ROOT / ".dockerignore").read_text(encoding="utf-8").split()  # secrets stay out of images
    assert ".env" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()

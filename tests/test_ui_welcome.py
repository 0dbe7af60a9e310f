"""Without Telegram credentials the app explains how to get them and offers the demo."""

from __future__ import annotations

from tad_tui.ui.welcome import WelcomeApp


async def test_welcome_explains_credentials_and_opens_the_demo() -> None:
    app = WelcomeApp("/home/me/.config/tad-tui/config.toml")
    async with app.run_test(size=(80, 24)) as pilot:
        text = str(app.query_one("#welcome Static").render())
        assert "my.telegram.org" in text and "API_ID" in text and "/home/me/.config/tad-tui/config.toml" in text
        await pilot.press("d")
    assert app.return_value is True


async def test_welcome_quits_without_the_demo() -> None:
    app = WelcomeApp("config.toml")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
    assert app.return_value is False


def test_welcome_screen_snapshot(snap_compare) -> None:
    assert snap_compare(WelcomeApp("~/.config/tad-tui/config.toml"), terminal_size=(80, 24))


def test_choosing_the_demo_keeps_its_logs_in_the_demo_data_dir(tmp_path, monkeypatch, demo_catalogue) -> None:
    """No credentials, `tad-tui`, `d`: the demo's log and audit log go to the demo's data dir."""
    import tad_tui.ui.app
    import tad_tui.ui.welcome
    from tad_tui.cli import main

    async def chose_the_demo(self) -> bool:
        return True

    async def no_app(engine) -> None:
        return None

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("API_ID", "API_HASH", "TAD_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(tad_tui.ui.welcome.WelcomeApp, "run_async", chose_the_demo)
    monkeypatch.setattr(tad_tui.ui.app, "run_tui", no_app)
    config = tmp_path / "config.toml"
    config.write_text(f'[demo]\ncatalogue_dir = "{demo_catalogue.root}"\n')
    assert main(["--config", str(config)]) == 0
    demo_logs = tmp_path / "data" / "tad-tui" / "demo" / "logs"
    assert (demo_logs / "tad-tui.log").exists()


def test_d_on_the_welcome_screen_keeps_the_demo_out_of_the_given_data_dir(tmp_path, monkeypatch, demo_catalogue) -> None:
    """`tad-tui --data-dir X` without credentials, `d`: the demo lives in X/demo, X (a real account's
    library) gets nothing of it."""
    import tad_tui.ui.app
    from tad_tui.cli import main

    async def press_d(self) -> bool:
        async with self.run_test(size=(80, 24)) as pilot:
            await pilot.press("d")
        return self.return_value

    opened = []

    async def no_app(engine) -> None:
        opened.append(engine.paths.data_dir)

    for name in ("API_ID", "API_HASH", "TAD_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(WelcomeApp, "run_async", press_d)
    monkeypatch.setattr(tad_tui.ui.app, "run_tui", no_app)
    config = tmp_path / "config.toml"
    config.write_text(f'[demo]\ncatalogue_dir = "{demo_catalogue.root}"\n')
    library = tmp_path / "library"
    library.mkdir()
    (library / "keep.txt").write_text("a real account's data dir\n")
    assert main(["--config", str(config), "--data-dir", str(library)]) == 0
    assert opened == [library.resolve() / "demo"]
    assert (library / "demo" / "library.sqlite3").exists() and (library / "demo" / "tad.demo.session").exists()
    # The account's data dir holds what it held, the demo's folder and the logs of the start (the
    # welcome screen ran on it before the demo was chosen); no database, session or lock of the demo.
    assert {p.name for p in library.iterdir()} <= {"keep.txt", "demo", "logs", "cache"}


def test_d_on_the_welcome_screen_leaves_db_path_and_output_dir_to_the_real_library(tmp_path, monkeypatch, demo_catalogue) -> None:
    """DB_PATH and DEFAULT_DOWNLOAD_DIR name a real library's places: the demo chosen with `d` keeps
    its database and downloads in its own data dir, and creates nothing in theirs."""
    import tad_tui.ui.app
    from tad_tui.cli import main

    async def chose_the_demo(self) -> bool:
        return True

    opened = []

    async def no_app(engine) -> None:
        opened.append((engine.paths.db, engine.paths.downloads_dir))

    real = tmp_path / "real"
    real.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("DB_PATH", str(real / "library.sqlite3"))
    monkeypatch.setenv("DEFAULT_DOWNLOAD_DIR", str(real / "music"))
    for name in ("API_ID", "API_HASH", "TAD_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(WelcomeApp, "run_async", chose_the_demo)
    monkeypatch.setattr(tad_tui.ui.app, "run_tui", no_app)
    config = tmp_path / "config.toml"
    config.write_text(f'[demo]\ncatalogue_dir = "{demo_catalogue.root}"\n')
    assert main(["--config", str(config)]) == 0
    demo = tmp_path / "data" / "tad-tui" / "demo"
    assert opened == [(demo / "library.sqlite3", demo / "downloads")]
    assert (demo / "library.sqlite3").exists() and list(real.iterdir()) == []

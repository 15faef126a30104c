"""``kiosk`` imports only what a command needs (issue 15, start-up and memory).

Each check runs the console script's ``main`` in a fresh interpreter (a module imported once
stays imported, so this cannot be checked in the test process) and reads ``sys.modules``
after the command finished. The lazy parts of ``kiosk/cli.py`` (``IMPORT_KINDS`` and
``LAZY_COMMANDS``) spell out what the command modules say; the last tests keep them in step.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
#: Never needed to show help: the database layer, the UI, the sync client, Argon2, numpy, gpiozero.
HEAVY = ("sqlalchemy", "textual", "rich", "httpx", "argon2", "numpy", "alembic", "gpiozero", "tui")


def _modules_after(args: list[str], config: Path | None = None) -> tuple[int, set[str], str]:
    script = textwrap.dedent(
        """
        import json, sys
        sys.argv = ["kiosk", *json.loads(sys.argv[1])]
        from kiosk.cli import main
        try:
            main()
        except SystemExit as exc:
            code = exc.code or 0
        else:
            code = 0
        sys.stderr.write(json.dumps({"code": code, "modules": sorted(sys.modules)}) + "\\n")
        """
    )
    env = {"PATH": "/usr/bin:/bin", "KIOSK_CONFIG": str(config) if config else ""}
    if config is None:
        env.pop("KIOSK_CONFIG")
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], {m.split(".")[0] for m in report["modules"]}, done.stdout


@pytest.mark.parametrize("args", [["--help"], ["holdings", "--help"], ["import", "--help"]])
def test_help_does_not_import_the_database_or_the_ui(args: list[str]) -> None:
    code, top_level, out = _modules_after(args)
    assert code == 0
    assert "Usage: kiosk" in out
    assert top_level.isdisjoint(HEAVY), sorted(top_level & set(HEAVY))


def test_help_with_a_config_that_has_an_exam_cabinet(tmp_path: Path) -> None:
    """Loading a config checks its exam cabinets against the doors: still no database."""
    config = tmp_path / "kiosk.toml"
    config.write_text(
        f'[station]\ndata_dir = "{tmp_path}"\n[lockers.exam_cabinets]\nB4 = 30\n',
        encoding="utf-8",
    )
    code, top_level, _ = _modules_after(["holdings", "--help"], config)
    assert code == 0
    assert top_level.isdisjoint(HEAVY), sorted(top_level & set(HEAVY))


def test_the_check_can_fail() -> None:
    """A command that opens the ledger does import SQLAlchemy: the check above sees it."""
    code, top_level, _ = _modules_after(["db", "status"])
    assert "sqlalchemy" in top_level, code


def test_import_kinds_are_the_importers() -> None:
    from kiosk import exam_import  # noqa: F401  registers `import exams`
    from kiosk.cli import IMPORT_KINDS
    from kiosk.mis_import import IMPORTERS

    assert tuple(sorted(IMPORTERS)) == IMPORT_KINDS


def test_lazy_commands_help_lines_are_the_commands_own() -> None:
    """``kiosk --help`` shows the stored lines; each must be what the command itself says."""
    import importlib

    from kiosk.cli import LAZY_COMMANDS, main

    for name, (module, attr, short) in LAZY_COMMANDS.items():
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        assert command.name == name
        # click's width in `kiosk --help`: 78 columns less 6, less the longest name
        assert command.get_short_help_str(78 - 6 - len("signage-page")) == short, name
    listed = CliRunner().invoke(main, ["--help"]).output
    for name in LAZY_COMMANDS:
        assert f"\n  {name} " in listed

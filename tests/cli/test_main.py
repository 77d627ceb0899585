"""The ``openami`` entry point: every command listed, summaries equal to each command's own
help, and a command runs without importing the others."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from openami.cli.main import SUBCOMMANDS, cli, load_command


def test_summaries_equal_each_commands_own_help() -> None:
    for name, summary in SUBCOMMANDS.items():
        assert load_command(name).get_short_help_str(limit=300) == summary, name


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    for name in SUBCOMMANDS:
        assert f"\n  {name} " in result.output, name


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command 'no-such-command'" in result.output


def test_a_command_imports_only_its_own_module() -> None:
    probe = (
        "import json, sys\n"
        "from openami.cli.main import cli\n"
        "try:\n"
        "    cli(['mdms', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('openami.cli.'))))\n"
        "print('openami.web.app' in sys.modules, 'fastapi' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    loaded = json.loads(out[-2])
    assert "openami.cli.mdms" in loaded
    assert not {"openami.cli.serve", "openami.cli.demo", "openami.cli.dr"} & set(loaded)
    assert out[-1] == "False False"

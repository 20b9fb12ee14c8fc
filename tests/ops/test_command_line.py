"""The four commands from a shell: help, a message and exit code 1 on bad input, no traceback."""

from __future__ import annotations

import pytest

from tests.ops.conftest import run_in_shell

pytestmark = pytest.mark.django_db

COMMANDS = ("list_subscriptions", "preview_seat_change", "export_orders", "expire_trials")


@pytest.mark.parametrize("command", COMMANDS)
def test_help_describes_the_command(command):
    result = run_in_shell(command, "--help")
    assert result.returncode == 0, result.stderr
    assert f"usage: manage.py {command}" in result.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ("list_subscriptions", "--account", "Initech"),
            "No account has the name or id 'Initech'.",
        ),
        (("preview_seat_change", "999999", "--seats", "7"), "No subscription has the id 999999."),
        (("preview_seat_change", "1", "--seats", "7.5"), "--seats must be a whole number"),
        (("export_orders", "--since", "2026-13-01"), "--since '2026-13-01' is not an ISO 8601"),
        (("expire_trials", "--at", "2999-01-01"), "--at 2999-01-01T00:00:00Z is in the future"),
    ],
)
def test_bad_input_exits_1_with_a_message(argv, message):
    result = run_in_shell(*argv)
    assert result.returncode == 1
    assert f"CommandError: {message}" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_json_output_on_a_pipe_is_only_json(db):
    import json

    result = run_in_shell("list_subscriptions", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    assert result.stderr.strip() == "list_subscriptions: 0 subscriptions"

"""Issue #6, item 12: bad input to every management command gets a clear message and
writes nothing.

Non-numbers, huge and negative numbers, empty input, Unicode digits,
overlong strings and dates that are not ISO 8601, through ``call_command``
(a ``CommandError`` with the message, never another exception) and from a
shell (exit code 1, no traceback). Each time every table's row count, and
the rows the input aimed at, are the same after.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.urls import reverse

from checkout.models import Order
from subscriptions.models import Account, Subscription
from tests.factories import SubscriptionFactory
from tests.hardening.bad_input import ARABIC, FULLWIDTH, HUGE
from tests.hardening.test_csrf import every_row_count
from tests.ops.conftest import run_in_shell
from tests.shared_fixtures import put_in_cart

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(frozen_now, admin, account, remote_support, client):
    """Something for every command to act on if it mistook bad input for good: a trial
    that has ended, a subscription due for renewal, an order whose email is pending."""
    client.force_login(admin)
    put_in_cart(remote_support, 7)
    page = client.get(reverse("checkout:review")).content.decode()
    token = re.search(r'name="review" value="([^"]+)"', page).group(1)
    client.post(reverse("checkout:place"), {"review": token})
    order = Order.objects.get()
    Order.objects.filter(pk=order.pk).update(
        placed_at=frozen_now_minus(hours=1), email_status=Order.EmailStatus.PENDING
    )
    trial = SubscriptionFactory(
        account=account,
        status=Subscription.Status.TRIAL,
        seats=5,
        trial_end=datetime(2026, 11, 20, tzinfo=UTC),
    )
    due = SubscriptionFactory(
        account=account, seats=3, billing_anchor=datetime(2026, 10, 1, tzinfo=UTC)
    )
    mail.outbox.clear()
    return {"order": order, "trial": trial, "due": due, "subscription": remote_support}


def frozen_now_minus(**delta) -> datetime:
    return datetime(2026, 11, 26, 12, 0, tzinfo=UTC) - timedelta(**delta)


def world_state() -> dict:
    return {
        "rows": every_row_count(),
        "subscriptions": list(
            Subscription.objects.order_by("pk").values_list(
                "pk", "status", "seats", "current_period_start", "current_period_end"
            )
        ),
        "emails": list(Order.objects.values_list("number", "email_status")),
        "accounts": list(Account.objects.order_by("pk").values_list("pk", "name")),
    }


def arg(template: str, world: dict) -> str:
    """``{sub}``: a real subscription id; ``{sub_ar}``/``{sub_fw}``: it in Unicode digits."""
    pk = str(world["subscription"].pk)
    account = str(world["subscription"].account_id)
    return template.format(
        sub=pk,
        sub_ar=pk.translate(ARABIC),
        sub_fw=pk.translate(FULLWIDTH),
        acct_ar=account.translate(ARABIC),
        acct_fw=account.translate(FULLWIDTH),
    )


NOT_ISO = "is not an ISO 8601 date or time"
COMMANDS = [
    # list_subscriptions
    (("list_subscriptions", "--account", ""), "No account has the name or id ''."),
    (("list_subscriptions", "--account", "{acct_ar}"), "No account has the name or id '"),
    (("list_subscriptions", "--account", "{acct_fw}"), "No account has the name or id '"),
    (("list_subscriptions", "--account", HUGE), f"No account has the name or id '{HUGE}'."),
    (("list_subscriptions", "--account", "-1"), "No account has the name or id '-1'."),
    (("list_subscriptions", "--account", "x" * 5000), "No account has the name or id 'xxxx"),
    (("list_subscriptions", "--status", "paused"), "invalid choice: 'paused'"),
    (("list_subscriptions", "--status", ""), "invalid choice: ''"),
    # preview_seat_change
    (("preview_seat_change", "abc", "--seats", "7"), "SUBSCRIPTION_ID must be a whole number"),
    (("preview_seat_change", "", "--seats", "7"), "SUBSCRIPTION_ID must be a whole number"),
    (("preview_seat_change", "{sub_ar}", "--seats", "7"), "SUBSCRIPTION_ID must be a whole"),
    (("preview_seat_change", "{sub_fw}", "--seats", "7"), "SUBSCRIPTION_ID must be a whole"),
    (("preview_seat_change", HUGE, "--seats", "7"), f"SUBSCRIPTION_ID '{HUGE}' is too large."),
    (("preview_seat_change", "-1", "--seats", "7"), "No subscription has the id -1."),
    (("preview_seat_change", "{sub}", "--seats", "seven"), "--seats must be a whole number"),
    (("preview_seat_change", "{sub}", "--seats", ""), "--seats must be a whole number"),
    (("preview_seat_change", "{sub}", "--seats", "٣"), "--seats must be a whole number"),
    (("preview_seat_change", "{sub}", "--seats", "３"), "--seats must be a whole number"),
    (("preview_seat_change", "{sub}", "--seats", "7.5"), "--seats must be a whole number"),
    (("preview_seat_change", "{sub}", "--seats", HUGE), f"--seats '{HUGE}' is too large."),
    (("preview_seat_change", "{sub}", "--seats", "7" * 5000), "--seats '7777"),
    (("preview_seat_change", "{sub}", "--seats", "-4"), "cannot be changed to -4 licenses"),
    (("preview_seat_change", "{sub}", "--seats", "1000001"), "at most 1000"),
    (("preview_seat_change", "{sub}", "--seats", "7", "--at", ""), f"--at '' {NOT_ISO}"),
    (("preview_seat_change", "{sub}", "--seats", "7", "--at", "soon"), NOT_ISO),
    (("preview_seat_change", "{sub}", "--seats", "7", "--at", "٢٠٢٦-١١-٢٦"), NOT_ISO),
    (("preview_seat_change", "{sub}", "--seats", "7", "--at", "0001-01-01"), "1970 to 9000"),
    (("preview_seat_change", "{sub}", "--seats", "7", "--at", "x" * 5000), NOT_ISO),
    # expire_trials
    (("expire_trials", "--at", ""), f"--at '' {NOT_ISO}"),
    (("expire_trials", "--at", "yesterday"), NOT_ISO),
    (("expire_trials", "--at", "٢٠٢٦-١١-٢٦"), NOT_ISO),
    (("expire_trials", "--at", HUGE), NOT_ISO),
    (("expire_trials", "--at", "-1"), NOT_ISO),
    (("expire_trials", "--at", "99999-01-01"), NOT_ISO),
    (("expire_trials", "--at", "2999-01-01"), "is in the future"),
    (("expire_trials", "--at", "x" * 5000), NOT_ISO),
    # export_orders
    (("export_orders", "--since", ""), f"--since '' {NOT_ISO}"),
    (("export_orders", "--since", "last month"), NOT_ISO),
    (("export_orders", "--since", "٢٠٢٦-١١-٠١"), NOT_ISO),
    (("export_orders", "--since", HUGE), NOT_ISO),
    (("export_orders", "--since", "-1"), NOT_ISO),
    (("export_orders", "--since", "2026-11-01", "--until", ""), f"--until '' {NOT_ISO}"),
    (("export_orders", "--since", "2026-11-01", "--until", "2026-10-01"), "must be after"),
    (("export_orders", "--since", "2026-11-01", "--format", "xml"), "invalid choice: 'xml'"),
    # dispatch_pending_emails
    (("dispatch_pending_emails", "--older-than", "soon"), "--older-than must be a number"),
    (("dispatch_pending_emails", "--older-than", ""), "--older-than must be a number"),
    (("dispatch_pending_emails", "--older-than", "-1"), "--older-than must be a number"),
    (("dispatch_pending_emails", "--older-than", "nan"), "--older-than must be a number"),
    (("dispatch_pending_emails", "--older-than", "inf"), "--older-than must be a number"),
    (("dispatch_pending_emails", "--older-than", "1e20"), "--older-than must be a number"),
    (("dispatch_pending_emails", "--older-than", HUGE), "--older-than must be a number"),
    (("dispatch_pending_emails", "--older-than", "٣"), "--older-than must be a number"),
    (("dispatch_pending_emails", "--older-than", "３"), "--older-than must be a number"),
    (("dispatch_pending_emails", "--limit", "0"), "--limit must be from 1 to 100000"),
    (("dispatch_pending_emails", "--limit", "-1"), "--limit must be from 1 to 100000"),
    (("dispatch_pending_emails", "--limit", "100001"), "--limit must be from 1 to 100000"),
    (("dispatch_pending_emails", "--limit", HUGE), f"--limit '{HUGE}' is too large."),
    (("dispatch_pending_emails", "--limit", "ten"), "--limit must be a whole number"),
    (("dispatch_pending_emails", "--limit", ""), "--limit must be a whole number"),
    (("dispatch_pending_emails", "--limit", "٣"), "--limit must be a whole number"),
    # renew_subscriptions
    (("renew_subscriptions", "--at", "tomorrow"), "is not an ISO 8601 date or time"),
    (("renew_subscriptions", "--at", "٢٠٢٦-١١-٢٦"), "is not an ISO 8601 date or time"),
    (("renew_subscriptions", "--at", HUGE), "is not an ISO 8601 date or time"),
    (("renew_subscriptions", "--at", "2999-01-01"), "is in the future"),
    (("renew_subscriptions", "--batch-size", "0"), "--batch-size must be between 1 and 100000"),
    (("renew_subscriptions", "--batch-size", "-1"), "--batch-size must be between 1 and 100000"),
    (("renew_subscriptions", "--batch-size", HUGE), "--batch-size " + repr(HUGE) + " is too"),
    (("renew_subscriptions", "--batch-size", "ten"), "--batch-size must be a whole number"),
    (("renew_subscriptions", "--batch-size", ""), "--batch-size must be a whole number"),
    (("renew_subscriptions", "--fan-out", "٢"), "--fan-out must be a whole number"),
    (("renew_subscriptions", "--fan-out", "0"), "--fan-out must be between 1 and 64"),
    # seed_demo
    (("seed_demo", "extra"), "unrecognized arguments: extra"),
    (("seed_demo", "--force=1"), "ignored explicit argument '1'"),
    (("seed_demo", "--force", "--demo", "acme"), "unrecognized arguments: --demo acme"),
]

COMMANDS_EDGES = [
    pytest.param(("renew_subscriptions", "--at", ""), "--at"),
    pytest.param(
        ("renew_subscriptions", "--at", "0001-01-01T00:00:00+01:00"),
        "1970",
    ),
    pytest.param(
        ("renew_subscriptions", "--dry-run", "--at", "9999-12-31T23:59:59-23:59"),
        "--at",
    ),
    pytest.param(("renew_subscriptions", "--batch-size", "٣"), "--batch-size"),
]


def command_id(argv: tuple) -> str:
    return " ".join(part if len(part) < 24 else part[:20] + "…" for part in argv) or "empty"


@pytest.mark.parametrize(
    ("argv", "message"),
    [pytest.param(argv, message, id=command_id(argv)) for argv, message in COMMANDS]
    + COMMANDS_EDGES,
)
def test_a_command_refuses_bad_input_with_a_message_and_writes_nothing(
    world, settings, argv, message
):
    settings.DEBUG = True  # seed_demo's own refusal without DEBUG is the next test
    argv = tuple(arg(part, world) for part in argv)
    before = world_state()
    out, err = StringIO(), StringIO()
    try:
        call_command(*argv, stdout=out, stderr=err)
    except CommandError as error:
        text = str(error)
    except Exception as error:  # a traceback is the failure this test looks for
        pytest.fail(f"{argv[0]} ended in {type(error).__name__}: {error}")
    else:
        pytest.fail(f"{argv[0]} accepted {argv[1:]}: {out.getvalue()[-300:]}")
    assert message in text, text
    assert len(text) < 600, "the message repeats an overlong input instead of saying what is wrong"
    assert world_state() == before
    assert mail.outbox == []


def test_seed_demo_with_debug_off_and_no_force_creates_nothing(world, settings):
    settings.DEBUG = False
    before = world_state()
    with pytest.raises(CommandError, match="refuses to run with DEBUG off"):
        call_command("seed_demo", stdout=StringIO())
    assert world_state() == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("list_subscriptions", "--account", "٣"), "No account has the name or id '٣'."),
        (("preview_seat_change", "1", "--seats", "7" * 5000), "--seats '7777"),
        (("expire_trials", "--at", ""), "--at '' is not an ISO 8601"),
        (("export_orders", "--since", HUGE), f"--since '{HUGE}' is not an ISO 8601"),
        (("dispatch_pending_emails", "--older-than", "nan"), "--older-than must be a number"),
        (("dispatch_pending_emails", "--limit", HUGE), f"--limit '{HUGE}' is too large."),
        (("renew_subscriptions", "--batch-size", HUGE), f"--batch-size '{HUGE}' is too large."),
    ],
    ids=lambda value: command_id(value) if isinstance(value, tuple) else "",
)
def test_from_a_shell_bad_input_exits_1_with_a_message_and_no_traceback(argv, message):
    result = run_in_shell(*argv)
    assert result.returncode == 1, result.stderr
    assert f"CommandError: {message}" in result.stderr
    assert "Traceback" not in result.stderr

"""Hardening 7: asking for a password reset never tells whether an address has an account.

The answer (status, redirect, the page after it) is the same for a known, an unknown
and an inactive address, and so is the work the request does: it only queues the reset,
so an address with an account does not take longer to answer. Only the known, active
one gets an email, sent to the address on file rather than to the spelling that was
typed, in the language it was asked in. (Celery runs the queued task at once here.)
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from subscriptions import tasks
from subscriptions.models import User
from tests.factories import UserFactory
from tests.shared_fixtures import AT

pytestmark = pytest.mark.django_db


def ask_for_reset(client, email: str, **headers):
    return client.post(reverse("password_reset"), {"email": email}, **headers)


def visible_page(response) -> str:
    """The page as a visitor compares it: each render carries a fresh CSRF token."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


@pytest.fixture
def anna(db):
    return UserFactory(email="anna@acme.example")


@pytest.mark.parametrize("language", ["en", "de"])
def test_known_and_unknown_addresses_get_the_same_answer(client, anna, language):
    known = ask_for_reset(client, "anna@acme.example", HTTP_ACCEPT_LANGUAGE=language)
    unknown = ask_for_reset(client, "nobody@acme.example", HTTP_ACCEPT_LANGUAGE=language)

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == reverse("password_reset_done")
    known_page = client.get(known["Location"], HTTP_ACCEPT_LANGUAGE=language)
    unknown_page = client.get(unknown["Location"], HTTP_ACCEPT_LANGUAGE=language)
    assert known_page.status_code == unknown_page.status_code == 200
    assert visible_page(known_page) == visible_page(unknown_page)
    sent_text = {
        "en": "If an account uses this address, we have sent it a link",
        "de": "Falls ein Benutzer diese Adresse verwendet",
    }[language]
    assert sent_text in visible_page(unknown_page)
    assert "nobody@acme.example" not in visible_page(unknown_page)


def test_only_the_known_address_gets_an_email(client, anna):
    ask_for_reset(client, "nobody@acme.example")
    assert mail.outbox == []

    ask_for_reset(client, "anna@acme.example")
    assert [message.to for message in mail.outbox] == [["anna@acme.example"]]
    assert "/accounts/reset/" in mail.outbox[0].body


def test_an_inactive_login_is_answered_like_an_unknown_one_and_gets_nothing(client):
    UserFactory(email="left@acme.example", is_active=False)

    inactive = ask_for_reset(client, "left@acme.example")
    unknown = ask_for_reset(client, "nobody@acme.example")

    assert inactive.status_code == unknown.status_code == 302
    assert inactive["Location"] == unknown["Location"]
    assert mail.outbox == []


def test_the_link_goes_to_the_address_on_file_not_the_spelling_typed(client, anna):
    ask_for_reset(client, "  ANNA@Acme.Example ")

    assert [message.to for message in mail.outbox] == [["anna@acme.example"]]


def test_a_malformed_address_gets_the_same_form_error_whoever_asks(client, anna):
    response = ask_for_reset(client, "anna@")

    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    assert mail.outbox == []


class Queue:
    """Stands in for the task's ``delay``: keeps what was queued."""

    def __init__(self, refuse: bool = False) -> None:
        self.queued: list[dict] = []
        self.refuse = refuse

    def __call__(self, **arguments) -> None:
        if self.refuse:
            raise ConnectionRefusedError("the broker is down")
        self.queued.append(arguments)


def test_the_request_does_the_same_work_for_any_address(client, anna, monkeypatch):
    """No lookup of the address in the request: its time cannot tell an account exists."""
    queue = Queue()
    monkeypatch.setattr(tasks.send_password_reset, "delay", queue)
    answers, statements = [], []
    for email in ("anna@acme.example", "nobody@acme.example"):
        with CaptureQueriesContext(connection) as captured:
            answers.append(ask_for_reset(client, email, HTTP_ACCEPT_LANGUAGE="de"))
        statements.append([query["sql"] for query in captured])

    assert [a.status_code for a in answers] == [302, 302]
    assert statements[0] == statements[1]
    assert not any("subscriptions_user" in sql for sql in statements[0])
    assert queue.queued == [
        {"email": email, "domain": "testserver", "use_https": False, "language": "de"}
        for email in ("anna@acme.example", "nobody@acme.example")
    ]
    assert mail.outbox == []  # sent by the worker, not by the request


def test_a_broker_that_is_down_gets_the_same_answer(client, anna, monkeypatch, caplog):
    monkeypatch.setattr(tasks.send_password_reset, "delay", Queue(refuse=True))

    response = ask_for_reset(client, "anna@acme.example")

    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    assert "Could not queue a password reset email" in caplog.text


def test_the_email_is_in_the_language_it_was_asked_in(client, anna):
    ask_for_reset(client, "anna@acme.example", HTTP_ACCEPT_LANGUAGE="de")

    [message] = mail.outbox
    assert "Jemand hat angefordert, das Passwort" in message.body
    assert "http://testserver/accounts/reset/" in message.body


# -- One email per address per PASSWORD_RESET_EMAIL_INTERVAL (no inbox flooding) --------


def test_asking_again_within_the_interval_sends_no_second_email(client, anna, frozen_now):
    first = ask_for_reset(client, "anna@acme.example")
    frozen_now.shift(timedelta(minutes=9))
    again = ask_for_reset(client, " Anna@ACME.example")

    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"] == reverse("password_reset_done")
    assert [message.to for message in mail.outbox] == [["anna@acme.example"]]
    # the link already sent still works
    link = re.search(r"http://testserver(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    assert client.get(link, follow=True).status_code == 200
    assert b'name="new_password1"' in client.get(link, follow=True).content


def test_a_flood_of_requests_sends_one_email_per_interval(client, anna, frozen_now):
    for _ in range(20):
        ask_for_reset(client, "anna@acme.example")
        frozen_now.shift(timedelta(seconds=30))
    assert len(mail.outbox) == 1  # 20 requests over 10 minutes

    frozen_now.shift(timedelta(minutes=1))
    ask_for_reset(client, "anna@acme.example")
    assert len(mail.outbox) == 2


def test_the_limit_is_per_address(client, anna, frozen_now):
    UserFactory(email="ben@acme.example")
    ask_for_reset(client, "anna@acme.example")
    ask_for_reset(client, "ben@acme.example")
    ask_for_reset(client, "anna@acme.example")

    assert sorted(message.to[0] for message in mail.outbox) == [
        "anna@acme.example",
        "ben@acme.example",
    ]


def test_an_email_that_could_not_be_sent_does_not_count(client, anna, frozen_now, monkeypatch):
    """Django's own reset form only logs a mail server's refusal; the task fails instead,
    and the address may ask again at once rather than ten minutes later."""
    from smtplib import SMTPRecipientsRefused

    from django.core.mail import EmailMultiAlternatives

    def refused(*args, **kwargs):
        raise SMTPRecipientsRefused({"anna@acme.example": (451, b"try again later")})

    with monkeypatch.context() as patched:
        patched.setattr(EmailMultiAlternatives, "send", refused)
        with pytest.raises(SMTPRecipientsRefused):
            tasks.send_password_reset(
                email="anna@acme.example", domain="testserver", use_https=False, language="en"
            )
    anna.refresh_from_db()
    assert mail.outbox == [] and anna.password_reset_sent_at is None

    ask_for_reset(client, "anna@acme.example")  # at once, not ten minutes later
    assert [message.to for message in mail.outbox] == [["anna@acme.example"]]


def test_the_interval_is_a_setting(client, anna, frozen_now, settings):
    settings.PASSWORD_RESET_EMAIL_INTERVAL = timedelta(minutes=1)
    ask_for_reset(client, "anna@acme.example")
    frozen_now.shift(timedelta(minutes=2))
    ask_for_reset(client, "anna@acme.example")

    assert len(mail.outbox) == 2


def test_support_sees_when_the_last_reset_email_went_out(client, admin_client, anna, frozen_now):
    page = admin_client.get(reverse("admin:subscriptions_user_change", args=[anna.pk]))
    assert "Password reset email sent at" in page.content.decode()

    ask_for_reset(client, "anna@acme.example")

    anna.refresh_from_db()
    assert anna.password_reset_sent_at == AT
    page = admin_client.get(reverse("admin:subscriptions_user_change", args=[anna.pk]))
    assert "Nov. 26, 2026, noon" in page.content.decode()


def test_a_look_alike_address_cannot_hold_back_the_real_ones_email(client, frozen_now):
    """PostgreSQL's case-insensitive match takes "mıke" (dotless ı) for "mike"; Django
    does not email it, so it must not count as the email sent to mike either."""
    mike = UserFactory(email="mike@acme.example")
    # The database's case mapping takes one for the other (with LC_CTYPE=C it would not,
    # and this test would prove nothing).
    assert User.objects.filter(email__iexact="mıke@acme.example").get() == mike
    ask_for_reset(client, "mıke@acme.example")
    mike.refresh_from_db()
    assert mike.password_reset_sent_at is None
    assert mail.outbox == []

    ask_for_reset(client, "mike@acme.example")
    assert [message.to for message in mail.outbox] == [["mike@acme.example"]]


def test_a_user_without_a_usable_password_is_not_marked_as_emailed(client, frozen_now):
    invited = UserFactory(email="invited@acme.example")
    invited.set_unusable_password()
    invited.save()

    ask_for_reset(client, "invited@acme.example")

    invited.refresh_from_db()
    assert mail.outbox == [] and invited.password_reset_sent_at is None


class WorkerLost(BaseException):
    """The worker process dies mid-send (SIGKILL, out of memory): nothing is cleaned up."""


def worker_lost(*args, **kwargs):
    raise WorkerLost()


def test_a_task_delivered_again_after_its_worker_was_lost_still_sends(anna, frozen_now):
    from django.core.mail import EmailMultiAlternatives

    arguments = {"email": "anna@acme.example", "domain": "testserver", "use_https": False}
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(EmailMultiAlternatives, "send", worker_lost)
        with pytest.raises(WorkerLost):
            tasks.send_password_reset.apply(kwargs={**arguments, "language": "en"}, task_id="t-1")
    assert mail.outbox == []

    # Another request within the interval: still nothing (the claim holds) …
    tasks.send_password_reset.apply(kwargs={**arguments, "language": "en"}, task_id="t-2")
    assert mail.outbox == []
    # … but the lost task's message, delivered again (acks_late), sends the email.
    tasks.send_password_reset.apply(kwargs={**arguments, "language": "en"}, task_id="t-1")
    assert [message.to for message in mail.outbox] == [["anna@acme.example"]]


@pytest.mark.django_db(transaction=True)
def test_workers_given_the_same_address_at_once_send_one_email():
    """Real threads, each with its own database connection, as two or more workers."""
    UserFactory(email="anna@acme.example")
    workers = 10
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            tasks.send_password_reset.apply(
                kwargs={
                    "email": "anna@acme.example",
                    "domain": "testserver",
                    "use_https": False,
                    "language": "en",
                },
                task_id=f"task-{index}",
                throw=True,
            )
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(index,)) for index in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert [message.to for message in mail.outbox] == [["anna@acme.example"]]

"""Inviting by email: a single-use link, 7 days, in the inviter's language; accepting
creates or links the user and the membership; resend, revoke, and the refusals."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse

from members.models import Invitation
from members.services import invitation_create, invitation_revoke
from subscriptions.activity import Channel
from subscriptions.models import AuditEntry, Membership, User
from tests.factories import PASSWORD, MembershipFactory, UserFactory
from tests.shared_fixtures import AT

pytestmark = pytest.mark.django_db

USERS = reverse("members:users")
LINK = re.compile(r"http://testserver/invitations/([A-Za-z0-9_-]+)/")


@pytest.fixture(autouse=True)
def _links_point_at_the_test_server(settings):
    settings.PORTAL_BASE_URL = "http://testserver"


def invite(client, email="dora@example.org", role="member", **extra):
    return client.post(
        reverse("members:invite"), {"email": email, "role": role}, follow=True, **extra
    )


@pytest.fixture
def invited(frozen_now, signed_in, django_capture_on_commit_callbacks):
    """Anna invites dora@example.org; returns the link from the email."""
    with django_capture_on_commit_callbacks(execute=True):
        invite(signed_in)
    return LINK.search(mail.outbox[-1].body).group(0).replace("http://testserver", "")


def test_the_invitation_email_has_the_link_in_the_inviters_language(
    frozen_now, signed_in, admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        html = invite(signed_in, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Einladung an dora@example.org gesendet. Sie ist 7 Tage gültig." in html
    (message,) = mail.outbox
    assert message.to == ["dora@example.org"]
    assert message.subject == "Sie sind eingeladen, Acme GmbH im Billing Center beizutreten"
    assert f"{admin.full_name} hat Sie eingeladen, Acme GmbH im Billing Center beizutreten." in (
        message.body
    )
    assert "Sie werden Mitglied." in message.body
    assert LINK.search(message.body)
    html_part, _mimetype = message.alternatives[0]
    assert LINK.search(html_part).group(0) == LINK.search(message.body).group(0)
    invitation = Invitation.objects.get()
    assert invitation.expires_at == AT + timedelta(days=7)
    assert invitation.sent_at == AT
    # The token is stored only hashed.
    assert LINK.search(message.body).group(1) not in invitation.token_hash
    entry = AuditEntry.objects.get(action="member_invited")
    assert entry.actor == admin and entry.channel == Channel.PORTAL


def test_the_page_lists_the_open_invitation(invited, signed_in):
    html = signed_in.get(USERS).content.decode()
    assert "Open invitations" in html and "dora@example.org" in html
    assert "Valid until Dec. 3, 2026" in html


def test_a_new_person_accepts_with_a_name_and_password(invited, client):
    client.logout()
    page = client.get(invited).content.decode()
    assert "Join Acme GmbH" in page and "Your name" in page
    response = client.post(
        invited,
        {
            "full_name": "Dora Diaz",
            "password1": "a-long-passphrase-9",
            "password2": "a-long-passphrase-9",
        },
        follow=True,
    )
    assert "Welcome to Acme GmbH." in response.content.decode()
    user = User.objects.get(email="dora@example.org")
    assert user.full_name == "Dora Diaz" and user.check_password("a-long-passphrase-9")
    assert response.context["user"] == user  # signed in
    membership = Membership.objects.get(user=user)
    assert membership.account.name == "Acme GmbH" and membership.role == "member"
    assert Invitation.objects.get().accepted_by == user
    entry = AuditEntry.objects.get(action="member_joined")
    assert entry.actor == user and entry.after["new"] is True


def test_a_weak_or_mistyped_password_is_refused_and_nothing_created(invited, client):
    client.logout()
    response = client.post(invited, {"full_name": "Dora", "password1": "abc", "password2": "abd"})
    assert response.status_code == 400
    assert "The two passwords differ." in response.content.decode()
    response = client.post(invited, {"full_name": "Dora", "password1": "123", "password2": "123"})
    assert response.status_code == 400
    assert not User.objects.filter(email="dora@example.org").exists()
    assert Invitation.objects.get().accepted_at is None


def test_an_existing_user_signs_in_and_is_linked(
    frozen_now, signed_in, django_capture_on_commit_callbacks, client
):
    dora = UserFactory(email="dora@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        invite(signed_in, role="billing_admin")
    link = LINK.search(mail.outbox[-1].body).group(0).replace("http://testserver", "")
    client.logout()
    page = client.get(link).content.decode()
    assert "Sign in as dora@example.org to accept the invitation." in page
    client.post(link)  # not signed in: nothing happens
    assert not Membership.objects.filter(user=dora).exists()
    client.force_login(dora)
    client.post(link)
    assert Membership.objects.get(user=dora).role == "billing_admin"
    assert User.objects.filter(email="dora@example.org").count() == 1


def test_someone_else_signed_in_cannot_accept(invited, client, bert):
    client.force_login(bert.user)
    page = client.get(invited).content.decode()
    assert "You are signed in as bert@acme.example." in page
    client.post(invited, {"full_name": "X", "password1": PASSWORD, "password2": PASSWORD})
    assert not User.objects.filter(email="dora@example.org").exists()
    assert Invitation.objects.get().accepted_at is None


def test_a_used_invitation_cannot_be_used_again(invited, client):
    client.logout()
    data = {
        "full_name": "Dora",
        "password1": "a-long-passphrase-9",
        "password2": "a-long-passphrase-9",
    }
    client.post(invited, data)
    client.logout()
    response = client.get(invited)
    assert response.status_code == 410
    assert "This invitation was already used" in response.content.decode()
    assert Membership.objects.filter(user__email="dora@example.org").count() == 1


def test_an_expired_invitation_says_so(invited, client, frozen_now):
    frozen_now.shift(timedelta(days=7, seconds=1))
    client.logout()
    response = client.get(invited)
    assert response.status_code == 410
    assert "This invitation has expired" in response.content.decode()
    data = {
        "full_name": "Dora",
        "password1": "a-long-passphrase-9",
        "password2": "a-long-passphrase-9",
    }
    assert client.post(invited, data).status_code == 410
    assert not User.objects.filter(email="dora@example.org").exists()


def test_a_revoked_invitation_says_so(invited, signed_in, client):
    invitation = Invitation.objects.get()
    html = signed_in.post(
        reverse("members:revoke", args=[invitation.pk]), follow=True
    ).content.decode()
    assert "The invitation to dora@example.org is revoked." in html
    assert "Open invitations" not in html
    client.logout()
    response = client.get(invited)
    assert (
        response.status_code == 410 and "This invitation was revoked" in response.content.decode()
    )
    assert AuditEntry.objects.filter(action="invitation_revoked").count() == 1


def test_an_unknown_link_is_not_found(client):
    response = client.get(reverse("members:accept", args=["nonsense"]))
    assert response.status_code == 404
    assert "This invitation link is not valid" in response.content.decode()


def test_resending_sends_a_new_link_and_the_old_one_stops_working(
    invited, signed_in, frozen_now, django_capture_on_commit_callbacks, client
):
    frozen_now.shift(timedelta(days=8))  # expired: resending gives it 7 new days
    invitation = Invitation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        html = signed_in.post(
            reverse("members:resend", args=[invitation.pk]), follow=True
        ).content.decode()
    assert "Invitation sent to dora@example.org again." in html
    assert len(mail.outbox) == 2
    new_link = LINK.search(mail.outbox[-1].body).group(0).replace("http://testserver", "")
    assert new_link != invited
    invitation.refresh_from_db()
    assert invitation.expires_at == AT + timedelta(days=15)
    client.logout()
    assert client.get(invited).status_code == 404
    assert client.get(new_link).status_code == 200
    assert AuditEntry.objects.filter(action="invitation_resent").count() == 1


def test_inviting_a_member_is_refused(signed_in, bert):
    response = invite(signed_in, email="Bert@Acme.example")
    assert response.status_code == 400
    assert "bert@acme.example is already a member of Acme GmbH." in response.content.decode()
    assert not Invitation.objects.exists() and not mail.outbox


def test_inviting_twice_says_resend_instead(invited, signed_in):
    response = invite(signed_in)
    assert response.status_code == 400
    assert "dora@example.org is already invited. Resend the invitation instead." in (
        response.content.decode()
    )
    assert Invitation.objects.count() == 1 and len(mail.outbox) == 1


def test_after_a_revocation_the_person_can_be_invited_again(invited, account, admin):
    invitation_revoke(invitation=Invitation.objects.get(), actor=admin)
    invitation_create(
        account=account, email="dora@example.org", role="member", invited_by=admin, language="en"
    )
    assert Invitation.objects.filter(revoked_at=None).count() == 1


def test_another_accounts_invitation_is_not_found(signed_in):
    other = MembershipFactory(account__name="Globex")
    theirs = invitation_create(
        account=other.account,
        email="x@globex.example",
        role="member",
        invited_by=other.user,
        language="en",
    ).invitation
    assert signed_in.post(reverse("members:revoke", args=[theirs.pk])).status_code == 404
    assert signed_in.post(reverse("members:resend", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_a_broker_that_is_down_leaves_the_invitation_unsent_and_resend_sends_it(
    frozen_now, signed_in, monkeypatch, django_capture_on_commit_callbacks
):
    from members import tasks

    def broker_down(*args, **kwargs):
        raise OSError("Connection refused")

    with monkeypatch.context() as patched:
        patched.setattr(tasks.send_invitation, "delay", broker_down)
        with django_capture_on_commit_callbacks(execute=True):
            assert invite(signed_in).status_code == 200  # the invitation is kept
    assert not mail.outbox
    assert "dora@example.org" in signed_in.get(USERS).content.decode()
    assert "Email not sent yet" in signed_in.get(USERS).content.decode()
    invitation = Invitation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(reverse("members:resend", args=[invitation.pk]))
    assert mail.outbox[0].to == ["dora@example.org"]
    assert "Email not sent yet" not in signed_in.get(USERS).content.decode()

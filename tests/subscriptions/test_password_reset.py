"""Password reset by email, without telling whether an address has an account."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_reset_by_email_and_sign_in_with_the_new_password(client):
    UserFactory(email="anna@acme.example")
    response = client.post(reverse("password_reset"), {"email": "anna@acme.example"}, follow=True)
    assert "If an account uses this address" in response.content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["anna@acme.example"]
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    new_password = "a-new-long-password-2026"
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
        follow=True,
    )
    assert "Your password is changed" in done.content.decode()
    assert client.login(username="anna@acme.example", password=new_password)


def test_an_unknown_address_gets_the_same_answer_and_no_email(client):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.test"}, follow=True)
    assert "If an account uses this address" in response.content.decode()
    assert mail.outbox == []

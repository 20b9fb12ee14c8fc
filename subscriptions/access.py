"""Who may see and change an account's billing: its billing admins, on self-service."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from django.shortcuts import render

from subscriptions.models import Account
from subscriptions.selectors import accounts_for_user, billing_admin_accounts_by_name

SESSION_ACCOUNT_KEY = "billing_account_id"


def current_billing_account(request: HttpRequest) -> tuple[Account | None, list[Account]]:
    """The account the user is working on (chosen in the session) and all they administer."""
    accounts = billing_admin_accounts_by_name(user=request.user)
    chosen = request.session.get(SESSION_ACCOUNT_KEY)
    account = next((a for a in accounts if a.pk == chosen), accounts[0] if accounts else None)
    return account, accounts


def billing_admin_required(view=None, *, self_service: bool = True):
    """Give the view ``request.account``; refuse members and, if asked, corporate accounts.

    A user who is no account's billing admin gets the "ask your billing admin"
    page; a corporate account gets the notice that points to its corporate
    billing portal instead of any self-service control.
    """

    def decorate(view_func):
        @login_required
        @wraps(view_func)
        def wrapped(request: HttpRequest, *args, **kwargs):
            account, accounts = current_billing_account(request)
            if account is None:
                memberships = list(accounts_for_user(user=request.user))
                return render(
                    request, "subscriptions/no_access.html", {"accounts": memberships}, status=403
                )
            request.account = account
            request.billing_accounts = accounts
            if self_service and account.is_corporate:
                return render(request, "billing_center/corporate.html", status=403)
            return view_func(request, *args, **kwargs)

        return wrapped

    return decorate(view) if view is not None else decorate

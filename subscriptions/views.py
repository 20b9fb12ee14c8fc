from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from subscriptions.selectors import account_subscriptions, accounts_for_user


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The signed-in user's accounts and their subscriptions (the Billing Center comes next)."""
    accounts = [
        (account, list(account_subscriptions(account=account)))
        for account in accounts_for_user(user=request.user)
    ]
    return render(request, "subscriptions/home.html", {"accounts": accounts})

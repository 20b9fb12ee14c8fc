from django.conf import settings


def portal(request):
    """What every page's header needs: the account being worked on and the cart size."""
    account = getattr(request, "account", None)
    cart_count = 0
    if account is not None and not account.is_corporate:
        from checkout.models import CartLine

        cart_count = CartLine.objects.filter(cart__account=account).count()
    return {
        "current_account": account,
        "billing_accounts": getattr(request, "billing_accounts", []),
        "cart_count": cart_count,
        "CORPORATE_BILLING_URL": settings.CORPORATE_BILLING_URL,
    }

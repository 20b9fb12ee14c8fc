from django.conf import settings
from django.utils.text import capfirst
from django.utils.translation import get_language_info

# The language menu: each language by its own name ("Deutsch"), the same in every language.
LANGUAGE_CHOICES = tuple(
    (code, capfirst(get_language_info(code)["name_local"])) for code, _ in settings.LANGUAGES
)


def portal(request):
    """What every page's header needs: the account being worked on and the cart size."""
    account = getattr(request, "account", None)
    cart_count = 0
    if account is not None and not account.is_corporate:
        from checkout.models import CartLine

        cart_count = getattr(request, "cart_count", None)  # the view may have counted them
        if cart_count is None:
            cart_count = CartLine.objects.filter(cart__account=account).count()
    return {
        "current_account": account,
        "billing_accounts": getattr(request, "billing_accounts", []),
        "cart_count": cart_count,
        "language_choices": LANGUAGE_CHOICES,
        "CORPORATE_BILLING_URL": settings.CORPORATE_BILLING_URL,
    }

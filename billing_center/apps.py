from django.apps import AppConfig


class BillingCenterConfig(AppConfig):
    """The customer's pages that bring the others together: the Billing Center and
    "Edit subscription" (licenses in the cart, the card on file, each subscription)."""

    name = "billing_center"
    verbose_name = "Billing Center"

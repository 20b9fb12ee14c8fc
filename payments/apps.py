from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    """Gateways, payment attempts, the card on file, Stripe webhooks and reconciliation."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "payments"
    verbose_name = "Payments"

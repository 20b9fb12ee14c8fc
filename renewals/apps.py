from django.apps import AppConfig


class RenewalsConfig(AppConfig):
    """Renewing subscriptions at the end of each period, and dunning when a charge fails."""

    name = "renewals"
    verbose_name = "Renewals"

    def ready(self) -> None:
        from renewals import receivers  # noqa: F401 (connects the signal receivers)

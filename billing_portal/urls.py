from django.contrib import admin
from django.contrib.auth import urls as auth_urls
from django.contrib.auth.views import PasswordResetView
from django.urls import include, path

from subscriptions.forms import QueuedPasswordResetForm
from subscriptions.language import language_set

# Django's sign-in, sign-out and password pages, but the reset email is queued, never
# sent within the request (QueuedPasswordResetForm).
account_patterns = [
    path(
        "password_reset/",
        PasswordResetView.as_view(form_class=QueuedPasswordResetForm),
        name="password_reset",
    ),
    *(pattern for pattern in auth_urls.urlpatterns if pattern.name != "password_reset"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include(account_patterns)),
    path("i18n/setlang/", language_set, name="set_language"),
    path("", include("payments.urls")),
    path("", include("checkout.urls")),
    path("", include("invoices.urls")),
    path("", include("renewals.urls")),
    path("", include("members.urls")),
    path("", include("billing_center.urls")),
]

from django.urls import path

from renewals import views

app_name = "renewals"

urlpatterns = [
    path("renewals/payments/<int:payment_id>/", views.renewal_payment, name="renewal_payment"),
    path(
        "renewals/subscriptions/<int:subscription_id>/pay/",
        views.renewal_pay,
        name="renewal_pay",
    ),
]

from django.urls import path

from payments import views, webhooks

app_name = "payments"

urlpatterns = [
    path("payment-method/", views.payment_method, name="payment_method"),
    path("payment-method/stripe/", views.stripe_card_saved, name="stripe_card_saved"),
    path(
        "checkout/stripe-setup-intent/",
        views.stripe_setup_intent,
        name="stripe_setup_intent",
    ),
    path("stripe/webhook/", webhooks.stripe_webhook, name="stripe_webhook"),
]

from django.urls import path

from checkout import payment_views, views, webhooks

app_name = "checkout"

urlpatterns = [
    path("cart/", views.cart, name="cart"),
    path("cart/lines/<int:line_id>/remove/", views.cart_line_delete, name="cart_line_remove"),
    path("checkout/", views.review, name="review"),
    path("checkout/place/", views.place_order, name="place"),
    path(
        "checkout/stripe-setup-intent/",
        payment_views.stripe_setup_intent,
        name="stripe_setup_intent",
    ),
    path("checkout/vat-number/", views.vat_number_add, name="vat_number"),
    path(
        "checkout/payments/<int:payment_id>/authenticate/",
        payment_views.authenticate,
        name="authenticate",
    ),
    path(
        "renewals/payments/<int:payment_id>/",
        payment_views.renewal_payment,
        name="renewal_payment",
    ),
    path("payment-method/", payment_views.payment_method, name="payment_method"),
    path("payment-method/stripe/", payment_views.stripe_card_saved, name="stripe_card_saved"),
    path("stripe/webhook/", webhooks.stripe_webhook, name="stripe_webhook"),
    path("orders/", views.order_list, name="orders"),
    path("orders/<slug:number>/", views.order_detail, name="order"),
]

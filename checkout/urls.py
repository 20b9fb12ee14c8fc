from django.urls import path

from checkout import payment_views, views

app_name = "checkout"

urlpatterns = [
    path("cart/", views.cart, name="cart"),
    path("cart/lines/<int:line_id>/remove/", views.cart_line_delete, name="cart_line_remove"),
    path("checkout/", views.review, name="review"),
    path("checkout/place/", views.place_order, name="place"),
    path("checkout/vat-number/", views.vat_number_add, name="vat_number"),
    path(
        "checkout/payments/<int:payment_id>/authenticate/",
        payment_views.authenticate,
        name="authenticate",
    ),
    path("orders/", views.order_list, name="orders"),
    path("orders/<slug:number>/", views.order_detail, name="order"),
]

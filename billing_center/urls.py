from django.urls import path

from billing_center import activity, cancel, money_views, views

app_name = "billing_center"

urlpatterns = [
    path("", views.home, name="home"),
    path("account/switch/", views.switch_account, name="switch_account"),
    path("subscriptions/<int:pk>/edit/", views.subscription_edit, name="edit"),
    path("subscriptions/<int:pk>/preview/", views.subscription_preview, name="preview"),
    path("credit/", money_views.credit, name="credit"),
    path("billing-profile/", money_views.billing_profile, name="billing_profile"),
    path("subscriptions/<int:pk>/cancel/", cancel.subscription_cancel, name="cancel"),
    path("subscriptions/<int:pk>/keep/", cancel.subscription_keep, name="keep"),
    path("activity/", activity.activity, name="activity"),
]

from django.urls import path

from members import views

app_name = "members"

urlpatterns = [
    path("users/", views.users, name="users"),
    path("users/invite/", views.invite, name="invite"),
    path("users/<int:pk>/role/", views.role_change, name="role"),
    path("users/<int:pk>/remove/", views.remove, name="remove"),
    path("users/licenses/assign/", views.license_assign, name="assign"),
    path("users/licenses/unassign/", views.license_unassign, name="unassign"),
    path("users/invitations/<int:pk>/resend/", views.invitation_resend_view, name="resend"),
    path("users/invitations/<int:pk>/revoke/", views.invitation_revoke_view, name="revoke"),
    path("invitations/<str:token>/", views.accept, name="accept"),
]

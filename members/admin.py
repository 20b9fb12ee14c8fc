"""Support's view of invitations and memberships; every change through the members'
services (with a reason, in the activity trail)."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from members import services
from members.models import Invitation
from subscriptions import clock
from subscriptions.activity import Channel
from subscriptions.admin_actions import (
    PortalModelAdmin,
    ReasonForm,
    SupportPermissionMixin,
    support_action,
)
from subscriptions.models import Membership, Subscription
from subscriptions.services import SEAT_HOLDING_STATUSES, seat_assign, seat_unassign


def _apply_revoke(invitation, form, staff):
    services.invitation_revoke(
        invitation=invitation,
        actor=staff,
        channel=Channel.ADMIN,
        reason=form.cleaned_data["reason"],
    )
    return f"The invitation to {invitation.email} is revoked."


def _apply_resend(invitation, form, staff):
    sent = services.invitation_resend(
        invitation=invitation,
        actor=staff,
        channel=Channel.ADMIN,
        reason=form.cleaned_data["reason"],
    )
    until = f"{sent.invitation.expires_at:%Y-%m-%d %H:%M} UTC"
    return f"Sent to {invitation.email} again; valid until {until}."


class RevokeForm(ReasonForm):
    pass


class ResendForm(ReasonForm):
    pass


@admin.register(Invitation)
class InvitationAdmin(SupportPermissionMixin, PortalModelAdmin):
    list_display = ["email", "account", "role", "status", "created_at", "expires_at", "invited_by"]
    list_filter = ["role"]
    search_fields = ["email", "account__name"]
    fields = [
        "email",
        "account",
        "role",
        "language",
        "created_at",
        "sent_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
        "invited_by",
    ]
    readonly_fields = fields
    actions = [
        support_action(
            description="Revoke the invitation", form_class=RevokeForm, apply=_apply_revoke
        ),
        support_action(
            description="Resend the invitation (new link, 7 more days)",
            form_class=ResendForm,
            apply=_apply_resend,
        ),
    ]

    @admin.display(description="status")
    def status(self, invitation):
        return invitation.status_at(clock.now())

    def has_add_permission(self, request, obj=None):
        return False  # invitations are sent from the Users page (invitation_create)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RoleForm(ReasonForm):
    role = forms.ChoiceField(choices=Membership.Role.choices)


def _apply_role(membership, form, staff):
    changed = services.membership_role_change(
        membership=membership,
        role=form.cleaned_data["role"],
        actor=staff,
        channel=Channel.ADMIN,
        reason=form.cleaned_data["reason"],
    )
    return f"{membership.user} is now {changed.get_role_display()} of {membership.account}."


class RemoveForm(ReasonForm):
    pass


def _apply_remove(membership, form, staff):
    freed = services.membership_remove(
        membership=membership,
        actor=staff,
        channel=Channel.ADMIN,
        reason=form.cleaned_data["reason"],
    )
    licenses = f" Licenses freed: {', '.join(freed)}." if freed else ""
    return f"{membership.user} was removed from {membership.account}.{licenses}"


class LicenseForm(ReasonForm):
    subscription = forms.ModelChoiceField(queryset=Subscription.objects.none())

    def __init__(self, *args, obj=None, **kwargs):
        super().__init__(*args, obj=obj, **kwargs)
        self.fields["subscription"].queryset = Subscription.objects.filter(
            account_id=obj.account_id, status__in=SEAT_HOLDING_STATUSES
        ).select_related("plan__product")


class AssignForm(LicenseForm):
    pass


class UnassignForm(LicenseForm):
    pass


def _apply_assign(membership, form, staff):
    subscription = form.cleaned_data["subscription"]
    seat_assign(
        subscription=subscription,
        user=membership.user,
        actor=staff,
        channel=Channel.ADMIN,
        reason=form.cleaned_data["reason"],
    )
    return f"{membership.user} holds a license of {subscription.plan.product.name}."


def _apply_unassign(membership, form, staff):
    subscription = form.cleaned_data["subscription"]
    seat_unassign(
        subscription=subscription,
        user=membership.user,
        actor=staff,
        channel=Channel.ADMIN,
        reason=form.cleaned_data["reason"],
    )
    return f"The license of {subscription.plan.product.name} held by {membership.user} is free."


@admin.register(Membership)
class MembershipAdmin(SupportPermissionMixin, PortalModelAdmin):
    """Roles, removal and licenses change only through the services' rules (the last
    billing admin stays, never more licenses assigned than bought)."""

    list_display = ["user", "account", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "account__name"]
    list_select_related = ["user", "account"]
    fields = ["user", "account", "role", "created_at"]
    readonly_fields = fields
    actions = [
        support_action(description="Change the role", form_class=RoleForm, apply=_apply_role),
        support_action(
            description="Remove from the account (frees their licenses)",
            form_class=RemoveForm,
            apply=_apply_remove,
        ),
        support_action(description="Assign a license", form_class=AssignForm, apply=_apply_assign),
        support_action(
            description="Unassign a license", form_class=UnassignForm, apply=_apply_unassign
        ),
    ]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

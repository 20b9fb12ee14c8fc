"""The Users page (members, roles, licenses, invitations) and accepting an invitation."""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from members import services
from members.forms import InviteForm, NewUserForm
from members.models import Invitation
from members.selectors import (
    account_invitation,
    account_membership,
    account_people,
    invitation_by_token,
)
from subscriptions import clock
from subscriptions.access import billing_admin_required
from subscriptions.activity import Channel
from subscriptions.models import Membership, User
from subscriptions.selectors import account_subscription
from subscriptions.services import seat_assign, seat_unassign

ROW_ID = re.compile(r"[0-9]{1,18}")


def _users_page(request: HttpRequest, invite_form: InviteForm, status: int = 200) -> HttpResponse:
    people = account_people(account=request.account)
    context = {
        "people": people.people,
        "pools": people.pools,
        "invitations": people.invitations,
        "invite_form": invite_form,
        "roles": Membership.Role,
    }
    return render(request, "members/users.html", context, status=status)


def _back(request: HttpRequest) -> HttpResponse:
    return redirect("members:users")


def _refused(request: HttpRequest, error: ValidationError) -> HttpResponse:
    messages.error(request, " ".join(error.messages))
    return _back(request)


def _membership_or_404(request: HttpRequest, pk: int | str) -> Membership:
    if not ROW_ID.fullmatch(str(pk)):
        raise Http404
    membership = account_membership(account=request.account, pk=int(pk))
    if membership is None:
        raise Http404
    return membership


def _invitation_or_404(request: HttpRequest, pk: int) -> Invitation:
    invitation = account_invitation(account=request.account, pk=pk)
    if invitation is None:
        raise Http404
    return invitation


@billing_admin_required(self_service=False)
@require_GET
def users(request: HttpRequest) -> HttpResponse:
    """Who is a member of the account, their role and the licenses they hold."""
    return _users_page(request, InviteForm())


@billing_admin_required(self_service=False)
@require_POST
def invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            sent = services.invitation_create(
                account=request.account,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.user,
                language=get_language(),
            )
        except ValidationError as error:
            form.add_error("email", error)
        else:
            messages.success(
                request,
                _("Invitation sent to %(email)s. It is valid for 7 days.")
                % {"email": sent.invitation.email},
            )
            return _back(request)
    return _users_page(request, form, status=400)


@billing_admin_required(self_service=False)
def role_change(request: HttpRequest, pk: int) -> HttpResponse:
    # The id first: another account's member is not found, whatever the method.
    return _role_change(request, _membership_or_404(request, pk))


@require_POST
def _role_change(request: HttpRequest, membership: Membership) -> HttpResponse:
    role = request.POST.get("role", "")
    try:
        changed = services.membership_role_change(
            membership=membership, role=role, actor=request.user
        )
    except ValidationError as error:
        return _refused(request, error)
    messages.success(
        request,
        _("%(email)s is now: %(role)s.")
        % {"email": membership.user.email, "role": changed.get_role_display()},
    )
    return _back(request)


@billing_admin_required(self_service=False)
def remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask first (GET), then remove the member and free their licenses (POST)."""
    return _remove(request, _membership_or_404(request, pk))


@require_http_methods(["GET", "POST"])
def _remove(request: HttpRequest, membership: Membership) -> HttpResponse:
    if request.method == "POST":
        try:
            services.membership_remove(membership=membership, actor=request.user)
        except ValidationError as error:
            return _refused(request, error)
        messages.success(
            request,
            _("%(email)s was removed from %(account)s.")
            % {"email": membership.user.email, "account": request.account.name},
        )
        if membership.user_id == request.user.pk:
            return redirect("billing_center:home")
        return _back(request)
    held = account_people(account=request.account).people
    person = next(p for p in held if p.membership.pk == membership.pk)
    return render(request, "members/remove.html", {"person": person})


def _license_target(request: HttpRequest):
    """The subscription and member a license form names, both of this account."""
    subscription_id = request.POST.get("subscription", "").strip()
    if not ROW_ID.fullmatch(subscription_id):
        raise Http404
    subscription = account_subscription(account=request.account, pk=int(subscription_id))
    if subscription is None:
        raise Http404
    membership = _membership_or_404(request, request.POST.get("member", "").strip())
    return subscription, membership


def _license_change(request: HttpRequest, write, done: str) -> HttpResponse:
    """Assign or unassign (``write``, a ``seat_*`` service) the license the form names."""
    subscription, membership = _license_target(request)
    try:
        write(
            subscription=subscription,
            user=membership.user,
            actor=request.user,
            channel=Channel.PORTAL,
        )
    except ValidationError as error:
        return _refused(request, error)
    email, product = membership.user.email, subscription.plan.product.name
    messages.success(request, done % {"email": email, "product": product})
    return _back(request)


@billing_admin_required(self_service=False)
@require_POST
def license_assign(request: HttpRequest) -> HttpResponse:
    return _license_change(request, seat_assign, _("%(email)s now holds a license of %(product)s."))


@billing_admin_required(self_service=False)
@require_POST
def license_unassign(request: HttpRequest) -> HttpResponse:
    return _license_change(
        request, seat_unassign, _("The license of %(product)s held by %(email)s is free again.")
    )


@billing_admin_required(self_service=False)
def invitation_resend_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _invitation_resend(request, _invitation_or_404(request, pk))


@require_POST
def _invitation_resend(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    try:
        services.invitation_resend(
            invitation=invitation, actor=request.user, language=get_language()
        )
    except ValidationError as error:
        return _refused(request, error)
    messages.success(
        request,
        _("Invitation sent to %(email)s again. It is valid for 7 days.")
        % {"email": invitation.email},
    )
    return _back(request)


@billing_admin_required(self_service=False)
def invitation_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _invitation_revoke(request, _invitation_or_404(request, pk))


@require_POST
def _invitation_revoke(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    try:
        services.invitation_revoke(invitation=invitation, actor=request.user)
    except ValidationError as error:
        return _refused(request, error)
    messages.success(
        request, _("The invitation to %(email)s is revoked.") % {"email": invitation.email}
    )
    return _back(request)


@require_http_methods(["GET", "POST"])
def accept(request: HttpRequest, token: str) -> HttpResponse:
    """Accept an invitation: as the signed-in user it was sent to, or, if that address
    has no user yet, by choosing a name and a password."""
    invitation = invitation_by_token(token)
    status = invitation.status_at(clock.now()) if invitation else "unknown"
    if status != Invitation.Status.PENDING:
        return _closed(request, status)
    existing = User.objects.filter(email__iexact=invitation.email).first()
    signed_in = request.user.is_authenticated
    wrong_user = signed_in and (existing is None or existing.pk != request.user.pk)
    form = None
    if not wrong_user and existing is None:
        form = NewUserForm(request.POST if request.method == "POST" else None)
    context = {
        "invitation": invitation,
        "account": invitation.account,
        "existing": existing,
        "wrong_user": wrong_user,
        "form": form,
        "login_url": f"{reverse('login')}?next={request.path}",
    }
    if request.method == "POST" and not wrong_user and (existing is None or signed_in):
        if form is not None and not form.is_valid():
            return render(request, "members/accept.html", context, status=400)
        try:
            membership = services.invitation_accept(
                token=token,
                user=request.user if signed_in else None,
                full_name=form.cleaned_data["full_name"] if form else "",
                password=form.cleaned_data["password1"] if form else "",
                language=get_language(),
            )
        except services.InvitationClosed as error:
            return _closed(request, error.status)
        except ValidationError as error:
            if form is None:
                return _closed(request, "unknown")
            form.add_error("password1", error)
            return render(request, "members/accept.html", context, status=400)
        if not signed_in:
            login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(
            request, _("Welcome to %(account)s.") % {"account": membership.account.name}
        )
        return redirect("billing_center:home")
    return render(request, "members/accept.html", context)


def _closed(request: HttpRequest, status: str) -> HttpResponse:
    return render(
        request,
        "members/invitation_closed.html",
        {"status": status},
        status=404 if status == "unknown" else 410,
    )

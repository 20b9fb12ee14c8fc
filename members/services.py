"""Writes on an account's people: invitations, roles, removal.

Views, the support admin and commands all call these; each writes an activity
entry in its own transaction. Licenses are assigned and unassigned by
``subscriptions.services.seat_assign`` and ``seat_unassign``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from members.models import Invitation, invitation_token_hash
from subscriptions import clock
from subscriptions.activity import Channel, activity_record
from subscriptions.models import Account, Membership, SeatAssignment, User

INVITATION_VALID_FOR = timedelta(days=7)


@dataclass(frozen=True)
class SentInvitation:
    """An invitation and the one copy of its token, for the email's link."""

    invitation: Invitation
    token: str


def _queue_email(invitation: Invitation, token: str) -> None:
    from members.tasks import send_invitation

    # Robust: a broker that is down must not fail the invitation; the Users page then
    # shows it as not sent, and Resend sends it with a new link (only the hash is kept).
    transaction.on_commit(lambda: send_invitation.delay(invitation.pk, token), robust=True)


def _new_token(invitation: Invitation, at) -> str:
    token = secrets.token_urlsafe(32)
    invitation.token_hash = invitation_token_hash(token)
    invitation.expires_at = at + INVITATION_VALID_FOR
    return token


def _invitation_target(invitation: Invitation) -> str:
    return f"invitation {invitation.pk} ({invitation.email})"


def invitation_create(
    *,
    account: Account,
    email: str,
    role: str,
    invited_by: User | None,
    language: str,
    channel: str = Channel.PORTAL,
    reason: str = "",
) -> SentInvitation:
    """Invite ``email`` to join ``account``; the email leaves after the commit.

    Refused for someone who is already a member, and for an address with an
    open invitation (resend that one instead).
    """
    email = User.objects.normalize_email(email.strip()).lower()
    if role not in Membership.Role.values:
        raise ValidationError(_("Choose a role."), code="role")
    with transaction.atomic():
        # The account's row orders invitations to it one after the other.
        Account.objects.select_for_update().filter(pk=account.pk).first()
        if Membership.objects.filter(account=account, user__email__iexact=email).exists():
            raise ValidationError(
                _("%(email)s is already a member of %(account)s.")
                % {"email": email, "account": account.name},
                code="already_member",
            )
        open_invitations = Invitation.objects.filter(
            account=account, email__iexact=email, accepted_at=None, revoked_at=None
        )
        if open_invitations.exists():
            raise ValidationError(
                _("%(email)s is already invited. Resend the invitation instead.")
                % {"email": email},
                code="already_invited",
            )
        now = clock.now()
        invitation = Invitation(
            account=account,
            email=email,
            role=role,
            invited_by=invited_by,
            language=language,
            created_at=now,
        )
        token = _new_token(invitation, now)
        try:
            with transaction.atomic():
                invitation.save(force_insert=True)
        except IntegrityError:  # an open one was created at the same instant
            raise ValidationError(
                _("%(email)s is already invited. Resend the invitation instead.")
                % {"email": email},
                code="already_invited",
            ) from None
        activity_record(
            account=account,
            actor=invited_by,
            channel=channel,
            action="member_invited",
            target=_invitation_target(invitation),
            after={"email": email, "role": role, "expires": invitation.expires_at.isoformat()},
            reason=reason,
        )
        _queue_email(invitation, token)
    return SentInvitation(invitation=invitation, token=token)


def _locked_open_invitation(invitation: Invitation) -> Invitation:
    locked = Invitation.objects.select_for_update().select_related("account").get(pk=invitation.pk)
    if locked.accepted_at is not None:
        raise ValidationError(_("This invitation was already accepted."), code="accepted")
    if locked.revoked_at is not None:
        raise ValidationError(_("This invitation was revoked."), code="revoked")
    return locked


def invitation_resend(
    *,
    invitation: Invitation,
    actor: User | None,
    language: str | None = None,
    channel: str = Channel.PORTAL,
    reason: str = "",
) -> SentInvitation:
    """Send an open invitation again with a new link and a new expiry; the old link
    stops working."""
    with transaction.atomic():
        locked = _locked_open_invitation(invitation)
        before = {"expires": locked.expires_at.isoformat()}
        token = _new_token(locked, clock.now())
        if language:
            locked.language = language
        locked.sent_at = None
        locked.save(update_fields=["token_hash", "expires_at", "language", "sent_at"])
        activity_record(
            account=locked.account,
            actor=actor,
            channel=channel,
            action="invitation_resent",
            target=_invitation_target(locked),
            before=before,
            after={"expires": locked.expires_at.isoformat()},
            reason=reason,
        )
        _queue_email(locked, token)
    return SentInvitation(invitation=locked, token=token)


def invitation_revoke(
    *, invitation: Invitation, actor: User | None, channel: str = Channel.PORTAL, reason: str = ""
) -> Invitation:
    """Withdraw an open invitation: its link stops working."""
    with transaction.atomic():
        locked = _locked_open_invitation(invitation)
        locked.revoked_at = clock.now()
        locked.save(update_fields=["revoked_at"])
        activity_record(
            account=locked.account,
            actor=actor,
            channel=channel,
            action="invitation_revoked",
            target=_invitation_target(locked),
            before={"status": "pending"},
            after={"status": "revoked"},
            reason=reason,
        )
    return locked


class InvitationClosed(ValidationError):
    """The link is unknown, or its invitation expired, was revoked or was used."""

    def __init__(self, status: str):
        super().__init__(status, code=status)
        self.status = status


def invitation_accept(
    *,
    token: str,
    user: User | None = None,
    full_name: str = "",
    password: str = "",
    language: str | None = None,
) -> Membership:
    """Join the account the invitation is for, once.

    ``user`` is the signed-in user, who must be the one the invitation was sent
    to. Without one, the address must have no user yet: the user is created
    with ``full_name`` and ``password``, speaking ``language`` (the page's; else the
    invitation's).
    """
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .select_related("account")
            .filter(token_hash=invitation_token_hash(token))
            .first()
        )
        if invitation is None:
            raise InvitationClosed("unknown")
        now = clock.now()
        status = invitation.status_at(now)
        if status != Invitation.Status.PENDING:
            raise InvitationClosed(status)
        existing = User.objects.filter(email__iexact=invitation.email).first()
        if user is None:
            if existing is not None:
                raise ValidationError(
                    _("Sign in as %(email)s to accept this invitation.")
                    % {"email": invitation.email},
                    code="sign_in",
                )
            candidate = User(email=invitation.email, full_name=full_name.strip())
            validate_password(password, candidate)
            user = User.objects.create_user(
                invitation.email,
                password,
                full_name=full_name.strip(),
                language=language or invitation.language,
            )
        elif existing is None or existing.pk != user.pk:
            raise ValidationError(
                _("This invitation is for %(email)s. Sign in as %(email)s to accept it.")
                % {"email": invitation.email},
                code="other_user",
            )
        membership, created = Membership.objects.get_or_create(
            account=invitation.account,
            user=user,
            defaults={"role": invitation.role, "created_at": now},
        )
        invitation.accepted_at = now
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        activity_record(
            account=invitation.account,
            actor=user,
            channel=Channel.PORTAL,
            action="member_joined",
            target=f"user {user.email}",
            after={"email": user.email, "role": membership.role, "new": created},
        )
    return membership


def _locked_memberships(account_id: int) -> list[Membership]:
    """All of the account's memberships, locked in id order: who is the last billing admin
    is then decided one change at a time."""
    return list(
        Membership.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(account_id=account_id)
        .order_by("pk")
    )


def _locked_membership(membership: Membership) -> tuple[Membership, list[Membership]]:
    memberships = _locked_memberships(membership.account_id)
    locked = next((m for m in memberships if m.pk == membership.pk), None)
    if locked is None:
        raise ValidationError(_("This person is no longer a member."), code="gone")
    return locked, memberships


def _is_last_billing_admin(membership: Membership, memberships: list[Membership]) -> bool:
    admins = [m for m in memberships if m.role == Membership.Role.BILLING_ADMIN]
    return membership.role == Membership.Role.BILLING_ADMIN and len(admins) == 1


def membership_role_change(
    *,
    membership: Membership,
    role: str,
    actor: User | None,
    channel: str = Channel.PORTAL,
    reason: str = "",
) -> Membership:
    """Make a member a billing admin, or a billing admin a member (never the last one)."""
    if role not in Membership.Role.values:
        raise ValidationError(_("Choose a role."), code="role")
    with transaction.atomic():
        locked, memberships = _locked_membership(membership)
        if locked.role == role:
            return locked
        if _is_last_billing_admin(locked, memberships):
            raise ValidationError(
                _(
                    "%(email)s is the account's only billing admin. "
                    "Make someone else a billing admin first."
                )
                % {"email": locked.user.email},
                code="last_admin",
            )
        before = locked.role
        locked.role = role
        locked.save(update_fields=["role"])
        activity_record(
            account=locked.account_id,
            actor=actor,
            channel=channel,
            action="member_role_changed",
            target=f"user {locked.user.email}",
            before={"role": before},
            after={"role": role},
            reason=reason,
        )
    return locked


def membership_remove(
    *,
    membership: Membership,
    actor: User | None,
    channel: str = Channel.PORTAL,
    reason: str = "",
) -> list[str]:
    """Remove a member from the account (never its last billing admin) and free the
    licenses they held on it; returns the products whose license was freed."""
    with transaction.atomic():
        locked, memberships = _locked_membership(membership)
        if _is_last_billing_admin(locked, memberships):
            raise ValidationError(
                _(
                    "%(email)s is the account's only billing admin and cannot be removed. "
                    "Make someone else a billing admin first."
                )
                % {"email": locked.user.email},
                code="last_admin",
            )
        held = SeatAssignment.objects.filter(
            subscription__account_id=locked.account_id, user_id=locked.user_id
        )
        freed = sorted(held.values_list("subscription__plan__product__name", flat=True))
        held.delete()
        locked.delete()
        activity_record(
            account=locked.account_id,
            actor=actor,
            channel=channel,
            action="member_removed",
            target=f"user {locked.user.email}",
            before={"role": locked.role, "licenses": ", ".join(freed)},
            after={},
            reason=reason,
        )
    return freed

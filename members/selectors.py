"""Reads for the Users page: the account's people, their licenses, open invitations."""

from __future__ import annotations

from dataclasses import dataclass, field

from members.models import Invitation, invitation_token_hash
from subscriptions import clock
from subscriptions.models import Account, Membership, SeatAssignment, Subscription
from subscriptions.selectors import account_subscriptions
from subscriptions.services import SEAT_HOLDING_STATUSES


@dataclass
class Person:
    membership: Membership
    licenses: list[Subscription] = field(default_factory=list)
    is_last_admin: bool = False


@dataclass
class LicensePool:
    """A subscription whose licenses can be held, and who could still get one."""

    subscription: Subscription
    free: int
    assignable: list[Membership]


@dataclass
class AccountPeople:
    people: list[Person]
    pools: list[LicensePool]
    invitations: list[Invitation]


def account_people(*, account: Account) -> AccountPeople:
    """Members with role and licenses, each subscription's free licenses, and the open
    invitations: four queries, however many members and subscriptions."""
    memberships = list(
        Membership.objects.filter(account=account)
        .select_related("user")
        .order_by("user__full_name", "user__email", "pk")
    )
    subscriptions = [
        s for s in account_subscriptions(account=account) if s.status in SEAT_HOLDING_STATUSES
    ]
    by_id = {s.pk: s for s in subscriptions}
    held: dict[int, list[Subscription]] = {}
    for subscription_id, user_id in SeatAssignment.objects.filter(
        subscription__in=list(by_id)
    ).values_list("subscription_id", "user_id"):
        held.setdefault(user_id, []).append(by_id[subscription_id])
    admins = sum(m.role == Membership.Role.BILLING_ADMIN for m in memberships)
    people = [
        Person(
            membership=m,
            licenses=sorted(held.get(m.user_id, []), key=subscriptions.index),
            is_last_admin=admins == 1 and m.role == Membership.Role.BILLING_ADMIN,
        )
        for m in memberships
    ]
    pools = []
    for subscription in subscriptions:
        holders = {user_id for user_id, subs in held.items() if subscription in subs}
        pools.append(
            LicensePool(
                subscription=subscription,
                free=max(0, subscription.seats - subscription.assigned_seats),
                assignable=[m for m in memberships if m.user_id not in holders],
            )
        )
    now = clock.now()
    invitations = list(
        Invitation.objects.filter(account=account, accepted_at=None, revoked_at=None).order_by(
            "email"
        )
    )
    for invitation in invitations:
        invitation.status = invitation.status_at(now)
    return AccountPeople(people=people, pools=pools, invitations=invitations)


def account_membership(*, account: Account, pk: int) -> Membership | None:
    return Membership.objects.select_related("user").filter(account=account, pk=pk).first()


def account_invitation(*, account: Account, pk: int) -> Invitation | None:
    return Invitation.objects.filter(account=account, pk=pk).first()


def invitation_by_token(token: str) -> Invitation | None:
    return (
        Invitation.objects.select_related("account", "invited_by")
        .filter(token_hash=invitation_token_hash(token))
        .first()
    )

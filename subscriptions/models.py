"""Accounts, their people, products, plans, subscriptions and seats.

Money history is appended, never edited: the credit balance is the sum of
its ledger entries, and each seat change is a row of its own.
"""

from __future__ import annotations

import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField
from djmoney.models.validators import MinMoneyValidator

from subscriptions.vat import InvalidVatNumber, normalize_vat_number


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk updates and deletes would rewrite history; they are refused too."""

    def update(self, **kwargs):
        raise ValidationError(f"{self.model._meta.verbose_name} is history and cannot be changed.")

    def delete(self):
        raise ValidationError(f"{self.model._meta.verbose_name} is history and cannot be deleted.")


class AppendOnlyModel(models.Model):
    """A row of history: written once, never changed or deleted through the ORM.

    PostgreSQL enforces the same with a trigger (migration 0003), so raw SQL
    cannot rewrite it either.
    """

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError(f"{self._meta.verbose_name} is history and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(f"{self._meta.verbose_name} is history and cannot be deleted.")


# -- People -------------------------------------------------------------------------


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("Users sign in with their email address; it is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, email: str):
        return self.get(email__iexact=email)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an email address."""

    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default="en"
    )
    is_staff = models.BooleanField(_("staff status"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    # When the last password reset email went out: at most one per
    # PASSWORD_RESET_EMAIL_INTERVAL, so a form filled in with someone's address
    # over and over cannot flood their inbox (subscriptions.tasks.send_password_reset).
    password_reset_sent_at = models.DateTimeField(
        _("password reset email sent at"), null=True, blank=True, editable=False
    )
    # The task that sent it: the same task, delivered again because its worker was
    # lost mid-send, may still send it (the limit is against new requests only).
    password_reset_task = models.CharField(max_length=64, blank=True, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            # Sign-in looks emails up case-insensitively, so they are unique that way.
            models.UniqueConstraint(Lower("email"), name="user_email_unique_ignoring_case"),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()


# -- Accounts ------------------------------------------------------------------------


def validate_country_code(value: str) -> None:
    if len(value) != 2 or not value.isascii() or not value.isupper() or not value.isalpha():
        raise ValidationError(
            _("Enter a two-letter country code in capitals, such as DE."), code="country"
        )


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("%(value)s is not a known time zone, such as Europe/Berlin."),
            code="time_zone",
            params={"value": value},
        )


class Account(models.Model):
    """A customer organisation that subscribes to products."""

    class BillingChannel(models.TextChoices):
        SELF_SERVICE = "self_service", _("Self-service")
        CORPORATE = "corporate", _("Corporate")

    name = models.CharField(_("name"), max_length=200, unique=True)
    country = models.CharField(_("country"), max_length=2, validators=[validate_country_code])
    currency = models.CharField(
        _("currency"), max_length=3, choices=[(c, c) for c in settings.CURRENCIES]
    )
    vat_number = models.CharField(
        _("VAT number"),
        max_length=32,
        blank=True,
        help_text=_("Stored in compact form with its country prefix, e.g. DE136695976."),
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_time_zone]
    )
    billing_channel = models.CharField(
        _("billing channel"),
        max_length=16,
        choices=BillingChannel.choices,
        default=BillingChannel.SELF_SERVICE,
    )
    stripe_customer_id = models.CharField(_("Stripe customer"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ["name"]
        permissions = [("support_actions", "Can take support actions for customers")]
        constraints = [
            models.CheckConstraint(
                condition=Q(billing_channel__in=["self_service", "corporate"]),
                name="account_billing_channel_known",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.vat_number and self.country:
            try:
                self.vat_number = normalize_vat_number(self.vat_number, self.country)
            except InvalidVatNumber as error:
                raise ValidationError({"vat_number": str(error)}) from None

    @property
    def is_corporate(self) -> bool:
        return self.billing_channel == self.BillingChannel.CORPORATE

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Membership(models.Model):
    """A user's place in an account; billing admins manage its billing."""

    class Role(models.TextChoices):
        BILLING_ADMIN = "billing_admin", _("Billing admin")
        MEMBER = "member", _("Member")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "account"], name="membership_unique_user"),
            models.CheckConstraint(
                condition=Q(role__in=["billing_admin", "member"]), name="membership_role_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.account} ({self.get_role_display()})"


class CreditLedgerEntry(AppendOnlyModel):
    """One movement of an account's credit balance; the balance is their sum.

    Positive amounts add credit (unused time of a seat reduction, a goodwill
    credit), negative ones use it (credit applied to an order).
    """

    class Reason(models.TextChoices):
        SEAT_CHANGE_CREDIT = "seat_change_credit", _("Credit from a seat change")
        APPLIED_TO_ORDER = "applied_to_order", _("Applied to an order")
        GOODWILL = "goodwill", _("Goodwill credit")
        CORRECTION = "correction", _("Correction")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="ledger_entries")
    amount = MoneyField(_("amount"), max_digits=14, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("credit ledger entry")
        verbose_name_plural = _("credit ledger entries")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_not_zero"),
            models.CheckConstraint(
                condition=Q(
                    reason__in=["seat_change_credit", "applied_to_order", "goodwill", "correction"]
                ),
                name="ledger_entry_reason_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.get_reason_display()} ({self.account})"


# -- Catalogue ---------------------------------------------------------------------------


class Product(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Plan(models.Model):
    """How a product is sold: per seat, per interval, in one currency."""

    class Interval(models.TextChoices):
        MONTH = "month", _("Monthly")
        YEAR = "year", _("Yearly")

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="plans")
    interval = models.CharField(_("billing interval"), max_length=8, choices=Interval.choices)
    price = MoneyField(
        _("price per license per interval"),
        max_digits=12,
        decimal_places=2,
        validators=[MinMoneyValidator(Decimal("0"))],  # Money-aware: compares the amount
    )
    min_seats = models.PositiveIntegerField(
        _("minimum licenses"), default=1, validators=[MinValueValidator(1)]
    )
    max_seats = models.PositiveIntegerField(
        _("maximum licenses"), default=10_000, validators=[MaxValueValidator(1_000_000)]
    )
    trial_days = models.PositiveIntegerField(_("free trial days"), default=30)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["product__name", "interval"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "interval", "price_currency"],
                name="plan_one_per_product_interval_currency",
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="plan_price_not_negative"),
            models.CheckConstraint(
                condition=Q(interval__in=["month", "year"]), name="plan_interval_known"
            ),
            models.CheckConstraint(condition=Q(min_seats__gte=1), name="plan_min_seats_at_least_1"),
            models.CheckConstraint(
                condition=Q(max_seats__gte=models.F("min_seats")),
                name="plan_max_seats_not_below_min",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} – {self.get_interval_display()} ({self.price_currency})"


# -- Subscriptions ------------------------------------------------------------------------


class Subscription(models.Model):
    """An account's seats on a plan, billed in periods counted from the billing anchor."""

    class Status(models.TextChoices):
        TRIAL = "trial", _("Free trial")
        ACTIVE = "active", _("Active")
        EXPIRED = "expired", _("Trial expired")
        PAST_DUE = "past_due", _("Past due")
        SUSPENDED = "suspended", _("Suspended")
        CANCELED = "canceled", _("Canceled")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="subscriptions")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    seats = models.PositiveIntegerField(_("licenses"))
    billing_anchor = models.DateTimeField(_("billing anchor"))
    current_period_start = models.DateTimeField(_("current period start"))
    current_period_end = models.DateTimeField(_("current period end"))
    trial_end = models.DateTimeField(_("trial end"), null=True, blank=True)
    # Ends at the end of the current period instead of renewing (support can undo it).
    cancel_at_period_end = models.BooleanField(_("cancel at period end"), default=False)
    # Renewal dunning: when the period's renewal charge first failed, how many
    # charges were tried, and when the next one is due (not a billing rule).
    past_due_since = models.DateTimeField(_("past due since"), null=True, blank=True)
    renewal_attempts = models.PositiveSmallIntegerField(_("renewal attempts"), default=0)
    next_renewal_attempt_at = models.DateTimeField(_("next renewal attempt"), null=True, blank=True)
    # Bumped on every change so a stale review can be told from a fresh one.
    version = models.PositiveIntegerField(_("version"), default=1)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        ordering = ["account__name", "plan__product__name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(seats__gte=0), name="subscription_seats_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=["trial", "active", "expired", "past_due", "suspended", "canceled"]
                ),
                name="subscription_status_known",
            ),
            models.CheckConstraint(
                condition=Q(current_period_end__gt=models.F("current_period_start")),
                name="subscription_period_end_after_start",
            ),
            models.UniqueConstraint(
                fields=["account", "plan"],
                condition=~Q(status="canceled"),
                name="subscription_one_open_per_account_plan",
            ),
        ]
        indexes = [models.Index(fields=["status", "current_period_end"])]

    def __str__(self) -> str:
        return f"{self.account}: {self.plan.product} ({self.seats})"

    def clean(self) -> None:
        super().clean()
        if self.plan_id and self.account_id and self.plan.price_currency != self.account.currency:
            raise ValidationError(
                {
                    "plan": _("The plan is priced in %(plan)s but the account pays in %(account)s.")
                    % {"plan": self.plan.price_currency, "account": self.account.currency}
                }
            )
        start, end = self.current_period_start, self.current_period_end
        if start and end and end <= start:
            raise ValidationError({"current_period_end": _("The period must end after it starts.")})


class SeatAssignment(models.Model):
    """A license held by a user; the assigned count is the floor for a reduction."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="assignments"
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="seat_assignments")
    assigned_at = models.DateTimeField(_("assigned at"), default=timezone.now)

    class Meta:
        verbose_name = _("seat assignment")
        verbose_name_plural = _("seat assignments")
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "user"], name="seat_assignment_one_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.subscription}"


class SeatChange(AppendOnlyModel):
    """One change of a subscription's seats: who, when, from, to, how and why."""

    class Channel(models.TextChoices):
        PORTAL = "portal", _("Billing Center")
        ADMIN = "admin", _("Support (admin)")
        COMMAND = "command", _("Operations command")

    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="seat_changes"
    )
    from_seats = models.PositiveIntegerField(_("from licenses"))
    to_seats = models.PositiveIntegerField(_("to licenses"))
    at = models.DateTimeField(_("at"))
    changed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    order_reference = models.CharField(_("order reference"), max_length=64, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("seat change")
        verbose_name_plural = _("seat changes")
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_seats=models.F("to_seats")), name="seat_change_changes_seats"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=["portal", "admin", "command"]),
                name="seat_change_channel_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subscription}: {self.from_seats} → {self.to_seats}"


class TaxRate(models.Model):
    """A country's standard VAT rate, in percent; staff keep it current."""

    country = models.CharField(
        _("country"), max_length=2, unique=True, validators=[validate_country_code]
    )
    rate = models.DecimalField(
        _("standard rate (%)"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("tax rate")
        verbose_name_plural = _("tax rates")
        ordering = ["country"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rate__gte=0) & Q(rate__lte=100), name="tax_rate_between_0_and_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.country}: {self.rate} %"


class AuditEntry(AppendOnlyModel):
    """What support or operations did to an account: who, when, what, before → after, why."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="audit_entries")
    actor = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(_("action"), max_length=64)
    target = models.CharField(_("target"), max_length=200, blank=True)
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)
    reason = models.CharField(_("reason"), max_length=500)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="audit_entry_has_a_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor}: {self.action} {self.target}"

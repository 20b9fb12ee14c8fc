"""People, the accounts they belong to, and the validators accounts share."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from subscriptions.vat import InvalidVatNumber, normalize_vat_number


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
    # The billing profile (subscriptions/billing_profile.py): the legal name and the
    # address invoices carry, and who else receives them. The country above is the
    # address's country too; it decides the VAT, so only support changes it.
    legal_name = models.CharField(
        _("company name"),
        max_length=200,
        blank=True,
        help_text=_("The legal name on invoices; the account name when empty."),
    )
    address_line1 = models.CharField(_("street and number"), max_length=200, blank=True)
    address_line2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    invoice_recipients = models.JSONField(
        _("extra invoice recipients"),
        default=list,
        blank=True,
        help_text=_("Email addresses that also receive order confirmations and renewals."),
    )
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
    def invoice_name(self) -> str:
        """The name invoices carry: the legal name, else the account's name."""
        return self.legal_name or self.name

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

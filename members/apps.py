from django.apps import AppConfig


class MembersConfig(AppConfig):
    """The account's people: who is a member, their role, the licenses they hold, and
    invitations to join."""

    name = "members"
    verbose_name = "Members"

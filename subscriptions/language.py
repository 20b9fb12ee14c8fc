"""The language switcher: the page's language, and the signed-in person's own.

Emails a person receives later (a cancellation, a failed renewal) are written
in ``User.language``; the switcher keeps it the language they chose, so the
pages and the emails agree.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from subscriptions.models import User


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Django's ``set_language``, and the choice remembered on the signed-in user."""
    response = set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        User.objects.filter(pk=request.user.pk).exclude(language=language).update(language=language)
    return response

"""Every URL pattern of the URL conf, read from it, so a new view cannot be missed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern

# A URL that reaches each regular-expression pattern, by its name (route patterns are
# filled in from their converters).
REGEX_SAMPLES = {
    "admin:app_list": "auth/",
    "admin/(?P<url>.*)$": "no-such-admin-page/",
}


@dataclass(frozen=True)
class Route:
    name: str  # namespace:name, or the route itself for an unnamed pattern
    prefix: str
    pattern: URLPattern

    @property
    def route(self) -> str:
        return self.prefix + str(self.pattern.pattern)

    def url(self, kwargs: dict | None = None) -> str:
        """A URL of this pattern: the given ids, else any value its converters accept."""
        kwargs = kwargs or {}
        if isinstance(self.pattern.pattern, RegexPattern):
            assert self.name in REGEX_SAMPLES, f"no sample URL for the pattern {self.route!r}"
            tail = REGEX_SAMPLES[self.name]
        else:

            def fill(match: re.Match) -> str:
                converter, name = match.group(1) or "str", match.group(2)
                if name in kwargs:
                    return str(kwargs[name])
                return {"slug": "x", "uuid": "00000000-0000-0000-0000-000000000000"}.get(
                    converter, "1"
                )

            tail = re.sub(r"<(?:(\w+):)?(\w+)>", fill, str(self.pattern.pattern))
        return "/" + self.prefix + tail


def all_routes() -> Iterator[Route]:
    def walk(patterns, prefix: str, namespace: str | None):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(
                    pattern.url_patterns,
                    prefix + str(pattern.pattern),
                    pattern.namespace or namespace,
                )
            elif isinstance(pattern, URLPattern):
                if pattern.name:
                    name = f"{namespace}:{pattern.name}" if namespace else pattern.name
                else:
                    name = prefix + str(pattern.pattern)
                yield Route(name=name, prefix=prefix, pattern=pattern)

    yield from walk(get_resolver().url_patterns, "", None)


def routes_with_ids() -> Iterator[Route]:
    """The patterns that take a parameter (an id, a number, a token)."""
    return (route for route in all_routes() if "<" in route.route or "(?P" in route.route)

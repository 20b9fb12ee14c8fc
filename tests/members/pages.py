"""Reading the Users page as a person does: each member's row as text."""

from __future__ import annotations

import re


def member_rows(html: str) -> dict[str, str]:
    """Each member's row text, by email, with tags and spacing squeezed out."""
    members = html.split('aria-labelledby="licenses-heading"')[0]
    rows = members.split('data-testid="member">')[1:]
    found = {}
    for row in rows:
        text = " ".join(re.sub(r"<[^>]+>", " ", row).split())
        email = re.search(r"[\w.]+@[\w.]+", text).group(0)
        found[email] = text
    return found

"""Reading what a rendered portal page shows (the test client's HTML)."""

from __future__ import annotations

import re


def shown(page: str, name: str) -> str:
    """The text of the element marked ``data-testid="name"``, as the admin reads it."""
    match = re.search(rf'data-testid="{name}">([^<]*)<', page)
    assert match, f"no {name} on the page"
    return match.group(1).strip()


def review_token(page: str) -> str:
    """The signed review the checkout page's Place order form carries."""
    return re.search(r'name="review" value="([^"]+)"', page).group(1)

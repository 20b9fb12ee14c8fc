"""The stylesheets parse as blocks: a rule left open makes every later rule apply only
inside it (an unclosed ``@media (max-width: …)`` styled the desktop like a phone)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parent.parent / "static"


@pytest.mark.parametrize("path", sorted(STATIC.rglob("*.css")), ids=lambda p: p.name)
def test_every_block_is_closed(path):
    text = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)
    text = re.sub(r'"[^"]*"|\'[^\']*\'', '""', text)
    depth = 0
    for number, line in enumerate(text.splitlines(), start=1):
        for char in line:
            depth += {"{": 1, "}": -1}.get(char, 0)
            assert depth >= 0, f"{path.name}:{number}: a block is closed that was never opened"
    assert depth == 0, f"{path.name}: {depth} block(s) never closed"

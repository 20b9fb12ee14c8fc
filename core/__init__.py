"""Database helpers shared by the apps; imports none of them (the lowest layer)."""

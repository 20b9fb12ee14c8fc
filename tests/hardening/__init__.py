"""Issue #6: the portal under attack and under load (the tests; the numbers are in bench/)."""

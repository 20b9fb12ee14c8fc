"""Benchmarks (`make bench`): the scripts and the bench-only server pieces.

Nothing in the portal imports this package.
"""

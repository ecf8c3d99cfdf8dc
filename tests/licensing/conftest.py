"""Fixtures of the licensing tests; the fake Stripe itself is shared, in tests/conftest.py."""

"""The tests (pytest); their helpers are :mod:`tests.support`."""

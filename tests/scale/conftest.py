"""Fixtures for the scale tests: a Redis server of the test's own."""

from tests.redis_fixtures import redis_server  # noqa: F401  (fixture, used by name)

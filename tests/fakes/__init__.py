"""Loopback fakes of remote services, for tests that must not touch the internet."""

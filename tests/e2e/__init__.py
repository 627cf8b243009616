"""Tests of skillsgap: e2e."""

"""Tests of skillsgap: app."""

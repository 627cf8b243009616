"""Tests of skillsgap."""

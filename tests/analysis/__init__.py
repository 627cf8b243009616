"""Tests of skillsgap: analysis."""

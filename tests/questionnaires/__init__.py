"""Tests of skillsgap: questionnaires."""

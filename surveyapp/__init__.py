"""The Flask application of skillsgap."""

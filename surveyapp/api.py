"""Machine-facing endpoints; for now the health check a load balancer polls."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from surveyapp.db import get_db

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/health")
def health() -> ResponseReturnValue:
    """200 when the app can reach its database, 503 otherwise."""
    try:
        get_db(write=False).execute(text("SELECT 1"))
    except SQLAlchemyError:
        return jsonify(status="unavailable", database=False), 503
    return jsonify(status="ok", database=True)

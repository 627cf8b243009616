"""Analyst pages; for now the download of a campaign's submitted responses as CSV."""

from __future__ import annotations

import io

from flask import Blueprint, Response, abort, g, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from surveyapp.auth import login_required
from surveyapp.db import get_db
from surveyapp.exports import write_responses_csv
from surveyapp.models import Campaign

bp = Blueprint("results", __name__, url_prefix="/results")


def _visible_campaigns() -> list[Campaign]:
    query = select(Campaign).order_by(Campaign.id)
    if g.user.role != "admin":
        query = query.where(Campaign.association_id == g.user.association_id)
    return list(get_db().scalars(query))


@bp.get("/")
@login_required("analyst", "admin")
def index() -> ResponseReturnValue:
    """The campaigns whose responses the analyst may download."""
    return render_template("results/index.html", campaigns=_visible_campaigns())


@bp.get("/campaigns/<int:campaign_id>/responses.csv")
@login_required("analyst", "admin")
def responses_csv(campaign_id: int) -> ResponseReturnValue:
    """The pseudonymised responses of a campaign (no contact data), one row per response."""
    campaign = get_db().get(Campaign, campaign_id)
    if campaign is None or (g.user.role != "admin"
                            and campaign.association_id != g.user.association_id):
        # Another association's campaign does not exist, as far as this user can tell.
        abort(404)
    buffer = io.StringIO()
    write_responses_csv(get_db(), campaign.id, buffer)
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition":
                 f'attachment; filename="campaign-{campaign.id}-responses.csv"'},
    )

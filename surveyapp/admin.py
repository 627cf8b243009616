"""Association staff pages; for now the campaign overview with response counts."""

from __future__ import annotations

from flask import Blueprint, current_app, g, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from surveyapp.auth import login_required
from surveyapp.db import get_db
from surveyapp.models import Campaign, Invitation, Response

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@login_required()
def campaigns() -> ResponseReturnValue:
    """The campaigns of the user's association (every campaign for a platform admin)."""
    db = get_db()
    query = select(Campaign).order_by(Campaign.id)
    if g.user.role != "admin":
        query = query.where(Campaign.association_id == g.user.association_id)
    rows = []
    for campaign in db.scalars(query):
        invited = db.scalar(
            select(func.count()).select_from(Invitation)
            .where(Invitation.campaign_id == campaign.id)
        ) or 0
        counts: dict[str, int] = {
            status: count
            for status, count in db.execute(
                select(Response.status, func.count())
                .where(Response.campaign_id == campaign.id)
                .group_by(Response.status)
            )
        }
        submitted_invited = db.scalar(
            select(func.count()).select_from(Response).where(
                Response.campaign_id == campaign.id,
                Response.status == "submitted",
                Response.invitation_id.is_not(None),
            )
        ) or 0
        rows.append({
            "campaign": campaign,
            "invited": invited,
            "submitted": counts.get("submitted", 0),
            "in_progress": counts.get("in_progress", 0),
            "rate": (submitted_invited / invited) if invited else None,
            "open_link": (current_app.config["PUBLIC_BASE_URL"].rstrip("/")
                          + f"/o/{campaign.open_link_key}") if campaign.open_link_key else None,
        })
    return render_template("admin/campaigns.html", rows=rows)

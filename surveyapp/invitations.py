"""Invitation links: tokens are stored hashed, so a link exists in clear only when issued."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveyapp.exports import neutralise
from surveyapp.models import Campaign, Company, Invitation, utcnow
from surveyapp.tokens import new_token, token_hash


class CampaignNotFound(LookupError):
    """No campaign has the id given."""


@dataclass
class IssuedLinks:
    """Rows for mail merge and what was left alone."""

    rows: list[list[str]] = field(default_factory=list)
    skipped_sent: int = 0
    skipped_closed: int = 0


def issue_links(db: Session, campaign_id: int, *, base_url: str,
                reissue: bool = False) -> IssuedLinks:
    """Issue fresh tokens and return one mail-merge row per link (services only flush).

    Every company of the campaign's association gets an invitation if it has none. An
    invitation never handed out ('created') gets a fresh token and becomes 'sent'; one handed
    out before keeps its token unless ``reissue`` (then its old link stops working). Used
    and revoked invitations are never changed.
    """
    campaign = db.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignNotFound(f"no campaign with id {campaign_id}")
    invitations = {
        invitation.company_id: invitation
        for invitation in db.scalars(select(Invitation).where(Invitation.campaign_id
                                                             == campaign.id))
    }
    companies = db.scalars(
        select(Company).where(Company.association_id == campaign.association_id)
        .order_by(Company.external_ref)
    ).all()
    result = IssuedLinks()
    now = utcnow()
    for company in companies:
        invitation = invitations.get(company.id)
        if invitation is not None and invitation.status in ("used", "revoked"):
            result.skipped_closed += 1
            continue
        if invitation is not None and invitation.status == "sent" and not reissue:
            result.skipped_sent += 1
            continue
        token = new_token()
        if invitation is None:
            invitation = Invitation(campaign_id=campaign.id, company_id=company.id,
                                    token_hash=token_hash(token))
            db.add(invitation)
        else:
            invitation.token_hash = token_hash(token)
        invitation.status = "sent"
        invitation.sent_at = now
        result.rows.append([
            neutralise(company.external_ref),
            neutralise(company.name),
            neutralise(company.contact_name or ""),
            neutralise(company.contact_email or ""),
            f"{base_url.rstrip('/')}/i/{token}",
        ])
    db.flush()
    return result

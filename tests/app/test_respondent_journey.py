"""The respondent journey end to end through the test client, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveyapp.models import Invitation, Response
from tests.app.conftest import (
    MINI_PROFILE,
    MINI_SKILLS,
    MINI_TRAINING,
    Respondent,
    SurveySetup,
)


def test_invitation_journey_stores_one_submitted_response(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent, db: Session
) -> None:
    setup = make_campaign()
    response = respondent.open_invitation(setup.tokens[0])
    assert response.status_code == 302
    assert response.headers["Location"] == "/survey"
    assert respondent.start("en").status_code == 302
    first = respondent.client.get("/survey")
    assert first.headers["Location"] == "/survey/page/profile"
    page = respondent.get("/survey/page/profile")
    assert "Page 1 of 2" in page.get_data(as_text=True)  # skills only once chosen
    assert respondent.post_page("profile", MINI_PROFILE).headers["Location"] == \
        "/survey/page/skills"
    assert respondent.post_page("skills", MINI_SKILLS).headers["Location"] == \
        "/survey/page/training"
    assert respondent.post_page("training", MINI_TRAINING).headers["Location"] == \
        "/survey/review"
    review = respondent.get("/survey/review").get_data(as_text=True)
    assert "Battery and high-voltage systems" in review
    done = respondent.submit()
    assert done.headers["Location"] == "/survey/done"
    thanks = respondent.get("/survey/done").get_data(as_text=True)
    assert "will be available" in thanks

    stored = db.scalars(select(Response)).all()
    assert len(stored) == 1
    assert stored[0].status == "submitted"
    assert stored[0].answers["country"] == "DE"
    assert stored[0].answers["employees"] == 120
    assert stored[0].answers["size_class"] == "50-249"
    assert stored[0].answers["levels"]["battery"] == {"current": 1, "required": 3, "staff": 12}
    assert stored[0].answers["budget"] == 1.5
    invitation = db.get(Invitation, setup.invitation_ids[0])
    assert invitation is not None and invitation.status == "used"

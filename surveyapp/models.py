"""The data model: tenants, users, questionnaire versions, campaigns, frame and responses."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator
from werkzeug.security import check_password_hash, generate_password_hash

from surveyapp.db import Base

ROLES = ("manager", "analyst", "admin")
CAMPAIGN_STATUSES = ("draft", "open", "closed")
INVITATION_STATUSES = ("created", "sent", "used", "revoked")
RESPONSE_STATUSES = ("in_progress", "submitted")


def utcnow() -> dt.datetime:
    """The current time in UTC (timezone-aware)."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        """Refuse naive datetimes; store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: timestamps must carry a timezone")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        """Attach UTC to values read back without a zone."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    """A CHECK expression restricting ``column`` to ``values``."""
    listed = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({listed})"


class Association(Base):
    """A national industry association: the tenant that runs campaigns in one country."""

    __tablename__ = "association"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    campaigns: Mapped[list[Campaign]] = relationship(back_populates="association")


class User(Base):
    """A person who signs in: an association's manager or analyst, or a platform admin."""

    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        # Managers and analysts belong to an association; admins to none.
        CheckConstraint("role = 'admin' OR association_id IS NOT NULL", name="tenant"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int | None] = mapped_column(
        ForeignKey("association.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    association: Mapped[Association | None] = relationship()

    def set_password(self, password: str) -> None:
        """Store a salted hash of ``password`` (never the password itself)."""
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        """Whether ``password`` matches the stored hash."""
        return check_password_hash(self.password_hash, password)


class QuestionnaireVersion(Base):
    """A published questionnaire version: a frozen snapshot of its structure and translations."""

    __tablename__ = "questionnaire_version"
    __table_args__ = (UniqueConstraint("questionnaire_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    questionnaire_id: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(300))
    source_language: Mapped[str] = mapped_column(String(16))
    languages: Mapped[list[str]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    structure: Mapped[dict[str, Any]] = mapped_column(JSON)
    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Campaign(Base):
    """One survey wave of an association on one pinned questionnaire version."""

    __tablename__ = "campaign"
    __table_args__ = (CheckConstraint(_in("status", CAMPAIGN_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(
        ForeignKey("association.id", ondelete="CASCADE"), index=True
    )
    questionnaire_version_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire_version.id"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    languages: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    fieldwork_start: Mapped[dt.date | None] = mapped_column(Date)
    fieldwork_end: Mapped[dt.date | None] = mapped_column(Date)
    # The open link is published on purpose (anyone may answer through it), so it is kept
    # readable to be shown again; invitation tokens, which identify one company, are hashed.
    open_link_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    association: Mapped[Association] = relationship(back_populates="campaigns")
    questionnaire_version: Mapped[QuestionnaireVersion] = relationship()


class Company(Base):
    """A unit of an association's frame, with its stratification variables and contact."""

    __tablename__ = "company"
    __table_args__ = (UniqueConstraint("association_id", "external_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(
        ForeignKey("association.id", ondelete="CASCADE"), index=True
    )
    external_ref: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(16))
    nace: Mapped[str | None] = mapped_column(String(16))
    size_class: Mapped[str | None] = mapped_column(String(16))
    employees: Mapped[int | None] = mapped_column(Integer)
    # Contact data: used to send invitations, never written into any analytic export.
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(320))

    association: Mapped[Association] = relationship()


class Invitation(Base):
    """A company's personal link to a campaign; only the SHA-256 of its token is stored."""

    __tablename__ = "invitation"
    __table_args__ = (
        UniqueConstraint("campaign_id", "company_id"),
        CheckConstraint(_in("status", INVITATION_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), index=True
    )
    company_id: Mapped[int] = mapped_column(
        ForeignKey("company.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="created")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    campaign: Mapped[Campaign] = relationship()
    company: Mapped[Company] = relationship()


def _one_response_per_invitation(status: str) -> Index:
    """A partial unique index: at most one response of ``status`` per invitation."""
    where = text(f"status = '{status}'")
    return Index(f"uq_response_invitation_{status}", "invitation_id", unique=True,
                 sqlite_where=where, postgresql_where=where)


class Response(Base):
    """One company's answers to a campaign's questionnaire version."""

    __tablename__ = "response"
    __table_args__ = (
        CheckConstraint(_in("status", RESPONSE_STATUSES), name="status"),
        # At most one submitted and at most one unfinished response per invitation: partial
        # unique indexes, which SQLite and PostgreSQL both enforce.
        _one_response_per_invitation("submitted"),
        _one_response_per_invitation("in_progress"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The pseudonymous key of exports: random, unrelated to ids, companies or tokens.
    key: Mapped[str] = mapped_column(String(32), unique=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), index=True
    )
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitation.id", ondelete="CASCADE")
    )
    questionnaire_version_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire_version.id"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="in_progress")
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    current_section: Mapped[str | None] = mapped_column(String(100))
    page_seconds: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # An open-link response's personal link to continue on any device: like an invitation
    # token, only its SHA-256 is stored (None for invitation responses, whose link is theirs).
    resume_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)

    campaign: Mapped[Campaign] = relationship()
    invitation: Mapped[Invitation | None] = relationship()
    questionnaire_version: Mapped[QuestionnaireVersion] = relationship()


class RateLimitCounter(Base):
    """Attempts of one kind by one client in one fixed time window, shared by every process."""

    __tablename__ = "rate_limit_counter"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)

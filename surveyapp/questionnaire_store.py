"""Published questionnaire versions: storing a snapshot, and loading it back (cached by hash)."""

from __future__ import annotations

import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from questionnaires.loader import load_questionnaire_from_mapping
from questionnaires.model import Questionnaire
from surveyapp.models import QuestionnaireVersion

#: Snapshots are immutable, so a parsed questionnaire can be shared by every request.
_CACHE: dict[str, Questionnaire] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 32


class PublishError(ValueError):
    """A questionnaire version cannot be published (e.g. same id and version, other content)."""


def publish(db: Session, questionnaire: Questionnaire) -> QuestionnaireVersion:
    """Store ``questionnaire`` as a version, or return the identical stored one.

    Raises PublishError when the same id and version is already stored with other content:
    a published version never changes, a changed questionnaire needs a new version.
    """
    digest = questionnaire.content_hash()
    existing = db.scalar(
        select(QuestionnaireVersion).where(
            QuestionnaireVersion.questionnaire_id == questionnaire.id,
            QuestionnaireVersion.version == questionnaire.version,
        )
    )
    if existing is not None:
        if existing.content_hash != digest:
            raise PublishError(
                f"questionnaire {questionnaire.id!r} version {questionnaire.version!r} is already "
                f"published with other content (stored hash {existing.content_hash[:12]}, "
                f"new {digest[:12]}); give the changed questionnaire a new version"
            )
        return existing
    version = QuestionnaireVersion(
        questionnaire_id=questionnaire.id,
        version=questionnaire.version,
        title=questionnaire.title,
        source_language=questionnaire.source_language,
        languages=list(questionnaire.languages),
        content_hash=digest,
        structure=questionnaire.model_dump(mode="json", exclude_none=True),
        translations={lang: dict(texts) for lang, texts in questionnaire.translations.items()},
    )
    db.add(version)
    db.flush()
    return version


def questionnaire_of(version: QuestionnaireVersion) -> Questionnaire:
    """The questionnaire a stored version holds, parsed once per content hash."""
    cached = _CACHE.get(version.content_hash)
    if cached is not None:
        return cached
    questionnaire = load_questionnaire_from_mapping(version.structure, version.translations)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[version.content_hash] = questionnaire
    return questionnaire

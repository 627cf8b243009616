"""The Flask application of skillsgap: `create_app` builds one, configured and wired."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, render_template, request, session
from flask_babel import Babel, format_datetime, format_percent, get_locale
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from surveyapp import config as config_module
from surveyapp import db
from surveyapp.tokens import redact_tokens

csrf = CSRFProtect()
babel = Babel()
log = logging.getLogger(__name__)

# No inline script or style anywhere: everything comes from /static, so 'unsafe-inline' is
# never needed, and forms may only post back to this site.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "script-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, instance/config.py, SKILLSGAP_* environment, then test_config."""
    # The instance folder (instance/config.py, the SQLite file, the development secret) may
    # live elsewhere in a deployment; it is the one setting needed before any config is read.
    instance_path = os.environ.get("SKILLSGAP_INSTANCE_PATH") or None
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    config_module.apply_defaults(app)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("SKILLSGAP")
    if test_config is not None:
        app.config.from_mapping(test_config)
    config_module.finalise(app)

    if app.config["PROXY_COUNT"]:
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=count, x_proto=count, x_host=count
        )

    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    app.jinja_env.add_extension("jinja2.ext.do")

    from surveyapp import admin, api, auth, respond, results

    app.register_blueprint(respond.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(results.bp)
    app.register_blueprint(api.bp)

    app.jinja_env.globals.update(
        interface_lang=lambda: str(get_locale() or "en"),
        format_datetime=format_datetime,
        format_percent=format_percent,
    )
    app.after_request(_security_headers)
    _register_error_pages(app)
    return app


def _select_locale() -> str:
    """The interface language: the page's survey language, the respondent's choice, the
    browser's, else English."""
    languages = list(current_languages())
    survey_language = g.get("survey_language")
    if isinstance(survey_language, str):
        # A survey page speaks its questionnaire's language; English where the interface has
        # no catalog for it (the source language, never a blank).
        return survey_language if survey_language in languages else "en"
    chosen = session.get("lang")
    if isinstance(chosen, str) and chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or "en"


def current_languages() -> tuple[str, ...]:
    """The interface languages of the running app."""
    from flask import current_app

    return tuple(current_app.config["LANGUAGES"])


def _security_headers(response: Response) -> Response:
    """Headers every response carries (see CONTENT_SECURITY_POLICY)."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    # Invitation links carry a token; no page may leak its URL to another site.
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.endpoint != "static":
        # Pages show a respondent's own answers: never kept by shared or browser caches.
        headers.setdefault("Cache-Control", "no-store")
    from flask import current_app

    if current_app.config["PRODUCTION"]:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def _register_error_pages(app: Flask) -> None:
    """Clear pages (and log lines) instead of bare error responses."""

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> Any:
        from surveyapp.respond.views import recover_after_csrf_failure

        recovered = recover_after_csrf_failure()
        if recovered is not None:
            return recovered
        return render_template("errors/csrf.html"), 400

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Any:
        limit = app.config["MAX_CONTENT_LENGTH"]
        return render_template("errors/413.html", limit_kb=limit // 1024), 413

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        code = exc.code or 500
        if code in (403, 404, 405, 429):
            return render_template(f"errors/{code}.html"), code
        if code >= 500:
            return render_template("errors/500.html"), code
        return render_template("errors/generic.html", code=code), code

    if app.testing:
        # Tests see the traceback instead of the friendly page.
        return

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, redact_tokens(request.path))
        return render_template("errors/500.html"), 500

"""Sign-in for association staff and platform admins (respondents never sign in)."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.exceptions import TooManyRequests
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from surveyapp import ratelimit
from surveyapp.db import commit, get_db
from surveyapp.models import User

bp = Blueprint("auth", __name__, url_prefix="/auth")

F = TypeVar("F", bound=Callable[..., Any])

@functools.cache
def _dummy_hash() -> str:
    """A hash to check against when the e-mail is unknown, so both failures take as long."""
    return generate_password_hash(secrets.token_hex(16))


class LoginForm(FlaskForm):
    """E-mail and password."""

    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=320)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=500)])


@bp.before_app_request
def load_user() -> None:
    """Put the signed-in user (or None) on `g.user`."""
    user_id = session.get("user_id")
    g.user = None
    if isinstance(user_id, int):
        user = get_db().get(User, user_id)
        if user is not None and user.active:
            g.user = user


def login_required(*roles: str) -> Callable[[F], F]:
    """Restrict a view to signed-in users, optionally with one of ``roles``."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if g.user is None:
                return redirect(url_for("auth.login", next=request.path))
            if roles and g.user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Sign in with e-mail and password (failed attempts are rate-limited per address)."""
    form = LoginForm()
    if form.validate_on_submit():
        db = get_db()
        config = current_app.config
        client = f"login:{request.remote_addr or 'unknown'}"
        window = config["RATE_LIMIT_WINDOW_SECONDS"]
        limit = config["LOGIN_RATE_LIMIT"]
        if limit and ratelimit.attempts(db, client, window) >= limit:
            raise TooManyRequests()
        email = (form.email.data or "").strip().lower()
        user = db.scalar(select(User).where(func.lower(User.email) == email))
        password = form.password.data or ""
        if user is None or not user.active:
            check_password_hash(_dummy_hash(), password)
        elif user.check_password(password):
            # A new session on sign-in: nothing from before (e.g. a fixed id) carries over.
            session.clear()
            session["user_id"] = user.id
            commit()
            return redirect(_local_target(request.args.get("next", "")))
        if limit:
            ratelimit.record_attempt(db, client, window)
            commit()
        flash(_("E-mail address or password is not correct."), "error")
    return render_template("auth/login.html", form=form)


def _local_target(target: str) -> str:
    """``target`` when it is a path on this site, else the campaign overview (no open redirect)."""
    parts = urlsplit(target)
    if (parts.scheme or parts.netloc or not target.startswith("/")
            or target.startswith(("//", "/\\")) or "\\" in target):
        return url_for("admin.campaigns")
    return target


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Sign out."""
    session.clear()
    return redirect(url_for("auth.login"))

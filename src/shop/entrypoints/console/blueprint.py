"""The console's blueprint, its CSRF check, its security headers and its error pages."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect

from shop.entrypoints.api import problems

log = logging.getLogger("shop.console")

PREFIX = "/console"
# No script at all, no inline style, no frame: the pages are HTML and one stylesheet.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

blp = Blueprint(
    "console",
    __name__,
    url_prefix=PREFIX,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
csrf = CSRFProtect()


@blp.before_request
def _check_csrf() -> None:
    if request.method == "POST":
        csrf.protect()


def page(template: str, http_status: int = 200, **context: object) -> tuple[str, int]:
    return render_template(f"console/{template}", **context), http_status


def error_page(status: int, title: str, detail: str) -> tuple[str, int]:
    return page("error.html", status, title=title, detail=detail)


@blp.errorhandler(CSRFError)
def _csrf_refused(error: CSRFError) -> tuple[str, int]:
    return error_page(
        400,
        "Form refused",
        "This form is out of date or did not come from the console: nothing was changed. "
        "Go back, reload the page and try again.",
    )


@blp.errorhandler(Exception)
def _as_a_page(error: Exception) -> Response:
    """What the API answers to this error (its status, its words, its logging: an outage logged once,
    a bug with its traceback), shown as a page instead of problem+json."""
    answer = problems.answer(error)
    problem = answer.get_json(silent=True) or {}
    title = problem.get("title") or "Error"
    shown = current_app.make_response(error_page(answer.status_code, title, problem.get("detail", "")))
    if "Retry-After" in answer.headers:
        shown.headers["Retry-After"] = answer.headers["Retry-After"]
    return shown


@blp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    # Over HTTPS Flask-WTF requires a same-origin Referer on every form post (a second CSRF check):
    # browsers send it only if the page allows it; other sites still get nothing.
    response.headers["Referrer-Policy"] = "same-origin"
    if not request.path.startswith(f"{PREFIX}/static/"):
        response.headers["Cache-Control"] = "no-store"  # pages show live stock and orders
    return response

"""Which language a page is shown in: the person's choice, then the browser's, then the default."""

from flask import request

from .config import SUPPORTED_LOCALES
from .extensions import runtime

LANGUAGE_COOKIE = "idp_lang"


def select_locale() -> str:
    for candidate in (request.args.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if candidate in SUPPORTED_LOCALES:
            return candidate
    for tag in (request.args.get("ui_locales") or "").split():
        if tag.split("-")[0] in SUPPORTED_LOCALES:
            return tag.split("-")[0]
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or runtime().settings.i18n.default_locale

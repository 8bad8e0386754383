"""The message catalogs are complete and the committed .mo files match their .po files.

A string added to the code or the templates without a Vietnamese translation fails here, named by
its msgid. To fix: `make translations` (or the three pybabel steps in the Makefile), translate the
new entries in idp/translations/vi/LC_MESSAGES/messages.po, then `pybabel compile -d idp/translations`.
"""

from __future__ import annotations

import re
import string
from importlib.metadata import entry_points
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "idp" / "translations"
LOCALES = ("vi", "en")

# The same keywords as `pybabel extract -k _l` (the defaults plus _l).
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None}

# %(name)s-style placeholders, as Python's %-formatting reads them.
PERCENT_PLACEHOLDER = re.compile(r"%\((\w+)\)[#0 +-]*(?:\d+)?(?:\.\d+)?[diouxXeEfFgGcrsa]")


def _method_map() -> tuple[list[tuple[str, str]], dict]:
    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, filename=str(ROOT / "babel.cfg"))
    if not any(ep.name == "jinja2" for ep in entry_points(group="babel.extractors")):
        method_map = [(pattern, "jinja2.ext:babel_extract" if method == "jinja2" else method)
                      for pattern, method in method_map]
    return method_map, options_map


def _extracted() -> dict[str, list[str]]:
    """msgid -> where it is used, extracted from the source tree the way pybabel extract does."""
    method_map, options_map = _method_map()
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        key = (context, message[0] if isinstance(message, tuple) else message)
        found.setdefault(key, []).append(f"{filename}:{lineno}")
    return found


def _catalog(locale: str):
    with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=locale)


def _strings(message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def _ids(message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def test_every_extracted_message_is_translated_to_vietnamese():
    extracted = _extracted()
    assert extracted, "no messages were extracted; is babel.cfg right?"
    catalog = _catalog("vi")
    problems = []
    for (context, msgid), where in sorted(extracted.items(), key=lambda item: item[1][0]):
        message = catalog.get(msgid, context=context)
        if message is None:
            problems.append(f"missing from vi catalog: {msgid!r} ({', '.join(where)})")
        elif message.fuzzy:
            problems.append(f"fuzzy in vi catalog: {msgid!r} ({', '.join(where)})")
        elif not all(_strings(message)):
            problems.append(f"not translated in vi catalog: {msgid!r} ({', '.join(where)})")
    assert not problems, (
        "Run the pybabel extract/update steps and translate these in "
        "idp/translations/vi/LC_MESSAGES/messages.po:\n" + "\n".join(problems)
    )


def test_vietnamese_catalog_header_is_not_fuzzy():
    assert not _catalog("vi").fuzzy


@pytest.mark.parametrize("locale", LOCALES)
def test_compiled_catalog_is_up_to_date(locale):
    mo_path = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo"
    assert mo_path.is_file(), f"{mo_path} is missing; run: pybabel compile -d idp/translations"

    fresh = BytesIO()
    write_mo(fresh, _catalog(locale))
    fresh.seek(0)
    expected = {(m.context, m.id, m.string) for m in read_mo(fresh)}
    with open(mo_path, "rb") as f:
        committed = {(m.context, m.id, m.string) for m in read_mo(f)}

    stale = sorted({repr(entry[1]) for entry in expected ^ committed})
    assert not stale, (
        f"{mo_path.relative_to(ROOT)} does not match its .po for these messages; "
        "run: pybabel compile -d idp/translations\n" + "\n".join(stale)
    )


def _percent_placeholders(text: str) -> set[str]:
    return {match.group(0) for match in PERCENT_PLACEHOLDER.finditer(text)}


def _brace_fields(text: str) -> set[str]:
    return {field for _literal, field, _spec, _conversion in string.Formatter().parse(text) if field is not None}


def test_vietnamese_translations_keep_placeholders():
    problems = []
    for message in _catalog("vi"):
        if not message.id:
            continue
        msgid = _ids(message)[0]
        wanted = _percent_placeholders(msgid)
        brace_wanted = _brace_fields(msgid) if "python-brace-format" in message.flags else None
        for translation in _strings(message):
            if not translation:
                continue  # reported by the completeness test
            got = _percent_placeholders(translation)
            if got != wanted:
                problems.append(f"{msgid!r}: placeholders {sorted(wanted)} but translation has {sorted(got)}")
            if wanted and "%" in PERCENT_PLACEHOLDER.sub("", translation).replace("%%", ""):
                problems.append(f"{msgid!r}: stray % in translation {translation!r}")
            if brace_wanted is not None:
                try:
                    brace_got = _brace_fields(translation)
                except ValueError as error:
                    problems.append(f"{msgid!r}: translation is not a valid format string ({error})")
                else:
                    if brace_got != brace_wanted:
                        problems.append(
                            f"{msgid!r}: fields {sorted(brace_wanted)} but translation has {sorted(brace_got)}"
                        )
    assert not problems, "\n".join(problems)

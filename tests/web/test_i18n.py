"""Every string of the interface is translated (Simplified Chinese by default), none is
hard-coded in a template, and no page loads anything from the internet (issue 5)."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

WEB = Path(__file__).resolve().parents[2] / "web"
PO = WEB / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]


def _extracted() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(WEB), METHODS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_interface_string_has_a_chinese_translation() -> None:
    with PO.open("rb") as f:
        catalog = read_po(f)
    translated = {m.id: m.string for m in catalog if m.id}
    extracted = _extracted()
    assert extracted, "extraction found nothing: babel configuration is broken"
    missing = sorted(m for m in extracted if not translated.get(m))
    assert missing == [], f"untranslated (add to {PO.name} and compile): {missing}"


def test_the_compiled_catalog_matches_the_po_file() -> None:
    with PO.open("rb") as f:
        catalog = read_po(f)
    with MO.open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    for message in catalog:
        if message.id:
            assert compiled.gettext(message.id) == message.string, message.id


def _visible_literals(source: str) -> list[str]:
    """Words a template would show that do not pass through gettext."""
    text = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", " ", source, flags=re.S)
    attributes = re.findall(r'(?:title|placeholder|alt|aria-label)="([^"]*)"', text)
    text = re.sub(r"<[^>]*>", " ", text)
    return [w for w in re.findall(r"[^\W\d_]+", " ".join([text, *attributes]))]


@pytest.mark.parametrize("template", sorted(p.relative_to(WEB).as_posix()
                                            for p in WEB.glob("templates/**/*.html")))
def test_no_template_hard_codes_text(template: str) -> None:
    assert _visible_literals((WEB / template).read_text(encoding="utf-8")) == []


def test_pages_load_no_asset_from_the_internet() -> None:
    for path in [*WEB.glob("templates/**/*.html"), *WEB.glob("static/*")]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text), path.name
        assert not re.search(r"url\(\s*[\"']?(https?:)?//", text), path.name
        assert "@import" not in text, path.name

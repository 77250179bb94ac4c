"""Every sentence the pages show has a zh-CN translation, and one only.

The msgids are found by reading the sources, so a new string without a translation fails here rather than
showing English on a Chinese page: ``_("…")`` in every template (Jinja's own parser) and in the page modules
(``_("…")``, ``translator(request)("…")``), plus the tables whose entries pages translate by value. Counted
messages (``ngettext("{n} seat", "{n} seats", n, n=n)`` in templates, ``_.ngettext(…)`` in modules) must be plural
entries (``msgid``/``msgid_plural``/``msgstr[0]``) with the same two English forms. Text written straight into a
template (not through ``_()``) must not be English, unless marked ``lang="en"``.
"""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from jinja2 import nodes
from jinja2.ext import extract_from_ast

from piaowu.checkin.rules import MESSAGES
from piaowu.i18n import LOCALES_DIR, _catalog
from piaowu.web import manage
from piaowu.web.manage import common
from piaowu.web.templating import TEMPLATES_DIR, templates

WEB_DIR = Path(manage.__file__).resolve().parent.parent
CATALOGS = sorted((LOCALES_DIR / "zh_CN" / "LC_MESSAGES").glob("*.po"))
# Calls that return a translator bound to the page's language: ``translator(request)("…")``.
TRANSLATOR_FACTORIES = {"translator", "_t", "Translator"}


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def template_plurals() -> dict[tuple[str, str], str]:
    """(singular, plural) → where, for every ``ngettext("…", "…", n)`` in a template."""
    found: dict[tuple[str, str], str] = {}
    for path in sorted(TEMPLATES_DIR.rglob("*.html")):
        tree = templates.env.parse(path.read_text(encoding="utf-8"))
        for lineno, func, message in extract_from_ast(tree, gettext_functions=("ngettext",)):
            assert func == "ngettext" and isinstance(message, tuple)
            singular, plural = message[0], message[1]
            assert isinstance(singular, str) and isinstance(plural, str), f"{path}:{lineno}: ngettext of a variable"
            found.setdefault((singular, plural), f"{path.relative_to(TEMPLATES_DIR)}:{lineno}")
    return found


def module_plurals() -> dict[tuple[str, str], str]:
    """(singular, plural) → where, for every ``_.ngettext("…", "…", n)`` in a page module."""
    found: dict[tuple[str, str], str] = {}
    for path in sorted(WEB_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "ngettext":
                one, other = node.args[0], node.args[1]
                if isinstance(one, ast.Constant) and isinstance(other, ast.Constant):  # a table's: checked below
                    found.setdefault((one.value, other.value), f"{path.relative_to(WEB_DIR)}:{node.lineno}")
    return found


def catalog_plurals() -> dict[str, tuple[str, str]]:
    """singular msgid → (msgid_plural, msgstr[0]) of every translated plural entry in the zh_CN catalogs."""
    found: dict[str, tuple[str, str]] = {}
    for path in CATALOGS:
        with path.open("rb") as fh:
            for m in read_po(fh, locale="zh_CN"):
                if isinstance(m.id, tuple) and m.string and m.string[0] and not m.fuzzy:
                    found[m.id[0]] = (m.id[1], m.string[0])
    return found


def template_msgids() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(TEMPLATES_DIR.rglob("*.html")):
        tree = templates.env.parse(path.read_text(encoding="utf-8"))
        for lineno, _func, message in extract_from_ast(tree, gettext_functions=("_",)):
            if isinstance(message, tuple):  # ``_("… {n}", n=x)``: the msgid comes first, the arguments after it
                message = message[0]
            if isinstance(message, str):  # ``_(label)`` of a variable: its values are checked where they live
                found.setdefault(message, f"{path.relative_to(TEMPLATES_DIR)}:{lineno}")
    return found


def _is_translate_call(node: ast.Call) -> bool:
    if isinstance(node.func, ast.Name):
        return node.func.id == "_"
    inner = node.func
    return isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id in TRANSLATOR_FACTORIES


def module_msgids() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(WEB_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _is_translate_call(node) and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.setdefault(first.value, f"{path.relative_to(WEB_DIR)}:{node.lineno}")
    return found


def table_msgids() -> dict[str, str]:
    """Strings kept in tables and translated by value on the pages."""
    found = {label: "web/manage/common.py NAV" for _key, _path, label in common.NAV}
    found |= {m: "web/manage/common.py _PYDANTIC" for m in common._PYDANTIC.values() if m != "{msg}"}
    found |= {m: "checkin/rules.py MESSAGES (gate results)" for m in MESSAGES.values()}
    return found


def all_msgids() -> dict[str, str]:
    return {**table_msgids(), **module_msgids(), **template_msgids()}


def test_the_scan_finds_the_strings_of_every_kind_of_source():
    templates_found, modules_found = template_msgids(), module_msgids()
    assert "Sign in to the back office" in templates_found  # a template
    assert "Order code, mobile or name" in templates_found  # an attribute inside a template
    assert "Changes saved." in modules_found  # translator(request)("…")
    assert "Enter your name." in modules_found  # _("…") in a page module
    assert len(all_msgids()) > 300


def test_every_page_string_has_a_zh_cn_translation_with_the_same_placeholders():
    catalog = _catalog("zh_CN")
    missing = [f"{where}: {msgid!r}" for msgid, where in sorted(all_msgids().items()) if msgid not in catalog]
    assert not missing, "add these to the page's catalog (shop.po, manage.po, gate.po…):\n" + "\n".join(missing)
    wrong = [
        f"{where}: {msgid!r} → {catalog[msgid]!r}"
        for msgid, where in sorted(all_msgids().items())
        if _placeholders(catalog[msgid]) != _placeholders(msgid)
    ]
    assert not wrong, "the translation must keep the {placeholders}:\n" + "\n".join(wrong)


def test_the_scan_finds_counted_messages_in_templates_and_modules():
    assert ("{n} seat", "{n} seats") in template_plurals()
    assert ("{n} ticket left", "{n} tickets left") in template_plurals()
    assert ("Layout saved: {n} seat.", "Layout saved: {n} seats.") in module_plurals()


def test_every_counted_message_is_a_zh_cn_plural_entry_with_the_same_forms_and_placeholders():
    """A counted message needs a plural entry found by its singular, whose ``msgid_plural`` is the plural the
    code passes (else the catalog was written for another sentence), and whose translation keeps the
    placeholders of both English forms."""
    entries = catalog_plurals()
    used = {**template_plurals(), **module_plurals()}
    used |= {
        (one, other): "web/manage/common.py _PYDANTIC_COUNTED" for one, other, _by in common._PYDANTIC_COUNTED.values()
    }
    missing = [f"{where}: {one!r} / {other!r}" for (one, other), where in sorted(used.items()) if one not in entries]
    assert not missing, "add plural entries (msgid, msgid_plural, msgstr[0]) for:\n" + "\n".join(missing)
    wrong = [
        f"{where}: {one!r} has msgid_plural {entries[one][0]!r}, the code says {other!r}"
        for (one, other), where in sorted(used.items())
        if entries[one][0] != other
    ]
    assert not wrong, "\n".join(wrong)
    holes = [
        f"{where}: {one!r} → {entries[one][1]!r}"
        for (one, other), where in sorted(used.items())
        if not (_placeholders(one) == _placeholders(other) == _placeholders(entries[one][1]))
    ]
    assert not holes, "both forms and the translation must have the same {placeholders}:\n" + "\n".join(holes)


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: p.name)
def test_a_catalog_has_no_empty_or_fuzzy_translation(path: Path):
    with path.open("rb") as fh:
        bad = [m.id for m in read_po(fh) if m.id and (not m.string or m.fuzzy)]
    assert not bad, f"{path.name}: untranslated or fuzzy: {bad}"


def test_no_sentence_is_translated_two_ways_across_catalogs():
    """Catalogs are merged at start-up and the last one read wins: two translations of one msgid would make a
    page's wording depend on file names."""
    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for path in CATALOGS:
        with path.open("rb") as fh:
            for m in read_po(fh):
                if not m.id or not m.string:
                    continue
                first = seen.setdefault(m.id, (m.string, path.name))
                if first[0] != m.string:
                    clashes.append(f"{m.id!r}: {first[1]} → {first[0]!r}, {path.name} → {m.string!r}")
    assert not clashes, "\n".join(clashes)


# Blocks whose text is not shown (CSS classes, URLs).
HIDDEN_BLOCKS = {"body_class", "cancel_url", "head", "scripts"}
VISIBLE_ATTRS = {"placeholder", "title", "aria-label", "alt", "value", "label"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
WORD = re.compile(r"[A-Za-z]{2,}")


def _literal_text(node: nodes.Node, block: str | None = None) -> Iterator[str]:
    """The template's own text (not what expressions print), outside the blocks that are not shown."""
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.Block):
            yield from _literal_text(child, child.name)
        elif isinstance(child, nodes.TemplateData):
            if block not in HIDDEN_BLOCKS:
                yield child.data
        else:
            yield from _literal_text(child, block)


class _EnglishFinder(HTMLParser):
    """Visible text and attributes with Latin words, unless inside an element marked ``lang="en"``."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, bool]] = []
        self.found: list[str] = []

    def _english_ok(self) -> bool:
        return any(ok for _, ok in self.stack) or any(tag in ("script", "style") for tag, _ in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        marked = dict(attrs).get("lang") == "en"
        for name, value in attrs:
            if tag == "button" and name == "value":  # what the form sends, not what the button shows
                continue
            if name in VISIBLE_ATTRS and value and WORD.search(value) and not (marked or self._english_ok()):
                self.found.append(f"{tag}@{name}={value!r}")
        if tag not in VOID:
            self.stack.append((tag, marked))

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if WORD.search(data) and not self._english_ok():
            self.found.append(data.strip())


@pytest.mark.parametrize("path", sorted(TEMPLATES_DIR.rglob("*.html")), ids=lambda p: p.name)
def test_templates_show_no_english_outside_translations(path: Path):
    tree = templates.env.parse(path.read_text(encoding="utf-8"))
    finder = _EnglishFinder()
    finder.feed("".join(_literal_text(tree)))
    assert not finder.found, f'wrap in _() (or mark lang="en"): {finder.found}'

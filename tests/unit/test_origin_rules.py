"""core.inputs: the origins an organizer lists for its own sites (issue 5, per-organizer return origins). Pure."""

from __future__ import annotations

import pytest

from piaowu.core import inputs
from piaowu.core.errors import ValidationFailed
from piaowu.i18n import _catalog


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("https://tickets.grand-theatre.cn", "https://tickets.grand-theatre.cn"),
        ("HTTPS://Tickets.Grand-Theatre.CN", "https://tickets.grand-theatre.cn"),
        ("  https://tickets.grand-theatre.cn/  ", "https://tickets.grand-theatre.cn"),  # a pasted trailing slash
        ("https://tickets.grand-theatre.cn:443", "https://tickets.grand-theatre.cn"),  # the default port
        ("http://shop.example.com:80", "http://shop.example.com"),
        ("https://shop.example.com:8443", "https://shop.example.com:8443"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://192.168.1.20:8103", "http://192.168.1.20:8103"),
        ("https://票务.example.cn", "https://xn--zfr551g.example.cn"),
    ],
)
def test_an_origin_is_stored_as_browsers_serialize_it(typed: str, stored: str) -> None:
    assert inputs.clean_origin(typed) == stored
    # What is stored is what a return URL on that site is compared as.
    assert inputs.origin_of(stored + "/back?x=1") == stored
    assert inputs.is_allowed_url(stored + "/orders/K7QH?gateway_result=paid", [stored])


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("javascript:alert(1)", inputs.ORIGIN_SCHEME_MESSAGE),
        ("ftp://files.example.com", inputs.ORIGIN_SCHEME_MESSAGE),
        ("tickets.grand-theatre.cn", inputs.ORIGIN_SCHEME_MESSAGE),
        ("//tickets.grand-theatre.cn", inputs.ORIGIN_SCHEME_MESSAGE),
        ("https:/tickets.example.com", inputs.ORIGIN_SCHEME_MESSAGE),
        ("https://tickets.example.com/shop", inputs.ORIGIN_EXTRA_MESSAGE),
        ("https://tickets.example.com//", inputs.ORIGIN_EXTRA_MESSAGE),
        ("https://tickets.example.com?x=1", inputs.ORIGIN_EXTRA_MESSAGE),
        ("https://tickets.example.com/?", inputs.ORIGIN_EXTRA_MESSAGE),
        ("https://tickets.example.com#top", inputs.ORIGIN_EXTRA_MESSAGE),
        ("https://user:pw@tickets.example.com", inputs.ORIGIN_CREDENTIALS_MESSAGE),
        ("https://tickets.example.com@evil.example", inputs.ORIGIN_CREDENTIALS_MESSAGE),
        ("https://tickets.example.com:0", inputs.ORIGIN_PORT_MESSAGE),
        ("https://tickets.example.com:65536", inputs.ORIGIN_PORT_MESSAGE),
        ("https://tickets.example.com:", inputs.ORIGIN_PORT_MESSAGE),
        ("https://tickets.example.com:８０", inputs.ORIGIN_PORT_MESSAGE),  # full-width digits
        ("https://tickets.example.com:80:80", inputs.ORIGIN_PORT_MESSAGE),
        ("https://", inputs.ORIGIN_HOST_MESSAGE),
        ("https://:8000", inputs.ORIGIN_HOST_MESSAGE),
        ("https://tickets example.com", inputs.ORIGIN_HOST_MESSAGE),
        ("https://tickets.example.com\\evil", inputs.ORIGIN_HOST_MESSAGE),
        ("https://tick_ets.example.com", inputs.ORIGIN_HOST_MESSAGE),
        ("https://-tickets.example.com", inputs.ORIGIN_HOST_MESSAGE),
        ("https://tickets..example.com", inputs.ORIGIN_HOST_MESSAGE),
        ("https://tickets.example.com.", inputs.ORIGIN_HOST_MESSAGE),
        ("https://[::1]:8000", inputs.ORIGIN_HOST_MESSAGE),
        ("https://999.1.1.1", inputs.ORIGIN_HOST_MESSAGE),
        ("https://1.2.3", inputs.ORIGIN_HOST_MESSAGE),
        ("https://shop.123", inputs.ORIGIN_HOST_MESSAGE),
        ("https://" + "a" * 64 + ".example.com", inputs.ORIGIN_HOST_MESSAGE),
        ("https://" + "a." * 100 + "example.com", inputs.ORIGIN_LENGTH_MESSAGE),
        ("", inputs.ORIGIN_SCHEME_MESSAGE),
    ],
)
def test_anything_but_an_origin_is_refused_with_what_to_change(typed: str, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        inputs.clean_origin(typed)
    assert str(exc.value) == message, typed


def test_a_tab_or_line_break_inside_is_refused() -> None:
    # Trimmed at the ends (a pasted line), refused inside, where browsers would drop it and read another host.
    assert inputs.clean_origin("https://a.example.com\n") == "https://a.example.com"
    for typed in ("https://a.exa\tmple.com", "https://a.exa\nmple.com", "https://a.example.com\x00"):
        with pytest.raises(ValueError):
            inputs.clean_origin(typed)


def test_a_list_is_kept_in_order_without_repeats_and_bounded() -> None:
    assert inputs.clean_origins(["https://b.example", "https://a.example", "HTTPS://B.example/"]) == [
        "https://b.example",
        "https://a.example",
    ]
    assert inputs.clean_origins([]) == []
    many = [f"https://s{i}.example" for i in range(inputs.MAX_ORIGINS + 1)]
    assert len(inputs.clean_origins(many[:-1])) == inputs.MAX_ORIGINS
    with pytest.raises(ValueError, match="at most 20"):
        inputs.clean_origins(many)


def test_a_service_names_every_bad_entry_by_its_place() -> None:
    with pytest.raises(ValidationFailed) as exc:
        inputs.checked_origins("return_origins", ["https://ok.example", "javascript:alert(1)", "https://x.example/p"])
    assert [(e["field"], e["code"]) for e in exc.value.errors] == [
        ("return_origins.1", "invalid_origin"),
        ("return_origins.2", "invalid_origin"),
    ]
    with pytest.raises(ValidationFailed) as exc:
        inputs.checked_origins("return_origins", [f"https://s{i}.example" for i in range(21)])
    assert exc.value.errors[0]["field"] == "return_origins"
    assert inputs.checked_origins("return_origins", [" https://OK.example/ "]) == ["https://ok.example"]


def test_the_origin_sentences_are_translated() -> None:
    catalog = _catalog("zh_CN")
    for name in dir(inputs):
        if name.startswith("ORIGIN_") and name.endswith("_MESSAGE"):
            assert getattr(inputs, name) in catalog, name

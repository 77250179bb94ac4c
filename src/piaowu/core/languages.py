"""The languages an organizer's catalog texts may be written in (BCP 47 tags as the API shows them).

Here in ``core`` because the organizer's own settings name its default one, and organizers sit a floor below the
catalog; ``catalog.texts`` says what a reader of each language sees.
"""

from __future__ import annotations

from typing import Literal

# In the order a reader with none of them is served. Adding a language here (and to the UI catalogs) is all it
# takes: the catalog's columns are maps, not one column per language.
CONTENT_LOCALES: tuple[str, ...] = ("zh-CN", "en")
DEFAULT_CONTENT_LOCALE = "zh-CN"
ContentLocale = Literal[CONTENT_LOCALES]  # type: ignore[valid-type]

"""mkdocs hook: a page's ``<!-- registry: measures -->`` or ``<!-- registry: studies -->`` line
becomes the table of everything registered (``rnn_timescales.studies.registry``), so the docs'
column tables are generated from the registry and never typed again."""

from __future__ import annotations

import re

MARKER = re.compile(r"^<!-- registry: (measures|studies) -->$", re.M)


def on_page_markdown(markdown: str, **kwargs) -> str:
    from rnn_timescales.studies.registry import measures_markdown, studies_markdown

    tables = {"measures": measures_markdown, "studies": studies_markdown}
    return MARKER.sub(lambda m: tables[m.group(1)](), markdown)

"""MkDocs hook: render the Sphinx roles the docstrings use (``:class:`~a.b.C```) as plain code.

The docstrings are written for both ``help()`` and this site; mkdocstrings renders Google-style sections
but leaves Sphinx roles as text (``:meth:<code>parse</code>``). This hook turns each role into its code span,
keeping only the last dotted part when the target starts with ``~`` (as Sphinx does).
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|data|attr|exc|obj|const):<code>(~?)([^<]+)</code>")


def _replace(match: re.Match) -> str:
    tilde, target = match.group(1), match.group(2)
    return f"<code>{target.rsplit('.', 1)[-1] if tilde else target}</code>"


def on_page_content(html: str, **kwargs) -> str:
    return _ROLE.sub(_replace, html)

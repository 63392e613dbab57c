"""HTML (Mastodon ``content``, Hacker News ``text``) to plain text with a real HTML parser (:mod:`html.parser`).

Paragraphs (``<p>``, and Hacker News' bare ``<p>`` separators) become blank lines, ``<br>`` a line break, list
items and block elements their own lines; links keep their visible text (Mastodon's ``invisible`` spans hold
the hidden parts of a URL: kept, so the URL stays whole); entities are decoded; ``<script>``/``<style>``
content is dropped.

>>> html_to_text("<p>Hello <a href='https://x.example'>@<span>bob</span></a> &amp; all</p><p>line<br>two</p>")
'Hello @bob & all\\n\\nline\\ntwo'
>>> html_to_text("First para.<p>Second <i>para</i>.<p><pre><code>  x = 1\\n</code></pre>")
'First para.\\n\\nSecond para.\\n\\n  x = 1'
>>> html_to_text(None) is None
True
"""

from __future__ import annotations

from html.parser import HTMLParser

_PARAGRAPH = frozenset({"p", "div", "blockquote", "pre", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "table"})
_LINE = frozenset({"br", "li", "tr"})
_SKIP = frozenset({"script", "style"})
_PARA, _LINE_BREAK = object(), object()  # break markers among the text pieces


class _Verbatim(str):
    """Text inside ``<pre>``: its spaces and line breaks are kept."""


class _TextParser(HTMLParser):
    """Collects text pieces and break markers (a paragraph, a line break)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[object] = []
        self.skip = 0
        self.pre = 0

    def _break(self, mark: str) -> None:
        self.parts.append(_PARA if mark == "p" else _LINE_BREAK)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag in _PARAGRAPH:
            self._break("p")
            self.pre += tag == "pre"
        elif tag in _LINE:
            self._break("br")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _LINE:
            self._break("br")
        elif tag in _PARAGRAPH:
            self._break("p")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _PARAGRAPH:
            self._break("p")
            self.pre = max(0, self.pre - (tag == "pre"))

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(_Verbatim(data) if self.pre else " ".join(data.split("\n")))


def html_to_text(html: str | None) -> str | None:
    """Plain text of an HTML fragment (see the module docstring); None stays None, breaks are collapsed and
    the result stripped."""
    if html is None:
        return None
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    text = ""
    pending = ""  # the strongest break waiting to be written: "", "\n" or "\n\n"
    for part in parser.parts:
        if part is _PARA or part is _LINE_BREAK:
            mark = "\n\n" if part is _PARA else "\n"
            pending = mark if len(mark) > len(pending) else pending
            continue
        if not isinstance(part, str) or not part:
            continue
        if pending and text.strip():
            text = text.rstrip(" ") + pending
            part = part if isinstance(part, _Verbatim) else part.lstrip(" ")
        pending = ""
        text += part
    return text.rstrip().lstrip("\n")

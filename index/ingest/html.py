"""Read a saved news web page: the article body without the page chrome, and its metadata.

Standard library only (`html.parser`). The page is parsed into a small tree; navigation,
headers, footers, asides, scripts, styles, forms and comments are dropped; the body is the
largest `<article>`, else `<main>`, else the element whose paragraphs hold the most text.
Title: `og:title`, else the body's `<h1>`, else `<title>` without its site suffix. Date,
author, URL and source come from the usual meta tags (`article:published_time`, `<time
datetime>`, `author`, `og:url` / canonical link, `og:site_name`). `read_html` turns a saved
page file into an Article.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from index.documents import Article
from index.ingest.layout import BLOCK_STEPS, Block, apply_steps, clean_raw
from index.ingest.readers import build_article
from index.ingest.sidecar import sidecar_for
from index.text import WIDE

# Contents never shown as text, or never part of an article.
SKIP_TAGS = frozenset(
    "script style noscript template svg math iframe object embed canvas select button form input textarea "
    "head figure video audio map".split()
)
CHROME_TAGS = frozenset({"nav", "header", "footer", "aside", "menu", "dialog"})
CHROME_ROLES = frozenset(
    {"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar", "dialog"}
)
# Words in a class or id that mark page chrome (split at '-', '_', spaces, camel case not needed).
CHROME_WORDS = frozenset(
    "nav navbar navigation menu breadcrumb breadcrumbs crumb crumbs footer foot header masthead sidebar side "
    "aside share sharing social comment comments related recommend recommended advert advertisement ad ads "
    "banner copyright toolbar pagination pager subscribe login signup popup modal cookie hot rank ranking "
    "tags topbar bottom".split()
)
BLOCK_TAGS = frozenset(
    "p div section article main li ul ol dl dt dd blockquote pre table tr td th tbody thead h1 h2 h3 h4 h5 h6 "
    "br hr address center body html".split()
)
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
VOID_TAGS = frozenset("br hr img meta link input area base col embed param source track wbr".split())
# An open tag closed implicitly when one of these starts (the HTML rules that matter for text).
IMPLIED_END = {
    "p": BLOCK_TAGS - {"br", "hr"},
    "li": {"li"},
    "dt": {"dt", "dd"},
    "dd": {"dt", "dd"},
    "tr": {"tr"},
    "td": {"td", "th", "tr"},
    "th": {"td", "th", "tr"},
    "option": {"option"},
}

_HTML_SPACE = re.compile(r"[ \t\r\n\f]+")
_WIDE_GAP = re.compile(f"(?<=[{WIDE}]) (?=[{WIDE}])")
_WRAP_GAP = re.compile(f"(?<=[{WIDE}])\n|\n(?=[{WIDE}])")
_WORDS = re.compile(r"[a-z0-9]+")
# " - 国际 - 人民网", "_新华网", "|澎湃新闻": a short site or channel name after a separator
_SITE_SUFFIX = re.compile(r"(?:\s+[-–—|｜]\s+|\s*[_|｜]\s*)[^-–—_|｜]{1,16}$")
_SOURCE_PREFIX = re.compile(r"^\s*(?:来源|稿源|source)\s*[:：]\s*", re.IGNORECASE)

DATE_META = (
    "article:published_time",
    "og:published_time",
    "publishdate",
    "pubdate",
    "publish_date",
    "publication_date",
    "date",
    "dc.date",
    "dc.date.issued",
    "dcterms.created",
    "datepublished",
)
AUTHOR_META = ("author", "article:author", "dc.creator", "byl")
SOURCE_META = ("og:site_name", "source", "contentsource", "application-name")


class _Node:
    """An element of the parsed page: tag, attributes and children (nodes or text)."""

    __slots__ = ("attrs", "children", "chrome", "parent", "tag")

    def __init__(self, tag: str, attrs: dict[str, str], parent: _Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[_Node | str] = []
        self.chrome: bool | None = None  # cached `_is_chrome`

    def iter(self) -> Iterator[_Node]:
        """This node and every element below it, in document order."""
        yield self
        for child in self.children:
            if isinstance(child, _Node):
                yield from child.iter()

    def text(self) -> str:
        """All text below this node, whitespace folded."""
        return _HTML_SPACE.sub(" ", "".join(self._texts())).strip()

    def _texts(self) -> Iterator[str]:
        for child in self.children:
            if isinstance(child, str):
                yield child
            elif child.tag not in SKIP_TAGS:
                yield " " if child.tag in BLOCK_TAGS else ""
                yield from child._texts()

    def link_text_length(self) -> int:
        """Characters of text inside links below this node."""
        return sum(len(n.text()) for n in self.iter() if n.tag == "a")


class _TreeBuilder(HTMLParser):
    """Builds a forgiving tree: unknown end tags are ignored, unclosed ones closed by their parent."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("#root", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        while self.current.tag in IMPLIED_END and tag in IMPLIED_END[self.current.tag]:
            self.current = self.current.parent or self.root
        node = _Node(tag, {k.lower(): (v or "") for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID_TAGS:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = _Node(tag, {k.lower(): (v or "") for k, v in attrs}, self.current)
        self.current.children.append(node)

    def handle_endtag(self, tag: str) -> None:
        node: _Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)

    # comments, doctype and processing instructions are never text
    def handle_comment(self, data: str) -> None:
        return None


def read_html(path: Path, base_id: str, sidecar: Any, steps: Sequence[str]) -> Article:
    """A saved web page: the article body (page chrome dropped), title and meta tags."""
    page = parse_page(clean_raw(decode_html(path.read_bytes()), steps))
    blocks = [Block(b.kind, apply_steps(b.text, steps, BLOCK_STEPS)) for b in page.blocks]
    meta = {**page.meta, "title": page.title}
    return build_article(
        base_id,
        [b for b in blocks if b.text],
        meta,
        path=str(path),
        sidecar=sidecar_for(sidecar, 0),
        meta_from=page.title_from,
        heading_is_title=False,
        steps=steps,
    )


@dataclass(frozen=True)
class Page:
    """What a web page gives an article: title (and where it came from), metadata, body blocks."""

    title: str | None
    title_from: str
    meta: dict[str, str] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)


def parse_page(html: str) -> Page:
    """Extract the article of a web page: body blocks without chrome, title and metadata."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    root = builder.root
    metas = _meta_tags(root)
    body = choose_body(root)
    title, title_from = _title(root, body, metas)
    blocks = [b for b in body_blocks(body) if not (b.kind == "heading" and b.text == title)]
    blocks = _drop_leading_h1(blocks, body)
    return Page(title, title_from, _metadata(root, body, metas), blocks)


def choose_body(root: _Node) -> _Node:
    """The element holding the article: the largest <article>, else <main>, else the densest block."""
    for tag in ("article", "main"):
        found = [n for n in root.iter() if _is_tag(n, tag) and not _in_chrome(n)]
        best = max(found, key=_paragraph_text, default=None)
        if best is not None and _paragraph_text(best) >= 50:
            return best
    return _densest(root)


def _is_tag(node: _Node, tag: str) -> bool:
    return node.tag == tag or (tag == "main" and node.attrs.get("role") == "main")


def _densest(root: _Node) -> _Node:
    """The element whose own paragraphs hold the most text (links count against it)."""
    scores: dict[int, float] = {}
    nodes: dict[int, _Node] = {}
    for node in root.iter():
        if node.tag not in ("p", "div", "td", "section", "pre", "blockquote") or _in_chrome(node):
            continue
        own = _own_text(node)
        if len(own) < 20 or node.parent is None:
            continue
        for weight, ancestor in ((1.0, node.parent), (0.5, node.parent.parent)):
            if ancestor is not None:
                scores[id(ancestor)] = scores.get(id(ancestor), 0.0) + weight * len(own)
                nodes[id(ancestor)] = ancestor
    if not scores:
        return next((n for n in root.iter() if n.tag == "body"), root)
    best = max(scores, key=lambda k: scores[k] * (1 - _link_density(nodes[k])))
    return nodes[best]


def _own_text(node: _Node) -> str:
    """Text directly in this node or its inline children (not in nested blocks)."""
    parts: list[str] = []
    for child in node.children:
        if isinstance(child, str):
            parts.append(child)
        elif child.tag not in BLOCK_TAGS and child.tag not in SKIP_TAGS:
            parts.append(child.text())
    return _HTML_SPACE.sub(" ", "".join(parts)).strip()


def _paragraph_text(node: _Node) -> int:
    """Characters of paragraph text below a node, outside chrome."""
    return sum(
        len(_own_text(n))
        for n in node.iter()
        if n.tag in ("p", "div", "td", "pre", "blockquote") and not _is_chrome(n)
    )


def _link_density(node: _Node) -> float:
    total = len(node.text())
    return node.link_text_length() / total if total else 1.0


def _is_chrome(node: _Node) -> bool:
    """Navigation, headers, footers, asides and blocks named like them (unless they hold the text)."""
    if node.chrome is None:
        node.chrome = _chrome(node)
    return node.chrome


def _chrome(node: _Node) -> bool:
    if node.tag in CHROME_TAGS or node.attrs.get("role") in CHROME_ROLES:
        return True
    if "hidden" in node.attrs or re.search(r"display\s*:\s*none", node.attrs.get("style", ""), re.IGNORECASE):
        return True
    words = set(_WORDS.findall(f"{node.attrs.get('class', '')} {node.attrs.get('id', '')}".lower()))
    if not words & CHROME_WORDS:
        return False
    # a block named like chrome but holding real paragraphs is the content (e.g. "main-side-content")
    return _link_density(node) > 0.3 or len(node.text()) < 200


def _in_chrome(node: _Node) -> bool:
    probe: _Node | None = node
    while probe is not None:
        if probe.tag in SKIP_TAGS or _is_chrome(probe):
            return True
        probe = probe.parent
    return False


def body_blocks(body: _Node) -> list[Block]:
    """Headings and paragraphs of the body, chrome dropped, whitespace folded as a browser would."""
    out: list[Block] = []
    buffer: list[str] = []

    def flush(kind: str = "paragraph") -> None:
        text = _fold_space("".join(buffer))
        buffer.clear()
        if text:
            out.append(Block("heading" if kind in HEADINGS else "paragraph", text))

    def walk(node: _Node) -> None:
        for child in node.children:
            if isinstance(child, str):
                buffer.append(child)
            elif child.tag in SKIP_TAGS or _is_chrome(child):
                continue
            elif child.tag in HEADINGS:
                flush()
                walk(child)
                flush(child.tag)
            elif child.tag in BLOCK_TAGS:
                flush()
                walk(child)
                flush()
            else:
                walk(child)

    walk(body)
    flush()
    return out


def _fold_space(text: str) -> str:
    """Fold HTML whitespace; a line break next to a Chinese character is source wrapping, not a space."""
    text = _WRAP_GAP.sub("", re.sub(r"[ \t\r\f]*\n[ \t\r\f\n]*", "\n", text))
    text = _HTML_SPACE.sub(" ", text)
    return _WIDE_GAP.sub("", text).strip()


def _drop_leading_h1(blocks: list[Block], body: _Node) -> list[Block]:
    """The body's own <h1> is the title line, not a section heading."""
    h1 = next((n for n in body.iter() if n.tag == "h1" and not _in_chrome(n)), None)
    if h1 is not None and blocks and blocks[0].kind == "heading" and blocks[0].text == _fold_space(h1.text()):
        return blocks[1:]
    return blocks


def _meta_tags(root: _Node) -> dict[str, str]:
    """Every <meta> name/property/itemprop with its content (first one wins), lower-cased keys."""
    metas: dict[str, str] = {}
    for node in root.iter():
        if node.tag != "meta":
            continue
        key = node.attrs.get("property") or node.attrs.get("name") or node.attrs.get("itemprop") or ""
        content = node.attrs.get("content", "").strip()
        if key and content:
            metas.setdefault(key.strip().lower(), content)
    return metas


def _title(root: _Node, body: _Node, metas: dict[str, str]) -> tuple[str | None, str]:
    """og:title, else the <h1> of the body (or of the page, outside chrome), else <title> trimmed."""
    if title := _fold_space(metas.get("og:title", "")):
        return title, "og:title"
    for scope in (body, root):
        h1 = next((n for n in scope.iter() if n.tag == "h1" and not _in_chrome(n)), None)
        if h1 is not None and (text := _fold_space(h1.text())):
            return text, "<h1>"
    node = next((n for n in root.iter() if n.tag == "title"), None)
    if node is not None and (text := _fold_space(node.text())):
        return _trim_site(text), "<title>"
    return None, "lead"


def _trim_site(title: str) -> str:
    """Drop up to two site or channel names from the end of a <title>."""
    for _ in range(2):
        trimmed = _SITE_SUFFIX.sub("", title)
        if trimmed == title or len(trimmed) < 4:
            break
        title = trimmed
    return title


def _metadata(root: _Node, body: _Node, metas: dict[str, str]) -> dict[str, str]:
    """Date, author, URL and source from meta tags, <time> and the canonical link."""
    meta: dict[str, str] = {}
    date = _first(metas, DATE_META) or _time_datetime(body) or _time_datetime(root)
    author = _first(metas, AUTHOR_META)
    url = metas.get("og:url") or _canonical(root)
    source = _first(metas, SOURCE_META)
    for key, value in (("date", date), ("author", author), ("url", url), ("source", source)):
        if value:
            meta[key] = _SOURCE_PREFIX.sub("", value).strip() if key == "source" else value.strip()
    return meta


def _first(metas: dict[str, str], keys: tuple[str, ...]) -> str | None:
    return next((metas[k] for k in keys if metas.get(k)), None)


def _time_datetime(scope: _Node) -> str | None:
    node = next(
        (n for n in scope.iter() if n.tag == "time" and (n.attrs.get("datetime") or "").strip()), None
    )
    return node.attrs["datetime"].strip() if node is not None else None


def _canonical(root: _Node) -> str | None:
    for node in root.iter():
        if (
            node.tag == "link"
            and "canonical" in node.attrs.get("rel", "").lower().split()
            and node.attrs.get("href")
        ):
            return node.attrs["href"]
    return None


_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
# Chinese pages often declare GB2312 while using GBK characters; GB18030 reads all of them.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "gb_2312-80": "gb18030",
    "big5": "big5hkscs",
}


def decode_html(data: bytes) -> str:
    """Decode a saved page: BOM, else the <meta charset> it declares, else UTF-8, else GB18030.

    Raises:
        UnicodeDecodeError: the bytes fit none of these encodings.
    """
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(codec)
    declared = _CHARSET.search(data[:4096])
    codecs = ["utf-8", "gb18030"]
    if declared:
        name = declared.group(1).decode("ascii").lower()
        codecs.insert(0, _CHARSET_ALIASES.get(name, name))
    error: UnicodeDecodeError | None = None
    for codec in codecs:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError) as exc:
            error = exc if isinstance(exc, UnicodeDecodeError) else error
    raise error or UnicodeDecodeError("utf-8", data, 0, 1, "not decodable")

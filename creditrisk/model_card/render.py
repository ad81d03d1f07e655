"""A document of sections rendered twice, as Markdown (the source) and as a self-contained HTML page.

Blocks are paragraphs, tables, bullet lists and images; a table cell may be a `Figure`, a number
named after the MLflow metric it shows, which HTML marks with `data-metric` so a reader (or a test)
can tie every printed figure to the run it came from. Images are embedded in the HTML (it opens
anywhere, alone) and linked by a relative path in the Markdown.
"""
from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass, field

INTEGER_SUFFIXES = ("rows", "profiles", "violations")


@dataclass(frozen=True)
class Figure:
    """A run metric shown in the card: `key` names it, `value` is the run's number."""

    key: str
    value: float | None

    def text(self) -> str:
        v = self.value
        if v is None or not math.isfinite(v):
            return "n/a"
        return f"{v:,.0f}" if self.key.endswith(INTEGER_SUFFIXES) else f"{v:.4f}"


Cell = str | Figure


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[Cell]]


@dataclass(frozen=True)
class Image:
    alt: str
    path: str  # relative to the card's folder in the run's artifacts
    png: bytes | None  # embedded in the HTML; None when the run has no such plot


Block = str | Table | list[str] | Image  # a str is a paragraph, a list of str a bullet list


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    title: str
    lead: list[str]
    sections: list[Section]


def _md_cell(c: Cell) -> str:
    return (c.text() if isinstance(c, Figure) else c).replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: Document) -> str:
    out = [f"# {doc.title}", "", *[p + "\n" for p in doc.lead]]
    for s in doc.sections:
        out += [f"## {s.title}", ""]
        for b in s.blocks:
            if isinstance(b, Table):
                out += ["| " + " | ".join(b.header) + " |", "|" + "---|" * len(b.header)]
                out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            elif isinstance(b, Image):
                out.append(f"![{b.alt}]({b.path})" if b.png is not None else f"({b.alt}: not recorded)")
            elif isinstance(b, list):
                out += [f"- {item}" for item in b]
            else:
                out.append(b)
            out.append("")
    return "\n".join(out)


def _html_cell(c: Cell, tag: str = "td") -> str:
    if isinstance(c, Figure):
        return f'<{tag} class="num"><span data-metric="{html.escape(c.key)}">{c.text()}</span></{tag}>'
    return f"<{tag}>{html.escape(c)}</{tag}>"


def _html_block(b: Block) -> str:
    if isinstance(b, Table):
        head = "".join(_html_cell(h, "th") for h in b.header)
        body = "".join("<tr>" + "".join(_html_cell(c) for c in row) + "</tr>" for row in b.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(b, Image):
        if b.png is None:
            return f"<p>({html.escape(b.alt)}: not recorded)</p>"
        data = base64.b64encode(b.png).decode()
        return f'<img alt="{html.escape(b.alt)}" src="data:image/png;base64,{data}">'
    if isinstance(b, list):
        return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in b) + "</ul>"
    return f"<p>{html.escape(b)}</p>"


STYLE = """body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}img{max-width:28rem}h2{margin-top:2rem}"""


def to_html(doc: Document) -> str:
    sections = "".join(f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>'
                       + "".join(_html_block(b) for b in s.blocks) + "</section>" for s in doc.sections)
    lead = "".join(f"<p>{html.escape(p)}</p>" for p in doc.lead)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(doc.title)}'
            f"</title><style>{STYLE}</style></head><body><h1>{html.escape(doc.title)}</h1>{lead}{sections}"
            "</body></html>")

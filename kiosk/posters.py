"""Printable A4 posters for a profile's camera-free and mobile-free zones (SVG and PDF).

Why hand-written output rather than a PDF library: a poster is a dozen shapes and a few lines
of text, so one small layout (a list of primitives in millimetres) rendered two ways is
shorter than wiring a dependency onto the Pi. The PDF uses the 14 standard fonts
(Helvetica, WinAnsiEncoding), so nothing is embedded and any viewer or printer shows it.

Why the citation in the foot: the school must be able to show which line of its own policy a
sign enforces (``zone.source``), the same citation the kiosk shows staff.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import policies
from kiosk.config import KioskConfig

PAGE_W, PAGE_H = 210.0, 297.0  # A4, millimetres
MARGIN = 15.0
TEXT_W = PAGE_W - 2 * MARGIN
CX = PAGE_W / 2

RED = "#c8102e"  # the red of prohibition signs
BLACK = "#111111"
GREY = "#555555"
WHITE = "#ffffff"

KIND_LABEL = {"camera_free": "CAMERA-FREE ZONE", "mobile_free": "MOBILE-FREE ZONE"}

# Advance widths (1/1000 em) of Helvetica and Helvetica-Bold for ASCII 32..126, from the
# Adobe AFM files: used to wrap and centre text identically in the SVG and the PDF.
_HELV = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
]  # fmt: skip
_HELV_BOLD = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
]  # fmt: skip
_WIDE = {"—": 1000, "–": 556, "’": 278, "‘": 278, "“": 500, "”": 500, "·": 278, "§": 556}
#: Fallback fonts (DejaVu, Liberation) run wider than Helvetica; wrap with this much slack.
_SLACK = 1.1


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width of ``text`` at ``size`` (same unit as size) in Helvetica (Bold)."""
    table = _HELV_BOLD if bold else _HELV
    units = 0
    for ch in text:
        code = ord(ch)
        units += table[code - 32] if 32 <= code <= 126 else _WIDE.get(ch, 556)
    return units * size / 1000


def wrap(text: str, size: float, width: float, bold: bool = False) -> list[str]:
    """Greedy word wrap to ``width``, leaving slack for wider fallback fonts."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        trial = f"{line} {word}" if line else word
        if line and text_width(trial, size, bold) * _SLACK > width:
            lines.append(line)
            line = word
        else:
            line = trial
    if line:
        lines.append(line)
    return lines


# ------------------------------------------------------------------------------ layout


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str | None = None
    stroke: str | None = None
    width: float = 0.0
    radius: float = 0.0


@dataclass(frozen=True)
class Circle:
    cx: float
    cy: float
    r: float
    fill: str | None = None
    stroke: str | None = None
    width: float = 0.0


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str
    width: float


@dataclass(frozen=True)
class Text:
    """One line of centred text; ``y`` is the baseline."""

    y: float
    text: str
    size: float
    bold: bool = False
    fill: str = BLACK


Shape = Rect | Circle | Line | Text


def _phone(cx: float, cy: float) -> list[Shape]:
    w, h = 44.0, 78.0
    x, y = cx - w / 2, cy - h / 2
    return [
        Rect(x, y, w, h, fill=BLACK, radius=7),
        Rect(x + 4.5, y + 11, w - 9, h - 25, fill=WHITE, radius=1.5),
        Rect(cx - 7, y + 4.5, 14, 2.6, fill=WHITE, radius=1.3),
        Circle(cx, y + h - 7, 3.6, fill=WHITE),
    ]


def _camera(cx: float, cy: float) -> list[Shape]:
    w, h = 86.0, 54.0
    x, y = cx - w / 2, cy - h / 2 + 5
    return [
        Rect(cx - 16, y - 10, 32, 14, fill=BLACK, radius=3),
        Rect(x, y, w, h, fill=BLACK, radius=7),
        Circle(cx, y + h / 2, 19, fill=WHITE),
        Circle(cx, y + h / 2, 13, fill=BLACK),
        Circle(cx - 4, y + h / 2 - 4, 3.2, fill=WHITE),
        Rect(x + w - 17, y + 6, 10, 6, fill=WHITE, radius=1),
    ]


def _prohibition(cx: float, cy: float, r: float, width: float) -> list[Shape]:
    d = r * 0.7071
    return [
        Circle(cx, cy, r, stroke=RED, width=width),
        Line(cx - d, cy - d, cx + d, cy + d, stroke=RED, width=width),
    ]


def layout(zone: policies.Zone, profile: policies.Profile) -> list[Shape]:
    """The poster for one zone as shapes on an A4 page in millimetres (y downwards)."""
    shapes: list[Shape] = [Rect(8, 8, PAGE_W - 16, PAGE_H - 16, stroke=BLACK, width=1.2)]
    pic_cy, ring_r = 92.0, 64.0
    shapes.append(Circle(CX, pic_cy, ring_r, fill=WHITE))
    shapes += _camera(CX, pic_cy) if zone.kind == "camera_free" else _phone(CX, pic_cy)
    shapes += _prohibition(CX, pic_cy, ring_r, 12.0)

    y = pic_cy + ring_r + 20
    label = KIND_LABEL.get(zone.kind, zone.kind.replace("_", " ").upper())
    shapes.append(Text(y, label, 11.0, bold=True, fill=RED))
    y += 8

    # Zone name: the largest size at which it fits in two lines.
    size = 26.0
    name_lines = wrap(zone.name, size, TEXT_W, bold=True)
    while size > 12 and len(name_lines) > 2:
        size -= 2
        name_lines = wrap(zone.name, size, TEXT_W, bold=True)
    for line in name_lines:
        y += size * 0.95
        shapes.append(Text(y, line, size, bold=True))
    y += 6

    rule_size = 10.0
    rule_lines = wrap(zone.rule, rule_size, TEXT_W)
    while rule_size > 6 and y + len(rule_lines) * rule_size * 1.3 > PAGE_H - 40:
        rule_size -= 1
        rule_lines = wrap(zone.rule, rule_size, TEXT_W)
    for line in rule_lines:
        y += rule_size * 1.3
        shapes.append(Text(y, line, rule_size))

    foot = PAGE_H - 34
    shapes.append(Line(MARGIN, foot, PAGE_W - MARGIN, foot, stroke=BLACK, width=0.4))
    y = foot + 8
    for line in wrap(profile.school_name, 6.0, TEXT_W, bold=True)[:2]:
        shapes.append(Text(y, line, 6.0, bold=True))
        y += 6.5
    for line in wrap(f"Source: {zone.source} (profile: {profile.id})", 3.2, TEXT_W)[:3]:
        shapes.append(Text(y, line, 3.2, fill=GREY))
        y += 4.0
    return shapes


# ------------------------------------------------------------------------------ SVG


def _svg_paint(fill: str | None, stroke: str | None, width: float) -> str:
    out = f'fill="{fill or "none"}"'
    if stroke:
        out += f' stroke="{stroke}" stroke-width="{width:g}"'
    return out


def _svg_shape(s: Shape) -> str:
    if isinstance(s, Rect):
        return (
            f'<rect x="{s.x:g}" y="{s.y:g}" width="{s.w:g}" height="{s.h:g}" rx="{s.radius:g}" '
            f"{_svg_paint(s.fill, s.stroke, s.width)}/>"
        )
    if isinstance(s, Circle):
        return (
            f'<circle cx="{s.cx:g}" cy="{s.cy:g}" r="{s.r:g}" '
            f"{_svg_paint(s.fill, s.stroke, s.width)}/>"
        )
    if isinstance(s, Line):
        return (
            f'<line x1="{s.x1:g}" y1="{s.y1:g}" x2="{s.x2:g}" y2="{s.y2:g}" '
            f'stroke="{s.stroke}" stroke-width="{s.width:g}"/>'
        )
    weight = ' font-weight="bold"' if s.bold else ""
    return (
        f'<text x="{CX:g}" y="{s.y:.2f}" font-size="{s.size:g}"{weight} fill="{s.fill}">'
        f"{escape(s.text)}</text>"
    )


def poster_svg(zone: policies.Zone, profile: policies.Profile) -> str:
    """One A4 poster as an SVG document (viewBox in millimetres)."""
    body = "\n  ".join(_svg_shape(s) for s in layout(zone, profile))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm" '
        'viewBox="0 0 210 297" role="img" aria-labelledby="title desc">\n'
        f'  <title id="title">{escape(zone.name)}</title>\n'
        f'  <desc id="desc">{escape(zone.rule)}</desc>\n'
        f"  <metadata data-source={quoteattr(zone.source)}/>\n"
        f'  <rect width="210" height="297" fill="{WHITE}"/>\n'
        "  <g font-family=\"Helvetica, Arial, 'Liberation Sans', 'DejaVu Sans', sans-serif\" "
        'text-anchor="middle">\n'
        f"  {body}\n"
        "  </g>\n"
        "</svg>\n"
    )


def svg_paths(target: Path, profile: policies.Profile) -> list[Path]:
    """Where :func:`write_svg_posters` writes: ``<stem>-<zone code>.svg`` beside ``target``."""
    return [target.with_name(f"{target.stem}-{z.code}.svg") for z in profile.zones]


def write_svg_posters(profile: policies.Profile, target: Path) -> list[Path]:
    """One SVG per zone, named after ``target``'s stem and the zone code."""
    paths = svg_paths(target, profile)
    for zone, path in zip(profile.zones, paths, strict=True):
        path.write_text(poster_svg(zone, profile), encoding="utf-8")
    return paths


# ------------------------------------------------------------------------------ PDF

_PT = 72 / 25.4  # points per millimetre
_K = 0.5523  # Bezier circle constant


def _rgb(colour: str) -> str:
    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return f"{r:.3f} {g:.3f} {b:.3f}"


def _pdf_str(text: str) -> str:
    """A PDF literal string in WinAnsiEncoding (cp1252); unknown characters become '?'."""
    out = []
    for byte in text.encode("cp1252", errors="replace"):
        ch = chr(byte)
        if ch in "\\()":
            out.append("\\" + ch)
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return "(" + "".join(out) + ")"


def _p(x: float, y: float) -> tuple[float, float]:
    """Millimetres, y down -> points, y up."""
    return x * _PT, (PAGE_H - y) * _PT


def _round_rect_path(r: Rect) -> str:
    rad = min(r.radius, r.w / 2, r.h / 2)
    if rad <= 0:
        x, y = _p(r.x, r.y + r.h)
        return f"{x:.2f} {y:.2f} {r.w * _PT:.2f} {r.h * _PT:.2f} re"
    k = rad * (1 - _K)
    x0, y0, x1, y1 = r.x, r.y, r.x + r.w, r.y + r.h
    pts = [
        ("m", [(x0 + rad, y0)]),
        ("l", [(x1 - rad, y0)]),
        ("c", [(x1 - k, y0), (x1, y0 + k), (x1, y0 + rad)]),
        ("l", [(x1, y1 - rad)]),
        ("c", [(x1, y1 - k), (x1 - k, y1), (x1 - rad, y1)]),
        ("l", [(x0 + rad, y1)]),
        ("c", [(x0 + k, y1), (x0, y1 - k), (x0, y1 - rad)]),
        ("l", [(x0, y0 + rad)]),
        ("c", [(x0, y0 + k), (x0 + k, y0), (x0 + rad, y0)]),
    ]
    ops = []
    for op, coords in pts:
        nums = " ".join(f"{px:.2f} {py:.2f}" for px, py in (_p(*c) for c in coords))
        ops.append(f"{nums} {op}")
    return " ".join(ops) + " h"


def _circle_path(c: Circle) -> str:
    r, k = c.r, c.r * _K
    cx, cy = c.cx, c.cy
    segs = [
        ((cx + r, cy + k), (cx + k, cy + r), (cx, cy + r)),
        ((cx - k, cy + r), (cx - r, cy + k), (cx - r, cy)),
        ((cx - r, cy - k), (cx - k, cy - r), (cx, cy - r)),
        ((cx + k, cy - r), (cx + r, cy - k), (cx + r, cy)),
    ]
    sx, sy = _p(cx + r, cy)
    ops = [f"{sx:.2f} {sy:.2f} m"]
    for seg in segs:
        ops.append(" ".join(f"{px:.2f} {py:.2f}" for px, py in (_p(*c) for c in seg)) + " c")
    return " ".join(ops) + " h"


def _paint_op(fill: str | None, stroke: str | None, width: float) -> tuple[str, str]:
    setup = []
    if fill:
        setup.append(f"{_rgb(fill)} rg")
    if stroke:
        setup.append(f"{_rgb(stroke)} RG {width * _PT:.2f} w")
    op = "B" if fill and stroke else ("f" if fill else "S")
    return " ".join(setup), op


def _pdf_shape(s: Shape) -> str:
    if isinstance(s, Text):
        font = "/F2" if s.bold else "/F1"
        x = CX - text_width(s.text, s.size, s.bold) / 2
        px, py = _p(x, s.y)
        return (
            f"BT {font} {s.size * _PT:.2f} Tf {_rgb(s.fill)} rg {px:.2f} {py:.2f} Td "
            f"{_pdf_str(s.text)} Tj ET"
        )
    if isinstance(s, Line):
        (x1, y1), (x2, y2) = _p(s.x1, s.y1), _p(s.x2, s.y2)
        return (
            f"{_rgb(s.stroke)} RG {s.width * _PT:.2f} w 0 J "
            f"{x1:.2f} {y1:.2f} m {x2:.2f} {y2:.2f} l S"
        )
    setup, op = _paint_op(s.fill, s.stroke, s.width)
    path = _round_rect_path(s) if isinstance(s, Rect) else _circle_path(s)
    return f"{setup} {path} {op}"


def _pdf_objects(pages: list[str]) -> list[bytes]:
    """Catalog, page tree, two fonts, then a page and a content stream per page."""
    n = len(pages)
    first_page = 5
    kids = " ".join(f"{first_page + 2 * i} 0 R" for i in range(n))
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
    ]
    media = f"[0 0 {PAGE_W * _PT:.2f} {PAGE_H * _PT:.2f}]"
    for i, content in enumerate(pages):
        stream = content.encode("latin-1")
        objs.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox {media} "
            f"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> "
            f"/Contents {first_page + 2 * i + 1} 0 R >>".encode()
        )
        objs.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream")
    return objs


def pdf_document(page_contents: Iterable[str], title: str = "") -> bytes:
    """Assemble a PDF from content streams (uncompressed, so tests can read the text)."""
    objs = _pdf_objects(list(page_contents))
    info = f"<< /Title {_pdf_str(title)} /Producer (Device Amnesty Kiosk) >>".encode()
    objs.append(info)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets)
    out += (
        f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R /Info {len(objs)} 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


def poster_pdf(profile: policies.Profile) -> bytes:
    """A multi-page A4 PDF: one page per zone of ``profile``."""
    pages = ["\n".join(_pdf_shape(s) for s in layout(z, profile)) for z in profile.zones]
    return pdf_document(pages, title=f"{profile.school_name}: zone posters")


def write_pdf_posters(profile: policies.Profile, target: Path) -> list[Path]:
    """Write every zone's poster into one PDF at ``target``."""
    target.write_bytes(poster_pdf(profile))
    return [target]


def write_posters(profile: policies.Profile, target: Path) -> list[Path]:
    """SVG per zone or one PDF, chosen by ``target``'s suffix; returns the files written.

    Raises ValueError (worded for the person at the command line) for an unknown suffix or a
    profile with no zones.
    """
    suffix = target.suffix.lower()
    if suffix not in {".svg", ".pdf"}:
        raise ValueError(f"{target}: posters are written as .pdf or .svg; give one of those")
    if not profile.zones:
        raise ValueError(
            f"profile {profile.id!r} ({profile.path}) has no zones, so there are no posters "
            "to print: add [[zones]] entries (code, name, kind, rule, source) to it"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".svg":
        return write_svg_posters(profile, target)
    return write_pdf_posters(profile, target)


def print_posters(config: KioskConfig, target: Path) -> list[Path]:
    """Posters for the station's profile (``kiosk signage --print``); ValueError says why not."""
    try:
        profile = policies.load_profile(config.station.profile)
    except policies.ProfileError as exc:
        raise ValueError(str(exc)) from None
    return write_posters(profile, target)

"""The signage as a self-contained web page and JSON feed, for a screen the console cannot reach.

Why: the Pi's text consoles all draw on one framebuffer, so ``kiosk signage`` on tty2 shows on
the *same* HDMI screen as the staff UI, only when someone switches to tty2. A screen facing
the hatch needs its own output: a browser in kiosk mode on the Pi's second HDMI port (under a
Wayland compositor), or on a second small Pi. Both can show a static page; this module writes
it (``index.html``) and the same notices as data (``signage.json``) from the live
:class:`kiosk.signage.SignageFeed`, so the wording and the rule of what shows when stay in one
place (docs/day-one.md, "The public screen").

The page is public by design (no pupil data: notices, exam names, rooms and times), so its
files are made world-readable whatever the service's umask. Every string is HTML-escaped:
exam names are typed by staff and must never become markup on a public screen (issue 9).
Files are replaced atomically (write, fsync, rename), so a browser reloading mid-write sees
the old page or the new one, never half of one.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, tzinfo
from pathlib import Path

from kiosk.signage import SignageFeed, SignNotice

PAGE = "index.html"
FEED = "signage.json"

_STYLE = """
html,body{margin:0;height:100%;background:#000;color:#fff;
 font-family:"DejaVu Sans",Verdana,sans-serif}
main{display:flex;flex-direction:column;justify-content:center;height:100vh;padding:4vh 6vw 12vh;
 box-sizing:border-box}
section{display:none}
section.on{display:block}
section.exam_now,section.exam_soon{border-left:2vw solid #ffcc00;padding-left:3vw}
section.zone{border-left:2vw solid #d00;padding-left:3vw}
h1{font-size:5vw;line-height:1.1;margin:0 0 4vh}
p{font-size:2.8vw;line-height:1.35;margin:0}
footer{position:fixed;bottom:2vh;left:6vw;right:6vw;font-size:1.6vw;color:#aaa;
 display:flex;justify-content:space-between;gap:3vw}
footer span:last-child{white-space:nowrap}
"""

# Rotates the notices client-side; the page reloads itself to pick up a new file.
_SCRIPT = """
const s=[...document.querySelectorAll("section")];let i=0;
function show(){s.forEach((e,n)=>e.classList.toggle("on",n===i));
 const f=document.getElementById("src");if(s[i])f.textContent=s[i].dataset.source;}
show();setInterval(()=>{i=(i+1)%s.length;show();},INTERVAL_MS);
"""


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def render_page(
    notices: Sequence[SignNotice],
    *,
    school: str,
    generated_at: datetime,
    tz: tzinfo,
    interval_s: float = 8.0,
    reload_s: int = 30,
) -> str:
    """One HTML document: every notice as a section, the first shown, the rest rotating."""
    sections = "\n".join(
        f'<section class="{_esc(n.kind)}" data-source="Policy: {_esc(n.source)}">'
        f"<h1>{_esc(n.title)}</h1><p>{_esc(n.text)}</p></section>"
        for n in notices
    )
    first_source = f"Policy: {notices[0].source}" if notices else ""
    updated = generated_at.astimezone(tz).strftime("%H:%M")
    script = _SCRIPT.replace("INTERVAL_MS", str(int(interval_s * 1000)))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{int(reload_s)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(school)}</title><style>{_STYLE}</style></head>\n"
        f"<body><main>\n{sections}\n</main>"
        f'<footer><span id="src">{_esc(first_source)}</span>'
        f"<span>{_esc(school)} · updated {updated}</span></footer>"
        f"<script>{script}</script></body></html>\n"
    )


def render_feed(notices: Sequence[SignNotice], *, generated_at: datetime) -> str:
    return json.dumps(
        {"generated_at": generated_at.isoformat(), "notices": [asdict(n) for n in notices]},
        indent=2,
        ensure_ascii=False,
    )


def _replace(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    partial.chmod(0o644)  # public content: readable by the browser's user
    partial.rename(path)


def write_page(folder: Path, feed: SignageFeed, now: datetime, *, interval_s: float = 8.0) -> Path:
    """Write ``index.html`` and ``signage.json`` for the notices at ``now``; return the page."""
    folder.mkdir(parents=True, exist_ok=True)
    notices = feed.notices()
    school = feed.profile.school_name
    _replace(folder / FEED, render_feed(notices, generated_at=now))
    page = folder / PAGE
    _replace(
        page,
        render_page(notices, school=school, generated_at=now, tz=feed.tz, interval_s=interval_s),
    )
    return page

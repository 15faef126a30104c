"""Printed posters exist for every zone of every profile and carry its name and rule."""

from __future__ import annotations

import contextlib
import re
import zlib
from xml.sax.saxutils import escape

import pytest

import policies
from kiosk.posters import write_posters

PROFILES = [p for p in policies.profile_names() if policies.load_profile(p).zones]


@pytest.mark.parametrize("name", PROFILES)
def test_svg_poster_per_zone_with_name_and_rule(tmp_path, name):
    profile = policies.load_profile(name)
    paths = write_posters(profile, tmp_path / "poster.svg")
    assert len(paths) == len(profile.zones)
    for zone, path in zip(profile.zones, paths, strict=True):
        svg = path.read_text()
        assert path.name == f"poster-{zone.code}.svg"
        flat = re.sub(r"<[^>]+>", " ", svg)
        flat = " ".join(flat.split())
        for word in escape(zone.name).split() + escape(zone.rule).split():
            assert word in flat, (zone.code, word)


def _pdf_text(data: bytes) -> str:
    """Decompress the page streams (if compressed) and join the shown strings."""
    chunks = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        with contextlib.suppress(zlib.error):  # uncompressed streams are used as they are
            stream = zlib.decompress(stream)
        chunks.append(stream.decode("latin-1"))
    shown = re.findall(r"\((.*?)(?<!\\)\)\s*Tj", "\n".join(chunks))
    return " ".join(s.replace("\\(", "(").replace("\\)", ")") for s in shown)


@pytest.mark.parametrize("name", PROFILES)
def test_pdf_has_one_page_per_zone_with_its_name_and_rule(tmp_path, name):
    profile = policies.load_profile(name)
    (path,) = write_posters(profile, tmp_path / "posters.pdf")
    data = path.read_bytes()
    assert data.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == len(profile.zones)
    text = " ".join(_pdf_text(data).split())
    for zone in profile.zones:
        for word in zone.name.split() + zone.rule.split():
            assert word in text, (zone.code, word)


def test_profile_without_zones_is_refused_with_what_to_do(tmp_path):
    import dataclasses

    bare = dataclasses.replace(policies.load_profile("default"), zones=())
    with pytest.raises(ValueError, match=r"no zones.*\[\[zones\]\]"):
        write_posters(bare, tmp_path / "x.pdf")


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"\.pdf or \.svg"):
        write_posters(policies.load_profile("default"), tmp_path / "x.png")

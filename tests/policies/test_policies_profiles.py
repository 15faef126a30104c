"""Every shipped profile loads, every rule is cited, and each school's seed rules are encoded."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from policies import (
    FOLLOW_UP_ACTIONS,
    PROFILE_DIR,
    SEED_FILES,
    ZONE_KINDS,
    Profile,
    Rule,
    load_profile,
    profile_names,
)
from policies.vocab import SEED_CITATION_RE, is_valid_source

SEEDS_DIR = Path(
    os.environ.get("KIOSK_SEEDS_DIR", Path(__file__).resolve().parents[3] / "shared" / "seeds")
)

#: Which seed each school profile is drawn from; default cites no seed.
OWN_SEED = {
    "chances-mentoring": "000_65bd33aa88e9eb3e.txt",
    "hampshire-lea": "001_7b7b89267820d3f9.txt",
    "pioneer-trust": "002_2c79a8926c881883.txt",
    "ken-stimpson": "003_6ace46d4db1ee7ea.txt",
    "big-life-primary": "004_1339a2f729bda141.txt",
    "default": None,
}


def test_profile_names_are_the_six_shipped_profiles() -> None:
    assert profile_names() == sorted(OWN_SEED)


def all_sources(profile: Profile) -> list[tuple[str, str]]:
    """(where, source) for every rule, category, zone and notice in the profile."""
    found: list[tuple[str, str]] = []
    for field in dataclasses.fields(profile):
        value = getattr(profile, field.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            for sub in dataclasses.fields(value):
                rule = getattr(value, sub.name)
                if isinstance(rule, Rule):
                    found.append((f"{field.name}.{sub.name}", rule.source))
    for group in (profile.categories, profile.zones, profile.notices, (profile.exam_notice,)):
        for item in group:
            found.append((f"{type(item).__name__}:{item.code}", item.source))
    return found


def _norm(text: str) -> str:
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", text).lower()


@pytest.mark.parametrize("name", profile_names())
def test_every_rule_has_a_valid_source(name: str) -> None:
    profile = load_profile(name)
    sources = all_sources(profile)
    assert len(sources) > 40  # every group contributes rules
    for where, source in sources:
        assert is_valid_source(source), f"{name} {where}: {source!r}"


@pytest.mark.parametrize("name", profile_names())
def test_seed_citations_are_the_schools_own_seed(name: str) -> None:
    cited = set()
    for where, source in all_sources(load_profile(name)):
        match = SEED_CITATION_RE.match(source)
        if match:
            cited.add(match.group("file"))
            assert match.group("file") == OWN_SEED[name], f"{name} {where} cites {source!r}"
        # seed names mentioned inside a "default:" explanation must be real too
        for mentioned in re.findall(r"\d{3}_[0-9a-f]{16}\.txt", source):
            assert mentioned in SEED_FILES
    if OWN_SEED[name] is None:
        assert cited == set()
    else:
        assert cited == {OWN_SEED[name]}


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="seed texts not available")
@pytest.mark.parametrize("name", [n for n in profile_names() if OWN_SEED[n]])
def test_cited_sections_exist_in_the_seed_text(name: str) -> None:
    seed_file = OWN_SEED[name]
    assert seed_file is not None
    text = _norm((SEEDS_DIR / seed_file).read_text(encoding="utf-8"))
    for where, source in all_sources(load_profile(name)):
        match = SEED_CITATION_RE.match(source)
        if not match:
            continue
        section = match.group("section")
        number = re.match(r"^(\d+(?:\.\d+)*)\s+(.*)$", section)
        heading = number.group(2) if number else section
        assert _norm(heading) in text, f"{where}: heading {heading!r} not in {seed_file}"
        if number:
            pattern = rf"(?<![\d.]){re.escape(number.group(1))}(?!\d)"
            assert re.search(pattern, text), f"{where}: section {number.group(1)} not found"


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="seed texts not available")
def test_seed_files_constant_matches_the_seed_directory() -> None:
    assert sorted(p.name for p in SEEDS_DIR.glob("*.txt")) == sorted(SEED_FILES)


@pytest.mark.parametrize("name", profile_names())
def test_profile_shape(name: str) -> None:
    profile = load_profile(name)
    assert profile.id == name
    assert profile.path == (PROFILE_DIR / f"{name}.toml").resolve()
    assert profile.school_name and profile.description
    assert profile.extends == (None if name == "default" else "default")
    codes = [c.code for c in profile.categories]
    assert len(codes) == len(set(codes))
    for required in ("unauthorised_use", "exam_possession", "bullying", "indecent_images"):
        assert required in codes
    for category in profile.categories:
        assert set(category.follow_ups) <= FOLLOW_UP_ACTIONS
    for zone in profile.zones:
        assert zone.kind in ZONE_KINDS
    assert "awarding body" in profile.exam_notice.text.lower() or (
        "examining body" in profile.exam_notice.text.lower()
    )
    assert profile.exam_lead_in_minutes == profile.exam.lead_in_minutes.value > 0
    assert profile.phones_allowed_at_break is profile.phones.allowed_at_break.value
    assert set(profile.escalation.applies_to.value) <= set(codes)
    assert dataclasses.is_dataclass(profile)
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.school_name = "changed"  # type: ignore[misc]


@pytest.mark.parametrize("name", profile_names())
def test_indecent_images_rule_in_every_profile(name: str) -> None:
    category = load_profile(name).category("indecent_images")
    assert category.forces_safeguarding_hold
    assert category.forbids_viewing
    assert set(category.follow_ups) == {
        "inform_dsl",
        "inform_police",
        "inform_lado",
        "keep_as_evidence",
    }


@pytest.mark.parametrize("name", profile_names())
def test_exam_possession_reported_to_awarding_body(name: str) -> None:
    assert "report_awarding_body" in load_profile(name).category("exam_possession").follow_ups


@pytest.mark.parametrize("name", profile_names())
def test_search_needs_senior_and_recorded_reason(name: str) -> None:
    search = load_profile(name).search
    assert search.authorising_roles.value == ("senior",)
    assert search.requires_reason.value is True


def test_category_lookup_raises_clear_key_error() -> None:
    profile = load_profile("default")
    with pytest.raises(KeyError, match=r"unknown incident category 'nope'.*unauthorised_use"):
        profile.category("nope")


# --- seed-specific rules ----------------------------------------------------------------------


def test_000_chances_mentoring() -> None:
    p = load_profile("chances-mentoring")
    seed = "000_65bd33aa88e9eb3e.txt"
    assert p.phones.switched_off_not_silent.value and p.phones.out_of_sight.value
    assert p.phones.switched_off_not_silent.source.startswith(seed)
    assert not p.phones_allowed_at_break
    assert p.release.confiscation_collectors.value == ("contact",)
    assert p.release.confiscation_collectors.source == f"{seed} § Pupils’ use of personal devices"
    assert p.category("exam_possession").source.startswith(seed)
    assert [z.code for z in p.zones] == ["exam_room"]
    assert p.exam_notice.source.startswith(seed)
    assert p.search.requires_reason.source.startswith(seed)


def test_001_hampshire_indecent_images_appendix_28() -> None:
    p = load_profile("hampshire-lea")
    category = p.category("indecent_images")
    assert category.source == (
        "001_7b7b89267820d3f9.txt §28 Access to Inappropriate Images and Internet Usage"
    )
    assert p.search.authorising_roles.source == "001_7b7b89267820d3f9.txt §7 Using mobile phones"
    assert p.category("secret_recording").source.startswith("001_")
    # No zones of its own in seed 001: it inherits the default zones, cited "default:".
    assert p.zones and all(z.source.startswith("default:") for z in p.zones)


def test_002_pioneer_camera_free_zones_are_signed() -> None:
    p = load_profile("pioneer-trust")
    zones = {z.code: z for z in p.zones}
    assert set(zones) == {"changing_rooms", "toilets"}
    for zone in zones.values():
        assert zone.kind == "mobile_free"
        assert "camera-free" in zone.rule
        assert zone.source.startswith("002_2c79a8926c881883.txt § Mobile Devices")
    assert p.search.requires_reason.source.startswith("002_")


def test_003_ken_stimpson_break_and_sanction_ladder() -> None:
    p = load_profile("ken-stimpson")
    assert p.phones_allowed_at_break is True
    assert p.phones.allowed_at_break.source == "003_6ace46d4db1ee7ea.txt §4.1 Communications"
    # §7.2 table: a single incident ticks all three; continued infringements go to SLT.
    assert p.escalation.ladder.value == (
        ("refer_tutor", "refer_head_of_house", "inform_parents"),
        ("refer_head_of_house", "refer_slt", "inform_parents"),
    )
    assert p.escalation.ladder.source == "003_6ace46d4db1ee7ea.txt §7.2 Sanctions"
    assert all(z.source.startswith("default:") for z in p.zones)  # inherited, honestly cited
    assert p.category("bullying").follow_ups == (
        "refer_tutor",
        "refer_head_of_house",
        "refer_slt",
        "inform_police",
        "inform_parents",
    )


def test_004_big_life_primary_bans_phones() -> None:
    p = load_profile("big-life-primary")
    assert p.phones.pupils_may_bring.value is False
    assert not p.phones_allowed_at_break
    assert p.phones.pupils_may_bring.source == "004_1339a2f729bda141.txt §5 Acceptable use of ICT"
    assert p.escalation.parent_collection_from_offence.value == 1
    assert p.release.pupil_may_collect_up_to_offence.value == 0
    assert p.exemptions.pupil_collects.value == ()


def test_default_profile_cites_only_defaults() -> None:
    for where, source in all_sources(load_profile("default")):
        assert source.startswith("default: "), where


def test_load_by_path_equals_load_by_name() -> None:
    assert load_profile(PROFILE_DIR / "pioneer-trust.toml") == load_profile("pioneer-trust")
    assert load_profile(str(PROFILE_DIR / "pioneer-trust.toml")).id == "pioneer-trust"


def test_docs_describe_every_key_and_profile() -> None:
    from policies.profile import SCHEMA, _Array, _Table

    docs = (Path(__file__).resolve().parents[2] / "docs" / "policy-profiles.md").read_text(
        encoding="utf-8"
    )
    for key, spec in SCHEMA.items():
        if isinstance(spec, _Table):
            for sub in spec.fields:
                assert f"`{key}.{sub}`" in docs, f"{key}.{sub} undocumented"
        elif isinstance(spec, _Array):
            for sub in spec.fields:
                assert f"`[[{key}]].{sub}`" in docs, f"[[{key}]].{sub} undocumented"
        else:
            assert f"`{key}`" in docs
    for name in profile_names():
        assert f"`{name}.toml`" in docs

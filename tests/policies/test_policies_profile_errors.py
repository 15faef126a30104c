"""Profile errors name the file, the exact line and the dotted key, and say what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies import PROFILE_DIR, ProfileError, load_profile
from policies._lines import find_line

GOOD_CHILD = """\
extends = "default"
school_name = "Test School"
description = "A test profile."

[release]
earliest_time = { value = "15:30", source = "default: test" }
next_day = { value = true, source = "default: test" }

[[zones]]
code = "gym"
name = "Gym changing room"
kind = "camera_free"
rule = "No cameras."
source = "default: test"
"""


def write(tmp_path: Path, text: str, name: str = "school.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_for(path: Path) -> ProfileError:
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    return info.value


def test_good_child_profile_merges_over_default(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, GOOD_CHILD))
    assert profile.release.earliest_time.value.hour == 15
    assert profile.release.earliest_time.value.minute == 30
    assert profile.release.next_day.value is True
    # inherited from default
    assert profile.release.require_id_seen.value is True
    assert profile.overdue.confiscation_hours.value == 72
    assert [z.code for z in profile.zones] == ["gym"]


def test_typo_key_names_file_line_key_and_suggests(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_CHILD.replace("next_day =", "nxt_day ="))
    error = error_for(path)
    assert error.line == 7
    assert error.key == "release.nxt_day"
    message = str(error)
    assert f"{path} line 7:" in message or "school.toml line 7:" in message
    assert "unknown key 'release.nxt_day'" in message
    assert "did you mean 'next_day'?" in message


def test_release_earlist_time_example(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_CHILD.replace("earliest_time =", "earlist_time ="))
    error = error_for(path)
    assert (error.line, error.key) == (6, "release.earlist_time")
    assert "did you mean 'earliest_time'?" in str(error)


def test_unknown_key_without_suggestion(tmp_path: Path) -> None:
    text = GOOD_CHILD + '\n[exam_notice]\ncode = "x"\nflavour = "mint"\n'
    error = error_for(write(tmp_path, text))
    assert error.key == "exam_notice.flavour"
    assert error.line == 18
    assert "unknown key 'exam_notice.flavour'. Fix the spelling" in str(error)


def test_unknown_table(tmp_path: Path) -> None:
    error = error_for(write(tmp_path, GOOD_CHILD.replace("[release]", "[relase]")))
    assert (error.line, error.key) == (5, "relase")
    assert "did you mean 'release'?" in str(error)


def test_wrong_type_inside_rule(tmp_path: Path) -> None:
    text = GOOD_CHILD.replace("next_day = { value = true", 'next_day = { value = "yes"')
    error = error_for(write(tmp_path, text))
    assert (error.line, error.key) == (7, "release.next_day.value")
    assert "must be true or false" in str(error)


def test_rule_without_citation_is_refused(tmp_path: Path) -> None:
    text = GOOD_CHILD.replace(
        'next_day = { value = true, source = "default: test" }', "next_day = true"
    )
    error = error_for(write(tmp_path, text))
    assert (error.line, error.key) == (7, "release.next_day")
    assert "source" in str(error)


def test_bad_citation(tmp_path: Path) -> None:
    text = GOOD_CHILD.replace(
        'next_day = { value = true, source = "default: test" }',
        'next_day = { value = true, source = "the policy says so" }',
    )
    error = error_for(write(tmp_path, text))
    assert (error.line, error.key) == (7, "release.next_day.source")
    assert "not a citation" in str(error)


def test_bad_time_value(tmp_path: Path) -> None:
    error = error_for(write(tmp_path, GOOD_CHILD.replace('"15:30"', '"3.30pm"')))
    assert (error.line, error.key) == (6, "release.earliest_time.value")
    assert 'write it as "HH:MM"' in str(error)


def test_bad_zone_kind_in_array_of_tables(tmp_path: Path) -> None:
    error = error_for(write(tmp_path, GOOD_CHILD.replace('"camera_free"', '"camera_fre"')))
    assert (error.line, error.key) == (12, "zones[0].kind")
    assert "did you mean 'camera_free'?" in str(error)


def test_second_array_entry_gets_its_own_line(tmp_path: Path) -> None:
    text = GOOD_CHILD + (
        '\n[[zones]]\ncode = "pool"\nname = "Pool"\nkind = "mobile_free"\n'
        'rule = 7\nsource = "default: test"\n'
    )
    error = error_for(write(tmp_path, text))
    assert (error.line, error.key) == (20, "zones[1].rule")


def test_duplicate_zone_code(tmp_path: Path) -> None:
    block = GOOD_CHILD[GOOD_CHILD.index("[[zones]]") :]
    error = error_for(write(tmp_path, GOOD_CHILD + "\n" + block))
    assert error.key == "zones[1].code"
    assert error.line == 17
    assert "unique" in str(error)


def test_bad_follow_up_action(tmp_path: Path) -> None:
    text = GOOD_CHILD + (
        '\n[[categories]]\ncode = "x"\nlabel = "X"\ndescription = "d"\n'
        'source = "default: t"\nfollow_ups = ["inform_parent"]\n'
    )
    error = error_for(write(tmp_path, text))
    assert (error.line, error.key) == (21, "categories[0].follow_ups")
    assert "did you mean 'inform_parents'?" in str(error)


def test_unknown_role(tmp_path: Path) -> None:
    text = GOOD_CHILD + (
        '\n[search]\nauthorising_roles = { value = ["head"], source = "default: t" }\n'
    )
    error = error_for(write(tmp_path, text))
    assert (error.line, error.key) == (17, "search.authorising_roles.value")
    assert "'head' is not one of" in str(error)


def test_toml_syntax_error_has_file_and_line(tmp_path: Path) -> None:
    text = GOOD_CHILD.replace(
        'next_day = { value = true, source = "default: test" }',
        "next_day = { value = true, source = default: test }",
    )
    path = write(tmp_path, text)
    error = error_for(path)
    assert error.line == 7
    assert "school.toml line 7: TOML syntax error" in str(error)


def test_missing_required_key_in_standalone_profile(tmp_path: Path) -> None:
    text = (PROFILE_DIR / "default.toml").read_text(encoding="utf-8")
    text = text.replace(
        'photo_days = { value = 7, source = "default: tray photos only prove '
        'the phone went in; deleted after a week and never leave the Pi" }\n',
        "",
    )
    path = write(tmp_path, text, "standalone.toml")
    error = error_for(path)
    assert error.key == "retention.photo_days"
    assert error.line == find_line(text, ("retention",))  # the [retention] header
    assert text.splitlines()[error.line - 1] == "[retention]"
    assert "missing required key 'retention.photo_days'" in str(error)


def test_missing_school_name_points_at_line_1(tmp_path: Path) -> None:
    text = GOOD_CHILD.replace('school_name = "Test School"\n', "")
    error = error_for(write(tmp_path, text))
    assert (error.line, error.key) == (1, "school_name")


def test_every_problem_is_listed(tmp_path: Path) -> None:
    text = GOOD_CHILD.replace("next_day =", "nxt_day =").replace('"15:30"', "1530")
    error = error_for(write(tmp_path, text))
    assert [(p.line, p.key) for p in error.problems] == [
        (6, "release.earliest_time.value"),
        (7, "release.nxt_day"),
    ]
    assert str(error).count("school.toml line") == 2


def test_escalation_must_name_existing_categories(tmp_path: Path) -> None:
    text = GOOD_CHILD + (
        '\n[escalation]\napplies_to = { value = ["phones"], source = "default: t" }\n'
    )
    error = error_for(write(tmp_path, text))
    assert (error.line, error.key) == (17, "escalation.applies_to")
    assert "not in [[categories]]" in str(error)


def test_extends_loop(tmp_path: Path) -> None:
    names = 'school_name = "S"\ndescription = "D"\n'
    write(tmp_path, 'extends = "b"\n' + names, "a.toml")
    write(tmp_path, 'extends = "a"\n' + names, "b.toml")
    error = error_for(tmp_path / "a.toml")
    assert "loop" in str(error)
    assert error.key == "extends"


def test_unknown_parent_suggests_name(tmp_path: Path) -> None:
    error = error_for(write(tmp_path, GOOD_CHILD.replace('"default"', '"defualt"')))
    assert "no profile named 'defualt'" in str(error)
    assert "did you mean 'default'?" in str(error)


def test_unknown_profile_name() -> None:
    with pytest.raises(ProfileError, match="did you mean 'ken-stimpson'"):
        load_profile("ken-stimpsn")


def test_shipped_profile_message_uses_repo_relative_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, GOOD_CHILD.replace("next_day =", "nxt_day ="), "x.toml")
    error = error_for(path)
    assert str(error).startswith("x.toml line 7: unknown key 'release.nxt_day'")


def test_edited_file_is_reloaded(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_CHILD)
    assert load_profile(path).release.next_day.value is True
    import os

    path.write_text(GOOD_CHILD.replace("next_day = { value = true", "next_day = { value = false"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert load_profile(path).release.next_day.value is False


# ---------------------------------------------------------------- hostile bytes, never tracebacks


def write_bytes(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "school.toml"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "replace,add,line,key,needle",
    [
        # Windows-1252 é on line 2: named by byte offset and line, with what to do
        ('school_name = "Test School"', b'school_name = "Test \xe9cole"', 2, "", "not UTF-8"),
        ("", b"huge = " + b"9" * 5000, 1, "", "far too long"),
        ("", b"huge = 0x" + b"f" * 5000, 1, "huge", "6021-digit"),
        ("", b"deep = " + b"[" * 5000 + b"]" * 5000, 1, "", "nested more than"),
        ("", b"deep = " + b"{a=" * 3000 + b"1" + b"}" * 3000, 1, "", "nested more than"),
        ("", b"x" + b".x" * 3000 + b" = 1", 1, "x.x.x", "nests too deep"),
        ("", b"big = 123456789012345678901234567890", 1, "big", "30-digit"),
        ("", b'esc = "red\\u001b[31m"', 1, "esc", "U+001B"),
        ("", b"inf_ = inf", 1, "inf_", "finite"),
    ],
)
def test_hostile_bytes_give_a_located_profile_error(
    tmp_path: Path, replace: str, add: bytes, line: int, key: str, needle: str
) -> None:
    base = GOOD_CHILD.encode()
    data = base.replace(replace.encode(), add) if replace else add + b"\n" + base
    error = error_for(write_bytes(tmp_path, data))
    assert error.line == line, str(error)
    assert error.key.startswith(key)
    assert needle in str(error)
    assert "school.toml line" in str(error)


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    profile = load_profile(write_bytes(tmp_path, b"\xef\xbb\xbf" + GOOD_CHILD.encode()))
    assert profile.school_name == "Test School"


@pytest.mark.parametrize(
    "table,key,value",
    [
        ("retention", "photo_days", "10000000000"),
        ("overdue", "confiscation_hours", "99999999"),
        ("exam", "lead_in_minutes", "100000"),
    ],
)
def test_numbers_beyond_what_dates_can_hold_are_refused_by_key(
    tmp_path: Path, table: str, key: str, value: str
) -> None:
    text = GOOD_CHILD + f'\n[{table}]\n{key} = {{ value = {value}, source = "default: t" }}\n'
    error = error_for(write(tmp_path, text))
    assert error.key == f"{table}.{key}.value"
    assert error.line == text.splitlines().index(f"[{table}]") + 2
    assert "must be at most" in str(error)

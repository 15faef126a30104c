"""Table-driven permission tests: every use-case x every role, allowed exactly where the table says.

Give :func:`role_cases` the use-cases to try, each as ``name -> (call, permission)`` where
``call(identity)`` runs the use-case as that person with arguments that fail *after* the
permission check (an id that does not exist, say), so an allowed call changes nothing.
A call counts as refused when it raises :class:`kiosk.auth.NotPermitted`, and as allowed when
it returns or raises anything else. So a use-case that forgets its check is "allowed" for a
role the table refuses, and the test fails. :func:`unmapped` lists public methods of a
service that the mapping does not cover, so a new use-case without an entry fails too.

Use::

    CASES = {"unlock_badge": (lambda who: admin.unlock_badge(s, who, 10**6), P.STAFF_ADMIN)}

    @pytest.mark.parametrize(("name", "role", "allowed"), role_cases(CASES))
    def test_matrix(name, role, allowed):
        assert outcome(CASES[name][0], identity_for(role)) == allowed
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pytest

from kiosk.auth import Identity, NotPermitted
from kiosk.permissions import PERMISSIONS, Permission, Role

UseCase = tuple[Callable[[Identity], object], Permission]


def role_cases(cases: Mapping[str, UseCase], roles: Iterable[Role] = tuple(Role)) -> list[Any]:
    """``pytest.param(name, role, allowed)`` for every use-case and role, from the ONE table."""
    roles = list(roles)
    return [
        pytest.param(name, role, role in PERMISSIONS[permission].roles, id=f"{name}-{role}")
        for name, (_call, permission) in cases.items()
        for role in roles
    ]


def outcome(call: Callable[[Identity], object], identity: Identity) -> bool:
    """True if the use-case let ``identity`` past its permission check."""
    try:
        call(identity)
    except NotPermitted:
        return False
    except Exception:
        return True
    return True


def mismatches(cases: Mapping[str, UseCase], identity_for: Callable[[Role], Identity]) -> list[str]:
    """Every (use-case, role) whose outcome differs from the table, in words."""
    wrong = []
    for name, role, allowed in (p.values for p in role_cases(cases)):
        got = outcome(cases[name][0], identity_for(role))
        if got != allowed:
            wrong.append(
                f"{name} as {role}: {'allowed' if got else 'refused'}, "
                f"table says {'allowed' if allowed else 'refused'}"
            )
    return wrong


def unmapped(
    service: object, cases: Mapping[str, object], *, ignore: Iterable[str] = ()
) -> list[str]:
    """Public methods of ``service`` with no entry in ``cases`` (new use-cases must add one)."""
    skip = set(ignore)
    return sorted(
        name
        for name, member in inspect.getmembers(type(service), inspect.isfunction)
        if not name.startswith("_") and name not in cases and name not in skip
    )

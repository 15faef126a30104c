"""Custody use-cases: every way a phone comes into and leaves the school's hands.

One object for the station and the UI, joined from the use-case modules in
:mod:`kiosk.usecases` (one per feature, named for the words in DESIGN.md). Each use-case
checks the signed-in person's permission, asks the policy engine, and on refusal raises
:class:`PolicyRefused` carrying the decision for the UI to show.
"""

from __future__ import annotations

from kiosk.usecases.base import Collector, CustodyError, PolicyRefused, UseCases, utcnow
from kiosk.usecases.checks import CheckUseCases
from kiosk.usecases.deposits import DepositUseCases
from kiosk.usecases.exam_admin import ExamAdminUseCases
from kiosk.usecases.exams import ExamUseCases
from kiosk.usecases.hardware_log import HardwareLog
from kiosk.usecases.hatch import HatchUseCases
from kiosk.usecases.people import PeopleUseCases
from kiosk.usecases.queries import QueryUseCases
from kiosk.usecases.receipts import ReceiptUseCases
from kiosk.usecases.safeguarding import SafeguardingUseCases
from kiosk.usecases.staff import StaffUseCases

__all__ = [
    "Collector",
    "Custody",
    "CustodyError",
    "HardwareLog",
    "PolicyRefused",
    "UseCases",
    "utcnow",
]


class Custody(
    ExamAdminUseCases,
    HatchUseCases,
    CheckUseCases,
    ReceiptUseCases,
    PeopleUseCases,
    QueryUseCases,
    DepositUseCases,
    ExamUseCases,
    SafeguardingUseCases,
    StaffUseCases,
):
    """The custody use-cases for one station, over one database and one policy profile."""

"""The receipt slip for a holding, from the ledger and the profile (see :mod:`kiosk.receipts`)."""

from __future__ import annotations

from datetime import timedelta

from db.models import ExamSession
from kiosk.auth import Identity
from kiosk.permissions import Permission
from kiosk.receipts import Slip, slip_for
from kiosk.usecases.base import UseCases
from wire.vocabulary import HoldingKind, HoldingState


class ReceiptUseCases(UseCases):
    def receipt_slip(self, actor: Identity | None, holding_id: int) -> Slip:
        """The slip for ``holding_id``; ``actor`` None is the candidate's self-service screen."""
        with self.sessions() as s:
            self._authorise(s, actor, Permission.VIEW_HOLDINGS, unattended=True)
            h = self._visible(s, actor, self._holding(s, holding_id))
            taken = self._local(h.held_at or h.created_at)
            release = self.profile.release
            collectors: tuple[str, ...] = ()
            when: str | None = None
            if h.kind == HoldingKind.EXAM_DEPOSIT:
                es = s.get(ExamSession, h.exam_session_id) if h.exam_session_id else None
                when = f"{self._local(es.ends_at):%H:%M}, after the exam" if es else None
                collectors = (h.pupil.display_name,) if h.pupil else ()
            elif h.kind == HoldingKind.SAFEKEEPING and release.safekeeping_any_time.value:
                when = "any time the office is open"
                collectors = (h.pupil.display_name,) if h.pupil else ()
            else:
                day = taken.date() + timedelta(days=1 if release.next_day.value else 0)
                when = f"{release.earliest_time.value:%H:%M} on {day:%d/%m/%Y}"
                if h.pupil is not None:
                    collectors = tuple(
                        c.name
                        for c in sorted(h.pupil.contacts, key=lambda c: c.priority)
                        if c.may_collect
                    )
                    if not h.requires_parent_collection and h.offence_number <= (
                        release.pupil_may_collect_up_to_offence.value
                    ):
                        collectors = (h.pupil.display_name, *collectors)
            handed_back: str | None = None
            if h.state == HoldingState.RELEASED and h.released_at is not None:
                who = h.collector_name or (
                    h.pupil.display_name if h.pupil and h.collector_kind == "pupil" else "?"
                )
                seen = f", ID seen: {h.id_type_seen.replace('_', ' ')}" if h.id_type_seen else ""
                handed_back = f"{who}{seen}, {self._local(h.released_at):%d/%m/%Y %H:%M}"
            where = h.locker.label if h.locker else "the office"
            if h.pouch_number is not None:
                where = f"{where}, pouch {h.pouch_number}"
            return slip_for(
                school=self.profile.school_name,
                holding_id=h.id,
                kind=h.kind.value,
                state=h.state.value,
                category=h.category,
                forbids_viewing=h.forbids_viewing,
                pupil_name=h.pupil.display_name if h.pupil else "(removed)",
                device=h.device_description,
                where=where,
                taken_at=taken,
                candidate_number=h.pupil.candidate_number if h.pupil else None,
                collectors=collectors,
                release_from=when,
                handed_back=handed_back,
            )

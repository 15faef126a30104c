"""At the hatch: an adult who may not collect is recorded, and a barred adult alerts the DSL.

The name as given is kept on a :class:`db.models.RefusedCollection` row, off the hash chain,
so the retention purge can remove it; the chained ``release.refused`` event carries no name.
``barred: true`` in its payload is what :func:`central.triage.tray_item` reads to put it in
the DSL's tray (seed 001 appendix §28; a refusal for want of ID is routine and stays out).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Contact, Event, RefusedCollection
from kiosk.auth import Identity
from kiosk.usecases.base import Collector, CustodyError
from kiosk.usecases.releases import ReleaseUseCases, _release_permission
from kiosk.views import Decision
from wire.vocabulary import EventType

NOT_ON_LIST = "not_on_contact_list"
MAY_NOT_COLLECT = "contact_may_not_collect"
BARRED = "barred"

#: The rules of a refusal at the hatch in the words the screen shows (codes are recorded).
RULE_TEXT = {
    NOT_ON_LIST: "not on the pupil's contact list",
    MAY_NOT_COLLECT: "on the list, but with neither collection rights nor parental responsibility",
    BARRED: "barred from collecting",
}

#: Reasons of a release decision that are about the ID shown, not about who the collector is.
_ID_REASONS = frozenset({"id_not_seen"})


@dataclass(frozen=True)
class Refusal:
    """What the hatch screen shows after recording: the rules applied, and whether the DSL
    was alerted."""

    id: int
    rules: tuple[str, ...]
    barred: bool


@dataclass(frozen=True)
class CollectorCheck:
    """The policy's answer on a collector before any ID is looked at.

    ``decision`` is the release decision leaving the ID aside: refused only for reasons about
    the collector, the holding or the time; ``needs_id`` says the release form must now ask
    which photo ID was seen (and then ask :meth:`check_release` with it).
    """

    decision: Decision
    needs_id: bool
    #: The profile wants the ID type recorded for this collector at all (so a senior's
    #: override of a refusal still asks for it before the door opens).
    id_required: bool = False
    #: :meth:`HatchUseCases.record_refused_collection` applies to this collector as they
    #: stand: a contact who is not on the pupil's list, or is listed with neither collection
    #: rights nor parental responsibility. False for a contact who may collect (refused only
    #: as too early, or for want of ID: the release form is where that is settled) and for
    #: anyone who is not a contact. The screen offers "refuse and record" only when True.
    refusal_recordable: bool = False


def _hatch_rules(contact: Contact | None) -> list[str] | None:
    """The hatch-refusal rules that apply to ``contact`` before any bar staff know of:
    ``None`` when the contact is listed and may collect (only a known bar refuses them here).
    ``contact`` is None for an adult not on the pupil's list. The one rule for both
    :meth:`HatchUseCases.record_refused_collection` and
    :attr:`CollectorCheck.refusal_recordable`."""
    if contact is None:
        return [NOT_ON_LIST]
    if not (contact.may_collect or contact.parental_responsibility):
        return [MAY_NOT_COLLECT]
    return None


class HatchUseCases(ReleaseUseCases):
    def check_collector(
        self, actor: Identity, holding_id: int, collector: Collector
    ) -> CollectorCheck:
        """May this collector have the phone, ID aside? Changes nothing (issue 14: "the
        release form asks for the ID type only after the policy has allowed the collector").

        The same decision as :meth:`check_release` with no ID recorded; a refusal whose only
        reason is the missing ID means the collector is allowed and the ID is asked next.
        """
        decision = self._decide_release(actor, holding_id, collector, None)
        if decision.allowed:
            return CollectorCheck(decision, needs_id=False)
        recordable = self._refusal_recordable(actor, holding_id, collector)
        others = tuple(r for r in decision.reasons if r.code not in _ID_REASONS)
        required = len(others) < len(decision.reasons)
        if not others:
            # Only the ID is missing: not a refusal, the form asks for it next.
            return CollectorCheck(
                decision, needs_id=True, id_required=True, refusal_recordable=recordable
            )
        refused = replace(decision, reasons=others)
        self._record_refused_release(actor, holding_id, collector, None, refused)
        return CollectorCheck(
            refused, needs_id=False, id_required=required, refusal_recordable=recordable
        )

    def _refusal_recordable(self, actor: Identity, holding_id: int, collector: Collector) -> bool:
        """Whether :meth:`record_refused_collection` applies to ``collector`` (a contact)
        with no bar known to staff: read and authorised in its own session."""
        if collector.kind != "contact":
            return False
        with self.sessions() as s:
            h = self._holding(s, holding_id)
            self._authorise(s, actor, _release_permission(actor, h))
            contact = (
                s.get(Contact, collector.contact_id) if collector.contact_id is not None else None
            )
            if contact is not None and contact.pupil_id != h.pupil_id:
                contact = None
            return _hatch_rules(contact) is not None

    def record_refused_collection(
        self,
        actor: Identity,
        holding_id: int,
        *,
        name_given: str,
        id_type_seen: str | None,
        contact_id: int | None = None,
        barred: bool = False,
    ) -> Refusal:
        """Record an adult refused at the hatch.

        ``contact_id`` names the listed contact they claim to be (None: not on the list).
        ``barred`` is set by staff who know of a bar (a court order the office holds); a
        listed contact with neither collection rights nor parental responsibility is barred
        too. A contact who may collect is sent to the release form, where the policy decides.
        """
        name = name_given.strip()
        if not name:
            raise CustodyError("Type the name the adult gave.")
        with self._tx() as s:
            h = self._holding(s, holding_id)
            self._authorise(s, actor, _release_permission(actor, h))
            contact = s.get(Contact, contact_id) if contact_id is not None else None
            if contact is not None and contact.pupil_id != h.pupil_id:
                contact = None
            applies = _hatch_rules(contact)
            rules: list[str] = list(applies or [])
            if MAY_NOT_COLLECT in rules:
                barred = True
            elif contact is not None and not barred:
                raise CustodyError(
                    f"{contact.name} is on the contact list and may collect: use the release "
                    "form (it says whether and when the policy allows it)."
                )
            if barred:
                rules.append(BARRED)
            row = RefusedCollection(
                holding_id=h.id,
                pupil_id=h.pupil_id,
                name_given=name[:200],
                id_type_seen=(id_type_seen or None),
                barred=barred,
                rules=rules,
                refused_at=self._now(),
                refused_by_id=actor.staff_id,
            )
            s.add(row)
            s.flush()
            link = self._policy_refusal_completed(s, actor, h.id, contact)
            self._event(
                s,
                EventType.RELEASE_REFUSED,
                actor,
                h,
                barred=barred,
                rules=rules,
                id_type_seen=id_type_seen or None,
                refusal_id=row.id,
                **link,
            )
            return Refusal(row.id, tuple(rules), barred)

    @staticmethod
    def _policy_refusal_completed(
        s: Session, actor: Identity, holding_id: int, contact: Contact | None
    ) -> dict[str, int]:
        """Link this record to the policy refusal it completes, if it follows one.

        The release form records the policy's refusal of a listed contact
        (``release.policy_refused``, by :meth:`check_collector` / :meth:`check_release`);
        staff then record the same adult here (the name as given). That is one refusal:
        ``follows_seq`` says so, and where the policy's event already alerted the DSL (a
        barred contact), ``dsl_alerted_by_seq`` keeps :func:`central.triage.tray_item` from
        raising a second tray item for it. Only when the newest event of the holding is that
        refusal, by the same person, of the same contact.
        """
        if contact is None or actor.staff_id is None:
            return {}
        last = s.scalars(
            select(Event).where(Event.holding_id == holding_id).order_by(Event.id.desc()).limit(1)
        ).first()
        if (
            last is None
            or last.type != EventType.RELEASE_POLICY_REFUSED
            or last.actor_id != actor.staff_id
            or last.payload.get("collector_kind") != "contact"
            or last.payload.get("collector_contact_id") != contact.id
        ):
            return {}
        link = {"follows_seq": last.seq}
        if last.payload.get("barred"):
            link["dsl_alerted_by_seq"] = last.seq
        return link

"""The policy engine: ``decide(request, profile) -> Decision``, plus small rule helpers.

Each request type has its own rule function (``functools.singledispatch``), so adding a new
kind of request never touches the others. Every function collects *all* failing reasons
before answering, and gives the passing reasons when it allows, each with the profile clause
and the seed citation, because staff read these words to parents at the counter.

Two rules are absolute and no role or override can defeat them: a phone on a safeguarding
hold is never released, and a phone in a category that forbids viewing (suspected indecent
images — 001 appendix §28) is never looked at, searched or given back; only the police
take it.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta
from typing import TypedDict, Unpack

from policies.decision import Decision, FollowUp, Reason
from policies.profile import Category, Profile, Rule
from policies.requests import (
    CollectorFacts,
    ConfiscateRequest,
    ExamDepositRequest,
    HandoverRequest,
    HoldRequest,
    LiftHoldRequest,
    OverrideRequest,
    PupilFacts,
    ReleaseRequest,
    SearchRequest,
)
from policies.vocab import RECORD_KINDS

_UNKNOWN_CATEGORY_SOURCE = "default: only categories in the school's profile can be recorded"
_STATE_SOURCE = "default: only a phone in the 'held' state can be released"


class _Flags(TypedDict, total=False):
    """The optional ``Decision`` fields a rule function may set (checked by name and type)."""

    forces_hold: bool
    forbids_viewing: bool
    requires_parent_collection: bool
    holding_kind: str | None


def _reason(code: str, text: str, clause: str, rule: Rule[object] | str) -> Reason:
    source = rule if isinstance(rule, str) else rule.source
    return Reason(code, text, clause, source)


def _verdict(
    failed: list[Reason],
    passed: list[Reason],
    follow_ups: list[FollowUp] | tuple[FollowUp, ...] = (),
    **flags: Unpack[_Flags],
) -> Decision:
    """Refuse with every failing reason, or allow with the passing ones and the follow-ups."""
    if failed:
        return Decision(False, tuple(failed), **flags)
    return Decision(True, tuple(passed), _dedupe(follow_ups), **flags)


def _dedupe(follow_ups: list[FollowUp] | tuple[FollowUp, ...]) -> tuple[FollowUp, ...]:
    seen: set[str] = set()
    out = []
    for follow_up in follow_ups:
        if follow_up.action not in seen:
            seen.add(follow_up.action)
            out.append(follow_up)
    return tuple(out)


def _roles_text(roles: tuple[str, ...]) -> str:
    return " or ".join(roles) if roles else "nobody"


def _exempt(pupil: PupilFacts, rule: Rule[tuple[str, ...]], profile: Profile) -> str | None:
    """The pupil's first exemption listed under ``rule`` that the school recognises."""
    recognised = set(profile.exemptions.recognised.value)
    for code in sorted(pupil.exemptions):
        if code in rule.value and code in recognised:
            return code
    return None


def _known_category(code: str | None, profile: Profile, failed: list[Reason]) -> Category | None:
    if code is None:
        return None
    if profile.has_category(code):
        return profile.category(code)
    known = ", ".join(c.code for c in profile.categories)
    failed.append(
        _reason(
            "unknown_category",
            f"'{code}' is not a category at this school; choose one of: {known}.",
            "categories",
            _UNKNOWN_CATEGORY_SOURCE,
        )
    )
    return None


@functools.singledispatch
def decide(request: object, profile: Profile) -> Decision:
    """Judge ``request`` against ``profile``. Unknown request types are a programming error."""
    raise TypeError(f"no policy rule for request type {type(request).__name__}")


# --------------------------------------------------------------------------------------------
# Confiscation
# --------------------------------------------------------------------------------------------


def _in_social_time(now: datetime, profile: Profile) -> bool:
    moment = now.time()
    return any(start <= moment < end for start, end in profile.phones.social_times.value)


@decide.register
def _confiscate(request: ConfiscateRequest, profile: Profile) -> Decision:
    failed: list[Reason] = []
    passed: list[Reason] = []
    follow_ups: list[FollowUp] = []
    category = _known_category(request.category, profile, failed)
    phones = profile.phones

    # Suspected indecent images: staff must not handle the phone to switch it off (that risks
    # seeing the screen and alters evidence), so the switched-off check does not apply.
    hold = category is not None and category.forces_safeguarding_hold
    if phones.switched_off_not_silent.value and not hold:
        if request.switched_off_confirmed:
            passed.append(
                _reason(
                    "switched_off",
                    "The phone is confirmed switched off (not just silent).",
                    "phones.switched_off_not_silent",
                    phones.switched_off_not_silent,
                )
            )
        else:
            failed.append(
                _reason(
                    "switch_off_first",
                    "Switch the phone off first — off, not silent — then confirm it is off.",
                    "phones.switched_off_not_silent",
                    phones.switched_off_not_silent,
                )
            )

    if (
        category is not None
        and category.code == "unauthorised_use"
        and phones.allowed_at_break.value
        and _in_social_time(request.now, profile)
    ):
        failed.append(
            _reason(
                "allowed_at_break",
                "Phones are allowed at break and lunch at "
                "this school, so using one now is not unauthorised use. Choose "
                "another category if it was misused.",
                "phones.allowed_at_break",
                phones.allowed_at_break,
            )
        )

    if category is None or failed:
        return _verdict(failed, passed)

    passed.insert(
        0,
        _reason(
            "category",
            f"Recorded as {category.label}: {category.description}",
            f"categories.{category.code}",
            category.source,
        ),
    )
    if not phones.pupils_may_bring.value:
        passed.append(
            _reason(
                "phones_not_allowed",
                "Pupils may not have phones at this school.",
                "phones.pupils_may_bring",
                phones.pupils_may_bring,
            )
        )
    follow_ups += [FollowUp.of(a, category.source) for a in category.follow_ups]

    if hold:
        passed.append(
            _reason(
                "safeguarding_hold",
                "Suspected indecent images: the phone goes "
                "straight onto a safeguarding hold and only the police take it. "
                "Do not look at it, copy it or switch it on.",
                f"categories.{category.code}.forces_safeguarding_hold",
                category.source,
            )
        )
        return _verdict(
            failed,
            passed,
            follow_ups,
            forces_hold=True,
            forbids_viewing=category.forbids_viewing,
            holding_kind="confiscation",
        )

    exemptions = profile.exemptions
    holding_kind = "confiscation"
    safekeeping = _exempt(request.pupil, exemptions.safekeeping_instead, profile)
    if safekeeping and category.code == "unauthorised_use":
        holding_kind = "safekeeping"
        passed.append(
            _reason(
                "exemption_safekeeping",
                f"The pupil has a {safekeeping} "
                "exemption: the phone is held for safekeeping, not confiscated, "
                "and the pupil may collect it.",
                "exemptions.safekeeping_instead",
                exemptions.safekeeping_instead,
            )
        )
        return _verdict(failed, passed, follow_ups, holding_kind=holding_kind)

    offence = request.pupil.prior_offences_this_term + 1
    escalation = profile.escalation
    no_escalation = _exempt(request.pupil, exemptions.no_escalation, profile)
    step_number = 1 if no_escalation else offence
    if category.code in escalation.applies_to.value:
        ladder = escalation.ladder.value
        step = ladder[min(step_number, len(ladder)) - 1]
        follow_ups += [FollowUp.of(a, escalation.ladder.source) for a in step]
        if no_escalation:
            passed.append(
                _reason(
                    "exemption_no_escalation",
                    f"Offence {offence} this term, "
                    f"but the pupil has a {no_escalation} exemption: the sanction "
                    "ladder is not climbed (first step only).",
                    "exemptions.no_escalation",
                    exemptions.no_escalation,
                )
            )
        else:
            passed.append(
                _reason(
                    "escalation_step",
                    f"Offence {offence} this term: step "
                    f"{min(offence, len(ladder))} of the sanction ladder.",
                    "escalation.ladder",
                    escalation.ladder,
                )
            )

    parent_from = escalation.parent_collection_from_offence.value
    pupil_collects = _exempt(request.pupil, exemptions.pupil_collects, profile)
    requires_parent = bool(parent_from) and step_number >= parent_from and not pupil_collects
    if requires_parent:
        passed.append(
            _reason(
                "parent_collection",
                f"Offence {offence} this term: a parent or carer must collect this phone.",
                "escalation.parent_collection_from_offence",
                escalation.parent_collection_from_offence,
            )
        )
    return _verdict(
        failed,
        passed,
        follow_ups,
        requires_parent_collection=requires_parent,
        holding_kind=holding_kind,
    )


# --------------------------------------------------------------------------------------------
# Release
# --------------------------------------------------------------------------------------------


def _check_contact(
    collector: CollectorFacts, profile: Profile, failed: list[Reason], passed: list[Reason]
) -> None:
    release = profile.release
    if release.require_contact_list.value:
        if collector.on_contact_list:
            passed.append(
                _reason(
                    "on_contact_list",
                    "The collector is on the pupil's contact list.",
                    "release.require_contact_list",
                    release.require_contact_list,
                )
            )
        else:
            failed.append(
                _reason(
                    "not_on_contact_list",
                    "The collector is not on the pupil's contact list.",
                    "release.require_contact_list",
                    release.require_contact_list,
                )
            )
    if release.require_may_collect.value:
        if collector.may_collect:
            passed.append(
                _reason(
                    "may_collect",
                    "The contact is allowed to collect.",
                    "release.require_may_collect",
                    release.require_may_collect,
                )
            )
        else:
            failed.append(
                _reason(
                    "may_not_collect",
                    "The contact is not marked as allowed to collect this pupil's things.",
                    "release.require_may_collect",
                    release.require_may_collect,
                )
            )
    if release.require_id_seen.value:
        accepted = release.accepted_id_types.value
        if not collector.id_type_seen:
            failed.append(
                _reason(
                    "id_not_seen",
                    "Check the collector's photo ID and record its type.",
                    "release.require_id_seen",
                    release.require_id_seen,
                )
            )
        elif accepted and collector.id_type_seen not in accepted:
            failed.append(
                _reason(
                    "id_type_not_accepted",
                    f"ID type '{collector.id_type_seen}' "
                    f"is not accepted here; accepted: {', '.join(accepted)}.",
                    "release.accepted_id_types",
                    release.accepted_id_types,
                )
            )
        else:
            passed.append(
                _reason(
                    "id_seen",
                    f"ID seen: {collector.id_type_seen}.",
                    "release.require_id_seen",
                    release.require_id_seen,
                )
            )


def _check_time(
    request: ReleaseRequest, profile: Profile, failed: list[Reason], passed: list[Reason]
) -> None:
    release = profile.release
    earliest = release.earliest_time.value
    if request.now.time() < earliest:
        failed.append(
            _reason(
                "too_early",
                f"Not before {earliest:%H:%M} — come back at the end of the school day.",
                "release.earliest_time",
                release.earliest_time,
            )
        )
    else:
        passed.append(
            _reason(
                "after_earliest_time",
                f"It is after {earliest:%H:%M}.",
                "release.earliest_time",
                release.earliest_time,
            )
        )
    if release.next_day.value:
        if request.now.date() <= request.held_since.date():
            failed.append(
                _reason(
                    "same_day",
                    "Not on the day it was confiscated — it can be collected from tomorrow.",
                    "release.next_day",
                    release.next_day,
                )
            )
        else:
            passed.append(
                _reason(
                    "next_day",
                    "It was confiscated on an earlier day.",
                    "release.next_day",
                    release.next_day,
                )
            )


def _release_confiscation(
    request: ReleaseRequest, profile: Profile, failed: list[Reason], passed: list[Reason]
) -> bool:
    """Apply confiscation rules; return whether a parent/carer must collect."""
    release = profile.release
    collector = request.collector
    escalation = profile.escalation
    pupil_collects = _exempt(request.pupil, profile.exemptions.pupil_collects, profile)
    limit = release.pupil_may_collect_up_to_offence.value
    parent_from = escalation.parent_collection_from_offence.value
    pupil_ok_by_offence = request.offence_number <= limit
    escalated = bool(parent_from) and request.offence_number >= parent_from
    requires_parent = not pupil_collects and (not pupil_ok_by_offence or escalated)

    if collector.kind == "contact" and "contact" in release.confiscation_collectors.value:
        passed.append(
            _reason(
                "contact_collects",
                "A parent or carer may collect a confiscated phone.",
                "release.confiscation_collectors",
                release.confiscation_collectors,
            )
        )
        _check_contact(collector, profile, failed, passed)
    elif collector.kind == "pupil":
        if pupil_collects:
            passed.append(
                _reason(
                    "exemption_pupil_collects",
                    f"The pupil has a {pupil_collects} exemption and may collect their own phone.",
                    "exemptions.pupil_collects",
                    profile.exemptions.pupil_collects,
                )
            )
        else:
            if pupil_ok_by_offence:
                passed.append(
                    _reason(
                        "pupil_may_collect",
                        f"Offence {request.offence_number} this term: the pupil may collect it.",
                        "release.pupil_may_collect_up_to_offence",
                        release.pupil_may_collect_up_to_offence,
                    )
                )
            else:
                failed.append(
                    _reason(
                        "pupil_may_not_collect",
                        "The pupil cannot collect a "
                        "confiscated phone here"
                        + (f" after offence {limit}" if limit else "")
                        + ": a parent or carer must collect it.",
                        "release.pupil_may_collect_up_to_offence",
                        release.pupil_may_collect_up_to_offence,
                    )
                )
            if escalated:
                failed.append(
                    _reason(
                        "parent_collection_required",
                        f"Offence "
                        f"{request.offence_number} this term: a parent or carer "
                        "must collect it.",
                        "escalation.parent_collection_from_offence",
                        escalation.parent_collection_from_offence,
                    )
                )
    elif collector.kind == "police":
        failed.append(
            _reason(
                "police_use_handover",
                "The police take a phone through a "
                "recorded hand-over by the DSL or a senior leader, not a release.",
                "safeguarding.handover_roles",
                profile.safeguarding.handover_roles,
            )
        )
    else:
        failed.append(
            _reason(
                "collector_not_allowed",
                f"A {collector.kind} cannot collect a "
                "confiscated phone at this school; allowed: "
                f"{', '.join(release.confiscation_collectors.value)}.",
                "release.confiscation_collectors",
                release.confiscation_collectors,
            )
        )
    _check_time(request, profile, failed, passed)
    return requires_parent


@decide.register
def _release(request: ReleaseRequest, profile: Profile) -> Decision:
    failed: list[Reason] = []
    passed: list[Reason] = []
    safeguarding = profile.safeguarding
    state = request.holding_state
    if state == "safeguarding_hold":
        failed.append(
            _reason(
                "safeguarding_hold",
                "This phone is on a safeguarding hold and "
                "cannot be released. Only the DSL can lift the hold.",
                "safeguarding.lift_roles",
                safeguarding.lift_roles,
            )
        )
    elif state == "handed_to_police":
        failed.append(
            _reason(
                "handed_to_police",
                "This phone was handed to the police; the school no longer holds it.",
                "safeguarding.handover_roles",
                safeguarding.handover_roles,
            )
        )
    elif state != "held":
        failed.append(
            _reason(
                "not_held",
                f"This phone is '{state}', not held: it cannot be released now.",
                "holding.state",
                _STATE_SOURCE,
            )
        )

    category = _known_category(request.category, profile, failed)
    forbids = False
    if category is not None and category.forces_safeguarding_hold:
        forbids = category.forbids_viewing
        failed.append(
            _reason(
                "category_forces_hold",
                f"{category.label}: this phone must stay "
                "on a safeguarding hold until the police take it. It is never "
                "released.",
                f"categories.{category.code}.forces_safeguarding_hold",
                category.source,
            )
        )

    requires_parent = False
    kind = request.holding_kind
    collector = request.collector
    if kind == "confiscation":
        requires_parent = _release_confiscation(request, profile, failed, passed)
    elif kind == "exam_deposit":
        exam = profile.exam
        if collector.kind in exam.collectors.value:
            passed.append(
                _reason(
                    "exam_collector",
                    "The candidate collects their own exam deposit.",
                    "exam.collectors",
                    exam.collectors,
                )
            )
        else:
            failed.append(
                _reason(
                    "exam_collector_not_allowed",
                    f"Only "
                    f"{_roles_text(exam.collectors.value)} may collect an exam "
                    f"deposit, not a {collector.kind}.",
                    "exam.collectors",
                    exam.collectors,
                )
            )
        if exam.release_after_session_only.value:
            if request.exam_session_ended is True:
                passed.append(
                    _reason(
                        "session_ended",
                        "The exam session has ended.",
                        "exam.release_after_session_only",
                        exam.release_after_session_only,
                    )
                )
            else:
                failed.append(
                    _reason(
                        "session_not_ended",
                        "The exam session has not ended: phones go back only after it is released.",
                        "exam.release_after_session_only",
                        exam.release_after_session_only,
                    )
                )
    elif kind == "safekeeping":
        release = profile.release
        if collector.kind in release.safekeeping_collectors.value:
            passed.append(
                _reason(
                    "safekeeping_collector",
                    f"A phone handed in for safekeeping goes back to the {collector.kind}.",
                    "release.safekeeping_collectors",
                    release.safekeeping_collectors,
                )
            )
            if collector.kind == "contact":
                _check_contact(collector, profile, failed, passed)
        else:
            failed.append(
                _reason(
                    "safekeeping_collector_not_allowed",
                    f"A {collector.kind} "
                    "cannot collect a safekeeping phone; allowed: "
                    f"{', '.join(release.safekeeping_collectors.value)}.",
                    "release.safekeeping_collectors",
                    release.safekeeping_collectors,
                )
            )
        if release.safekeeping_any_time.value:
            passed.append(
                _reason(
                    "safekeeping_any_time",
                    "Safekeeping phones may be collected at any time.",
                    "release.safekeeping_any_time",
                    release.safekeeping_any_time,
                )
            )
        else:
            _check_time(request, profile, failed, passed)
    else:
        failed.append(
            _reason(
                "unknown_holding_kind",
                f"Unknown kind of holding '{kind}'.",
                "holding.kind",
                _STATE_SOURCE,
            )
        )
    return _verdict(
        failed, passed, forbids_viewing=forbids, requires_parent_collection=requires_parent
    )


# --------------------------------------------------------------------------------------------
# Search, holds, hand-over, override, exam deposit
# --------------------------------------------------------------------------------------------


def _check_role(
    role: str,
    rule: Rule[tuple[str, ...]],
    clause: str,
    action: str,
    failed: list[Reason],
    passed: list[Reason],
) -> None:
    if role in rule.value:
        passed.append(_reason("role_allowed", f"A {role} may {action}.", clause, rule))
    else:
        failed.append(
            _reason(
                "role_not_allowed",
                f"Only {_roles_text(rule.value)} may {action}, not {role or 'an unnamed role'}.",
                clause,
                rule,
            )
        )


@decide.register
def _search(request: SearchRequest, profile: Profile) -> Decision:
    failed: list[Reason] = []
    passed: list[Reason] = []
    search = profile.search
    category = _known_category(request.category, profile, failed)
    follow_ups: tuple[FollowUp, ...] = ()
    forbids = category is not None and category.forbids_viewing
    if forbids and category is not None:
        follow_ups = tuple(FollowUp.of(a, category.source) for a in category.follow_ups)
        failed.append(
            _reason(
                "never_view",
                f"{category.label}: nobody in school may look at "
                "this phone's contents. Keep it as evidence and hand it to the "
                "police.",
                f"categories.{category.code}.forbids_viewing",
                category.source,
            )
        )
    _check_role(
        request.authoriser_role,
        search.authorising_roles,
        "search.authorising_roles",
        "authorise a search of a phone's contents",
        failed,
        passed,
    )
    if search.requires_reason.value:
        if request.reason.strip():
            passed.append(
                _reason(
                    "reason_recorded",
                    "The reasonable suspicion is recorded.",
                    "search.requires_reason",
                    search.requires_reason,
                )
            )
        else:
            failed.append(
                _reason(
                    "reason_missing",
                    "Write down the reasonable suspicion for the search.",
                    "search.requires_reason",
                    search.requires_reason,
                )
            )
    passed.append(
        _reason(
            "kiosk_never_searches",
            "The kiosk records this authorisation; it never opens, images or copies the phone.",
            "search.authorising_roles",
            search.authorising_roles,
        )
    )
    if failed:
        return Decision(False, tuple(failed), follow_ups, forbids_viewing=forbids)
    return Decision(True, tuple(passed))


@decide.register
def _hold(request: HoldRequest, profile: Profile) -> Decision:
    failed: list[Reason] = []
    passed: list[Reason] = []
    rules = profile.safeguarding
    _check_role(
        request.actor_role,
        rules.hold_roles,
        "safeguarding.hold_roles",
        "place a safeguarding hold",
        failed,
        passed,
    )
    _need_text(
        request.reason,
        "Write down why the phone is going on hold.",
        "safeguarding.hold_roles",
        rules.hold_roles,
        failed,
        passed,
    )
    return _verdict(
        failed, passed, [FollowUp.of("inform_dsl", rules.hold_roles.source)], forces_hold=not failed
    )


def _need_text(
    text: str,
    missing: str,
    clause: str,
    rule: Rule[object],
    failed: list[Reason],
    passed: list[Reason],
) -> None:
    if text.strip():
        passed.append(_reason("reason_recorded", "A reason is recorded.", clause, rule))
    else:
        failed.append(_reason("reason_missing", missing, clause, rule))


@decide.register
def _lift(request: LiftHoldRequest, profile: Profile) -> Decision:
    failed: list[Reason] = []
    passed: list[Reason] = []
    rules = profile.safeguarding
    category = _known_category(request.category, profile, failed)
    if category is not None and category.forces_safeguarding_hold:
        failed.append(
            _reason(
                "hold_cannot_lift",
                f"{category.label}: this hold cannot be "
                "lifted to release the phone. Only a police hand-over ends it.",
                f"categories.{category.code}.forces_safeguarding_hold",
                category.source,
            )
        )
    _check_role(
        request.actor_role,
        rules.lift_roles,
        "safeguarding.lift_roles",
        "lift a safeguarding hold",
        failed,
        passed,
    )
    _need_text(
        request.reason,
        "Write down why the hold is being lifted.",
        "safeguarding.lift_roles",
        rules.lift_roles,
        failed,
        passed,
    )
    return _verdict(failed, passed)


@decide.register
def _handover(request: HandoverRequest, profile: Profile) -> Decision:
    failed: list[Reason] = []
    passed: list[Reason] = []
    rules = profile.safeguarding
    _check_role(
        request.actor_role,
        rules.handover_roles,
        "safeguarding.handover_roles",
        "record a police hand-over",
        failed,
        passed,
    )
    if rules.handover_requires_reference.value:
        if request.reference.strip():
            passed.append(
                _reason(
                    "police_reference",
                    f"Police reference {request.reference} recorded.",
                    "safeguarding.handover_requires_reference",
                    rules.handover_requires_reference,
                )
            )
        else:
            failed.append(
                _reason(
                    "police_reference_missing",
                    "Enter the police reference number for this hand-over.",
                    "safeguarding.handover_requires_reference",
                    rules.handover_requires_reference,
                )
            )
    return _verdict(failed, passed)


@decide.register
def _override(request: OverrideRequest, profile: Profile) -> Decision:
    failed: list[Reason] = []
    passed: list[Reason] = []
    rules = profile.override
    if request.holding_state in {"safeguarding_hold", "handed_to_police"}:
        failed.append(
            _reason(
                "override_cannot_defeat_hold",
                "An override can never release a "
                "phone on a safeguarding hold or with the police. Only the DSL "
                "can lift a hold.",
                "safeguarding.lift_roles",
                profile.safeguarding.lift_roles,
            )
        )
    category = _known_category(request.category, profile, failed)
    forbids = False
    if category is not None and (category.forces_safeguarding_hold or category.forbids_viewing):
        forbids = category.forbids_viewing
        failed.append(
            _reason(
                "override_cannot_defeat_category",
                f"{category.label}: no "
                "override applies. The phone is kept as evidence for the police.",
                f"categories.{category.code}.forces_safeguarding_hold",
                category.source,
            )
        )
    _check_role(
        request.actor_role, rules.roles, "override.roles", "override a refusal", failed, passed
    )
    minimum = rules.min_reason_chars.value
    if len(request.reason.strip()) >= minimum:
        passed.append(
            _reason(
                "override_reason",
                "The override reason is recorded.",
                "override.min_reason_chars",
                rules.min_reason_chars,
            )
        )
    else:
        failed.append(
            _reason(
                "override_reason_too_short",
                f"Write a reason of at least {minimum} characters for the override.",
                "override.min_reason_chars",
                rules.min_reason_chars,
            )
        )
    return _verdict(failed, passed, forbids_viewing=forbids)


@decide.register
def _exam_deposit(request: ExamDepositRequest, profile: Profile) -> Decision:
    notice = profile.exam_notice
    lead_in = profile.exam.lead_in_minutes
    if not request.session_open:
        return Decision(
            False,
            (
                _reason(
                    "no_session",
                    "No exam deposit session is open. The "
                    "exams officer opens it up to "
                    f"{lead_in.value} minutes before the exam.",
                    "exam.lead_in_minutes",
                    lead_in,
                ),
            ),
        )
    return Decision(
        True,
        (_reason("exam_deposit", notice.text, "exam_notice", notice.source),),
        holding_kind="exam_deposit",
    )


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

_OVERDUE_KINDS = {"confiscation", "exam_deposit", "safekeeping"}


def is_overdue(
    holding_kind: str, held_since: datetime, now: datetime, profile: Profile
) -> Reason | None:
    """A Reason to show staff if the holding has been held past its profile limit, else None."""
    if holding_kind not in _OVERDUE_KINDS:
        raise ValueError(
            f"unknown holding kind {holding_kind!r}; use one of {', '.join(sorted(_OVERDUE_KINDS))}"
        )
    rule: Rule[int] = getattr(profile.overdue, f"{holding_kind}_hours")
    held = now - held_since
    if held <= timedelta(hours=rule.value):
        return None
    hours = int(held.total_seconds() // 3600)
    kind = holding_kind.replace("_", " ")
    article = "an" if kind[0] in "aeiou" else "a"
    return Reason(
        "overdue",
        f"Held for {hours} hours: {article} {kind} is "
        f"flagged after {rule.value} hours. Contact the family.",
        f"overdue.{holding_kind}_hours",
        rule.source,
    )


def retention_expired(
    closed_at: datetime, record_kind: str, now: datetime, profile: Profile
) -> bool:
    """True once a closed record of ``record_kind`` has outlived its retention period."""
    if record_kind not in RECORD_KINDS:
        raise ValueError(
            f"unknown record kind {record_kind!r}; use one of {', '.join(RECORD_KINDS)}"
        )
    rule: Rule[int] = getattr(profile.retention, f"{record_kind}_days")
    return now - closed_at >= timedelta(days=rule.value)


def _default_term(day: date) -> tuple[date, date]:
    if day.month >= 9:
        return date(day.year, 9, 1), date(day.year, 12, 31)
    if day.month <= 3:
        return date(day.year, 1, 1), date(day.year, 3, 31)
    return date(day.year, 4, 1), date(day.year, 8, 31)


def term_bounds(now: datetime | date, profile: Profile) -> tuple[date, date]:
    """First and last day of the term containing ``now``, for counting offences in a term.

    Uses the profile's term dates when one contains the day; otherwise (no dates, or a
    holiday between listed terms) the default UK terms: Autumn 1 Sep-31 Dec, Spring
    1 Jan-31 Mar, Summer 1 Apr-31 Aug. Easter moves, so Spring/Summer split at 1 April is
    an approximation a school fixes by listing its own dates.
    """
    day = now.date() if isinstance(now, datetime) else now
    for term in profile.terms.dates.value:
        if term.start <= day <= term.end:
            return term.start, term.end
    return _default_term(day)

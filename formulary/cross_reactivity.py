"""Cross-reactivity groups: substances or classes that a patient allergic to one of them may
react to (ester local anaesthetics with para-aminobenzoic acid).

A group is a clinical claim, so it is kept deliberately narrow: it links what the literature
links, and nothing here infers a group from a class (sulfonamide antibiotics say nothing about
sulfites; amide anaesthetics nothing about esters).
"""

from collections.abc import Iterable, Mapping

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from core.database import db
from core.errors import Conflict, Invalid, NotFound
from formulary.models import CrossReactivityGroup
from formulary.substances import clean_name, substances_by_ids

MIN_MEMBERS = 2


def get_group(group_id: int) -> CrossReactivityGroup:
    group = db.session.get(CrossReactivityGroup, group_id)
    if group is None:
        raise NotFound(f"No cross-reactivity group with id {group_id}.")
    return group


def group_query() -> Select:
    return (
        select(CrossReactivityGroup)
        .options(selectinload(CrossReactivityGroup.members))
        .order_by(CrossReactivityGroup.name)
    )


def create_group(
    name: str, members: Iterable[int], *, note: str | None = None
) -> CrossReactivityGroup:
    name = clean_name(name)
    _refuse_taken_name(name)
    group = CrossReactivityGroup(name=name, note=note, members=_members(members))
    db.session.add(group)
    db.session.flush()
    return group


def update_group(group: CrossReactivityGroup, changes: Mapping) -> CrossReactivityGroup:
    if "name" in changes and clean_name(changes["name"]) != group.name:
        _refuse_taken_name(clean_name(changes["name"]))
        group.name = clean_name(changes["name"])
    if "note" in changes:
        group.note = changes["note"]
    if "members" in changes:
        group.members = _members(changes["members"])
    db.session.flush()
    return group


def delete_group(group: CrossReactivityGroup) -> None:
    db.session.delete(group)
    db.session.flush()


def _members(ids: Iterable[int]):
    members = substances_by_ids(ids, "members")
    if len(members) < MIN_MEMBERS:
        raise Invalid({"members": [f"A group links at least {MIN_MEMBERS} different substances."]})
    return members


def _refuse_taken_name(name: str) -> None:
    taken = db.session.scalar(
        select(CrossReactivityGroup.id).where(CrossReactivityGroup.name == name)
    )
    if taken is not None:
        raise Conflict(
            f"A cross-reactivity group named {name!r} exists already.", {"name": ["Taken."]}
        )

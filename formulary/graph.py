"""The substance graph: "is a" and "contains" edges, kept acyclic, and the lineage closure that
answers "every class and every carried allergen of these substances" in one query.

Every write of a relation goes through `set_relations`, which refuses a cycle and refreshes
the closure rows (`SubstanceLineage`) of the substance and of everything below it. Reads
(`lineages`, `cross_reactivity_groups_of`) never walk edges one query at a time.
"""

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select

from core.database import db
from core.errors import Invalid
from formulary.models import (
    CrossReactivityGroup,
    RelationKind,
    Substance,
    SubstanceLineage,
    SubstanceRelation,
    cross_reactivity_members,
)

# Between two shortest paths, prefer the one that starts with "is a": it reads as the reason a
# clinician expects ("procaine is a ester local anaesthetic" before "... contains ...").
_RELATION_ORDER = {RelationKind.IS_A: 0, RelationKind.CONTAINS: 1}
_FIELD = {RelationKind.IS_A: "parents", RelationKind.CONTAINS: "contains"}
# Graph writes take this PostgreSQL transaction lock: two concurrent edits could otherwise each
# pass the cycle check (A -> B and B -> A) or refresh the closure from a stale graph. SQLite
# writers are serialised already (a write request begins IMMEDIATE).
GRAPH_WRITE_LOCK = 31_403_001


@dataclass(frozen=True)
class Lineage:
    """A substance reached from a requested one (itself included), with one shortest path of
    alternating names and relations, e.g. ("cyanocobalamin", "contains", "cobalt")."""

    substance_id: int
    name: str
    is_class: bool
    path: tuple[str, ...]
    via_contains: bool


@dataclass(frozen=True)
class CrossReactivityMatch:
    """A cross-reactivity group that a substance belongs to, directly or through its lineage."""

    group_id: int
    group_name: str
    member: Lineage


@dataclass(frozen=True)
class _Hop:
    depth: int
    next_id: int | None
    relation: RelationKind | None
    via_contains: bool


# --- writing -------------------------------------------------------------------------------


def set_relations(
    substance: Substance,
    parents: Iterable[Substance] | None = None,
    *,
    contains: Iterable[Substance] | None = None,
    sources: Mapping[int, str | None] | None = None,
) -> None:
    """Replace the substance's "is a" edges (when `parents` is given) and "contains" edges
    (when `contains` is given). A change that would close a cycle is refused (422, naming the
    cycle). `sources` notes where the fact of each new edge comes from, by related id."""
    sources = sources or {}
    _lock_graph()
    wanted = {
        relation.related_id: relation.kind
        for relation in substance.relations
        if (relation.kind is RelationKind.IS_A and parents is None)
        or (relation.kind is RelationKind.CONTAINS and contains is None)
    }
    requested = {}
    for kind, targets in ((RelationKind.IS_A, parents), (RelationKind.CONTAINS, contains)):
        for target in targets or ():
            clash = requested.get(target.id, kind) is not kind
            if clash or wanted.get(target.id, kind) is not kind:
                message = f"{substance.name} cannot both be and contain {target.name}."
                raise Invalid({_FIELD[kind]: [message]}, message=message)
            requested[target.id] = kind
            _refuse_cycle(substance, kind, target)
    wanted.update(requested)

    changed = _apply_edges(substance, wanted, sources)
    if changed:
        db.session.flush()
        refresh_lineage([substance.id])
    db.session.expire(substance, ["parents", "contains"])


def add_relation(
    substance: Substance, kind: RelationKind, *, related: Substance, source: str | None = None
) -> bool:
    """Add one edge unless it is there already (the seed's idempotent step); True if added."""
    current = {relation.related_id: relation.kind for relation in substance.relations}
    if current.get(related.id) is kind:
        return False
    sources = {related.id: source}
    if kind is RelationKind.IS_A:
        set_relations(substance, parents=[*substance.parents, related], sources=sources)
    else:
        set_relations(substance, contains=[*substance.contains, related], sources=sources)
    return True


def _lock_graph() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(GRAPH_WRITE_LOCK)))


def _apply_edges(
    substance: Substance, wanted: dict[int, RelationKind], sources: Mapping[int, str | None]
) -> bool:
    changed = False
    for relation in list(substance.relations):
        kind = wanted.pop(relation.related_id, None)
        if kind is None:
            substance.relations.remove(relation)
            changed = True
        elif kind is not relation.kind:
            relation.kind = kind
            relation.source = sources.get(relation.related_id, relation.source)
            changed = True
    for related_id, kind in wanted.items():
        substance.relations.append(
            SubstanceRelation(related_id=related_id, kind=kind, source=sources.get(related_id))
        )
        changed = True
    return changed


def _refuse_cycle(substance: Substance, kind: RelationKind, target: Substance) -> None:
    """An edge substance -> target closes a cycle when the target already reaches the
    substance (or is the substance)."""
    if target.id == substance.id:
        cycle = [substance.name, substance.name]
    else:
        reaches = db.session.scalar(
            select(SubstanceLineage.depth).where(
                SubstanceLineage.substance_id == target.id,
                SubstanceLineage.ancestor_id == substance.id,
            )
        )
        if reaches is None:
            return
        way_up = next(
            lineage
            for lineage in lineages([target.id])[target.id]
            if lineage.substance_id == substance.id
        )
        cycle = [*way_up.path[::2], target.name]
    message = (
        f"{substance.name} {kind.phrase} {target.name} would make a cycle: {' -> '.join(cycle)}"
    )
    raise Invalid({_FIELD[kind]: [message]}, message=message)


def refresh_lineage(substance_ids: Collection[int]) -> None:
    """Recompute the closure rows of these substances and of every substance below them (whose
    ancestors went through them). A new substance gets its own depth-0 row here."""
    table = SubstanceLineage.__table__
    affected = set(substance_ids)
    if not affected:
        return
    affected.update(
        db.session.scalars(
            select(SubstanceLineage.substance_id).where(SubstanceLineage.ancestor_id.in_(affected))
        )
    )
    upward = _upward_edges()
    closure = _closure(affected, upward)
    db.session.execute(delete(table).where(table.c.substance_id.in_(affected)))
    _insert_rows(closure, affected)


def rebuild_lineage() -> int:
    """Recompute the whole closure (after a bulk load that bypassed `set_relations`); answers
    the number of rows."""
    table = SubstanceLineage.__table__
    everything = set(db.session.scalars(select(Substance.id)))
    closure = _closure(everything, _upward_edges())
    db.session.execute(delete(table))
    return _insert_rows(closure, everything)


def _upward_edges() -> dict[int, list[tuple[int, RelationKind]]]:
    upward: dict[int, list[tuple[int, RelationKind]]] = defaultdict(list)
    edges = db.session.execute(
        select(SubstanceRelation.substance_id, SubstanceRelation.related_id, SubstanceRelation.kind)
    )
    for substance_id, related_id, kind in edges:
        upward[substance_id].append((related_id, kind))
    return upward


def _closure(
    wanted: set[int], upward: Mapping[int, list[tuple[int, RelationKind]]]
) -> dict[int, dict[int, _Hop]]:
    """Shortest hops from each substance to each ancestor. Ancestors are computed before the
    substances below them (an iterative depth-first post-order: chains may be deep), so each
    substance combines its direct neighbours' finished rows."""
    done: dict[int, dict[int, _Hop]] = {}
    stack = [(node, False) for node in wanted]
    while stack:
        node, expanded = stack.pop()
        if node in done:
            continue
        if not expanded:
            stack.append((node, True))
            stack.extend((up, False) for up, _ in upward.get(node, ()) if up not in done)
            continue
        rows = {node: _Hop(0, None, None, False)}
        choices = sorted(upward.get(node, ()), key=lambda edge: (_RELATION_ORDER[edge[1]], edge[0]))
        for up, kind in choices:
            for ancestor, hop in done[up].items():
                candidate = _Hop(
                    hop.depth + 1, up, kind, kind is RelationKind.CONTAINS or hop.via_contains
                )
                if ancestor not in rows or candidate.depth < rows[ancestor].depth:
                    rows[ancestor] = candidate
        done[node] = rows
    return done


def _insert_rows(closure: dict[int, dict[int, _Hop]], substance_ids: set[int]) -> int:
    rows = [
        {
            "substance_id": substance_id,
            "ancestor_id": ancestor_id,
            "depth": hop.depth,
            "via_contains": hop.via_contains,
            "next_id": hop.next_id,
            "relation": hop.relation,
        }
        for substance_id in substance_ids
        for ancestor_id, hop in closure[substance_id].items()
    ]
    if rows:
        db.session.execute(insert(SubstanceLineage.__table__), rows)
    return len(rows)


# --- reading -------------------------------------------------------------------------------


def lineages(substance_ids: Collection[int]) -> dict[int, list[Lineage]]:
    """For each known substance id: itself and everything it reaches upward through "is a" and
    "contains" edges, any depth, nearest first, each with one shortest path. One query,
    whatever the number of ids: the closure rows of the substances and of their ancestors
    (needed to spell the paths), with the ancestors' names."""
    wanted = set(substance_ids)
    if not wanted:
        return {}
    lineage = SubstanceLineage
    reached = select(lineage.ancestor_id).where(lineage.substance_id.in_(wanted))
    rows = db.session.execute(
        select(
            lineage.substance_id,
            lineage.ancestor_id,
            lineage.depth,
            lineage.via_contains,
            lineage.next_id,
            lineage.relation,
            Substance.name,
            Substance.is_class,
        )
        .join(Substance, Substance.id == lineage.ancestor_id)
        .where(lineage.substance_id.in_(reached))
    ).all()

    hops: dict[int, dict[int, _Hop]] = defaultdict(dict)
    names: dict[int, tuple[str, bool]] = {}
    for substance_id, ancestor_id, depth, via_contains, next_id, relation, name, is_class in rows:
        hops[substance_id][ancestor_id] = _Hop(depth, next_id, relation, via_contains)
        names[ancestor_id] = (name, is_class)

    answer = {}
    for substance_id in wanted & hops.keys():
        found = [
            Lineage(
                substance_id=ancestor_id,
                name=names[ancestor_id][0],
                is_class=names[ancestor_id][1],
                path=_path(substance_id, ancestor_id, hops, names),
                via_contains=hop.via_contains,
            )
            for ancestor_id, hop in hops[substance_id].items()
        ]
        found.sort(key=lambda item: (len(item.path), item.name))
        answer[substance_id] = found
    return answer


def _path(start: int, ancestor: int, hops, names) -> tuple[str, ...]:
    path = [names[start][0]]
    current = start
    while current != ancestor:
        hop = hops[current][ancestor]
        path += [hop.relation.phrase, names[hop.next_id][0]]
        current = hop.next_id
    return tuple(path)


def cross_reactivity_groups_of(
    substance_ids: Collection[int],
) -> dict[int, list[CrossReactivityMatch]]:
    """For each substance: the cross-reactivity groups it belongs to, as itself or through
    anything in its lineage (the match keeps that lineage, so a caller can tell a class from a
    carried allergen). Two queries, whatever the number of ids."""
    found = lineages(substance_ids)
    reached = {lineage.substance_id for items in found.values() for lineage in items}
    if not reached:
        return {}
    memberships: dict[int, list[tuple[int, str]]] = defaultdict(list)
    rows = db.session.execute(
        select(
            cross_reactivity_members.c.substance_id,
            CrossReactivityGroup.id,
            CrossReactivityGroup.name,
        )
        .join(CrossReactivityGroup, CrossReactivityGroup.id == cross_reactivity_members.c.group_id)
        .where(cross_reactivity_members.c.substance_id.in_(reached))
        .order_by(CrossReactivityGroup.name)
    )
    for member_id, group_id, group_name in rows:
        memberships[member_id].append((group_id, group_name))

    answer: dict[int, list[CrossReactivityMatch]] = {}
    for substance_id, items in found.items():
        matches, seen = [], set()
        for lineage in items:  # nearest first: a group is reported through its nearest member
            for group_id, group_name in memberships.get(lineage.substance_id, ()):
                if group_id not in seen:
                    seen.add(group_id)
                    matches.append(CrossReactivityMatch(group_id, group_name, lineage))
        answer[substance_id] = matches
    return answer

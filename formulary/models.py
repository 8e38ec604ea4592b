"""Formulary tables: substances (and classes) with their "is a" and "contains" relations,
cross-reactivity groups, and versioned serum formulas."""

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import utcnow
from core.database import UTCDateTime, db, value_enum
from formulary import units


class Category(enum.StrEnum):
    AMINO_ACID = "amino_acid"
    VITAMIN = "vitamin"
    TRACE_ELEMENT = "trace_element"
    ANTIOXIDANT = "antioxidant"
    ENZYME = "enzyme"
    NUCLEIC_ACID = "nucleic_acid"
    EXCIPIENT = "excipient"
    ANAESTHETIC = "anaesthetic"
    OTHER = "other"


class SerumStatus(enum.StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    RETIRED = "retired"


class SerumSource(enum.StrEnum):
    COMPOUNDED = "compounded"
    MANUFACTURED = "manufactured"


cross_reactivity_members = Table(
    "cross_reactivity_members",
    db.metadata,
    Column(
        "group_id", ForeignKey("cross_reactivity_groups.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("substance_id", ForeignKey("substances.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_cross_reactivity_members_substance_id", "substance_id"),
)


# Everyone who changed a draft after its author wrote it: none of them is the second person its
# approval needs.
serum_editors = Table(
    "serum_editors",
    db.metadata,
    Column("serum_id", ForeignKey("serums.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_serum_editors_user_id", "user_id"),
)


class Substance(db.Model):
    __tablename__ = "substances"
    __table_args__ = (
        CheckConstraint(
            "(max_concentration_value IS NULL) = (max_concentration_unit IS NULL)",
            name="max_concentration_value_and_unit",
        ),
        CheckConstraint(
            "max_concentration_value IS NULL OR max_concentration_value > 0",
            name="max_concentration_positive",
        ),
        Index("ix_substances_category", "category"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    # Lower-cased name, for case-insensitive look-ups that use an index on every database.
    name_key: Mapped[str] = mapped_column(String(120), unique=True)
    category: Mapped[Category] = mapped_column(value_enum(Category))
    is_class: Mapped[bool] = mapped_column(default=False)
    max_concentration_value: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    max_concentration_unit: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)

    synonyms: Mapped[list["SubstanceSynonym"]] = relationship(
        back_populates="substance",
        cascade="all, delete-orphan",
        order_by="SubstanceSynonym.name",
    )
    codes: Mapped[list["SubstanceCode"]] = relationship(
        back_populates="substance",
        cascade="all, delete-orphan",
        order_by=lambda: (SubstanceCode.system, SubstanceCode.code),
    )
    relations: Mapped[list["SubstanceRelation"]] = relationship(
        back_populates="substance",
        foreign_keys="SubstanceRelation.substance_id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    # Read-only views of `relations`, one per kind, as the API shows them (ids).
    parents: Mapped[list["Substance"]] = relationship(
        secondary="substance_relations",
        primaryjoin="and_(Substance.id == SubstanceRelation.substance_id, "
        "SubstanceRelation.kind == 'is_a')",
        secondaryjoin="Substance.id == SubstanceRelation.related_id",
        order_by="Substance.name",
        viewonly=True,
    )
    contains: Mapped[list["Substance"]] = relationship(
        secondary="substance_relations",
        primaryjoin="and_(Substance.id == SubstanceRelation.substance_id, "
        "SubstanceRelation.kind == 'contains')",
        secondaryjoin="Substance.id == SubstanceRelation.related_id",
        order_by="Substance.name",
        viewonly=True,
    )

    @property
    def max_concentration_per_ml(self) -> dict | None:
        if self.max_concentration_value is None:
            return None
        return {"value": self.max_concentration_value, "unit": self.max_concentration_unit}


class RelationKind(enum.StrEnum):
    IS_A = "is_a"
    CONTAINS = "contains"

    @property
    def phrase(self) -> str:
        """How a path spells the relation: ("procaine", "is a", "ester local anaesthetics")."""
        return "is a" if self is RelationKind.IS_A else "contains"


class SubstanceRelation(db.Model):
    """One edge of the substance graph: the substance "is a" the related one (a class), or
    "contains" it (an allergen carried inside). Both kinds together form one acyclic graph,
    because an allergy walks up through either."""

    __tablename__ = "substance_relations"
    __table_args__ = (
        CheckConstraint("substance_id <> related_id", name="not_self"),
        Index("ix_substance_relations_related_id", "related_id"),
    )

    substance_id: Mapped[int] = mapped_column(
        ForeignKey("substances.id", ondelete="CASCADE"), primary_key=True
    )
    related_id: Mapped[int] = mapped_column(
        ForeignKey("substances.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[RelationKind] = mapped_column(value_enum(RelationKind, length=10))
    # Where the fact comes from (a reference work, a label), so a reviewer can check it.
    source: Mapped[str | None] = mapped_column(Text)

    substance: Mapped["Substance"] = relationship(
        foreign_keys=[substance_id], back_populates="relations"
    )
    related: Mapped["Substance"] = relationship(foreign_keys=[related_id])


class SubstanceLineage(db.Model):
    """Transitive closure of the substance graph, kept up to date by formulary.graph on every
    write of a relation: one row per (substance, ancestor) pair reachable upward through "is a"
    and "contains" edges, itself included at depth 0, so that the safety screen finds every
    class and carried allergen of any number of substances in one query.

    Each row remembers the first hop of one shortest path (`next_id`, `relation`); the rest of
    the path is the row (next_id, ancestor_id), so a path is rebuilt without walking edges."""

    __tablename__ = "substance_lineage"
    __table_args__ = (
        CheckConstraint("depth >= 0", name="depth_not_negative"),
        Index("ix_substance_lineage_ancestor_id", "ancestor_id"),
    )

    substance_id: Mapped[int] = mapped_column(
        ForeignKey("substances.id", ondelete="CASCADE"), primary_key=True
    )
    ancestor_id: Mapped[int] = mapped_column(
        ForeignKey("substances.id", ondelete="CASCADE"), primary_key=True
    )
    depth: Mapped[int]
    via_contains: Mapped[bool] = mapped_column(default=False)
    next_id: Mapped[int | None] = mapped_column(ForeignKey("substances.id", ondelete="CASCADE"))
    relation: Mapped[RelationKind | None] = mapped_column(value_enum(RelationKind, length=10))


class SubstanceCode(db.Model):
    """A standard code for a substance (SNOMED CT substance, RxNorm ingredient, UNII), so that
    an allergy list from a hospital or GP system finds it by code. A code means one substance."""

    __tablename__ = "substance_codes"
    __table_args__ = (
        UniqueConstraint("system", "code", name="uq_substance_codes_system_code"),
        Index("ix_substance_codes_substance_id", "substance_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    substance_id: Mapped[int] = mapped_column(ForeignKey("substances.id", ondelete="CASCADE"))
    system: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(40))
    # Where the code was confirmed, so a reviewer can check it.
    source: Mapped[str | None] = mapped_column(Text)

    substance: Mapped["Substance"] = relationship(back_populates="codes")


class SubstanceSynonym(db.Model):
    """Another name a substance goes by ("B12", "Novocain"); unique across the catalogue so that
    a name always means one substance."""

    __tablename__ = "substance_synonyms"

    id: Mapped[int] = mapped_column(primary_key=True)
    substance_id: Mapped[int] = mapped_column(
        ForeignKey("substances.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    name_key: Mapped[str] = mapped_column(String(120), unique=True)

    substance: Mapped[Substance] = relationship(back_populates="synonyms")


class CrossReactivityGroup(db.Model):
    __tablename__ = "cross_reactivity_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    note: Mapped[str | None] = mapped_column(Text)

    members: Mapped[list[Substance]] = relationship(
        secondary=cross_reactivity_members, order_by=lambda: Substance.name
    )


class Serum(db.Model):
    """One version of a serum formula. Versions of the same serum share its code."""

    __tablename__ = "serums"
    __table_args__ = (
        UniqueConstraint("code", "version", name="uq_serums_code_version"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("dose_volume_ml > 0", name="dose_volume_positive"),
        Index("ix_serums_status", "status"),
        # At most one draft and one approved version of a serum at a time, even when two
        # pharmacists act at once (the workflow checks first; these are the last guard).
        Index(
            "uq_serums_one_draft_per_code",
            "code",
            unique=True,
            sqlite_where=text("status = 'draft'"),
            postgresql_where=text("status = 'draft'"),
        ),
        Index(
            "uq_serums_one_approved_per_code",
            "code",
            unique=True,
            sqlite_where=text("status = 'approved'"),
            postgresql_where=text("status = 'approved'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(160))
    version: Mapped[int] = mapped_column(default=1)
    status: Mapped[SerumStatus] = mapped_column(value_enum(SerumStatus), default=SerumStatus.DRAFT)
    source: Mapped[SerumSource] = mapped_column(value_enum(SerumSource))
    manufacturer: Mapped[str | None] = mapped_column(String(160))
    dose_volume_ml: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    # Beyond-use days of a compounded batch by storage (SPEC 3.5).
    bud_room_days: Mapped[int] = mapped_column(default=1)
    bud_refrigerated_days: Mapped[int] = mapped_column(default=4)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    components: Mapped[list["SerumComponent"]] = relationship(
        back_populates="serum",
        cascade="all, delete-orphan",
        order_by="SerumComponent.position",
    )
    author = relationship("User", foreign_keys=[author_id])
    approved_by = relationship("User", foreign_keys=[approved_by_id])
    editors = relationship("User", secondary=serum_editors, order_by="User.username")


class SerumComponent(db.Model):
    __tablename__ = "serum_components"
    __table_args__ = (
        UniqueConstraint("serum_id", "substance_id", name="uq_serum_components_serum_substance"),
        CheckConstraint("amount_value > 0", name="amount_positive"),
        Index("ix_serum_components_substance_id", "substance_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    serum_id: Mapped[int] = mapped_column(ForeignKey("serums.id", ondelete="CASCADE"))
    substance_id: Mapped[int] = mapped_column(ForeignKey("substances.id", ondelete="RESTRICT"))
    position: Mapped[int] = mapped_column(default=0)
    amount_value: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    amount_unit: Mapped[str] = mapped_column(String(20))

    serum: Mapped[Serum] = relationship(back_populates="components")
    substance: Mapped[Substance] = relationship()

    @property
    def amount_per_dose(self) -> units.Amount:
        return units.Amount(self.amount_value, self.amount_unit)

    @property
    def concentration_per_ml(self) -> units.Amount:
        """Derived, never stored: it follows the dose volume of the version it belongs to."""
        return units.concentration_per_ml(self.amount_per_dose, self.serum.dose_volume_ml)

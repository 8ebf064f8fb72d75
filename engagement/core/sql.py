"""Hand-written INSERT statements for the busy paths, built from a model instance.

The ORM spends more CPU compiling an INSERT than PostgreSQL spends running it, and it cannot
express the statements the hot paths need (``INSERT ... SELECT ... WHERE``, ``ON CONFLICT DO
NOTHING RETURNING``, an insert inside a ``WITH``). :func:`insert_parts` gives the pieces of such a
statement with the values prepared exactly as ``Model.save()`` prepares them (``pre_save`` fills
``auto_now_add``), so the hand-written statement stores what the ORM would. Identifiers come from
the model's metadata and every value is a parameter.
"""

import functools
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Model


@dataclass(frozen=True)
class InsertParts:
    table: str
    """The quoted table name."""
    columns: str
    """The quoted column names, comma-separated."""
    marks: str
    """As many ``%s`` placeholders, comma-separated."""
    typed_marks: str
    """The placeholders cast to their columns' types (``%s::bigint, ...``), for a statement whose
    values are not in a ``VALUES`` list (``INSERT ... SELECT``), where PostgreSQL would otherwise
    take an untyped literal or ``NULL`` as text."""
    values: list[Any]
    """The values, prepared for the database, in column order."""
    pk_column: str
    """The quoted primary key column (for ``RETURNING``)."""


def insert_parts(instance: Model, *, with_pk: bool) -> InsertParts:
    """The pieces of an INSERT of ``instance``. ``with_pk``: the primary key is set in Python
    (a UUID) and inserted; otherwise the database makes it (an auto field) and it is left out."""
    fields, table, columns, marks, typed_marks, pk_column = _shape(
        type(instance), with_pk, connection.vendor
    )
    return InsertParts(
        table=table,
        columns=columns,
        marks=marks,
        typed_marks=typed_marks,
        values=[f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields],
        pk_column=pk_column,
    )


@functools.cache
def _shape(model: type[Model], with_pk: bool, vendor: str) -> tuple[Any, ...]:
    """What an insert of ``model`` looks like apart from its values (per model and database)."""
    meta = model._meta
    fields = [f for f in meta.concrete_fields if with_pk or not f.primary_key]
    quote = connection.ops.quote_name
    return (
        fields,
        quote(meta.db_table),
        ", ".join(quote(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
        ", ".join(f"%s::{f.db_type(connection)}" for f in fields),
        quote(meta.pk.column),
    )


def mark_saved(instance: Model, pk: Any = None) -> None:
    """Make ``instance`` look saved, as ``save()`` would, after a hand-written insert."""
    if pk is not None:
        instance.pk = pk
    instance._state.adding = False
    instance._state.db = connection.alias

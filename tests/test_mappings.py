"""The mapping tables against the official CSL-JSON schema: nothing maps to a name CSL lacks."""

from __future__ import annotations

import json

import pytest

from bibport import csl
from bibport.mappings import bibtex as bt
from conftest import require_shared

# every test here checks a table against the schema
SCHEMA = json.loads(require_shared("schemas", "csl-data.json").read_text(encoding="utf-8"))
PROPERTIES = SCHEMA["items"]["properties"]
SCHEMA_TYPES = set(PROPERTIES["type"]["enum"])


def test_hub_types_are_the_schema_types():
    assert set(csl.TYPES) == SCHEMA_TYPES
    assert len(csl.TYPES) == 45


@pytest.mark.parametrize("variable", sorted(csl.VARIABLE_KIND))
def test_hub_variable_kinds_match_schema(variable):
    spec = PROPERTIES[variable]
    kind = csl.VARIABLE_KIND[variable]
    if kind is csl.Kind.NAME:
        assert spec["type"] == "array" and spec["items"]["$ref"].endswith("name-variable")
    elif kind is csl.Kind.DATE:
        assert spec["$ref"].endswith("date-variable")
    elif kind is csl.Kind.NUMBER:
        assert set(spec["type"]) == {"string", "number"}
    else:
        assert spec["type"] == "string"


def test_every_schema_property_has_a_kind():
    assert set(PROPERTIES) - set(csl.VARIABLE_KIND) == {"id", "type", "categories", "custom"}


@pytest.mark.parametrize("row", bt.TYPES_IN, ids=lambda r: r.entry_type)
def test_entry_types_map_to_csl_types(row):
    assert row.csl_type in SCHEMA_TYPES


@pytest.mark.parametrize("row", bt.TYPES_OUT, ids=lambda r: r.csl_type)
def test_written_types_come_from_csl_types(row):
    assert row.csl_type in SCHEMA_TYPES
    assert row.subtype is None or row.subtype in SCHEMA_TYPES or row.subtype in bt.SUBTYPE_IN


@pytest.mark.parametrize("row", bt.FIELDS_IN, ids=lambda r: f"{r.field}->{r.variable}")
def test_fields_map_to_schema_variables(row):
    assert row.variable in PROPERTIES
    assert all(t in SCHEMA_TYPES for t in row.types)  # rows are chosen by the entry's CSL type


@pytest.mark.parametrize("row", bt.FIELDS_OUT, ids=lambda r: f"{r.variable}->{r.bibtex}/{r.biblatex}")
def test_written_variables_exist(row):
    assert row.variable in PROPERTIES
    assert all(t in SCHEMA_TYPES for t in row.types)
    for name in (row.bibtex, row.biblatex):
        assert name is None or name in bt.FIELD_ORDER


def test_every_csl_type_is_written_somehow():
    # Types without a row become @misc with entrysubtype = the CSL type, so none is lost.
    for csl_type in SCHEMA_TYPES - set(bt.TYPE_OUT):
        assert csl_type in SCHEMA_TYPES


def test_read_types_round_trip_through_written_types():
    # Every CSL type that reading can produce is written back to an entry type that reads as it.
    for row in bt.TYPES_OUT:
        for dialect in bt.DIALECTS:
            written = getattr(row, dialect)
            back = bt.TYPE_IN[written].csl_type
            assert back == row.csl_type or row.subtype or row.csl_type in ("webpage", "thesis"), (
                row, dialect)


def test_languages_are_unique():
    tags = [row.tag for row in bt.LANGUAGES]
    babel = [row.babel for row in bt.LANGUAGES]
    assert len(tags) == len(set(tags)) and len(babel) == len(set(babel))

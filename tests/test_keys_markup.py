"""values.keys and values.markup."""

import pytest

from bibport.values.keys import assign_keys, is_valid_key, make_key
from bibport.values.markup import strip_markup


@pytest.mark.parametrize(("rich", "plain"), [
    ("<i>E. coli</i> in <b>bold</b>", "E. coli in bold"),
    ('The <span class="nocase">Xen</span> hypervisor', "The Xen hypervisor"),
    ('<span style="font-variant:small-caps;">Caps</span>', "Caps"),
    ("H<sub>2</sub>O and x<sup>2</sup>", "H2O and x2"),
    ("a < b & c > d", "a < b & c > d"),
    ("<script>x</script>", "<script>x</script>"),
    ("", ""),
])
def test_strip_markup(rich, plain):
    assert strip_markup(rich) == plain


@pytest.mark.parametrize(("item", "key"), [
    ({"author": [{"family": "Barham", "given": "Paul"}], "issued": {"date-parts": [[2003]]},
      "title": "Xen and the Art of Virtualization"}, "barham2003xen"),
    ({"author": [{"family": "Neumann", "non-dropping-particle": "von"}],
      "issued": {"date-parts": [[1945, 6]]}, "title": "The First Draft"}, "neumann1945first"),
    ({"author": [{"family": "Gödel"}], "issued": {"date-parts": [["1931"]]}, "title": "Über formal"},
     "godel1931uber"),
    ({"editor": [{"family": "O'Brien"}], "title": "A Reader"}, "obrienndreader"),
    ({"author": [{"literal": "World Health Organization"}], "issued": {"date-parts": [[2020]]},
      "title": "An <i>Overview</i>"}, "world2020overview"),
    ({"title": "The"}, "anonndthe"),
    ({}, "anonnd"),
    ({"author": [{"family": "Smith"}], "issued": {"literal": "circa 1850"}, "title": "—  Notes"},
     "smith1850notes"),
])
def test_make_key(item, key):
    assert make_key(item) == key


def test_assign_keys_keeps_valid_and_dedupes_in_order():
    base = {"author": [{"family": "Smith"}], "issued": {"date-parts": [[2003]]}, "title": "Cats"}
    items = [
        dict(base),
        {**base, "citation-key": "keep:me"},
        dict(base),
        {**base, "id": "smith2003catsa"},   # existing: a generated key must skip it
        dict(base),
        {**base, "id": "1"},                 # not a valid key: generated
        {**base, "id": "SMITH2003CATS"},     # valid, kept; the first generated must avoid it
        {**base, "id": "http://zotero.org/x"},
    ]
    keys = assign_keys(items)
    assert keys == ["smith2003catsb", "keep:me", "smith2003catsc", "smith2003catsa", "smith2003catsd",
                    "smith2003catse", "SMITH2003CATS", "smith2003catsf"]
    assert len({k.lower() for k in keys}) == len(keys)


def test_assign_keys_existing_collision_regenerated():
    items = [{"id": "Key"}, {"id": "key"}]
    keys = assign_keys(items)
    assert keys[0] == "Key" and keys[1] == "anonnd"


@pytest.mark.parametrize(("key", "ok"), [("smith2003", True), ("a:b.c-d+e_f", True), ("1abc", False),
                                         ("a b", False), ("a/b", False), ("", False), (3, False)])
def test_is_valid_key(key, ok):
    assert is_valid_key(key) is ok

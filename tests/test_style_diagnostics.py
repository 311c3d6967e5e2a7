"""Style problems through the CLI: `STYLE.csl:LINE: severity[code]: message`, and the exit codes.

Each style is a minimal CSL 1.0 style written here, valid except for the one problem it holds; the
expected line is the line of the offending element in the written file.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bibport.cli import cli
from bibport.formats import bibliography

BIB = """@book{one, author = {Able, Ann}, title = {First Book}, year = {2001}, publisher = {Pub}}
@book{two, author = {Baker, Bob}, title = {Second Book}, year = {2002}, publisher = {Pub}}
"""

# {root} attributes of cs:style, {macros} macro definitions, {body} the bibliography's layout
STYLE = """<?xml version="1.0" encoding="utf-8"?>
<style xmlns="http://purl.org/net/xbiblio/csl" class="in-text" version="1.0"{root}>
  <info>
    <title>Test</title>
    <id>test</id>
    <updated>2024-01-01T00:00:00+00:00</updated>
  </info>
{macros}
  <citation>
    <layout>
      <text variable="title"/>
    </layout>
  </citation>
  <bibliography>
    <layout>
{body}
    </layout>
  </bibliography>
</style>
"""
GOOD_BODY = '      <text variable="title"/>'


def write_style(tmp_path, body=GOOD_BODY, macros="", root="", name="style.csl") -> tuple[str, str]:
    """(path, text) of a style written into tmp_path."""
    text = STYLE.format(root=root, macros=macros, body=body)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path), text


def line_of(text: str, needle: str) -> int:
    return text[:text.index(needle)].count("\n") + 1


def render(tmp_path, style, *options):
    bib = tmp_path / "refs.bib"
    bib.write_text(BIB, encoding="utf-8")
    return CliRunner().invoke(cli, ["render", str(bib), "--style", style, *options])


def diagnostics(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def assert_one(result, prefix: str, exit_code: int) -> str:
    """Exactly one diagnostic, starting with `prefix`; the exit code; the diagnostic."""
    lines = diagnostics(result)
    assert len(lines) == 1 and lines[0].startswith(prefix), result.stderr
    assert result.exit_code == exit_code, result.stderr
    return lines[0]


# --- errors: the style is refused, exit 1 ------------------------------------------------------------------

def test_doctype(tmp_path):
    path = tmp_path / "doctype.csl"
    text = STYLE.format(root="", macros="", body=GOOD_BODY).replace(
        "<style ", '<!DOCTYPE style [<!ENTITY e "x">]>\n<style ', 1)
    path.write_text(text, encoding="utf-8")
    assert_one(render(tmp_path, str(path)), f"{path}:2: error[style-doctype]: ", 1)


def test_not_csl_root(tmp_path):
    path = tmp_path / "page.csl"
    path.write_text('<?xml version="1.0"?>\n\n<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>\n')
    line = assert_one(render(tmp_path, str(path)), f"{path}:3: error[style-not-csl]: ", 1)
    assert "<html>" in line


def test_wrong_namespace(tmp_path):
    path, text = write_style(tmp_path)
    (tmp_path / "style.csl").write_text(text.replace('xmlns="http://purl.org/net/xbiblio/csl" ', ""))
    assert_one(render(tmp_path, path), f"{path}:2: error[style-not-csl]: ", 1)


def test_bytes_not_in_the_declared_encoding(tmp_path):
    path, text = write_style(tmp_path, body='      <text value="Caf\u00e9"/>')
    (tmp_path / "style.csl").write_bytes(text.encode("latin-1"))
    line = assert_one(render(tmp_path, path), f"{path}:{line_of(text, 'Caf')}: error[style-encoding]: ", 1)
    assert "0xe9" in line


def test_unknown_declared_encoding(tmp_path):
    path, text = write_style(tmp_path)
    (tmp_path / "style.csl").write_text(text.replace('encoding="utf-8"', 'encoding="no-such-codec"'))
    assert_one(render(tmp_path, path), f"{path}:1: error[style-encoding]: ", 1)


def test_not_well_formed(tmp_path):
    # the closing tag that does not match is where the parser stops
    path, text = write_style(tmp_path, body='      <group>\n      <text variable="title"/>\n      </grop>')
    line = assert_one(render(tmp_path, path), f"{path}:{line_of(text, '</grop>')}: error[style-xml]: ", 1)
    assert "not well-formed" in line


def test_undefined_macro_at_the_call(tmp_path):
    body = '      <text variable="title"/>\n      <text macro="nowhere"/>'
    path, text = write_style(tmp_path, body=body)
    line = assert_one(render(tmp_path, path), f"{path}:{line_of(text, 'nowhere')}: error[style-undefined-macro]: ", 1)
    assert "'nowhere'" in line


def test_macro_recursion_at_the_closing_call(tmp_path):
    macros = ('  <macro name="a">\n    <text macro="b"/>\n  </macro>\n'
              '  <macro name="b">\n    <group><text macro="a"/></group>\n  </macro>')
    path, text = write_style(tmp_path, body='      <text macro="a"/>', macros=macros)
    closing = line_of(text, '<group><text macro="a"/>')
    line = assert_one(render(tmp_path, path), f"{path}:{closing}: error[style-macro-recursion]: ", 1)
    assert "'a' -> 'b' -> 'a'" in line


def test_too_deep_through_macro_calls(tmp_path):
    # 120 macros, each a group calling the next: 240 levels once the calls are followed
    count = 120
    macros = "\n".join(f'  <macro name="m{i}"><group><text macro="m{i + 1}"/></group></macro>' for i in range(count))
    macros += f'\n  <macro name="m{count}"><text variable="title"/></macro>'
    path, _ = write_style(tmp_path, body='      <text macro="m0"/>', macros=macros)
    line = assert_one(render(tmp_path, path), f"{path}:", 1)
    assert "error[style-too-deep]" in line and f"at most {bibliography.MAX_STYLE_DEPTH}" in line


def test_too_deep_for_the_parser(tmp_path):
    body = "      " + "<group>" * 300 + '<text variable="title"/>' + "</group>" * 300
    path, text = write_style(tmp_path, body=body)
    assert_one(render(tmp_path, path), f"{path}:{line_of(text, '<group>')}: error[style-too-deep]: ", 1)


def test_csl_08_style_is_a_version_error(tmp_path):
    path, text = write_style(tmp_path)
    (tmp_path / "style.csl").write_text(text.replace('in-text" version="1.0"', 'in-text" xml:lang="en"'))
    line = assert_one(render(tmp_path, path), f"{path}:2: error[style-version]: ", 1)
    assert "CSL 0.8" in line


def test_unknown_style_name(tmp_path):
    assert_one(render(tmp_path, "no-such-style-anywhere"), "no-such-style-anywhere: error[unknown-style]: ", 1)


def test_missing_style_file(tmp_path):
    missing = str(tmp_path / "gone.csl")
    assert_one(render(tmp_path, missing), f"{missing}: error[unknown-style]: ", 1)


def test_source_is_the_path_as_given(tmp_path, monkeypatch):
    write_style(tmp_path, body='      <text macro="nowhere"/>', name="mine.csl")
    monkeypatch.chdir(tmp_path)
    assert_one(render(tmp_path, "mine.csl"), "mine.csl:", 1)


def test_unknown_locale_option(tmp_path):
    path, _ = write_style(tmp_path)
    assert_one(render(tmp_path, path, "--locale", "xx-YY"), "--locale: error[unknown-locale]: 'xx-YY'", 1)


# --- warnings: the style renders, exit 0; --strict exit 1 ---------------------------------------------------

def _warns(tmp_path, body, code, needle, words, root=""):
    clean = render(tmp_path, write_style(tmp_path, name="clean.csl")[0])  # the style without its problem
    assert clean.exit_code == 0 and diagnostics(clean) == [] and "First Book" in clean.stdout, clean.stderr
    path, text = write_style(tmp_path, body=body, root=root)
    where = f"{path}:{line_of(text, needle)}: warning[{code}]: "
    line = assert_one(render(tmp_path, path), where, 0)
    assert all(w in line for w in words), line
    assert "First Book" in render(tmp_path, path).stdout
    strict = render(tmp_path, path, "--strict")
    assert strict.exit_code == 1 and diagnostics(strict)[0].startswith(where), strict.stderr


def test_invalid_text_case(tmp_path):
    body = '      <text variable="title"/>\n      <text variable="publisher" text-case="shouting"/>'
    _warns(tmp_path, body, "style-invalid", "shouting", ["text-case='shouting'", "capitalize-first"])


def test_unknown_variable(tmp_path):
    body = '      <text variable="title"/>\n      <text variable="publsher"/>'
    _warns(tmp_path, body, "style-invalid", "publsher", ["unknown variable 'publsher'", "'publisher'"])


def test_number_on_a_text_variable(tmp_path):
    body = '      <text variable="title"/>\n      <number variable="title"/>'
    _warns(tmp_path, body, "style-invalid", "<number", ["cs:number", "text variable 'title'"])


def test_empty_group(tmp_path):
    body = '      <text variable="title"/>\n      <group delimiter=", "/>'
    _warns(tmp_path, body, "style-invalid", "<group", ["cs:group is empty", "cs:text"])


def test_unknown_default_locale_falls_back_to_en_us(tmp_path):
    _warns(tmp_path, GOOD_BODY, "unknown-locale", "<style", ["'xx-YY'", "en-US"], root=' default-locale="xx-YY"')


# --- render-time failures caused by the style -------------------------------------------------------------

def test_a_crash_on_every_item_is_the_styles_fault(tmp_path):
    # citeproc-py raises UnboundLocalError for a year with a month's form, whatever the item
    body = ('      <text variable="title"/>\n      <date variable="issued">\n'
            '        <date-part name="year" form="numeric-leading-zeros"/>\n      </date>')
    path, text = write_style(tmp_path, body=body)
    result = render(tmp_path, path)
    lines = diagnostics(result)
    at = line_of(text, "<date-part")
    assert lines[0].startswith(f"{path}:{at}: warning[style-invalid]: ") and "'numeric-leading-zeros'" in lines[0]
    assert lines[1].startswith(f"{path}:{at}: error[style-render-failed]: "), result.stderr
    assert len(lines) == 2 and result.exit_code == 1
    assert "refs.bib" not in result.stderr  # never blamed on the data


def test_a_crash_at_an_invalid_element_is_the_styles_fault(tmp_path):
    # cs:names without its variable: citeproc-py raises AttributeError (for the first item only)
    path, text = write_style(tmp_path, body='      <text variable="title"/>\n      <names/>')
    result = render(tmp_path, path)
    lines = diagnostics(result)
    at = line_of(text, "<names/>")
    assert lines[0].startswith(f"{path}:{at}: warning[style-invalid]: cs:names lacks"), result.stderr
    assert lines[1].startswith(f"{path}:{at}: error[style-render-failed]: "), result.stderr
    assert len(lines) == 2 and result.exit_code == 1 and "refs.bib" not in result.stderr


@pytest.mark.parametrize("name", ["apa", "ieee", "reading-list"])
def test_official_and_house_styles_have_no_findings(tmp_path, name):
    path = bibliography.resolve_style(name)
    copy = tmp_path / f"{name}.csl"
    copy.write_bytes(path.read_bytes())  # as a user's file, so it is validated
    assert bibliography.load_style(copy).findings == ()
    result = render(tmp_path, str(copy))
    assert result.exit_code == 0 and diagnostics(result) == [], result.stderr

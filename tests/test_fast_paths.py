"""The hand-written fast paths of issue 5 against the plain code they replace: each must give
exactly what the slow one gives (the outputs are audited byte for byte), and must be the path
taken on the inputs it is meant for (the general one is replaced by a tripwire there). The
expectations come from json.dumps / json.loads / json.dump, never from the code under test.
No timing here."""
import io
import json
import re
from unittest import mock

from hypothesis import given, settings, strategies as st

from evaluator import canonical
from engine.facts import FactEncoder
from evaluator.db import Firing
from importers import guard
from reports import json_files
from rules.context import SharedOutcomes


def _declined(*args):
    raise AssertionError("the hand-written path declined")


def _canonical(obj) -> str:
    """Canonical JSON by its definition (SPEC §6): sorted keys, UTF-8, no spaces."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# ----------------------------------------------------------------------------- values

texts = st.text(alphabet=st.sampled_from(list('aZ9 "\\/\n\t\x01中\u2028=:,[]{}e.-')), max_size=12)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=True, allow_infinity=True), texts)
keys = st.one_of(texts, texts, st.none(), st.booleans(), st.integers(-2**70, 2**70),
                 st.floats(allow_nan=True, allow_infinity=True))
trees = st.recursive(scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.lists(kids, max_size=3).map(tuple),
    st.dictionaries(keys, kids, max_size=4),
    st.lists(st.dictionaries(texts, scalars, max_size=3), min_size=1, max_size=3)),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(trees)
def test_dump_is_json_dump_indent_1(obj):
    want = io.StringIO()
    json.dump(obj, want, ensure_ascii=False, indent=1)
    with mock.patch.object(canonical, "_other_json", _declined):
        got = io.StringIO()
        canonical.IndentedJSON(chunk=3).dump(obj, got)
        assert got.getvalue() == want.getvalue()
        got = io.StringIO()
        json_files.dump(obj, got)
        assert got.getvalue() == want.getvalue()


@settings(max_examples=200, deadline=None)
@given(st.lists(trees, max_size=5), st.integers(min_value=0, max_value=3))
def test_a_list_dumped_a_chunk_at_a_time_at_any_depth_is_json_dump(items, depth):
    """IndentedJSON.dump_items(…, level=n): the list as it appears n levels deep (scores.json's
    employees, written one at a time inside its object: reports.json_files._dump_scores)."""
    doc = items
    for _ in range(depth):
        doc = {"k": doc}
    want = io.StringIO()
    json.dump(doc, want, ensure_ascii=False, indent=1)
    with mock.patch.object(canonical, "_other_json", _declined):
        got = io.StringIO()
        got.write("".join('{\n' + " " * (i + 1) + '"k": ' for i in range(depth)))
        canonical.IndentedJSON(chunk=3).dump_items(iter(items), got, level=depth)
        got.write("".join("\n" + " " * i + "}" for i in reversed(range(depth))))
        assert got.getvalue() == want.getvalue()


def test_dump_of_other_values_is_json_dump():
    """What the encoder does not write itself (int and str subclasses, a Decimal) is json's own
    writing, refusals included."""
    import enum
    from decimal import Decimal

    class Level(enum.IntEnum):
        HIGH = 3

    class Name(str):
        pass

    for obj in ([Level.HIGH, {"k": Level.HIGH}], {"n": Name("中\n")}, Name("x"), Level.HIGH):
        want = io.StringIO()
        json.dump(obj, want, ensure_ascii=False, indent=1)
        got = io.StringIO()
        json_files.dump(obj, got)
        assert got.getvalue() == want.getvalue()
    for obj in ({"d": Decimal("1.5")}, {(1, 2): 3}):
        try:
            json.dump(obj, io.StringIO(), ensure_ascii=False, indent=1)
        except TypeError:
            pass
        else:
            raise AssertionError(f"json.dump accepted {obj!r}")
        try:
            json_files.dump(obj, io.StringIO())
        except TypeError:
            continue
        raise AssertionError(f"dump accepted {obj!r}")


sheets = st.sampled_from(["InternalRatings", "Behaviours", "Departments", "中文", 'a"b', "X Y"])
sources = st.lists(st.tuples(sheets, st.integers(0, 10**7)), max_size=4)
notes = st.builds(lambda k, v: {"outcomes": [{k: v}]}, st.sampled_from(["note", "exception"]), texts)
outcomes = st.one_of(
    st.just({}), notes,
    st.dictionaries(st.sampled_from(["outcomes", "adjustments", "exceptions"]),
                    st.lists(st.one_of(texts, st.dictionaries(texts, texts, max_size=2)),
                             max_size=2), max_size=3))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 10**9), texts, sources, outcomes), max_size=5))
def test_write_trace_is_dump_of_build(items):
    firings = [{"seq": s, "rule": r, "sources": src, "outcome": o} for s, r, src, o in items]
    stored = {"adjustments": [], "exceptions": [], "firings": firings}
    want = io.StringIO()
    json.dump(json_files.build("2026-11", {"Departments": [], "Employees": []}, stored)
              ["trace.json"], want, ensure_ascii=False, indent=1)
    got = io.StringIO()
    with mock.patch.object(json_files, "_sources", _declined):    # the sources written by hand
        json_files.write_trace(firings, got, chunk=2)
    assert got.getvalue() == want.getvalue()


def _common(outcome) -> bool:
    """{} or one note or flag: {"outcomes": [{name: text}]}."""
    if outcome == {}:
        return True
    items = outcome.get("outcomes") if list(outcome) == ["outcomes"] else None
    return (type(items) is list and len(items) == 1 and type(items[0]) is dict
            and len(items[0]) == 1 and all(type(x) is str for x in (*items[0], *items[0].values())))


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10**9), st.integers(1, 10**6), texts, st.one_of(st.none(), texts),
       sources, outcomes)
def test_stored_firing_texts_are_canonical(run_id, seq, rule, subject, srcs, outcome):
    codec = canonical.OutcomeCodec()
    with mock.patch.object(canonical, "canonical_json", _declined):
        sources_text = canonical.sources_json(srcs)
        if _common(outcome):
            outcome_text = codec.text(outcome)
    if not _common(outcome):
        outcome_text = codec.text(outcome)
    assert sources_text == _canonical([list(s) for s in srcs])
    assert outcome_text == _canonical(outcome)
    assert codec.text(outcome) == outcome_text                  # again, from the codec's cache
    row = {"id": 7, "run_id": run_id, "seq": seq, "rule": rule, "subject_id": subject,
           "sources": sources_text, "outcome": outcome_text}
    with mock.patch.object(canonical, "canonical_json", _declined):
        content = canonical.firing_content(row)
    assert content == _canonical(Firing(**row).chain_content())

    letters_only = all(s.isascii() and s.isalpha() for s, _ in srcs)
    with mock.patch.object(canonical, "_parse_sources_json",
                           _declined if letters_only else canonical._parse_sources_json):
        assert canonical.parse_sources(sources_text) == [tuple(s) for s in json.loads(sources_text)]
    value = codec.value(outcome_text)
    assert value == json.loads(outcome_text)
    if _common(outcome):                   # parsed once per codec, the same dict each time
        assert codec.value(outcome_text) is value
        assert canonical.OutcomeCodec().value(outcome_text) is not value


# Texts near what sources_json writes (a tampered database holds anything): parse_sources
# reads each as json.loads does, or refuses it as json.loads does.
near_sources = st.one_of(
    st.from_regex(r'\[(\["[A-Za-z"\\ ]{0,4}", ?-?0?[0-9]{0,3}(\.0)?\],?){0,3}\] ?', fullmatch=True),
    st.sampled_from(['[["Behaviours",01]]', '[["Behaviours",1],["Employees",007]]',
                     '[["Behaviours",0]]', '[["Behaviours",1],]', '[["B",1]]]', '[]',
                     '[["Behaviours",1] ]', '[["Beh\\u0061viours",1]]', '[["Behaviours",1e2]]',
                     '[["Behaviours",٣]]', '[["Behaviours",1],["Employees",2]]']))


@settings(max_examples=300, deadline=None)
@given(near_sources)
def test_parse_sources_reads_as_json_loads(text):
    try:
        want = [tuple(s) for s in json.loads(text)]
    except (ValueError, TypeError) as e:
        try:
            canonical.parse_sources(text)
        except type(e):
            return
        raise AssertionError(f"parse_sources accepted {text!r}")
    assert canonical.parse_sources(text) == want


def test_parsed_sheet_names_are_one_object_each():
    """A run's sources cite the same few sheets hundreds of thousands of times: each parsing
    path gives the name it read as one shared object, not a new string per source."""
    texts = ['[["InternalRatings",17]]',                              # one source
             '[["InternalRatings",18],["Employees",3]]',               # several
             '[["InternalRatings", 19]]',                               # json.loads's path
             '[["Employees",4],["InternalRatings",20]]']
    parsed = [canonical.parse_sources(t) for t in texts]
    assert parsed == [[("InternalRatings", 17)], [("InternalRatings", 18), ("Employees", 3)],
                      [("InternalRatings", 19)], [("Employees", 4), ("InternalRatings", 20)]]
    ratings = {id(src[0]) for p in parsed for src in p if src[0] == "InternalRatings"}
    employees = {id(src[0]) for p in parsed for src in p if src[0] == "Employees"}
    assert len(ratings) == 1 and len(employees) == 1


def test_shared_outcomes_belong_to_one_evaluation():
    """An evaluation's common outcomes are one object per distinct outcome within it, and
    another evaluation's are other objects."""
    mine, other = SharedOutcomes(), SharedOutcomes()
    note = ({"note": "counted"},)
    first = mine.shared(note)
    assert first == {"outcomes": [{"note": "counted"}]}
    assert mine.shared(({"note": "counted"},)) is first
    assert other.shared(note) is not first and other.shared(note) == first
    assert mine.shared(()) == {} and mine.shared(()) is not other.shared(())
    assert mine.shared(({"note": "a"}, {"note": "b"})) is None
    assert mine.shared(({"points": "2", "explanation": "x"},)) is None


fact_values = st.one_of(st.booleans(), st.integers(-2**53, 2**53), texts,
                        st.floats(allow_nan=False, allow_infinity=False),
                        st.sampled_from([1e-05, 1e16, 1.5e-7, 2e300, 5e-324, -0.0]))


def engine_json(fact: dict, mid: str, sid: str) -> str:
    """The oracle: json.dumps of each value, with the engine's float rule applied (an exponent
    needs a decimal point: 1e-05 is written 1.0e-05), and the engine identity last."""
    def value(v):
        text = json.dumps(v, ensure_ascii=False)
        if type(v) is float and 'e' in text and '.' not in text:
            mantissa, exponent = text.split('e')
            text = f'{mantissa}.0e{exponent}'
        return text
    fields = [f'{json.dumps(k, ensure_ascii=False)}:{value(v)}' for k, v in fact.items()]
    return '{' + ','.join(fields + [f'"id":"{mid}","sid":"{sid}"']) + '}'


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["t", "a", "score", "x_y", "中", 'q"\\']), fact_values,
                       max_size=5))
def test_engine_encoding_is_json_with_the_float_rule(fact):
    encode = FactEncoder()
    assert encode(fact, "f1a", "s0") == engine_json(fact, "f1a", "s0")
    assert encode(fact, "f1b", "s0") == engine_json(fact, "f1b", "s0")    # names cached
    assert json.loads(encode(fact, "f1", "s0")) == {**fact, "id": "f1", "sid": "s0"}


def test_engine_encoding_of_the_float_quirk_cases():
    encode = FactEncoder()
    assert encode({"a": 1e-05, "b": -1e-05, "c": 1e16, "d": 5e-324, "e": 2e300}, "f1", "s0") == \
        '{"a":1.0e-05,"b":-1.0e-05,"c":1.0e+16,"d":5.0e-324,"e":2.0e+300,"id":"f1","sid":"s0"}'
    assert encode({"a": 1.5e-07, "b": 0.0001, "c": -0.0, "d": 1e15, "e": 3}, "f2", "s0") == \
        '{"a":1.5e-07,"b":0.0001,"c":-0.0,"d":1000000000000000.0,"e":3,"id":"f2","sid":"s0"}'
    assert encode({"t": 'x"\\\n\x01中\u2028', "ok": True, "no": False}, "f3", "s0") == \
        '{"t":"x\\"\\\\\\n\\u0001中\u2028","ok":true,"no":false,"id":"f3","sid":"s0"}'
    assert encode({}, "f4", "s0") == '{"id":"f4","sid":"s0"}'


def _bound_refs_each(x, max_row, max_col, skip_empty):
    """importers.guard._bound_refs as it was: one Python step per big reference."""
    empty = {m.start() for m in guard._BIG_EMPTY.finditer(x)} if skip_empty else ()
    for m in guard._BIG_REF.finditer(x):
        if m.start() in empty:
            continue
        ref = re.fullmatch(rb"([A-Za-z]*)([0-9]*)", m.group(1))
        if not ref or not ref.group(1) or not ref.group(2):
            return None
        max_col = max(max_col, guard._col_number(ref.group(1)))
        max_row = max(max_row, int(ref.group(2)))
    return max_row, max_col


cells = st.lists(st.tuples(st.sampled_from(["A", "B", "F", "Z", "a", "f", "AB", "XFD", ""]),
                           st.one_of(st.just(""), st.sampled_from(
                               ["1", "99999", "100000", "123456", "999999", "1000000"]),
                               st.integers(1, 2_000_000).map(str)),
                           st.sampled_from(['"/>', '" s="3"/>', '"><v>1</v></c>'])), max_size=8)


@settings(max_examples=250, deadline=None)
@given(cells)
def test_sheet_bounds_unchanged(cs):
    x = ("<row>" + "".join(f'<c r="{a}{b}{c}' for a, b, c in cs) + "</row>").encode()
    for skip in (False, True):
        assert guard._bound_refs(x, 99_999, 26, skip) == _bound_refs_each(x, 99_999, 26, skip)
    if not any(len(a) > 1 for a, _, _ in cs):
        want = next((26 - i for i, ch in enumerate(b"ZYXWVUTSRQPONMLKJIHGFEDCBA")
                     if b'<c r="' + bytes([ch]) in x or b'<c r="' + bytes([ch + 32]) in x), 1)
        assert guard._last_letter_col(x) == want

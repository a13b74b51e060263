"""Facts on their way into durable_rules: checked (what the engine would mishandle silently is
refused, loudly), converted (Decimal to float, deliberately), and written as the JSON text the
engine parses.

A fact is a flat dict of str / bool / int (|n| <= 2**53) / finite float / Decimal. The engine
never matches None or a missing field, compares '10' <= 2 as text and True as 1 (docs/engine.md
§e), and takes `id` and `sid` for its own identity fields (§4): such facts are refused here, and
a field the book's rules compare with a constant must hold that constant's type. This runs on
every fed row, so the common case (a fact shaped like earlier ones) takes the fewest steps.
"""
from __future__ import annotations

import json
import math
from collections import abc as _abc
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Hashable, Mapping

from engine.errors import FactError

MAX_FIELDS = 250               # 255 properties per message in the engine, minus id, sid, margin
MAX_EXACT_INT = 2 ** 53        # the engine compares numbers as doubles
RESERVED_FIELDS = frozenset(('id', 'sid'))

_TYPES_OF = MappingProxyType({'bool': frozenset((bool,)), 'number': frozenset((int, float)),
                              'str': frozenset((str,))})
_PLAIN = frozenset((str, bool, int, float))    # value types a fact holds as they are
_MISSING = object()


def check_field_name(name: Any, key: Hashable) -> None:
    if type(name) is not str or not name or name[0] == '$' or '.' in name:
        raise FactError(f'fact {key!r}: bad field name {name!r}')
    if name in RESERVED_FIELDS:
        raise FactError(f'fact {key!r}: field {name!r} is reserved by the engine (message '
                        'identity and state, docs/engine.md §4); rename it, e.g. emp_id, row_no')


class FactChecker:
    """Validates and copies facts for one book. `types` maps the fields the book's rules compare
    with constants to 'bool' / 'number' / 'str'."""

    __slots__ = ('checks', 'known_shapes', 'passed', 'plans')

    def __init__(self, types: Mapping[str, str]):
        self.checks = tuple((f, want, _TYPES_OF[want]) for f, want in sorted(types.items()))
        self.known_shapes: set[tuple] = set()     # field-name tuples already checked
        self.passed: set[tuple] = set()           # (field names, value types) that passed checks
        # (field names, value types) of plain facts (Decimals allowed) that passed every
        # check -> the positions of their int and float values and the names of their Decimals:
        # the only checks and conversions left for the next fact of that signature
        self.plans: dict[tuple, tuple[tuple[int, ...], tuple[int, ...], tuple[str, ...]]] = {}

    def __call__(self, fact: Any, key: Hashable) -> dict:
        if type(fact) is not dict and not isinstance(fact, _abc.Mapping):
            raise FactError(f'fact {key!r}: expected a dict, got {type(fact).__name__}')
        out = dict(fact)
        plan = self.plans.get((tuple(out), tuple(map(type, out.values()))))
        if plan is not None:                      # the common case: a fact like the last ones
            ints, floats, decimals = plan
            if ints or floats:
                values = tuple(out.values())
                for i in ints:
                    if not -MAX_EXACT_INT <= values[i] <= MAX_EXACT_INT:
                        return self._checked(out, key)      # raises with the full message
                for i in floats:
                    if not math.isfinite(values[i]):
                        return self._checked(out, key)
            for name in decimals:                 # deliberate: the engine compares doubles
                f = float(out[name])
                if not math.isfinite(f):
                    return self._checked(out, key)
                out[name] = f
            return out
        return self._checked(out, key)

    def _checked(self, out: dict, key: Hashable) -> dict:
        """Every check, field by field; remembers a plan for plain facts that pass."""
        shape = tuple(out)
        given = tuple(map(type, out.values()))    # before Decimals become floats
        plain = all(t in _PLAIN or t is Decimal for t in given)
        if shape not in self.known_shapes:
            if len(out) > MAX_FIELDS:
                raise FactError(f'fact {key!r}: {len(out)} fields; the engine takes at most '
                                f'{MAX_FIELDS}')
            for name in shape:
                check_field_name(name, key)
            if len(self.known_shapes) < 10_000:
                self.known_shapes.add(shape)
        for name, v in out.items():
            t = type(v)
            if t is str or t is bool:
                continue
            if t is int:
                if not -MAX_EXACT_INT <= v <= MAX_EXACT_INT:
                    raise FactError(f'fact {key!r}: {name}={v} is beyond 2**53')
            elif t is float:
                if not math.isfinite(v):
                    raise FactError(f'fact {key!r}: {name}={v!r} is not finite (the engine '
                                    'refuses inf, and NaN matches nothing, docs/engine.md §e)')
            else:
                out[name] = _convert(name, v, key)      # same key: allowed while iterating
        types = tuple(map(type, out.values()))
        signature = (shape, types)
        if signature not in self.passed:
            for name, want, allowed in self.checks:
                v = out.get(name, _MISSING)
                if v is not _MISSING and type(v) not in allowed:
                    raise FactError(f'fact {key!r}: {name}={v!r} must be {want}: the rules '
                                    f'compare it with a {want}, and the engine would compare '
                                    'mixed types silently (docs/engine.md §e)')
            if len(self.passed) < 10_000:
                self.passed.add(signature)
        if plain and len(self.plans) < 10_000:
            self.plans[(shape, given)] = (
                tuple(i for i, t in enumerate(given) if t is int),
                tuple(i for i, t in enumerate(given) if t is float),
                tuple(name for name, t in zip(shape, given) if t is Decimal))
        return out


def _convert(name: str, v: Any, key: Hashable) -> Any:
    """The uncommon value types: refused, or converted to a plain type deliberately."""
    if v is None:
        raise FactError(f'fact {key!r}: {name} is None; the engine never matches None or a '
                        'missing field (docs/engine.md §e): pass an explicit boolean, number or '
                        'text')
    if isinstance(v, Decimal):
        f = float(v)               # deliberate: the engine parses every number as a double
        if not math.isfinite(f):
            raise FactError(f'fact {key!r}: {name}={v} is not finite as a float')
        return f
    if isinstance(v, int):         # subclasses of the plain types (IntEnum, StrEnum...)
        if not -MAX_EXACT_INT <= v <= MAX_EXACT_INT:
            raise FactError(f'fact {key!r}: {name}={v} is beyond 2**53')
        return int(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise FactError(f'fact {key!r}: {name}={v!r} is not finite')
        return float(v)
    if isinstance(v, str):
        return str(v)
    raise FactError(f'fact {key!r}: {name} has type {type(v).__name__}; facts hold str, bool, '
                    'int, float or Decimal only (dates as ISO text)')


# ---------------------------------------------------------------------------------------------
# Encoding. Written by hand for flat facts: it is the per-fact cost of the layer's own Python
# (json.dumps builds an encoder per call, which costs more than encoding a small fact), and the
# engine's parser needs one thing json.dumps does not do (engine_float).

_quote = json.JSONEncoder(ensure_ascii=False).encode     # a str -> its JSON string literal
_float_repr = float.__repr__
_int_repr = int.__repr__


def engine_float(v: float) -> str:
    """JSON text of a finite float that the engine's parser accepts. It refuses an exponent
    without a decimal point (`1e-05`, `1e+16`: error 204, measured in tests/test_engine.py) but
    reads `1.0e-05`; Python writes the short form for any float with one significant digit."""
    text = _float_repr(v)
    if 'e' in text and '.' not in text:
        mantissa, _, exponent = text.partition('e')
        text = f'{mantissa}.0e{exponent}'
    return text


class FactEncoder:
    """Writes checked facts (FactChecker) as the engine's JSON; one per book of an evaluation,
    which keeps the JSON text of the field names it has met."""

    __slots__ = ('names',)

    def __init__(self) -> None:
        self.names: dict[str, str] = {}           # field name -> '"name":'

    def __call__(self, fact: dict, mid: str, sid: str) -> str:
        """`fact` as JSON with its engine identity `"id":mid,"sid":sid` as the last two fields:
        the run loop reads them off the end of the engine's echo of the fact. `mid` and `sid`
        are the layer's own ASCII ids (engine.ids)."""
        names = self.names
        parts = []
        add = parts.append
        for name, v in fact.items():
            quoted = names.get(name)
            if quoted is None:
                quoted = _quote(name) + ':'
                if len(names) < 10_000:           # field names: a small, fixed set in practice
                    names[name] = quoted
            t = type(v)
            if t is str:
                add(quoted + _quote(v))
            elif t is bool:
                add(quoted + ('true' if v else 'false'))
            elif t is int:
                add(quoted + _int_repr(v))
            elif t is float:
                text = _float_repr(v)
                if 'e' in text and '.' not in text:
                    text = engine_float(v)
                add(quoted + text)
            else:
                raise TypeError(f'{name}: {type(v).__name__} in a fact that was not checked')
        add(f'"id":"{mid}","sid":"{sid}"')
        return '{' + ','.join(parts) + '}'

"""The errors of the engine layer. They signal bugs in rules, fact builders or this layer; problems
in the user's ledger are outcomes of rules (exception records, SPEC §5), never exceptions."""
from __future__ import annotations

from types import MappingProxyType
from typing import Sequence


class EngineError(RuntimeError):
    """Base class of every error of this layer."""


class RuleDefinitionError(EngineError, ValueError):
    """A rule or rule book was refused when it was declared."""


class FactError(EngineError, ValueError):
    """A fact was refused before it reached the engine (reserved field, None, inf, wrong type)."""


class FactNotHandled(EngineError):
    """MessageNotHandled: the fact met no condition of its book (docs/engine.md §8)."""


class FactObserved(EngineError):
    """MessageObserved: the engine took a fact for one it already holds (docs/engine.md §3, §4).
    The layer gives every message a hash-unique id, so this means the layer is wrong."""


class RuleActionError(EngineError):
    """An action raised, ran longer than the action budget, or returned something other than a
    list of outcomes. The evaluation is unusable afterwards."""


class ReconciliationError(EngineError):
    """`Evaluation.reconcile` found pending work or unmatched counts; `.problems` lists them."""

    def __init__(self, problems: Sequence[str]):
        super().__init__('reconciliation failed:\n  ' + '\n  '.join(problems))
        self.problems = list(problems)


class EvaluationUnusable(EngineError):
    """A call on an evaluation that failed earlier: its results cannot be trusted."""


# A feed_many worker's error comes back by class name (engine.isolation.ChildError) and is
# raised again as the same class.
ERRORS_BY_NAME = MappingProxyType({cls.__name__: cls for cls in (
    EngineError, RuleDefinitionError, FactError, FactNotHandled, FactObserved, RuleActionError,
    ReconciliationError, EvaluationUnusable)})

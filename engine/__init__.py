"""The safe durable_rules layer: every rule of xietong runs through this package, and nothing
else touches the engine (see engine/evaluation.py)."""
from engine.evaluation import *  # noqa: F401,F403
from engine.evaluation import __all__, MIN_PARALLEL_ROWS  # noqa: F401

"""Business rules: filters, boosts and buries, pins, schedules, caps, margin-aware ordering.

Expressions (:mod:`.expressions`) are parsed and type-checked when a placement is loaded and
compiled to vectorised numpy over the request's candidates (:class:`.env.RuleEnv`);
:class:`.engine.RuleSet` applies a placement's rules and records what moved for explanations.
"""

from tastemaker.rules.boosts import Boost
from tastemaker.rules.caps import Cap
from tastemaker.rules.engine import RuleSet, RuleTrace
from tastemaker.rules.env import RuleEnv
from tastemaker.rules.expressions import Expression, ExpressionError, compile_expression
from tastemaker.rules.filters import (AgeRange, BrandFilter, CategoryFilter, ExpressionFilter, Filter, InStock,
                                      NotPurchased, PriceRange)
from tastemaker.rules.margin import MarginBlend
from tastemaker.rules.pins import Pin
from tastemaker.rules.schedule import Schedule

__all__ = ["AgeRange", "Boost", "BrandFilter", "Cap", "CategoryFilter", "Expression", "ExpressionError",
           "ExpressionFilter", "Filter", "InStock", "MarginBlend", "NotPurchased", "Pin", "PriceRange", "RuleEnv",
           "RuleSet", "RuleTrace", "Schedule", "compile_expression"]

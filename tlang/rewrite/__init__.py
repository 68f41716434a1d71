"""Verified rewriting: the rules of the formal einsum language as data, and their uses.

- ``rules``: each equivalence rule as a datum (name, pattern, preconditions, paper section,
  semirings), ``RULES``;
- ``engine``: applying rules at sites and recording each application (``Log``);
  strategies ``denest_all`` and ``normal_form``;
- ``canonical``: canonical forms up to renaming and operand order;
- ``bridge``: IR expressions <-> formal terms;
- ``compiler``: the compiler's rewrite pass over a ``ProgramIR`` and ``--verify``.
"""

from .rules import NONLINEAR_BARRIERS, RULES, Precondition, Rule, RuleError

__all__ = ["RULES", "Rule", "Precondition", "RuleError", "NONLINEAR_BARRIERS"]

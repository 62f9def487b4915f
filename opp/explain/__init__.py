"""``opp explain``: the decision pipeline for one call, step by step, without sending traffic."""

from opp.explain.model import CallSpec, ExplainError, Explanation, RuleLine, Step, Subject
from opp.explain.pipeline import Explainer
from opp.explain.render import render_json, render_text

__all__ = [
    "CallSpec",
    "ExplainError",
    "Explainer",
    "Explanation",
    "RuleLine",
    "Step",
    "Subject",
    "render_json",
    "render_text",
]

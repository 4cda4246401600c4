"""What an admin's edit of a notice template may contain: text, the event's variables and their
attributes, if / elif / else, comparisons and tests, `~`, `+` and `-`, and a few filters — nothing
that loops, calls, assigns, imports, includes, extends, multiplies or formats.

The sandbox already keeps Python's insides out of reach (`''.__class__` is refused as it renders);
these rules keep an edit from spending the machine: without loops, calls and `*` / `**` / `%`,
rendering takes time and memory in proportion to the text and its variables, so a template cannot
hang or exhaust the API that previews it or the worker that sends it. Every shipped template keeps
to them (a test checks)."""

from __future__ import annotations

from jinja2 import nodes

# Filters that give back at most about what they are given (truncate: its length and end).
ALLOWED_FILTERS = frozenset(
    {
        "yuan",
        "shanghai",
        "truncate",
        "default",
        "d",
        "upper",
        "lower",
        "title",
        "capitalize",
        "trim",
        "length",
        "string",
        "int",
        "round",
        "abs",
    }
)
_ALLOWED_NODES = (
    nodes.Template,
    nodes.Block,
    nodes.Output,
    nodes.TemplateData,
    nodes.If,
    nodes.Name,
    nodes.Const,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Slice,
    nodes.Filter,
    nodes.Test,
    nodes.Keyword,
    nodes.Compare,
    nodes.Operand,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.CondExpr,
    nodes.Concat,
    nodes.Add,
    nodes.Sub,
    nodes.Neg,
    nodes.Pos,
    nodes.Tuple,
    nodes.List,
)
# How the refused constructs read to the admin who wrote them.
_DESCRIBED: dict[type[nodes.Node], str] = {
    nodes.For: "{% for %}",
    nodes.Macro: "{% macro %}",
    nodes.CallBlock: "{% call %}",
    nodes.FilterBlock: "{% filter %}",
    nodes.With: "{% with %}",
    nodes.Assign: "{% set %}",
    nodes.AssignBlock: "{% set %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from … import %}",
    nodes.Include: "{% include %}",
    nodes.Extends: "{% extends %}",
    nodes.Call: "calling a function or method",
    nodes.Mul: "the operator *",
    nodes.Pow: "the operator **",
    nodes.Mod: "the operator %",
    nodes.Div: "the operator /",
    nodes.FloorDiv: "the operator //",
    nodes.Dict: "a {…} literal",
}


def refusal(template: nodes.Template, variables: frozenset[str]) -> str | None:
    """Why this parsed template breaks the rules, or None. It reads the parse tree only: compiling
    (which folds constants such as 'x' * 10**9) must wait until this has said yes."""
    unknown: set[str] = set()
    for node in template.find_all(nodes.Node):
        line = f"line {getattr(node, 'lineno', '?')}: "
        if not isinstance(node, _ALLOWED_NODES):
            what = _DESCRIBED.get(type(node), type(node).__name__)
            return f"{line}{what} is not allowed in a notice template ({_ALLOWED})"
        if isinstance(node, nodes.Name) and node.name not in variables:
            unknown.add(node.name)
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            return f"{line}the attribute {node.attr} is not allowed"
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            if str(node.arg.value).startswith("_"):
                return f"{line}the item {node.arg.value} is not allowed"
        if isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
            return (
                f"{line}the filter {node.name} is not allowed (filters: {', '.join(sorted(ALLOWED_FILTERS))})"
            )
    if unknown:
        known = ", ".join(sorted(variables))
        return f"unknown variables: {', '.join(sorted(unknown))} (this notice has: {known})"
    return None


_ALLOWED = "text, variables, {% if %}, comparisons, ~ + - and filters only"

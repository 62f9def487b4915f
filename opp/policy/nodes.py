"""Small helpers over cel-python's lark parse tree (node access, positions, dotted paths)."""

from __future__ import annotations

from typing import TypeAlias

import lark

__all__ = ["PASS_THROUGH", "Node", "Tree", "as_token", "as_tree", "path_text", "position", "unwrap"]

Tree: TypeAlias = "lark.Tree[lark.Token]"
"""A parse-tree node (cel-python's grammar keeps tokens as leaves)."""

Node: TypeAlias = "Tree | lark.Token"
"""A child of a parse-tree node."""

PASS_THROUGH = frozenset(
    {
        "expr",
        "conditionalor",
        "conditionaland",
        "relation",
        "addition",
        "multiplication",
        "unary",
        "member",
        "primary",
    }
)
"""Grammar rules that, with a single child, only wrap that child."""


def as_tree(node: Node) -> Tree:
    """``node`` as a subtree (the grammar guarantees it at the call sites)."""
    assert isinstance(node, lark.Tree)
    return node


def as_token(node: Node) -> lark.Token:
    """``node`` as a token (the grammar guarantees it at the call sites)."""
    assert isinstance(node, lark.Token)
    return node


def unwrap(tree: Tree) -> Tree:
    """The innermost node under single-child wrapper rules (``expr`` → … → ``member_dot``)."""
    while tree.data in PASS_THROUGH and len(tree.children) == 1:
        child = tree.children[0]
        if not isinstance(child, lark.Tree):
            break
        tree = child
    return tree


def position(node: Node) -> tuple[int, int]:
    """1-based (line, col) where ``node`` starts, or (1, 1) when the parser recorded none."""
    if isinstance(node, lark.Token):
        return node.line or 1, node.column or 1
    if node.meta.empty:
        return 1, 1
    return node.meta.line, node.meta.column


def path_text(tree: Tree) -> str | None:
    """The dotted source text of a selection chain (``app.policy``), or None for other expressions."""
    tree = unwrap(tree)
    if tree.data in ("ident", "dot_ident"):
        return str(as_token(tree.children[0]).value)
    if tree.data == "member_dot":
        base = path_text(as_tree(tree.children[0]))
        return f"{base}.{as_token(tree.children[1]).value}" if base else None
    return None

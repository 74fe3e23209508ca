"""The class diagram of the OOP tour, from the registered models' ``__mro__``: mermaid text and a PNG.

Every registered model, its ancestors up to ``nn.Module`` and its mixins, with the capabilities
each class sets and the methods it defines. The PNG is drawn with matplotlib (it needs no
network); the mermaid ``classDiagram`` is drawn by the browser when it is online (and by GitHub).

The mermaid text is committed in ``docs/oop_tour.md``, between ``<!-- class-diagram -->`` and
``<!-- /class-diagram -->``, so the page shows it wherever it is read; ``tests/docs`` fails when it
no longer matches the models. The MkDocs hook ``docs_pages.py`` regenerates that block and puts the
PNG before it.

    python scripts/class_diagram.py           # print the mermaid text
    python scripts/class_diagram.py --write   # rewrite the block in docs/oop_tour.md in place
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from vaegan.models import get_model_class, list_models  # noqa: E402

CAPABILITIES = ("conditional", "soft_labels", "has_encoder", "probabilistic", "monitor")
TOUR = Path(__file__).resolve().parents[1] / "docs" / "oop_tour.md"
BEGIN, END = "<!-- class-diagram -->", "<!-- /class-diagram -->"


def _own_methods(cls: type) -> list[str]:
    names = []
    for name, value in vars(cls).items():
        if name.startswith("__") or name in ("config_class", "objectives"):
            continue
        if inspect.isfunction(value) or isinstance(value, property | classmethod | staticmethod):
            names.append(name)
    return names


def hierarchy() -> tuple[dict[str, type], set[tuple[str, str]]]:
    """vaegan's classes behind every registered model, and the (base, child) inheritance edges."""
    classes: dict[str, type] = {}
    edges: set[tuple[str, str]] = set()
    for name in list_models():
        for klass in get_model_class(name).__mro__:
            if klass.__module__.startswith("vaegan.") and klass is not object:
                classes[klass.__name__] = klass
                edges.update(
                    (b.__name__, klass.__name__) for b in klass.__bases__ if b.__module__.startswith("vaegan.")
                )
    return classes, edges


def class_diagram() -> str:
    """A mermaid classDiagram: every registered model, its ancestors up to nn.Module, and mixins."""
    classes, edges = hierarchy()
    lines = ["```mermaid", "classDiagram"]
    for base, child in sorted(edges):
        lines.append(f"    {base} <|-- {child}")
    for class_name, klass in sorted(classes.items()):
        members = [f"+{cap} = {vars(klass)[cap]!r}" for cap in CAPABILITIES if cap in vars(klass)]
        members += [f"+{method}()" for method in _own_methods(klass)]
        if getattr(klass, "__abstractmethods__", None):
            members.insert(0, "<<abstract>>")
        if members:
            lines.append(f"    class {class_name} {{")
            lines += [f"        {member}" for member in members]
            lines.append("    }")
    lines.append("```")
    own = [n for n in list_models() if get_model_class(n).__module__.startswith("vaegan.")]  # no installed plugin
    registered = ", ".join(f"`{n}` ({get_model_class(n).__name__})" for n in own)
    return "\n".join(lines) + f"\n\nRegistered models: {registered}.\n"


def with_diagram(markdown: str, where: str, lead: str = "") -> str:
    """``markdown`` with the block between ``BEGIN`` and ``END`` replaced by today's diagram (``lead`` before it).

    Raises:
        ValueError: the markers are missing or out of order, naming ``where`` (the file).
    """
    start = markdown.find(BEGIN)
    end = markdown.find(END, start + len(BEGIN)) if start >= 0 else -1
    if start < 0 or end < 0:
        raise ValueError(
            f"{where}: no class-diagram block; put a line {BEGIN} and, below it, a line {END} where the diagram "
            "goes, then run python scripts/class_diagram.py --write"
        )
    return f"{markdown[:start]}{lead}{BEGIN}\n{class_diagram()}{END}{markdown[end + len(END) :]}"


def _layout(classes: dict[str, type], edges: set[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """(x, depth) per class: models as a tree under their model parent, mixins between their children."""
    from vaegan.models import GenerativeModel

    def model_parent(c: str) -> str | None:
        bases = [b for b, child in edges if child == c and issubclass(classes[b], GenerativeModel)]
        return max(bases, key=lambda b: len(classes[b].__mro__), default=None)

    children: dict[str | None, list[str]] = {}
    for c in sorted(classes):
        if issubclass(classes[c], GenerativeModel):
            children.setdefault(model_parent(c), []).append(c)
    place: dict[str, tuple[float, float]] = {}
    next_column = [0.0]

    def visit(c: str, depth: int) -> float:
        kids = children.get(c, [])
        x = sum(visit(k, depth + 1) for k in kids) / len(kids) if kids else next_column[0]
        if not kids:
            next_column[0] += 1.0
        place[c] = (x, depth)
        return x

    for root in children.get(None, []):
        visit(root, 0)
    mixins = [c for c in classes if c not in place]
    if mixins:  # spread the model columns, so a mixin sits in a column of its own between its users
        place = {c: (2 * x, d) for c, (x, d) in place.items()}
    for c in mixins:
        users = [place[child] for b, child in edges if b == c and child in place]
        place[c] = (sum(x for x, _ in users) / len(users), min(d for _, d in users) - 0.5)
    return place


def class_figure() -> bytes:
    """The class diagram as a PNG (matplotlib), drawn without the network a mermaid diagram needs."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes, edges = hierarchy()
    place = _layout(classes, edges)
    columns = max(x for x, _ in place.values()) + 1
    depth = max(d for _, d in place.values()) + 1
    fig, ax = plt.subplots(figsize=(3.2 * columns, 1.9 * depth))
    fig.subplots_adjust(0, 0, 1, 1)
    ax.set_xlim(-0.5, columns - 0.5)
    ax.set_ylim(-depth + 0.3, 0.7)
    ax.axis("off")
    boxes = {}
    for c, (x, d) in place.items():
        own = [f"{cap} = {vars(classes[c])[cap]!r}" for cap in CAPABILITIES if cap in vars(classes[c])]
        methods = [f"{m}()" for m in _own_methods(classes[c])]
        lines = (own + methods)[:7] + (["..."] if len(own + methods) > 7 else [])
        mixin = "" if issubclass(classes[c], nn.Module) else "  (mixin)"
        text = c + mixin + "\n" + "\n".join(lines)
        boxes[c] = ax.text(
            x,
            -d,
            text,
            ha="center",
            va="top",
            fontsize=8,
            family="monospace",
            linespacing=1.3,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": "#e8eaf6", "edgecolor": "#3f51b5"},
        )
    fig.canvas.draw()
    to_data = ax.transData.inverted()
    extent = {c: to_data.transform(box.get_bbox_patch().get_window_extent()) for c, box in boxes.items()}
    for base, child in edges:
        (x0, _), (_, top) = extent[child]  # the child's box: its top edge
        (bx0, bottom), (bx1, _) = extent[base]
        cx = (extent[child][0][0] + extent[child][1][0]) / 2
        ax.annotate(
            "",
            xy=((bx0 + bx1) / 2, bottom),
            xytext=(cx, top),
            arrowprops={"arrowstyle": "-|>", "color": "#3f51b5", "lw": 1.2, "mutation_scale": 16},
        )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=72, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The OOP tour's class diagram, as mermaid text.")
    parser.add_argument("--write", action="store_true", help=f"rewrite the block in {TOUR.name} in place")
    if not parser.parse_args(argv).write:
        print(class_diagram())
        return 0
    before = TOUR.read_text()
    after = with_diagram(before, str(TOUR))
    if after != before:
        TOUR.write_text(after)
    print(f"{TOUR}: the class diagram {'rewritten' if after != before else 'was already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

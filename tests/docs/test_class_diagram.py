"""The class diagram committed in docs/oop_tour.md is the one scripts/class_diagram.py draws from today's models,
so the page shows it wherever it is read (GitHub, an editor), not only in the built site, and it cannot go stale."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import REPO

_spec = importlib.util.spec_from_file_location("class_diagram", REPO / "scripts" / "class_diagram.py")
class_diagram = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(class_diagram)


def test_the_committed_diagram_is_the_one_the_models_draw_now():
    committed = class_diagram.TOUR.read_text()
    assert class_diagram.with_diagram(committed, "docs/oop_tour.md") == committed, (
        "docs/oop_tour.md: the class diagram no longer matches the models; run python scripts/class_diagram.py --write"
    )
    assert "```mermaid\nclassDiagram\n" in committed


def test_write_rewrites_only_the_block_between_the_markers(tmp_path, monkeypatch):
    page = tmp_path / "oop_tour.md"
    begin, end = class_diagram.BEGIN, class_diagram.END
    page.write_text(f"# Tour\n\n{begin}\nan old diagram\n{end}\n\nThe text below.\n")
    monkeypatch.setattr(class_diagram, "TOUR", page)
    assert class_diagram.main(["--write"]) == 0
    written = page.read_text()
    assert written == f"# Tour\n\n{begin}\n{class_diagram.class_diagram()}{end}\n\nThe text below.\n"
    assert class_diagram.main(["--write"]) == 0 and page.read_text() == written


def test_a_page_without_the_block_is_named_with_the_fix():
    with pytest.raises(ValueError, match=r"oop_tour\.md: no class-diagram block.*--write"):
        class_diagram.with_diagram("# Tour\n\n<!-- class-diagram -->\n", "oop_tour.md")

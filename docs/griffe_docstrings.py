"""A Griffe extension for the API reference (mkdocs.yml loads it into mkdocstrings): the package's
docstrings are written for reading in the source, with Sphinx roles (:func:`name`), reStructuredText
double backticks (``code``) and prose "Returns" sections. At build time, and without touching the
source, it turns

- a role into a link to the object's entry in the API reference when that object is documented
  there (resolved from where the docstring is: relative names, imported names, full paths), and
  into plain code otherwise (never a broken reference);
- double backticks into Markdown code;
- a numpy "Returns" section written as prose (lines that are not ``name : type`` items with
  indented descriptions) into a paragraph starting "Returns:", instead of a table that would split
  the sentence into one row per line.

tests/test_docs.py builds the site and checks that no literal role or double backtick is left.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|data|attr|obj|exc|const|ref):`([^`]+)`")
DOUBLE = re.compile(r"(?<!`)``(?!`)([^`]+?)(?<!`)``(?!`)")
RETURNS = re.compile(r"^(?P<indent>[ \t]*)Returns\n(?P=indent)-{3,}\n(?P<body>(?:(?!\n\s*\n).)*)", re.M | re.S)
DOCS = Path(__file__).resolve().parent


def documented_paths() -> list[str]:
    """Every object the site renders with ``::: path`` (the API reference and any other page)."""
    paths: list[str] = []
    for page in DOCS.rglob("*.md"):
        paths += re.findall(r"^::: ([\w.]+)", page.read_text(encoding="utf-8"), flags=re.M)
    return paths


class SphinxRoles(griffe.Extension):
    """Rewrites the docstrings of the loaded package as the module docstring says."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        self.collection = loader.modules_collection
        self.anchors = self._anchors()
        for obj in self._walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = self.rewrite(obj, obj.docstring.value)

    def _walk(self, obj: griffe.Object, seen: set[str] | None = None):
        seen = set() if seen is None else seen
        if obj.path in seen:
            return
        seen.add(obj.path)
        yield obj
        for member in list(obj.members.values()):
            if not member.is_alias:
                yield from self._walk(member, seen)

    def _find(self, path: str) -> Any:
        try:
            return self.collection.get_member(path)
        except Exception:  # not a member of any loaded package
            return None

    def _anchors(self) -> dict[str, str]:
        """canonical path -> the id the site renders it under (documented objects and the public
        members of documented classes)."""
        anchors: dict[str, str] = {}
        for path in documented_paths():
            obj = self._find(path)
            if obj is None:
                continue
            try:
                canonical = obj.final_target.path if obj.is_alias else obj.path
                target = obj.final_target if obj.is_alias else obj
            except Exception:
                continue
            anchors[canonical] = anchors[path] = path
            if target.is_class:
                for name in target.members:
                    if not name.startswith("_"):
                        anchors[f"{canonical}.{name}"] = anchors[f"{path}.{name}"] = f"{path}.{name}"
        return anchors

    def _candidates(self, obj: griffe.Object, name: str) -> list[str]:
        module = obj if obj.is_module else obj.module
        if name.startswith("."):
            bases = [module.path, *(p.path for p in _parents(module))]
            return [base + name for base in bases]
        out = []
        try:
            out.append(obj.resolve(name.split(".")[0]) + name[len(name.split(".")[0]):])
        except Exception:
            pass
        scopes = [obj.path, *(p.path for p in _parents(obj))]
        out += [f"{scope}.{name}" for scope in scopes] + [name]
        return out

    def target(self, obj: griffe.Object, name: str) -> str | None:
        """The site id of ``name`` as written in the docstring of ``obj``, or None."""
        for candidate in self._candidates(obj, name):
            found = self._find(candidate)
            if found is None:
                continue
            try:
                canonical = found.final_target.path if found.is_alias else found.path
            except Exception:
                canonical = found.path
            return self.anchors.get(canonical) or self.anchors.get(found.path)
        return None

    def role(self, obj: griffe.Object, match: re.Match) -> str:
        text = match.group(1).strip()
        explicit = re.fullmatch(r"(.+?)\s*<([^>]+)>", text)
        label, name = (explicit.group(1), explicit.group(2)) if explicit else (text, text)
        short = name.startswith("~")
        name = name.lstrip("~").removesuffix("()")
        if not explicit:
            label = name.rsplit(".", 1)[-1] if short else name.lstrip(".")
        target = self.target(obj, name)
        return f"[`{label}`][{target}]" if target else f"`{label}`"

    def rewrite(self, obj: griffe.Object, text: str) -> str:
        text = ROLE.sub(lambda m: self.role(obj, m), text)
        text = DOUBLE.sub(r"`\1`", text)
        return prose_returns(text)


def _parents(obj: griffe.Object):
    parent = obj.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def prose_returns(text: str) -> str:
    """A numpy Returns section kept as a section when it is one (one item with its description
    indented under it, or named items), moved into the description as a paragraph ("Returns: ...",
    before the first section) when it is prose."""
    match = RETURNS.search(text)
    if match is None:
        return text
    indent, body = match.group("indent"), match.group("body")
    lines = [line for line in body.splitlines() if line.strip()]
    items = [line for line in lines if not line.startswith(indent + " ") and not line.startswith(indent + "\t")]
    if not lines or len(items) == 1 or all(" : " in line for line in items):
        return text
    rest = (text[:match.start()] + text[match.end():]).rstrip() + "\n"
    paragraph = "Returns: " + " ".join(line.strip() for line in lines) + "\n\n"
    header = re.search(r"^[ \t]*\w[\w ]*\n[ \t]*-{3,}\n", rest, flags=re.M)
    if header is None:
        return rest.rstrip() + "\n\n" + paragraph
    return rest[:header.start()] + paragraph + rest[header.start():]

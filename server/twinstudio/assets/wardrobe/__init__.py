"""The default wardrobe: garments fitted to the twin's body, skinned with its weights.

A garment starts as a region of the body surface (:mod:`.regions` scalar fields, cut out
with clean hems by :mod:`.clip`), offset outward and smoothed into a shell that never dips
under the skin (:mod:`.shell`); skirts hang as a flared hull around hips and legs
(:mod:`.skirt`). Every garment vertex carries the body's skin weights at the place it came
from, so garments follow any pose. :mod:`.looks` names the looks and their fabrics, and
:mod:`.build` writes ``wardrobe.usdc``.
"""

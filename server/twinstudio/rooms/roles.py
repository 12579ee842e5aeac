"""Who may do what in a room, as a table.

=========  =====  ====  ======  ====  ============  ==========  ===========
role       edit   lock  unlock  note  take save/    take        take list/
           stage        others        restore       delete      diff
=========  =====  ====  ======  ====  ============  ==========  ===========
owner      yes    yes   yes     yes   yes           yes         yes
editor     yes    yes   no      yes   yes           no          yes
reviewer   no     no    no      yes   no            no          yes
render     no     no    no      no    no            no          yes
=========  =====  ====  ======  ====  ============  ==========  ===========
"""

from __future__ import annotations

from typing import Final

PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "owner": frozenset({"edit", "lock", "break_lock", "note", "take_save", "take_delete", "read"}),
    "editor": frozenset({"edit", "lock", "note", "take_save", "read"}),
    "reviewer": frozenset({"note", "read"}),
    "render": frozenset({"read", "render"}),
}

WHAT: Final[dict[str, str]] = {
    "edit": "edit the stage",
    "lock": "lock prims",
    "break_lock": "break another member's lock",
    "note": "write review notes",
    "take_save": "save or restore takes",
    "take_delete": "delete takes",
    "render": "publish frames",
}


def allowed(role: str, action: str) -> bool:
    return action in PERMISSIONS.get(role, frozenset())

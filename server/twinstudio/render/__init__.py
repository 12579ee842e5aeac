"""The render node: USD stage -> pyrender scene -> frames and final renders."""

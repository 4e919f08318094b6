"""The window's parts; none of them reads files or decodes images."""

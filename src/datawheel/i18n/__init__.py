"""Layer 0: what a team working in Chinese needs everywhere — text encodings of files, values
that are codes rather than numbers, CJK fonts, and the interface's language."""

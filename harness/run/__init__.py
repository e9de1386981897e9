"""``memhp run``: the runner, its checks and verdict, model agreement, compare."""

"""A task for the local pool that kills its worker on one input (kept free of heavy imports so that
each worker the test spawns starts quickly)."""

import os


def die_on_three(x: int) -> int:
    if x == 3:
        os._exit(7)
    return 2 * x

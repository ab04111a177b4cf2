"""A task for the local pool that hangs on one input (kept free of heavy imports so that each worker
the test spawns starts quickly)."""

import time


def hang_on_three(x: int) -> int:
    if x == 3:
        while True:
            time.sleep(1)
    return 2 * x

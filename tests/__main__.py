"""`python -m tests [pytest options]`: the whole suite, as CI runs it.

Two pytest runs with one random-order seed (printed, so a failure of order can be replayed with
LINLI_TEST_SEED=<seed>), each spread over the machine's cores (pytest-xdist, one database per
worker cloned from the migrated template):
1. every test but the browser tests;
2. the browser tests, in worker processes of their own: Playwright's sync driver keeps an event loop
   running in the main thread for the rest of a process, after which pytest-asyncio cannot run
   async tests there.
Options given are passed to both runs; a `-m EXPR` narrows both (CI's second pass: `-m sql`).
Exit status: the first failure's, or 5 when neither run collected a test.
"""

import os
import random
import subprocess
import sys
import time


def marker_expression(args: list[str]) -> tuple[str | None, list[str]]:
    """Take `-m EXPR` out of the options, so each run can add its own part."""
    rest, expression = [], None
    it = iter(args)
    for arg in it:
        if arg == "-m":
            expression = next(it)
        elif arg.startswith("-m") and len(arg) > 2:
            expression = arg[2:]
        else:
            rest.append(arg)
    return expression, rest


def main() -> int:
    started = time.monotonic()
    seed = int(os.environ.get("LINLI_TEST_SEED") or random.randrange(2**31))
    expression, options = marker_expression(sys.argv[1:])
    narrow = f"({expression}) and " if expression else ""
    workers = os.environ.get("LINLI_TEST_WORKERS", "auto")
    # loadfile: a test file runs whole in one worker, so its module fixtures (a seeded world, a live
    # server, the accessibility survey's visits) are built once. Spreading tests one by one built them
    # in both workers, and again each time another file's tests ran in between (the survey's four
    # minutes, twice). `xdist_group` cannot do it under pytest 9.2, whose node ids xdist 3.8 no longer
    # rewrites. conftest puts the `heavy` files first, so the longest never starts last.
    common = [f"--randomly-seed={seed}", "--durations=30", f"-n={workers}", "--dist=loadfile"]
    runs = [("api", ["-m", narrow + "not browser"]), ("browser", ["-m", narrow + "browser"])]
    if expression and expression.strip() == "sql":
        # No browser test is marked sql (conftest refuses one that is): collecting the whole suite in
        # two workers only to select nothing took 22 s of CI's server pass.
        runs = runs[:1]
    print(f"linli tests: random order seed {seed} (replay: LINLI_TEST_SEED={seed} python -m tests)", flush=True)
    statuses = []
    for name, own in runs:
        command = [sys.executable, "-m", "pytest", *common, *own, *options]
        print(f"linli tests: {name} run: {' '.join(command[1:])}", flush=True)
        statuses.append(subprocess.call(command))
    failed = [s for s in statuses if s not in (0, 5)]
    status = failed[0] if failed else (5 if all(s == 5 for s in statuses) else 0)
    print(f"linli tests: seed {seed}, exit statuses {statuses}, {time.monotonic() - started:.0f} s in all", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())

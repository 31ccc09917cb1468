"""Check that the running environment installed from the lock: every installed distribution is pinned
in requirements.lock at the version installed. (Pins that are not installed are only counted: the lock
also covers the `bench` extra, which the test environment does not install.)

A CI step, so that an install path that forgets `-c requirements.lock` (and takes whatever the index
serves that day) is seen at once instead of as a test that fails for a new release of a library.
Usage: python .ci/check_lock.py [requirements.lock]
"""

import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# Installers and the project itself are not pinned by the lock.
NOT_LOCKED = {"pip", "setuptools", "wheel", "linli"}


def pins(lock: Path) -> dict[str, str]:
    """name -> version for every pin of the lock whose environment marker holds here."""
    found = {}
    for line in lock.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        if requirement.marker and not Marker(str(requirement.marker)).evaluate():
            continue
        (specifier,) = requirement.specifier
        found[canonicalize_name(requirement.name)] = specifier.version
    return found


def main() -> int:
    lock = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent.parent / "requirements.lock")
    pinned = pins(lock)
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    problems = []
    for name, version in sorted(installed.items()):
        if name in NOT_LOCKED:
            continue
        if name not in pinned:
            problems.append(f"{name}=={version} is installed but not in {lock.name}")
        elif pinned[name] != version:
            problems.append(f"{name}=={version} is installed, {lock.name} pins {pinned[name]}")
    for problem in problems:
        print(problem)
    absent = sorted(set(pinned) - set(installed))
    print(f"check_lock: {len(installed)} installed, {len(pinned)} pinned here ({len(absent)} not installed: "
          f"{', '.join(absent) or 'none'}), {len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

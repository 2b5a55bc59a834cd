"""requirements.txt pins the whole runtime, and the tests run against exactly those versions."""

from importlib import metadata
from pathlib import Path

import pytest

REQUIREMENTS = Path(__file__).parent.parent / "requirements.txt"


def _pins():
    for line in REQUIREMENTS.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            name, separator, version = requirement.partition("==")
            yield requirement, name.strip(), separator, version.strip()


@pytest.mark.parametrize(("requirement", "name", "separator", "version"), list(_pins()), ids=lambda v: v)
def test_each_runtime_package_is_pinned_and_installed_at_its_pin(requirement, name, separator, version):
    assert separator == "==" and version, f"{requirement!r} is not pinned to one version"
    assert metadata.version(name) == version


def test_nothing_the_runtime_needs_is_left_unpinned():
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pinned = {canonicalize_name(name) for _, name, _, _ in _pins()}
    for _, name, _, _ in _pins():
        for needed in map(Requirement, metadata.requires(name) or []):
            # Only what this interpreter installs without extras (an extra nobody asked for,
            # or a backport for an older Python, is not installed).
            if needed.marker is None or needed.marker.evaluate({"extra": ""}):
                assert canonicalize_name(needed.name) in pinned, f"{name} needs {needed.name}, not pinned"

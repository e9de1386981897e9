"""The kernel catalog over the archive's package names: which builds exist, in which
layout, and which one each name picks (pure: no network, no packages)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from debarchive import SUITES, Package
from harness.errors import BadInputError
from kernels.debian_catalog import LONGTERM, Catalog, Layout, series_key
from kernels.spec import DebianSpec, Pick, parse_spec


def pkg(name: str, version: str, suite: str) -> Package:
    return Package(name, version, suite, f"pool/main/l/linux/{name}_{version}_amd64.deb", "0" * 64, 1)


def pick(catalog: Catalog, text: str) -> str:
    spec = parse_spec(text)
    assert isinstance(spec, DebianSpec)
    return catalog.pick(spec).release


def test_todays_names_keep_their_builds() -> None:
    """debian:6.1 and debian:6.12 resolve as they did from the host's bookworm apt lists:
    a security rebuild beats its predecessor, and of one upstream release built for two
    Debian releases the older Debian release's build wins."""
    catalog = Catalog.from_packages([
        pkg("linux-image-6.1.0-56-amd64-unsigned", "6.1.192-2", "bookworm-security"),
        pkg("linux-image-6.1.0-57-amd64-unsigned", "6.1.192-3", "bookworm-security"),
        pkg("linux-image-6.1.0-50-amd64-unsigned", "6.1.176-1", "bookworm"),
        pkg("linux-image-6.12.118+deb13-amd64-unsigned", "6.12.118-1", "trixie-security"),
        pkg("linux-image-6.12.118+deb12-amd64-unsigned", "6.12.118-1~deb12u1", "bookworm-security"),
        pkg("linux-image-6.12.117+deb12-amd64-unsigned", "6.12.117-1~deb12u1", "bookworm-security"),
    ])
    assert pick(catalog, "debian:6.1") == "6.1.0-57-amd64"
    assert pick(catalog, "debian:6.12") == "6.12.118+deb12-amd64"
    assert pick(catalog, "debian:6.12.118+deb13-amd64") == "6.12.118+deb13-amd64"
    assert pick(catalog, "debian:6.1.176") == "6.1.0-50-amd64"


def test_layouts_and_what_is_no_build() -> None:
    catalog = Catalog.from_packages([
        pkg("linux-image-6.18.5+deb13-amd64", "6.18.5-1~bpo13+1", "trixie-backports"),  # signed only
        pkg("linux-image-7.3.4+deb13-amd64", "7.3.4-1~bpo13+1", "trixie-backports"),  # meta-package
        pkg("linux-binary-7.3.4+deb13-amd64", "7.3.4-1~bpo13+1", "trixie-backports"),
        pkg("linux-binary-unsigned-7.3.4+deb13-amd64", "7.3.4-1~bpo13+1", "trixie-backports"),
        pkg("linux-base-7.3.4+deb13-amd64", "7.3.4-1~bpo13+1", "trixie-backports"),
        pkg("linux-modules-7.3.4+deb13-amd64", "7.3.4-1~bpo13+1", "trixie-backports"),
        pkg("linux-binary-7.1.3+deb13-amd64", "7.1.3-1~bpo13+1", "trixie-backports"),  # base, modules gone
        pkg("linux-image-7.1.3+deb13-amd64", "7.1.3-1~bpo13+1", "trixie-backports"),
        pkg("linux-binary-unsigned-7.3.4+deb13-rt-amd64", "7.3.4-1~bpo13+1", "trixie-backports"),  # flavour
        pkg("linux-image-6.1.0-57-amd64-dbg", "6.1.192-3", "bookworm-security"),
    ])
    assert [(b.release, b.layout, [p.name for p in b.packages]) for b in catalog.builds] == [
        ("6.18.5+deb13-amd64", Layout.IMAGE, ["linux-image-6.18.5+deb13-amd64"]),
        ("7.3.4+deb13-amd64", Layout.SPLIT, ["linux-binary-unsigned-7.3.4+deb13-amd64",
                                             "linux-base-7.3.4+deb13-amd64", "linux-modules-7.3.4+deb13-amd64"]),
    ]
    assert pick(catalog, "debian:lts") == "6.18.5+deb13-amd64"
    assert pick(catalog, "debian:latest") == "7.3.4+deb13-amd64"
    with pytest.raises(BadInputError, match="debian:7.1: not in Debian's archive; it has series 6.18, 7.3 "):
        pick(catalog, "debian:7.1")


SUITE_NAMES = [s.name for s in SUITES]
BUILD = st.tuples(st.sampled_from(["5.10", "6.1", "6.6", "6.12", "6.18", "7.2", "7.3", "7.4"]),
                  st.integers(0, 300), st.integers(1, 3), st.sampled_from(SUITE_NAMES))


@given(st.lists(BUILD, min_size=1, max_size=25))
def test_each_name_picks_the_newest_it_can_mean(builds: list[tuple[str, int, int, str]]) -> None:
    tag = {"bookworm": "+deb12", "trixie": "+deb13", "sid": "+deb14"}
    packages = [pkg(f"linux-image-{series}.{patch}{tag[suite.split('-')[0]]}-amd64-unsigned",
                    f"{series}.{patch}-{rev}", suite)
                for series, patch, rev, suite in builds]
    catalog = Catalog.from_packages(packages)
    have = sorted({s for s, *_ in builds}, key=series_key)
    assert catalog.series() == have
    for series in have:
        newest_patch = max(p for s, p, _, _ in builds if s == series)
        spec = parse_spec(f"debian:{series}")
        assert isinstance(spec, DebianSpec)
        assert catalog.pick(spec).upstream[2] == newest_patch
    assert catalog.resolve_alias(Pick.LATEST) == have[-1]
    lts = [s for s in have if s in LONGTERM]
    assert catalog.resolve_alias(Pick.LTS) == (lts[-1] if lts else None)

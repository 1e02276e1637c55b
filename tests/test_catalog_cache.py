"""The bank's parse cache: same items as the YAML, a changed file misses, a broken cache is ignored;
challenges are read when first used."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.catalog import BUNDLED, Catalog, _items, _load_cached
from agent.catalog.cache import cached_items
from agent.errors import ConfigError


def _bank(tmp_path: Path) -> list[Path]:
    paths = [tmp_path / "a.yaml", tmp_path / "b.yaml"]
    paths[0].write_text("- id: one\n  when: 2026-12-01\n  pairs: {1: 2}\n")
    paths[1].write_text("- id: two\n")
    return paths


def test_the_cache_returns_exactly_what_the_yaml_holds(tmp_path: Path) -> None:
    paths = _bank(tmp_path)
    parsed: list[Path] = []

    def parse(path: Path) -> list:
        parsed.append(path)
        return _items(path)

    first = cached_items(paths, parse, tmp_path / "cache")
    second = cached_items(paths, parse, tmp_path / "cache")
    assert first == second == [_items(p) for p in paths]  # dates and integer keys kept as YAML gives them
    assert parsed == paths  # the second call parsed nothing


def test_a_changed_file_misses_the_cache(tmp_path: Path) -> None:
    paths = _bank(tmp_path)
    cached_items(paths, _items, tmp_path / "cache")
    paths[1].write_text("- id: three\n")
    assert cached_items(paths, _items, tmp_path / "cache")[1] == [{"id": "three"}]


def test_a_broken_cache_file_is_parsed_again(tmp_path: Path) -> None:
    paths = _bank(tmp_path)
    cached_items(paths, _items, tmp_path / "cache")
    for f in (tmp_path / "cache").iterdir():
        f.write_bytes(b"not a pickle")
    assert cached_items(paths, _items, tmp_path / "cache") == [_items(p) for p in paths]


def test_the_bundled_bank_loads_the_same_through_the_cache(tmp_path: Path) -> None:
    plain = Catalog.load()
    _load_cached(BUNDLED.resolve(), tmp_path)  # writes the cache
    _load_cached.cache_clear()
    try:
        cached = _load_cached(BUNDLED.resolve(), tmp_path)
        assert [q.model_dump() for q in cached.questions()] == [q.model_dump() for q in plain.questions()]
        assert cached.challenges == plain.challenges and cached.formats == plain.formats
    finally:
        _load_cached.cache_clear()


def test_challenges_are_read_on_first_use(tmp_path: Path) -> None:
    bank = tmp_path / "bank"
    (bank / "questions").mkdir(parents=True)
    (bank / "challenges").mkdir()
    (bank / "questions" / "q.yaml").write_text((BUNDLED / "questions" / sorted(
        p.name for p in (BUNDLED / "questions").glob("*.yaml"))[0]).read_text())
    (bank / "challenges" / "broken.yaml").write_text("- id: [not, a, challenge]\n")
    catalog = Catalog.load(bank)  # questions and formats are checked now; challenges wait
    assert len(catalog) > 0
    with pytest.raises(ConfigError, match=r"broken\.yaml"):
        _ = catalog.challenges


@pytest.fixture
def shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bundled bank's shared cache in a directory of the test's own, with a clean per-process cache."""
    import agent.catalog as catalog_module

    where = tmp_path / "shared"
    monkeypatch.setattr(catalog_module, "SHARED_CACHE", where)
    _load_cached.cache_clear()
    yield where
    _load_cached.cache_clear()


def _no_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    import agent.catalog as catalog_module

    def refuse(path: Path) -> list:
        raise AssertionError(f"{path} was parsed: the cache was missed")

    monkeypatch.setattr(catalog_module, "_items", refuse)


def test_a_new_home_reads_the_bundled_bank_from_the_shared_cache(shared: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.catalog import compile_bundled

    assert compile_bundled() == shared
    assert len(list(shared.glob("bank-*.pickle"))) == 2  # questions + formats, and challenges
    plain = [q.model_dump() for q in Catalog.load().questions()]
    _load_cached.cache_clear()
    _no_parse(monkeypatch)
    home = tmp_path / "new-home" / "cache"
    catalog = Catalog.load(cache_dir=home)
    assert [q.model_dump() for q in catalog.questions()] == plain and catalog.challenges
    assert not home.exists()  # nothing parsed, nothing written under the new home


def test_the_shared_cache_follows_the_bytecode_policy(shared: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.dont_write_bytecode", True)
    Catalog.load(cache_dir=tmp_path / "home")
    assert not shared.exists() and list((tmp_path / "home").glob("bank-*.pickle"))  # the home's cache instead
    _load_cached.cache_clear()
    monkeypatch.setattr("sys.dont_write_bytecode", False)
    Catalog.load(cache_dir=tmp_path / "home2")
    assert list(shared.glob("bank-*.pickle")) and not (tmp_path / "home2").exists()


def test_a_corrupt_shared_cache_is_ignored(shared: Path, tmp_path: Path) -> None:
    from agent.catalog import compile_bundled

    compile_bundled()
    for f in shared.iterdir():
        f.write_bytes(b"\x80\x05garbage")
    _load_cached.cache_clear()
    cached = Catalog.load(cache_dir=tmp_path / "home")
    _load_cached.cache_clear()
    fresh = _load_cached(BUNDLED.resolve(), None)
    assert [q.model_dump() for q in cached.questions()] == [q.model_dump() for q in fresh.questions()]


def test_a_users_own_bank_never_goes_to_the_shared_cache(shared: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.dont_write_bytecode", False)
    bank = tmp_path / "bank"
    bank.mkdir()
    name = sorted(p.name for p in (BUNDLED / "questions").glob("*.yaml"))[0]
    (bank / name).write_text((BUNDLED / "questions" / name).read_text())
    Catalog.load(bank, cache_dir=tmp_path / "home")  # the older layout: bundled formats beside the user's
    assert not shared.exists() and list((tmp_path / "home").glob("bank-*.pickle"))


def test_a_shared_cache_file_is_readable_by_everyone(shared: Path) -> None:
    from agent.catalog import compile_bundled

    compile_bundled()
    assert all(f.stat().st_mode & 0o777 == 0o644 for f in shared.glob("bank-*.pickle"))

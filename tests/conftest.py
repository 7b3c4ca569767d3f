"""Shared test helpers: the project root, real data from BIG_MOOD_SHARED (skipped where absent), running the CLI."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault('BIG_MOOD_ROOT', str(ROOT))


def shared_path(*parts) -> Path:
    "A path under BIG_MOOD_SHARED (default ../shared); skips the test with a reason where it is absent."
    base = Path(os.environ.get('BIG_MOOD_SHARED', ROOT.parent / 'shared')).expanduser()
    path = base.joinpath(*parts)
    if not path.exists():
        pytest.skip(f'shared data not available: {path} (set BIG_MOOD_SHARED)')
    return path


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    "Run `big-mood ARGV...` in this process: (exit code, stdout, stderr)."
    from big_mood.cli import main
    code = main(list(map(str, argv)))
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_clean_failure(code:int, err:str, *words):
    "A failed command exits 2 with one `big-mood: error:` line on stderr that contains every one of `words`."
    assert code == 2, err
    assert err.startswith('big-mood: error: ') and err.count('\n') == 1, err
    assert all(w in err for w in words), err


@pytest.fixture
def root() -> Path:
    return ROOT

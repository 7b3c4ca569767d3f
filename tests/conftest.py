"""Shared pytest fixtures: the project root and real data from BIG_MOOD_SHARED (skipped where absent)."""
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


@pytest.fixture
def root() -> Path:
    return ROOT

"""The environment: requirements.lock pins exactly what requirements.txt asks for, and .venv holds exactly the lock."""
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / 'requirements.lock'
INPUT = ROOT / 'requirements.txt'
# torch's CUDA libraries (not nvidia-ml-py, a small NVML binding that dvclive uses): brought by a CUDA torch itself,
# at the versions its metadata pins, never by the lock.
CUDA = re.compile(r'^(nvidia-(cu|nv|nccl)[a-z0-9-]*|cuda-(toolkit|bindings|pathfinder|python)|triton)$')
FORBIDDEN = {'xgboost': 'use xgboost-cpu', 'mamba-ssm': 'CUDA only, never in the CPU environment'}


def read_requirements(path:Path) -> list[Requirement]:
    "The requirements of a pip requirements file (comments, annotations and blank lines dropped)."
    lines = (line.split('#', 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def lock_pins() -> dict[str, Version]:
    "Package name (canonical) -> pinned version, for every line of the lock."
    pins = {}
    for req in read_requirements(LOCK):
        (spec,) = req.specifier  # exactly one specifier per line
        assert spec.operator == '==' and '*' not in spec.version, f'requirements.lock: {req} is not an exact pin'
        assert not req.url and not req.extras, f'requirements.lock: {req} carries a URL or extras'
        name = canonicalize_name(req.name)
        assert name not in pins, f'requirements.lock: {name} pinned twice'
        pins[name] = Version(spec.version)
    return pins


def direct_in_lock() -> set[str]:
    "The packages pip-compile annotated `via -r requirements.txt`: what the lock was compiled from."
    direct, current = set(), None
    for line in LOCK.read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith('#'):
            current = canonicalize_name(Requirement(line).name)
        elif current and '-r requirements.txt' in line:
            direct.add(current)
    return direct


def test_lock_lines_are_exact_pins():
    assert not [l for l in LOCK.read_text().splitlines() if l.startswith('-')], 'requirements.lock: no pip options'
    pins = lock_pins()
    assert len(pins) > 100, 'requirements.lock holds every transitive dependency'
    assert not pins['torch'].local, 'torch is pinned without a build label (+cpu): make setup picks the build'


def test_lock_satisfies_every_requirement():
    pins = lock_pins()
    unmet = [str(r) for r in read_requirements(INPUT) if (not r.marker or r.marker.evaluate())
             and not (canonicalize_name(r.name) in pins and r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True))]
    assert not unmet, f'requirements.txt asks for what requirements.lock does not pin (run make lock): {unmet}'


def test_lock_compiled_from_current_requirements():
    wanted = {canonicalize_name(r.name) for r in read_requirements(INPUT)}
    assert direct_in_lock() == wanted, (f'requirements.lock is stale (run make lock): only in requirements.txt '
                                        f'{sorted(wanted - direct_in_lock())}, only in the lock {sorted(direct_in_lock() - wanted)}')


def test_lock_has_no_cuda_or_forbidden_packages():
    pins = lock_pins()
    assert not [n for n in pins if CUDA.match(n)], 'CUDA libraries in the lock: run make lock against a CPU torch'
    assert not {n: why for n, why in FORBIDDEN.items() if n in pins}


def test_annotations_are_read():
    "The staleness check above relies on pip-compile's `# via` format: a direct and an indirect package."
    assert {'torch', 'pandas'} <= direct_in_lock() and 'numpy' not in direct_in_lock()


@pytest.mark.skipif(Path(sys.prefix).resolve() != (ROOT / '.venv').resolve(),
                    reason="not running in this checkout's .venv (make test runs there)")
def test_venv_holds_exactly_the_lock():
    pins = lock_pins()
    installed = {canonicalize_name(d.metadata['Name']): Version(d.version) for d in metadata.distributions()}
    wrong = {n: f'{installed.get(n)} != {v}' for n, v in pins.items()
             if n not in installed or Version(installed[n].public) != v}
    assert not wrong, f'.venv differs from requirements.lock (run make setup): {wrong}'
    extra = sorted(n for n in installed.keys() - pins.keys() - {'pip', 'big-mood'} if not CUDA.match(n))
    assert not extra, f'.venv holds packages the lock does not (add them to requirements.txt, make lock): {extra}'

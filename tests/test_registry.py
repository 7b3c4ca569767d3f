"""The model registry keeps every entry when several processes register models at once."""
import subprocess
import sys

from big_mood.models.registry import read_registry, registry_table

WRITER = '''
import sys
from pathlib import Path
from big_mood.models.registry import register_model
folder, name = Path(sys.argv[1]), sys.argv[2]
for i in range(15):
    f = folder / f"{name}_{i}.pt"
    f.write_bytes(f"{name} {i}".encode())
    register_model(f, name=f.stem, kind="test", registry=folder / "registry.json")
'''


def test_parallel_registrations_lose_no_entry(tmp_path):
    writers = [subprocess.Popen([sys.executable, '-c', WRITER, str(tmp_path), name]) for name in ('a', 'b', 'c')]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    models = read_registry(tmp_path / 'registry.json')
    assert sorted(models) == sorted(f'{n}_{i}.pt' for n in 'abc' for i in range(15))
    assert set(registry_table(tmp_path / 'registry.json').status) == {'ok'}

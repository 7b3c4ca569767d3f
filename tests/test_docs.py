"""The documentation site (`make docs`): nbdev renders each library notebook with its API reference, and with quarto
`nbdev_docs` builds a site in _docs/ that reads offline (no script, style, font or image from another host)."""
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / 'nbs').glob('[0-9]*.ipynb'))
BIN = Path(sys.executable).parent
# nbdev's docs build runs every cell that holds an import on its own, without the demonstration helpers defined in
# cells it skips: these notebooks fail to render until such imports move to the imports cell (INTEGRATION.md).
BROKEN = set()

# nbdev's docs processing (what `nbdev_docs` does before quarto renders), one notebook at a time so that every
# failure is reported; quarto is not needed for it.
PROCESS = '''
import json, sys
from pathlib import Path
from nbdev.processors import FilterDefaults
from nbdev.serve_drv import main
out, errors = Path(sys.argv[1]), {}
for nb in map(Path, sys.argv[2:]):
    try: main((nb, out / nb.name, FilterDefaults)); errors[nb.stem] = ''
    except Exception as e: errors[nb.stem] = f'{e} ({e.__cause__!r})'
(out / 'errors.json').write_text(json.dumps(errors))
'''


@pytest.fixture(scope='module')
def processed(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('proc')
    run = subprocess.run([sys.executable, '-c', PROCESS, out, *NOTEBOOKS], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, 'TQDM_DISABLE': '1'}, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    return out


def public_symbols() -> dict[str, set[str]]:
    "Page (html file name) -> the public functions and classes that nbdev exported from its notebook."
    from big_mood._modidx import d
    pages = {}
    for module, syms in d['syms'].items():
        for qualname, (url, _) in syms.items():
            name = qualname[len(module) + 1:]
            if '.' not in name and not name.startswith('_'):
                pages.setdefault(url.split('#')[0], set()).add(name)
    return pages


def _param(nb:Path):
    if nb.stem not in BROKEN: return nb
    return pytest.param(nb, marks=pytest.mark.xfail(strict=True, reason='a cell mixes an import with demo code'))


@pytest.mark.slow
@pytest.mark.parametrize('notebook', [_param(p) for p in NOTEBOOKS], ids=[p.stem for p in NOTEBOOKS])
def test_notebook_renders_its_api_reference(processed, notebook):
    error = json.loads((processed / 'errors.json').read_text())[notebook.stem]
    assert not error, f'nbdev cannot render {notebook.name} for the docs: {error}'
    cells = json.loads((processed / notebook.name).read_text())['cells']
    page = re.search(r'^output-file: (\S+)', ''.join(cells[0]['source']), re.M).group(1)
    shown = ''.join(''.join(out.get('data', {}).get('text/markdown', '')) for c in cells for out in c.get('outputs', []))
    missing = public_symbols().get(page, set()) - set(re.findall(r'^#+ (\w+)', shown, re.M))
    assert not missing, f'{page}: no API reference for {sorted(missing)}'


class _Assets(HTMLParser):
    "Collects the addresses of what a page loads (scripts, styles, icons, images, frames), not what it links to."
    LOADS = {'script': 'src', 'img': 'src', 'iframe': 'src', 'source': 'src', 'embed': 'src', 'audio': 'src',
             'video': 'src', 'link': 'href'}

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == 'link' and not {'stylesheet', 'preload', 'modulepreload', 'icon'} & set((attrs.get('rel') or '').split()):
            return
        if (url := attrs.get(self.LOADS.get(tag, ''))): self.urls.append(url)


REMOTE = re.compile(r'^(?:[a-z]+:)?//', re.I)
CSS_REMOTE = re.compile(r'''(?:@import\s+(?:url\()?|url\()\s*['"]?((?:https?:)?//[^'")\s]+)''', re.I)


def remote_assets(site:Path) -> list[str]:
    "Every script, style, font or image that a page or stylesheet of `site` would fetch from another host."
    found = []
    for page in site.rglob('*.html'):
        parser = _Assets()
        parser.feed(page.read_text(errors='replace'))
        found += [f'{page.relative_to(site)}: {u}' for u in parser.urls if REMOTE.match(u)]
    for css in site.rglob('*.css'):
        found += [f'{css.relative_to(site)}: {u}' for u in CSS_REMOTE.findall(css.read_text(errors='replace'))]
    return found


def test_remote_assets_are_found(tmp_path):
    (tmp_path / 'a.html').write_text('<link rel="stylesheet" href="site_libs/b.css"><a href="https://example.org">x</a>'
                                     '<script src="https://cdn.example.org/mathjax.js"></script><img src="//x.org/i.png">')
    (tmp_path / 'b.css').write_text('@import url("https://fonts.example.org/css?f=1"); .x{background:url(img.png)}')
    assert sorted(remote_assets(tmp_path)) == ['a.html: //x.org/i.png', 'a.html: https://cdn.example.org/mathjax.js',
                                               'b.css: https://fonts.example.org/css?f=1']


def quarto() -> str | None:
    "The quarto binary: on PATH, or where `make docs` installs it."
    tools = ROOT / '.venv-tools' / 'bin' / 'quarto'
    return shutil.which('quarto') or (str(tools) if tools.exists() else None)


@pytest.mark.slow
@pytest.mark.skipif(not quarto(), reason='quarto not installed (make docs installs quarto-cli, whose install '
                                         'downloads quarto from GitHub)')
def test_docs_site_builds_and_reads_offline(tmp_path):
    for name in ('settings.ini', 'setup.py'): shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / 'nbs', tmp_path / 'nbs', ignore=shutil.ignore_patterns('pipeline', 'nbdev.yml', 'sidebar.yml'))
    path = os.pathsep.join([str(Path(quarto()).parent), str(BIN), os.environ['PATH']])
    run = subprocess.run([BIN / 'nbdev_docs'], cwd=tmp_path, env={**os.environ, 'PATH': path, 'TQDM_DISABLE': '1'},
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    site = tmp_path / '_docs'
    missing = ({'index.html'} | public_symbols().keys()) - {p.name for p in site.glob('*.html')}
    assert not missing, f'pages missing from the site: {sorted(missing)}'
    unshown = {page: sorted(n for n in names if f'>{n}<' not in (site / page).read_text())
               for page, names in public_symbols().items()}
    assert not any(unshown.values()), f'API reference missing from the site: {unshown}'
    assert not remote_assets(site), f'the site loads from other hosts: {remote_assets(site)}'
    assert not (tmp_path / 'README.md').exists(), 'nbdev_docs wrote a README (is there an nbs/index.ipynb?)'

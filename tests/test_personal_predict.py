"""Daily risk: the population alone (the real sample export, which cannot be scored, says why), a calibrated person with
population and personal side by side, predictions stored with their model versions, the clinical report in Chromium, and
the command line (exit 2 and one line for every bad input)."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import assert_clean_failure, run_cli, shared_path
from personal_fixtures import calibrated, folder_hashes, person, population, user_copy  # noqa: F401 (fixtures)
from big_mood.personal.baseline import SCORES, BaselineStore
from big_mood.personal.predict import predict_run


def test_the_sample_export_is_read_and_every_score_says_why_it_is_missing(population, tmp_path):
    sample = shared_path('data', 'apple_health', 'export_sample.zip')
    r = predict_run(sample, population=population, out=tmp_path / 'risks.csv')
    risks = r['risks']
    assert len(risks) == 3 and risks[list(SCORES)].isna().all().all()
    assert sorted(r['not_scored']) == sorted(SCORES)
    assert 'need at least 7 (min_days)' in r['not_scored']['depressive_population']
    assert 'PAT needs at least 2 seven-day windows' in r['not_scored']['pat_depression_population']
    assert risks['status'].str.startswith('insufficient data: ').all()
    csv = pd.read_csv(tmp_path / 'risks.csv', dtype=str)
    assert (csv[list(SCORES)] == 'insufficient data').all().all()


def test_calibrating_on_the_sample_export_is_refused_clearly(population, tmp_path, capsys):
    sample = shared_path('data', 'apple_health', 'export_sample.zip')
    (tmp_path / 'episodes.csv').write_text('start,end,type\n2024-01-01,2024-01-02,depressive\n')
    code, out, err = run_cli(capsys, 'calibrate', '--episodes', tmp_path / 'episodes.csv', '--export', sample, '--output', tmp_path / 'me', '--population', population)
    assert_clean_failure(code, err, 'export_sample.zip: 3 day(s) of data; calibration needs at least 14 labelled days')
    assert not (tmp_path / 'me').exists()


def test_population_alone_scores_a_synthetic_export(person, population):
    r = predict_run(person['days'], population=population)
    risks = r['risks']
    assert [c for c in risks if c.endswith(('_personal', '_ensemble'))] == [] and r['not_scored'] == {}
    assert risks['depressive_population'].notna().mean() > 0.9 and risks['pat_depression_population'].notna().sum() == len(person['days'].weeks.meta)
    assert risks['dev_ST_long'].iloc[:15].isna().all() and risks['dev_ST_long'].iloc[20:].notna().mean() > 0.9   # the export's own rolling baseline


def test_a_calibrated_person_gets_population_and_personal_side_by_side_and_every_prediction_is_stored(user_copy, person, population):
    r = predict_run(person['days'], model=user_copy, population=population)
    risks = r['risks']
    for c in ('depressive_personal', 'depressive_ensemble', 'pat_depression_personal'): assert c in risks and risks[c].notna().mean() > 0.8, c
    assert 'manic_personal' not in risks and 'manic episode day(s)' in r['not_calibrated']['manic_personal']
    assert not np.allclose(risks['depressive_personal'].dropna(), risks.loc[risks['depressive_personal'].notna(), 'depressive_population'])
    with BaselineStore(user_copy / 'baseline.db') as s:
        stored = s.predictions()
        assert len(s.days()) == len(risks) and not s.days()['date'].duplicated().any()
    assert set(stored['score']) == set(r['scored']) and len(stored) == len(risks) * len(r['scored'])
    assert json.loads(stored['models'].iloc[0])['depressive_ensemble'].startswith('adapter.pt ')


def test_predicting_again_adds_a_run_and_no_day(user_copy, person, population):
    first = predict_run(person['days'], model=user_copy, population=population)
    again = predict_run(person['days'], model=user_copy, population=population)
    pd.testing.assert_frame_equal(first['risks'], again['risks'])
    with BaselineStore(user_copy / 'baseline.db') as s:
        assert len(s.days()) == len(first['risks']) and s.predictions()['run_id'].nunique() == 2


def test_another_persons_export_is_refused_by_predict(user_copy, population, tmp_path, capsys):
    from big_mood.data.synthetic_apple import write_synthetic_export
    write_synthetic_export(tmp_path / 'other.zip', seed=2, days=30, trip_zone='')
    before = folder_hashes(user_copy)
    code, out, err = run_cli(capsys, 'predict', '--export', tmp_path / 'other.zip', '--model', user_copy, '--population', population)
    assert_clean_failure(code, err, 'other.zip', "another person's export")
    assert folder_hashes(user_copy) == before


def test_cli_calibrate_then_predict(person, population, tmp_path, capsys):
    user = tmp_path / 'users' / 'noor'
    code, out, err = run_cli(capsys, 'calibrate', '--episodes', person['calibration_episodes'], '--export', person['export'], '--output', user,
                             '--population', population, '--end', f"{person['split']:%Y-%m-%d}")
    assert code == 0, err
    assert f'wrote {user}: ' in out and 'depressive: calibrated; held-out AUC population' in out and 'manic: not calibrated' in out
    code, out, err = run_cli(capsys, 'predict', '--export', person['export'], '--model', user, '--population', population, '--out', tmp_path / 'r.csv')
    assert code == 0, err
    assert 'depressive_ensemble' in out and 'cannot score manic_personal: not calibrated' in out
    assert pd.read_csv(tmp_path / 'r.csv')['date'].iloc[-1] == person['days'].source['last_date']


@pytest.mark.parametrize('argv, words', [
    (['predict', '--export', 'absent.zip'], ['absent.zip']),
    (['predict', '--export', '{export}', '--population', '{tmp}/nothing'], ['no population models here', 'dvc repro population']),
    (['predict', '--export', '{export}', '--model', '{tmp}/nobody'], ['no personal model here']),
    (['calibrate', '--episodes', '{tmp}/absent.csv', '--export', '{export}', '--output', '{tmp}/u'], ['absent.csv: episodes file not found']),
])
def test_cli_bad_input_exits_2_with_one_line(person, population, tmp_path, capsys, argv, words):
    argv = [a.format(export=person['export'], tmp=tmp_path) for a in argv]
    if '--population' not in argv: argv += ['--population', str(population)]
    code, out, err = run_cli(capsys, *argv)
    assert_clean_failure(code, err, *words)


def test_cli_refuses_a_count_that_is_not_positive(capsys):
    with pytest.raises(SystemExit) as e: run_cli(capsys, 'calibrate', '--episodes', 'e.csv', '--export', 'x.zip', '--output', 'u', '--epochs', '0')
    assert e.value.code == 2 and "--epochs: must be a finite number > 0, got '0'" in capsys.readouterr().err


def test_a_model_folder_with_a_damaged_store_is_refused_by_predict(user_copy, person, population, capsys):
    (user_copy / 'baseline.db').write_bytes(b'\x00' * 4096)
    before = folder_hashes(user_copy)
    code, out, err = run_cli(capsys, 'predict', '--export', person['export'], '--model', user_copy, '--population', population)
    assert_clean_failure(code, err, 'baseline.db: not a readable baseline database')
    assert folder_hashes(user_copy) == before


def test_the_clinical_report_renders_in_a_browser(user_copy, person, population, tmp_path):
    from test_stages import _browser
    sync_playwright, exe = _browser()
    r = predict_run(person['days'], model=user_copy, population=population, report=tmp_path / 'report.html', episodes=person['episodes'])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=['--no-sandbox'])
        page, errors, requests = browser.new_page(), [], []
        page.on('console', lambda m: m.type == 'error' and errors.append(m.text))
        page.on('pageerror', lambda e: errors.append(str(e)))
        page.on('request', lambda q: requests.append(q.url))
        page.goto(r['report'].as_uri(), wait_until='load')
        assert not errors and [u for u in requests if not u.startswith(('file://', 'data:'))] == []
        assert page.title() == page.locator('h1').inner_text() and 'person1' in page.title()
        widths = page.evaluate('Array.from(document.images).map(i => i.naturalWidth)')
        assert len(widths) == 5 and min(widths) > 200, widths   # timeline, heat maps, deviations, completeness, reliability
        headings = page.locator('h2').all_inner_texts()
        assert headings[0] == 'Summary' and headings[-1] == 'Provenance' and 'What these scores are and are not' in headings and 'Calibration' in headings
        assert 'not a diagnosis' in page.content() and page.locator('td', has_text='adapter.pt').count() >= 1
        browser.close()

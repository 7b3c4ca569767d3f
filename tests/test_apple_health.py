"""Apple Health exports: DST and travel, device de-duplication, the date filter, hostile XML, every bad input of issue 12, the real sample export."""
import json
import multiprocessing
import os
import signal
import zipfile

import numpy as np
import pandas as pd
import pytest
from conftest import shared_path

from big_mood.core import ConfigError, DataError
from big_mood.data.apple_health import read_apple_export
from big_mood.data.synthetic_apple import write_synthetic_export
from big_mood.data.weeks import read_weeks

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE HealthData [\n<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary)*)>\n]>\n'
        '<HealthData locale="en_NL">\n <ExportDate value="2024-06-01 08:00:00 +0200"/>\n <Me HKCharacteristicTypeIdentifierDateOfBirth="1990-05-20"/>\n')
WATCH, PHONE = 'Alex’s Apple Watch', 'Alex’s iPhone'


def rec(kind, start, end, value, source=WATCH, unit='count'):
    typ = f'HKCategoryTypeIdentifier{kind}' if kind == 'SleepAnalysis' else f'HKQuantityTypeIdentifier{kind}'
    u = f' unit="{unit}"' if unit else ''
    return f' <Record type="{typ}" sourceName="{source}"{u} creationDate="{end}" startDate="{start}" endDate="{end}" value="{value}"/>\n'


def steps(day, n=20, value=30, off='+0200', source=WATCH):
    "`n` one-minute step records from 10:00 on `day`."
    return [rec('StepCount', f'{day} 10:{m:02d}:00 {off}', f'{day} 10:{m + 1:02d}:00 {off}', value, source) for m in range(n)]


def write(path, records, head=HEAD, tail='</HealthData>\n'):
    path.write_text(head + ''.join(records) + tail, encoding='utf-8')
    return path


def read(export, out, **kw):
    return read_apple_export(export, out, progress=False, **kw)


@pytest.fixture(scope='module')
def autumn(tmp_path_factory):
    "Sixty synthetic days over the October DST change and a trip to New York, read once."
    d = tmp_path_factory.mktemp('autumn')
    sim = write_synthetic_export(d / 'export.xml', seed=3, days=60, first='2022-10-01')
    return sim, read(d / 'export.xml', d / 'out'), d / 'out'


# ------------------------------------------------------------------ time
def test_fall_back_day_has_25_hours_and_trip_days_follow_the_clock(autumn):
    sim, _, out = autumn
    days = pd.read_csv(out / 'days.csv').set_index('date')['minutes']
    assert sim['nights'].loc[sim['nights'].zone == 'America/New_York', 'date'].agg(['min', 'max']).astype(str).tolist() == ['2022-10-31', '2022-11-07']
    assert days[days != 1440].to_dict() == {
        '2022-10-30': 1500,          # Amsterdam falls back
        '2022-10-31': 1440 + 5 * 60,  # from waking in Amsterdam (CET) the clock is New York's (EDT, 5 h behind)
        '2022-11-06': 1500,          # New York falls back during the trip
        '2022-11-08': 1440 - 6 * 60}  # from waking in New York (EST) back to Amsterdam's clock (CET, 6 h ahead)


def test_spring_forward_day_has_23_hours_and_its_missing_hour_is_invalid_in_the_weeks(tmp_path):
    write_synthetic_export(tmp_path / 'export.xml', seed=1, days=14, first='2023-03-20', trip_zone='')
    read(tmp_path / 'export.xml', tmp_path / 'out')
    days = pd.read_csv(tmp_path / 'out' / 'days.csv').set_index('date')
    assert days.loc['2023-03-26', 'minutes'] == 1380
    weeks = read_weeks(tmp_path / 'out' / 'weeks.parquet')
    start = pd.Timestamp(json.loads((tmp_path / 'out' / 'summary.json').read_text())['week_starts'][0])
    k = (pd.Timestamp('2023-03-26') - start).days
    assert weeks.valid[0, k * 1440 + 120:k * 1440 + 180].sum() == 0        # 02:00-03:00 never happened


def test_trip_keeps_sleep_at_the_local_hours_it_was_slept(autumn):
    sim, _, out = autumn
    ep = pd.read_csv(out / 'sleep_episodes.csv')
    start = ep['sleep_start'].str.slice(0, 19).pipe(pd.to_datetime)
    offset = ep['sleep_start'].str.slice(19)
    bedtime = (start.dt.hour + start.dt.minute / 60 - 12) % 24       # hours after noon, so 23:30 and 00:30 are close
    home, away = bedtime[offset.isin(['+02:00', '+01:00'])], bedtime[offset.isin(['-04:00', '-05:00'])]
    assert len(away) >= 6
    assert abs(away.median() - home.median()) < 1.0                  # not shifted by the five or six hours of the trip


def test_tz_option_puts_every_minute_on_one_zone(tmp_path):
    records = steps('2024-05-01') + [rec('StepCount', '2024-05-02 10:00:00 -0400', '2024-05-02 10:01:00 -0400', 30)]
    summary = read(write(tmp_path / 'e.xml', records), tmp_path / 'out', tz='Europe/Amsterdam')
    minutes = pd.read_parquet(tmp_path / 'out' / 'minutes.parquet')
    assert set(minutes['utc_offset']) == {120} and summary['time_zone_rule'].startswith('tz Europe/Amsterdam')
    assert str(minutes.loc[minutes['steps'] > 0, 'local_time'].iloc[-1]) == '2024-05-02 16:00:00'


# ------------------------------------------------------------------ devices
def test_watch_and_iphone_steps_are_never_summed(autumn):
    sim, _, out = autumn
    days = pd.read_csv(out / 'days.csv', parse_dates=['date']).set_index('date')
    truth = sim['truth']
    full = truth.index[(truth.worn_minutes >= 1380) & (truth.index > truth.index[0]) & (truth.index < truth.index[-1])]
    ratio = days.loc[full, 'steps'] / truth.loc[full, 'watch_steps']
    assert len(full) > 20 and ratio.between(0.97, 1.03).all(), ratio.describe()
    kept = pd.read_csv(out / 'sources.csv')
    phone = kept[(kept.channel == 'steps') & kept.source.str.contains('iPhone')][['recorded', 'kept']].sum()
    assert phone['recorded'] > 10000 and phone['kept'] <= 0.1 * phone['recorded']   # the iPhone's count only where the Watch is not there


def test_source_priority_is_a_parameter(tmp_path):
    records = steps('2024-05-01', value=30) + steps('2024-05-01', value=20, source=PHONE)
    for priority, total in ((('watch', 'phone'), 600), (('phone', 'watch'), 400), ((PHONE,), 400)):
        read(write(tmp_path / 'e.xml', records), tmp_path / 'out', source_priority=priority)
        assert pd.read_csv(tmp_path / 'out' / 'days.csv')['steps'].sum() == total


def test_minutes_without_any_device_are_missing_not_zero(autumn):
    minutes = pd.read_parquet(autumn[2] / 'minutes.parquet', columns=['steps', 'valid'])
    assert minutes['steps'].isna().equals(~minutes['valid'])
    assert (~minutes['valid']).sum() > 0 and (minutes['steps'] == 0).sum() > 0


# ------------------------------------------------------------------ outputs read by the rest of big_mood
def test_sleep_episodes_feed_the_mood_features_as_written(autumn):
    from big_mood.features.mood import FEATURE_NAMES, features_from_episodes
    features = features_from_episodes(autumn[2] / 'sleep_episodes.csv', tz_change='local')
    assert list(features.columns) == list(FEATURE_NAMES) and len(features) >= 50


def test_weeks_are_a_week_table_and_pat_input_is_standardised(autumn):
    weeks = read_weeks(autumn[2] / 'weeks.parquet')
    x = np.load(autumn[2] / 'pat_input.npy')
    assert weeks.minutes.shape == x.shape == (len(weeks.meta), 10080) and set(weeks.meta['cohort']) == {'apple_health'}
    assert np.allclose(x.mean(0), 0, atol=1e-4) and x.dtype == np.float32
    assert (weeks.minutes[weeks.valid == 0] == 0).all() and 0.8 < weeks.valid.mean() <= 1


def test_summary_counts_types_sources_and_unknown_types(autumn):
    summary = autumn[1]
    assert summary['records_by_type']['HKQuantityTypeIdentifierStepCount'].keys() == {'Lena’s Apple Watch', 'Lena’s iPhone'}
    assert set(summary['unknown_types']) >= {'HKQuantityTypeIdentifierAppleStandTime', 'HKQuantityTypeIdentifierFlightsClimbed',
                                             'HKQuantityTypeIdentifierBloodPressureSystolic'}
    assert summary['duplicates_removed']['overlap']['steps']['Lena’s iPhone'] > 0 and summary['weeks'] >= 7


def test_two_workers_give_the_same_files_as_one(tmp_path):
    write_synthetic_export(tmp_path / 'e.xml', seed=5, days=12, trip_zone='')      # about 9 MB: several blocks
    for w in (1, 2): read(tmp_path / 'e.xml', tmp_path / f'out{w}', workers=w)
    for name in ('minutes.parquet', 'sleep_episodes.csv', 'days.csv', 'sources.csv', 'summary.json'):
        assert (tmp_path / 'out1' / name).read_bytes() == (tmp_path / 'out2' / name).read_bytes(), name


def test_zip_and_xml_give_the_same_files(tmp_path):
    write_synthetic_export(tmp_path / 'e.zip', seed=2, days=5, trip_zone='', compresslevel=1)
    with zipfile.ZipFile(tmp_path / 'e.zip') as zf: (tmp_path / 'export.xml').write_bytes(zf.read('apple_health_export/export.xml'))
    read(tmp_path / 'e.zip', tmp_path / 'a'); read(tmp_path / 'export.xml', tmp_path / 'b')
    for name in ('minutes.parquet', 'sleep_episodes.csv', 'days.csv'):
        assert (tmp_path / 'a' / name).read_bytes() == (tmp_path / 'b' / name).read_bytes()


# ------------------------------------------------------------------ windows: memory flat in the export's length
@pytest.fixture(scope='module')
def trip(tmp_path_factory):
    "36 days over the October DST change and a trip to New York, with an iPhone heart rate across 33 days (periods and windows)."
    path = tmp_path_factory.mktemp('trip') / 'export.xml'
    write_synthetic_export(path, seed=3, days=36, first='2022-10-12')
    long = rec('HeartRate', '2022-10-14 09:00:00 +0200', '2022-11-15 09:00:00 +0100', 70, 'Lena’s iPhone', unit='count/min')
    path.write_text(path.read_text(encoding='utf-8').replace('</HealthData>', long + '</HealthData>'), encoding='utf-8')
    return path


def outputs(folder):
    "Every file of an output: CSVs and the PAT input as bytes, the parquet files as tables, the summary as data."
    out = {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix in ('.csv', '.npy')}
    out.update({p.name: pd.read_parquet(p) for p in folder.glob('*.parquet')}, summary=json.loads((folder / 'summary.json').read_text()))
    return out


@pytest.mark.parametrize('options', [{}, dict(start='2022-10-25', end='2022-11-10'), dict(tz='Europe/Amsterdam')], ids=['all', 'start-end', 'tz'])
def test_the_files_do_not_depend_on_the_window_size(trip, tmp_path, options):
    "One-day windows end inside every night's sleep and the long record, and across the DST changes and the trip."
    for days in (1, 2, 10000): read(trip, tmp_path / str(days), window_days=days, **options)
    whole = outputs(tmp_path / '10000')
    assert sorted(whole) == ['days.csv', 'minutes.parquet', 'pat_input.npy', 'sleep_episodes.csv', 'sources.csv', 'summary', 'weeks.parquet']
    for days in (1, 2):
        got = outputs(tmp_path / str(days))
        for name, value in whole.items():
            assert value.equals(got[name]) if isinstance(value, pd.DataFrame) else value == got[name], (days, name)


def test_period_files_go_on_success_and_on_error(tmp_path, monkeypatch):
    import big_mood.data.apple_health as apple_health
    read(write(tmp_path / 'e.xml', steps('2024-05-01')), tmp_path / 'out')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['e.xml', 'out'] and not list(tmp_path.rglob('*.q'))
    seen = []
    def fail(*args, **kw):
        seen.extend(tmp_path.rglob('*.q')); raise OSError('disk full')
    monkeypatch.setattr(apple_health, 'day_table', fail)   # while the windows are built, the period files on disk
    with pytest.raises(OSError, match='disk full'): read(tmp_path / 'e.xml', tmp_path / 'out2')
    assert seen and sorted(p.name for p in tmp_path.iterdir()) == ['e.xml', 'out']


@pytest.mark.skipif((os.cpu_count() or 1) < 2 or 'fork' not in multiprocessing.get_all_start_methods(), reason='needs two cores and fork')
def test_a_helper_that_dies_is_a_one_line_error(tmp_path, monkeypatch):
    import big_mood.data.apple_xml as apple_xml
    monkeypatch.setattr(apple_xml, 'read_block', lambda *args, **kw: os.kill(os.getpid(), signal.SIGKILL))   # in the forked helpers
    with pytest.raises(DataError) as e: read(write(tmp_path / 'e.xml', steps('2024-05-01')), tmp_path / 'out', workers=2)
    assert str(e.value) == 'e.xml: a helper process parsing it stopped (killed, or out of memory?): read it again with --workers 1'
    assert [p.name for p in tmp_path.iterdir()] == ['e.xml']


# ------------------------------------------------------------------ the date filter
def test_date_filter_skips_records_before_parsing_them(tmp_path):
    records = steps('2024-05-01') + steps('2024-05-02', value=10) + steps('2024-05-03')
    records += [rec('StepCount', '2024-04-20 10:00:00 +0200', '2024-04-20 10:01:00 +0200', 'garbage')]
    summary = read(write(tmp_path / 'e.xml', records), tmp_path / 'out', start='2024-05-02', end='2024-05-02')
    assert (summary['first_date'], summary['last_date']) == ('2024-05-02', '2024-05-02')
    assert summary['dropped']['outside_filter']['HKQuantityTypeIdentifierStepCount'] == 21   # 1 May and the garbage, never parsed
    assert pd.read_csv(tmp_path / 'out' / 'days.csv')['steps'].tolist() == [200]
    with pytest.raises(DataError, match="value 'garbage' is not a number"): read(tmp_path / 'e.xml', tmp_path / 'out2')


def test_end_before_start_option_is_refused(tmp_path):
    with pytest.raises(ConfigError, match='end 2024-05-01 is before start 2024-05-02'):
        read(write(tmp_path / 'e.xml', steps('2024-05-01')), tmp_path / 'out', start='2024-05-02', end='2024-05-01')


# ------------------------------------------------------------------ hostile XML
LAUGHS = ('<?xml version="1.0"?>\n<!DOCTYPE HealthData [\n <!ENTITY lol "lol">\n'
          + ''.join(f' <!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">\n' for i in range(1, 10))
          + ']>\n<HealthData locale="en">\n <ExportDate value="2024-06-01 08:00:00 +0200"/>\n')


@pytest.mark.parametrize('head, body, message', [
    (LAUGHS, rec('StepCount', '2024-05-01 10:00:00 +0200', '2024-05-01 10:01:00 +0200', '&lol9;'), 'declares entities'),
    (HEAD.replace(']>', '<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>'), rec('StepCount', '2024-05-01 10:00:00 +0200', '2024-05-01 10:01:00 +0200', '&xxe;'), 'declares entities'),
    (HEAD, steps('2024-05-01')[0] + rec('StepCount', '2024-05-01 10:00:00 +0200', '2024-05-01 10:01:00 +0200', '&xxe;'), "line 9: not well-formed XML: Entity 'xxe' not defined"),
])
def test_entities_are_refused_and_nothing_is_written(tmp_path, head, body, message):
    with pytest.raises(DataError, match=message): read(write(tmp_path / 'e.xml', [body], head=head), tmp_path / 'out')
    assert not (tmp_path / 'out').exists() and [p.name for p in tmp_path.iterdir()] == ['e.xml']


def test_an_external_dtd_is_never_fetched(tmp_path):
    head = HEAD.replace('<!DOCTYPE HealthData [\n<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary)*)>\n]>',
                        '<!DOCTYPE HealthData SYSTEM "http://192.0.2.1/health.dtd">')
    assert read(write(tmp_path / 'e.xml', steps('2024-05-01'), head=head), tmp_path / 'out')['records'] == 20


# ------------------------------------------------------------------ bad input (issue 12, item 8)
def zipped(path, members):
    with zipfile.ZipFile(path, 'w') as zf:
        for name, data in members.items(): zf.writestr(name, data)
    return path


def cut_zip(path):
    whole = zipped(path.with_suffix('.tmp'), {'apple_health_export/export.xml': HEAD + ''.join(steps('2024-05-01')) + '</HealthData>\n'})
    path.write_bytes(whole.read_bytes()[:200]); whole.unlink()
    return path


def text(path, content):
    path.write_text(content)
    return path


@pytest.mark.parametrize('make, message', [
    (cut_zip, 'e.zip: not a readable zip'),
    (lambda p: write(p, steps('2024-05-01'), tail=''), 'without closing </HealthData>: the file is truncated'),
    (lambda p: write(p, steps('2024-05-01') + [' <Record type="HKQuantityTypeIdentifierStepCount" sourceName="x" startD'], tail=''), 'truncated'),
    (lambda p: zipped(p, {'apple_health_export/export_cda.xml': '<ClinicalDocument/>', '__MACOSX/apple_health_export/._export.xml': 'junk'}), 'no export.xml in the zip'),
    (lambda p: zipped(p, {f'{d}/export.xml': HEAD + '</HealthData>\n' for d in 'ab'}), '2 export.xml files in one zip'),
    (lambda p: text(p, '<?xml version="1.0"?>\n<ClinicalDocument xmlns="urn:hl7-org:v3"><Record type="x"/></ClinicalDocument>\n'), 'not an Apple Health export.xml'),
    (lambda p: write(p, [rec('StepCount', '2024-05-01 10:00:00', '2024-05-01 10:01:00', 3)]), "startDate '2024-05-01 10:00:00' is not a date with a UTC offset"),
    (lambda p: write(p, []), 'no records of the types big_mood reads'),
    (lambda p: write(p, [rec('FlightsClimbed', '2024-05-01 10:00:00 +0200', '2024-05-01 10:01:00 +0200', 3)]), 'no records of the types big_mood reads'),
])
def test_bad_input_is_one_line_naming_the_file_and_leaves_the_old_output(tmp_path, make, message):
    name = 'e.zip' if 'zip' in message else 'e.xml'
    read(write(tmp_path / 'ok.xml', steps('2024-05-01')), tmp_path / 'out')
    before = {p.name: p.read_bytes() for p in (tmp_path / 'out').iterdir()}
    with pytest.raises(DataError) as e: read(make(tmp_path / name), tmp_path / 'out')
    assert message in str(e.value) and '\n' not in str(e.value) and (name in str(e.value) or 'line' in str(e.value))
    assert {p.name: p.read_bytes() for p in (tmp_path / 'out').iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.out')]


def test_dates_without_offsets_are_read_in_the_given_zone(tmp_path):
    read(write(tmp_path / 'e.xml', [rec('StepCount', '2024-05-01 10:00:00', '2024-05-01 10:01:00', 3)]), tmp_path / 'out', tz='Europe/Amsterdam')
    minutes = pd.read_parquet(tmp_path / 'out' / 'minutes.parquet')
    assert str(minutes.loc[minutes['steps'] == 3, 'time'].iloc[0]) == '2024-05-01 08:00:00+00:00'


def test_bad_records_are_dropped_and_counted(tmp_path):
    t = lambda h, m=0: f'2024-05-01 {h:02d}:{m:02d}:00 +0200'
    records = steps('2024-05-01') + [
        rec('StepCount', t(12), t(11), 50),                                   # ends before it starts
        rec('StepCount', t(12), t(12, 1), -5), rec('StepCount', t(12), t(12, 1), 5000),   # negative, absurd
        rec('HeartRate', t(12), t(12), 900, unit='count/min'), rec('HeartRate', t(12), t(12), 'nan', unit='count/min'),
        rec('StepCount', '2041-01-01 10:00:00 +0100', '2041-01-01 10:01:00 +0100', 5),   # a clock that jumped to the future
        rec('StepCount', '1980-01-01 10:00:00 +0100', '1980-01-01 10:01:00 +0100', 5),   # ... or the past
        rec('StepCount', t(13), t(13, 1), 5, unit='furlong'), rec('SleepAnalysis', t(1), t(2), 'HKCategoryValueSleepAnalysisDreaming', unit=None)]
    summary = read(write(tmp_path / 'e.xml', records), tmp_path / 'out')
    step = 'HKQuantityTypeIdentifierStepCount'
    assert summary['dropped'] == {'clock': {step: 2}, 'end_before_start': {step: 1}, 'implausible': {'HKQuantityTypeIdentifierHeartRate': 2, step: 2},
                                  'unit furlong': {step: 1}, 'unknown_sleep_value': {'HKCategoryValueSleepAnalysisDreaming': 1}}
    assert pd.read_csv(tmp_path / 'out' / 'days.csv')['steps'].sum() == 600 and summary['last_date'] == '2024-05-01'


def test_duplicate_exports_of_the_same_period_count_once(tmp_path):
    once = read(write(tmp_path / 'a.xml', steps('2024-05-01') + steps('2024-05-02')), tmp_path / 'a')
    twice = read(write(tmp_path / 'b.xml', steps('2024-05-01') + steps('2024-05-02') + steps('2024-05-01')), tmp_path / 'b')
    assert twice['duplicates_removed']['exact_copies'] == 20 and once['duplicates_removed']['exact_copies'] == 0
    assert (tmp_path / 'a' / 'days.csv').read_text() == (tmp_path / 'b' / 'days.csv').read_text()


def test_a_clock_that_jumps_a_time_zone_moves_the_local_clock_with_it(tmp_path):
    records = steps('2024-05-01', n=10) + [rec('StepCount', '2024-05-01 19:30:00 +0900', '2024-05-01 19:31:00 +0900', 7)] + steps('2024-05-02', n=10)
    summary = read(write(tmp_path / 'e.xml', records), tmp_path / 'out')
    days = pd.read_csv(tmp_path / 'out' / 'days.csv').set_index('date')
    assert days['minutes'].sum() == 2 * 1440 and days.loc['2024-05-01', 'minutes'] == 1440 - 7 * 60
    assert summary['days'] == 2


def test_a_folder_of_something_else_is_never_replaced(tmp_path):
    (tmp_path / 'out').mkdir(); (tmp_path / 'out' / 'thesis.tex').write_text('keep')
    with pytest.raises(ConfigError, match='is not an earlier `big-mood apple read` output'):
        read(write(tmp_path / 'e.xml', steps('2024-05-01')), tmp_path / 'out')
    assert (tmp_path / 'out' / 'thesis.tex').read_text() == 'keep'


# ------------------------------------------------------------------ the real sample export
def test_real_sample_export_zip_and_xml():
    folder = shared_path('data', 'apple_health')
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        z = read(folder / 'export_sample.zip', f'{tmp}/z')
        x = read(folder / 'export_sample.xml', f'{tmp}/x')
        assert z['records'] == x['records'] == 8 and z['records_by_type'] == x['records_by_type']
        assert z['unknown_types'] == {'HKQuantityTypeIdentifierAppleStandTime': 1}
        minutes = pd.read_parquet(f'{tmp}/z/minutes.parquet')
        assert minutes['heart_rate'].dropna().tolist() == [74.5]            # 74 and 75 bpm in the same minute
        assert not minutes['valid'].any()                                   # no step records: every minute is missing
        ep = pd.read_csv(f'{tmp}/z/sleep_episodes.csv')
        # the sample's dates say +0200 in January, its HKTimeZone Europe/Amsterdam (+0100 then): the zone wins (the time rule)
        assert ep['sleep_start'].tolist() == ['2023-12-31T23:55:28+01:00', '2024-01-01T02:27:53+01:00']


# ------------------------------------------------------------------ the stage notebook
@pytest.mark.slow
def test_apple_stage_notebook_runs_on_a_small_synthetic_export(tmp_path, root):
    import papermill
    papermill.execute_notebook(str(root / 'nbs' / 'pipeline' / '05_apple.ipynb'), str(tmp_path / 'report.ipynb'), kernel_name='python3',
                               parameters={'synthetic_days': 21, 'workers': 1}, cwd=str(tmp_path), progress_bar=False)
    metrics = json.loads((tmp_path / 'metrics' / 'apple.json').read_text())
    assert metrics['synthetic'] and metrics['days'] >= 21 and metrics['weeks'] >= 2
    assert (tmp_path / 'data' / 'processed' / 'apple' / 'weeks.parquet').is_file()

"""`big-mood nhanes synth` and `big-mood nhanes weeks`: outputs, and one-line errors with exit status 2."""
import pandas as pd
import pytest

from big_mood.cli import main


def test_synth_then_weeks_writes_the_processed_folder(tmp_path, capsys):
    assert main(['nhanes', 'synth', '--out', str(tmp_path/'raw'), '--pretrain-participants', '10', '--seed', '3', '--cycles', 'G']) == 0
    assert main(['nhanes', 'weeks', '--raw', str(tmp_path/'raw'), '--out', str(tmp_path/'out')]) == 0
    out = capsys.readouterr().out
    assert 'wrote 4 synthetic NHANES files to' in out and 'nhanes_G: 10 included of' in out and 'no labels' in out
    assert len(pd.read_parquet(tmp_path/'out'/'weeks'/'nhanes_G.parquet', columns=['id'])) == 10


def test_weeks_on_a_truncated_file_exits_2_with_one_line(tmp_path, capsys):
    main(['nhanes', 'synth', '--out', str(tmp_path/'raw'), '--pretrain-participants', '5', '--cycles', 'C'])
    path = tmp_path/'raw'/'PAXRAW_C.xpt'
    path.write_bytes(path.read_bytes()[:-13])
    assert main(['nhanes', 'weeks', '--raw', str(tmp_path/'raw'), '--out', str(tmp_path/'out')]) == 2
    err = capsys.readouterr().err
    assert err.startswith('big-mood: error: PAXRAW_C.xpt: truncated download:') and err.count('\n') == 1
    assert not (tmp_path/'out').exists()


def test_weeks_without_minute_files_exits_2(tmp_path, capsys):
    (tmp_path/'raw').mkdir()
    assert main(['nhanes', 'weeks', '--raw', str(tmp_path/'raw'), '--out', str(tmp_path/'out')]) == 2
    assert 'no PAXMIN_G/H or PAXRAW_C/D .xpt file' in capsys.readouterr().err


def test_synth_rejects_an_unknown_cycle(tmp_path):
    with pytest.raises(SystemExit) as e:
        main(['nhanes', 'synth', '--out', str(tmp_path), '--cycles', 'E'])
    assert e.value.code == 2

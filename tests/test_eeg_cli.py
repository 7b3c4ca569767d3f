"""`big-mood eeg` (primary datasets, synthetic cohorts, pretraining, fine-tuning) and `big-mood models list`, run in-process."""
import pandas as pd

from big_mood.data.eeg import read_primary
from conftest import assert_clean_failure, run_cli

TINY = 'eeg:\n  window_s: 5.0\n  parent_window_s: 10.0\nmamba_eeg:\n  d_model: 32\n  d_state: 8\n  mask_ratio: 0.4\n'


def test_cli_eeg_synth_then_primary(tmp_path, capsys):
    code, out, _ = run_cli(capsys, 'eeg', 'synth', '--out', tmp_path / 'raw', '--participants', 3, '--seconds', 25)
    assert code == 0 and 'SYNTHETIC' in out and '3 participants' in out
    (tmp_path / 'p.yaml').write_text('eeg:\n  window_s: 5.0\n  parent_window_s: 10.0\n')
    code, out, _ = run_cli(capsys, 'eeg', 'primary', '--participants', tmp_path / 'raw' / 'participants.csv', '--out', tmp_path / 'out',
                           '--config', tmp_path / 'p.yaml')
    assert code == 0 and '5s_af7-af8-tp9-tp10_primary_dataset.parquet' in out
    meta, x = read_primary(tmp_path / 'out' / '5s_af7-af8-tp9-tp10_primary_dataset.parquet')
    assert x.shape[1:] == (4, 1280) and meta.Participant.nunique() == 3


def test_cli_eeg_primary_missing_file_exits_2(tmp_path, capsys):
    (tmp_path / 'p.csv').write_text('participant,remission,session,file\nP1,1,1,nothing.csv\n')
    code, _, err = run_cli(capsys, 'eeg', 'primary', '--participants', tmp_path / 'p.csv', '--out', tmp_path / 'out')
    assert_clean_failure(code, err, 'p.csv line 2', "file 'nothing.csv' not found")


def test_cli_eeg_primary_unknown_config_key_exits_2(tmp_path, capsys):
    (tmp_path / 'p.csv').write_text('participant,remission,session,file\n')
    (tmp_path / 'p.yaml').write_text('eeg:\n  reject_uv: 100\n')
    code, _, err = run_cli(capsys, 'eeg', 'primary', '--participants', tmp_path / 'p.csv', '--out', tmp_path / 'out', '--config', tmp_path / 'p.yaml')
    assert_clean_failure(code, err, 'eeg.reject_uv not a parameter')


def test_cli_eeg_finetune_finds_its_checkpoint_from_the_pretraining_config(tmp_path, capsys):
    (tmp_path / 'p.yaml').write_text(TINY)
    assert run_cli(capsys, 'eeg', 'synth', '--out', tmp_path / 'raw', '--participants', 6, '--seconds', 22)[0] == 0
    assert run_cli(capsys, 'eeg', 'primary', '--participants', tmp_path / 'raw' / 'participants.csv', '--out', tmp_path / 'eeg', '--config', tmp_path / 'p.yaml')[0] == 0
    primary, registry = tmp_path / 'eeg' / '5s_af7-af8-tp9-tp10_primary_dataset.parquet', tmp_path / 'registry.json'
    code, out, _ = run_cli(capsys, 'eeg', 'pretrain', '--primary', primary, '--models-dir', tmp_path / 'pre', '--config', tmp_path / 'p.yaml',
                           '--epochs', 1, '--batch-size', 16, '--device', 'cpu', '--threads', 1, '--registry', registry)
    assert code == 0 and 'wrote' in out and 'mamba2_eeg_d32_l2_m40_mae.pt: 1 epochs' in out, out
    code, out, _ = run_cli(capsys, 'eeg', 'finetune', '--primary', primary, '--models-dir', tmp_path / 'pre', '--out', tmp_path / 'ft',
                           '--config', tmp_path / 'p.yaml', '--schemes', 'lopo', '--arms', 'pretrained', 'features', '--epochs', 2,
                           '--device', 'cpu', '--threads', 1, '--registry', registry)
    assert code == 0 and 'mamba2_eeg_d32_l2_m40_mae_finetuned.pt' in out and 'lopo features per participant' in out, out
    assert pd.read_parquet(tmp_path / 'ft' / 'predictions.parquet').query("split == 'test'").Participant.nunique() == 6
    code, out, _ = run_cli(capsys, 'models', 'list', '--registry', registry)
    assert code == 0 and out.count(' ok') == 2 and 'mamba_eeg_finetuned' in out, out
    code, out, _ = run_cli(capsys, 'models', 'list', '--registry', registry, '--lineage', 'ft/mamba2_eeg_d32_l2_m40_mae_finetuned.pt')
    assert code == 0 and '<- pre/mamba2_eeg_d32_l2_m40_mae.pt' in out and '5s_af7-af8-tp9-tp10_primary_dataset.parquet' in out, out
    (tmp_path / 'pre' / 'mamba2_eeg_d32_l2_m40_mae.pt').write_bytes(b'replaced')
    assert 'changed' in run_cli(capsys, 'models', 'list', '--registry', registry)[1]
    code, _, err = run_cli(capsys, 'eeg', 'finetune', '--primary', primary, '--models-dir', tmp_path / 'pre', '--out', tmp_path / 'ft2',
                           '--config', tmp_path / 'p.yaml', '--mask-ratio', 0.5)
    assert_clean_failure(code, err, 'no pretrained checkpoint mamba2_eeg_d32_l2_m50_mae', 'holds mamba2_eeg_d32_l2_m40_mae')


def test_cli_eeg_pretrain_unknown_model_key_exits_2(tmp_path, capsys):
    (tmp_path / 'p.yaml').write_text('mamba_eeg:\n  dmodel: 32\n')
    code, _, err = run_cli(capsys, 'eeg', 'pretrain', '--primary', tmp_path / 'x.parquet', '--models-dir', tmp_path / 'm', '--config', tmp_path / 'p.yaml')
    assert_clean_failure(code, err, 'mamba_eeg.dmodel not a setting of the Mamba-2 EEG model')


def test_cli_eeg_finetune_unlabelled_dataset_exits_2(tmp_path, capsys):
    (tmp_path / 'raw').mkdir()
    assert run_cli(capsys, 'eeg', 'synth', '--out', tmp_path / 'raw', '--participants', 2, '--seconds', 12)[0] == 0
    table = pd.read_csv(tmp_path / 'raw' / 'participants.csv').assign(remission='')
    table.to_csv(tmp_path / 'raw' / 'unlabelled.csv', index=False)
    (tmp_path / 'p.yaml').write_text(TINY)
    assert run_cli(capsys, 'eeg', 'primary', '--participants', tmp_path / 'raw' / 'unlabelled.csv', '--out', tmp_path / 'eeg', '--config', tmp_path / 'p.yaml')[0] == 0
    code, _, err = run_cli(capsys, 'eeg', 'finetune', '--primary', tmp_path / 'eeg' / '5s_af7-af8-tp9-tp10_primary_dataset.parquet',
                           '--models-dir', tmp_path, '--out', tmp_path / 'ft', '--arms', 'features')
    assert_clean_failure(code, err, 'no window has a label', 'fine-tune on a labelled dataset')


def test_cli_models_list_without_registry(tmp_path, capsys):
    code, out, _ = run_cli(capsys, 'models', 'list', '--registry', tmp_path / 'none.json')
    assert code == 0 and 'no model registered yet' in out

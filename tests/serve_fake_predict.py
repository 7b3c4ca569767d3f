"""Run `big-mood` with a test double standing in for `big_mood.personal.predict` (not on this branch yet).

Usage: python tests/serve_fake_predict.py serve --models ... (any `big-mood` arguments).

The double lets tests/test_serve.py drive the service's export jobs over real HTTP before the personal wing exists:
the "export" is a one-element XML file whose attributes say what the job does. It computes nothing real; the
service's test of the real `predict_run` (test_export_job_with_the_real_predict) runs once the module exists.

    <HealthData days="60" shift="0" seed="0" fail="" crash="" wait=""/>

days: days scored; shift: added to ST_long on the last 28 days (drift); fail: a DataError naming the export's
path; crash: an unexpected exception; wait: a file to wait for (up to 120 s) before answering.
"""
import sys
import time
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd


def predict_run(export, *, model=None, population='models/population', out=None, report=None):
    "What `big_mood.personal.predict.predict_run` returns, made up from the export's attributes."
    from big_mood.core import DataError
    from big_mood.features.mood import DAILY_INDEXES
    root = ET.parse(export).getroot()
    if root.get('fail'): raise DataError(f"{Path(export).resolve()}: {root.get('fail')}")
    if root.get('crash'): raise RuntimeError(f"{Path(export).resolve()} exploded")
    if root.get('wait'):
        for _ in range(1200):
            if Path(root.get('wait')).exists(): break
            time.sleep(0.1)
    n, shift = int(root.get('days', 60)), float(root.get('shift', 0))
    dates = pd.date_range(root.get('first', '2024-01-01'), periods=n, name='date')
    rng = np.random.default_rng(int(root.get('seed', 0)))
    indexes = pd.DataFrame(rng.normal(size=(n, len(DAILY_INDEXES))), columns=list(DAILY_INDEXES), index=dates)
    indexes.iloc[-28:, 0] += shift
    risks = pd.DataFrame({'p_depressive': rng.uniform(size=n), 'model': Path(model).name if model else None,
                          'population': Path(population).name, 'status': 'ok'}, index=dates)
    risks.iloc[0, 0], risks.iloc[0, 3] = np.nan, 'insufficient data'
    return {'risks': risks, 'indexes': indexes}


if __name__ == '__main__':
    double = types.ModuleType('big_mood.personal.predict')
    double.predict_run = predict_run
    sys.modules['big_mood.personal.predict'] = double   # `run_export` imports it inside the worker
    from big_mood.cli import main
    sys.exit(main(sys.argv[1:]))

"""The dbt build's housekeeping around dagster-dbt (pipelines/transform.py)."""

import os
import time

from pipelines.transform import RUN_FOLDER_MIN_AGE_S, RUN_FOLDERS_KEPT, prune_run_folders


def _run_folders(target, ages: dict[str, float]) -> None:
    now = time.time()
    for name, age in ages.items():
        folder = target / name
        folder.mkdir()
        (folder / "dbt.log").write_text("log")
        os.utime(folder, (now - age, now - age))


def test_dbt_run_folders_older_than_a_week_are_pruned_beyond_the_newest_kept(tmp_path):
    old = {f"dbt_models-old{i:02d}": RUN_FOLDER_MIN_AGE_S + 3600 * (i + 1) for i in range(25)}
    _run_folders(tmp_path, old)
    (tmp_path / "partial_parse.msgpack").write_bytes(b"state")

    prune_run_folders(tmp_path)

    kept = {p.name for p in tmp_path.glob("dbt_models-*")}
    assert kept == set(sorted(old, key=old.get)[:RUN_FOLDERS_KEPT])
    assert (tmp_path / "partial_parse.msgpack").exists()


def test_dbt_run_folders_younger_than_a_week_are_kept_however_many(tmp_path):
    # A build of another warehouse folder may still be writing into one of them.
    young = {f"dbt_models-young{i:02d}": 3600.0 * (i + 1) for i in range(RUN_FOLDERS_KEPT + 5)}
    old = {"dbt_models-old": RUN_FOLDER_MIN_AGE_S + 3600}
    _run_folders(tmp_path, {**young, **old})

    prune_run_folders(tmp_path)

    assert {p.name for p in tmp_path.glob("dbt_models-*")} == set(young)

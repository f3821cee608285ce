"""The nightly refresh job, its schedule, the new-files sensor and the run log."""

import hashlib
import os
from datetime import UTC, datetime

from dagster import (
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    RunStatusSensorContext,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    in_process_executor,
    run_status_sensor,
    schedule,
    sensor,
)

from pipelines.publish import receivables_export
from pipelines.settings import Settings, load_settings
from pipelines.storage import (
    RunRecord,
    append_run_record,
    notify_webhook,
    pending_files,
    project_fingerprint,
)

TRIGGER_TAG = "customer_warehouse/trigger"

# One process, one step at a time: DuckDB allows a single writer to the work database, and the
# steps are sequential anyway (load -> validate -> dbt -> publish).
nightly_refresh = define_asset_job(
    "nightly_refresh",
    selection=AssetSelection.all() - AssetSelection.assets(receivables_export),
    executor_def=in_process_executor,
    description="Load new extracts, validate them, build and test every dbt model, publish.",
)


receivables_export_job = define_asset_job(
    "receivables_export_job",
    selection=AssetSelection.assets(receivables_export),
    executor_def=in_process_executor,
    description="Write finance's receivables export of one closed month.",
)


def last_closed_month(as_of) -> str:
    """The month before the as-of month: the newest month a refresh at as_of has closed."""
    first = as_of.replace(day=1)
    previous = first.fromordinal(first.toordinal() - 1)
    return previous.strftime("%Y-%m")


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[nightly_refresh],
    request_job=receivables_export_job,
    default_status=DefaultSensorStatus.RUNNING,
)
def export_closed_month(context: RunStatusSensorContext):
    """After a successful refresh, exports the month it closed unless that export exists."""
    settings = load_settings()
    month = last_closed_month(settings.as_of)
    if (settings.exports_dir / f"receivables_{month}.xlsx").exists():
        return SkipReason(f"receivables export for {month} already written")
    return RunRequest(run_key=f"receivables-{month}", partition_key=f"{month}-01")


@schedule(
    job=nightly_refresh,
    cron_schedule=os.environ.get("CW_SCHEDULE_CRON", "0 2 * * *"),
    execution_timezone=os.environ.get("CW_SCHEDULE_TIMEZONE", "Asia/Shanghai"),
    default_status=DefaultScheduleStatus.RUNNING,
    tags={TRIGGER_TAG: "schedule"},
)
def nightly_refresh_schedule(context):
    """The nightly refresh at 02:00 (CW_SCHEDULE_CRON, CW_SCHEDULE_TIMEZONE)."""
    return RunRequest(tags={TRIGGER_TAG: "schedule"})


@sensor(
    job=nightly_refresh, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING
)
def new_extract_files_sensor(context: SensorEvaluationContext):
    """Starts a refresh when new or re-delivered files land in the raw directory."""
    pending = pending_files(load_settings())
    if not pending:
        return SkipReason("no new extract files")
    run_key = hashlib.sha256("\n".join(sorted(pending)).encode()).hexdigest()[:16]
    return RunRequest(run_key=run_key, tags={TRIGGER_TAG: "new_files"})


def summarize_run(
    instance: DagsterInstance, run_id: str, settings: Settings, trigger: str
) -> RunRecord:
    """One run log record from the run's Dagster events: files, checks, outcome and reason."""
    run = instance.get_run_by_id(run_id)
    files: list[dict] = []
    passed, failed, failures = 0, [], []
    published = False
    started = ended = None
    for entry in instance.all_logs(run_id):
        stamp = datetime.fromtimestamp(entry.timestamp, UTC)
        started = started or stamp
        ended = stamp
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            key = materialization.asset_key.to_user_string()
            if key == "warehouse":
                published = True
            files_meta = materialization.metadata.get("files")
            if files_meta is not None:
                files += files_meta.value
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.asset_check_evaluation_data
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            if evaluation.passed:
                passed += 1
            else:
                failed.append(name)
                if evaluation.description:
                    failures.append(f"{name}: {evaluation.description.splitlines()[0]}")
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            failures.append(
                f"step {event.step_key} failed: {_root_cause(event.step_failure_data.error)}"
            )
    succeeded = run is not None and run.status == DagsterRunStatus.SUCCESS and published
    rejected = [
        f"{f['extract']}/{f['file_name']}: {f['message']}"
        for f in files
        if f.get("status") == "rejected"
    ]
    if succeeded:
        reason = "published" + (
            f"; {len(rejected)} file(s) rejected: " + "; ".join(rejected) if rejected else ""
        )
    else:
        reason = "The refresh did not publish; readers still see the previous warehouse. " + (
            " ".join(dict.fromkeys(failures)) if failures else "The run stopped before publishing."
        )
    now = datetime.now(UTC)
    return RunRecord(
        run_id=run_id,
        started_at=(started or now).isoformat(timespec="seconds"),
        ended_at=(ended or now).isoformat(timespec="seconds"),
        outcome="succeeded" if succeeded else "failed",
        as_of=str(settings.as_of),
        trigger=trigger,
        files=files,
        checks_passed=passed,
        checks_failed=failed,
        reason=reason,
        published=published,
        project_fingerprint=project_fingerprint(),
        dbt_vars=settings.dbt_vars,
    )


def _root_cause(error) -> str:
    """The innermost error message: what went wrong, not Dagster's wrapper around it."""
    while error is not None and error.cause is not None:
        error = error.cause
    if error is None:
        return "unknown error"
    lines = [line for line in error.message.strip().splitlines() if line.strip()]
    return " ".join(lines[:3])[:600]


def record_run(
    instance: DagsterInstance, run_id: str, settings: Settings, trigger: str
) -> RunRecord:
    record = summarize_run(instance, run_id, settings, trigger)
    if record.outcome == "failed" and settings.webhook_url:
        problem = notify_webhook(settings.webhook_url, record)
        if problem:
            record.reason += f" ({problem})"
    append_run_record(settings, record)
    return record


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[nightly_refresh],
    default_status=DefaultSensorStatus.RUNNING,
)
def record_succeeded_refresh(context: RunStatusSensorContext):
    """Writes scheduled and sensor-started refreshes to the run log (CLI runs log themselves)."""
    _record_daemon_run(context)


@run_status_sensor(
    run_status=DagsterRunStatus.FAILURE,
    monitored_jobs=[nightly_refresh],
    default_status=DefaultSensorStatus.RUNNING,
)
def record_failed_refresh(context: RunStatusSensorContext):
    """Logs failed scheduled refreshes with their reason and notifies the webhook if set."""
    _record_daemon_run(context)


def _record_daemon_run(context: RunStatusSensorContext) -> None:
    trigger = context.dagster_run.tags.get(TRIGGER_TAG, "dagster_ui")
    if trigger == "cli":
        return
    record = record_run(context.instance, context.dagster_run.run_id, load_settings(), trigger)
    context.log.info(record.reason)

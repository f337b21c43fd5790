"""Run the workers of one process: pipeline, QA and this host's runtime queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from contextlib import AsyncExitStack
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from activities.qa_admission import activity_slots
from monitoring.temporal_metrics import MetricsInterceptor
from monitoring.temporal_sentry import SentryInterceptor, sandbox_runner
from pipeline.host_drain import ask_to_move
from schemas.settings import Settings
from store.apps import AppRepository
from store.db import Database
from store.egress import EgressRecords
from store.incidents import IncidentLog
from store.qa_queue import QAQueue
from store.runtime_hosts import RuntimeHosts
from temporal import names
from temporal.refusing_codec import worker_client
from temporal.schedules import (
    ensure_anomaly_schedule,
    ensure_backup_schedule,
    ensure_mail_schedule,
)
from workers.egress_upkeep import EgressUpkeep
from workers.host_heartbeat import HostHeartbeat
from workers.host_loss import HostLossDetector
from workers.qa_queue_publisher import publish_positions
from workers.reconcile import Reconciler, restart_with
from workers.wiring import Activities, egress_proxy, evidence_keys
from workflows.registry import ALL_WORKFLOWS

log = logging.getLogger(__name__)


def polled_queues(settings: Settings) -> list[str]:
    """The task queues this host's worker polls: all three, or only its runtime queue
    where its key source holds no evidence signing key (a host that only verifies never
    records a QA report, which signs, and runs no workflow or QA work)."""
    runtime = names.runtime_task_queue(settings.runtime_host)
    if not evidence_keys(settings).can_sign():
        return [runtime]
    return [names.PIPELINE_TASK_QUEUE, names.QA_TASK_QUEUE, runtime]


def build_workers(client: Client, settings: Settings, activities: Activities) -> list[Worker]:
    """One worker per polled task queue; QA concurrency is bounded by the cores it may use."""
    a = activities
    queues = polled_queues(settings)
    interceptors = [MetricsInterceptor(), SentryInterceptor()]
    # A payload this worker cannot decrypt is refused and recorded, never a task failure.
    client = worker_client(client)
    workers = [
        Worker(
            client,
            task_queue=names.PIPELINE_TASK_QUEUE,
            workflows=list(ALL_WORKFLOWS),
            workflow_runner=sandbox_runner(),
            activities=[
                a.key_rotation.rewrap_data_keys,
                a.key_rotation.retire_master_keys,
                a.moderation.moderate_prompt,
                a.moderation.moderate_bundle_text,
                a.generation.generate_bundle,
                a.repair.repair_bundle,
                a.repair.repair_budget,
                a.releases.select_runtime_host,
                a.releases.switch_traffic,
                a.releases.clear_route,
                a.releases.record_release,
                a.qa_report.record_qa_report,
                a.anomalies.scan_anomalies,
                a.privacy.build_export,
                a.privacy.notify_export,
                a.erasure.begin_erasure,
                a.erasure.notify_erasure,
                a.erasure.retire_user_app,
                a.erasure.shred_user_key,
                a.erasure.erase_user_data,
                a.erasure.delete_user_histories,
                a.erasure.finish_erasure,
                a.backups.take_base_backup,
                a.backups.verify_backup,
                a.backups.restore_drill,
                a.backups.prune_backups,
                a.backups.alert_backup,
                a.refusals.record_refused_signal,
                a.status_views.record_app_status,
                a.status_views.record_deployment_status,
                a.mail.deliver_mail,
            ],
            max_concurrent_activities=32,
            interceptors=interceptors,
        ),
        Worker(
            client,
            task_queue=names.QA_TASK_QUEUE,
            activities=[
                a.qa.run_tests,
                a.qa.run_mutation,
                a.qa.run_fuzz,
                a.qa.run_static,
                a.qa.run_deps,
            ],
            # With admission, stages that wait for their gate's turn hold a task, not a core.
            max_concurrent_activities=activity_slots(settings),
            interceptors=interceptors,
        ),
        Worker(
            client,
            task_queue=names.runtime_task_queue(settings.runtime_host),
            activities=[
                a.runtime.start_instance,
                a.runtime.health_check,
                a.runtime.stop_instance,
            ],
            max_concurrent_activities=16,
            interceptors=interceptors,
        ),
    ]
    return [worker for worker in workers if worker.task_queue in queues]


async def run_workers(
    client: Client,
    settings: Settings,
    db: Database,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
) -> None:
    """Reconcile this host's apps, then poll every queue (and reconcile periodically)
    until ``stop`` is set.

    ``ready`` is set once the live apps of this host run and the workers poll.
    """
    activities = Activities.build(settings, db, client)
    await ensure_anomaly_schedule(client, settings)
    await ensure_backup_schedule(client, settings)
    await ensure_mail_schedule(client, settings)
    hosts = RuntimeHosts(db)
    reconciler = Reconciler(
        activities.app_runtime,
        activities.release_repo,
        AppRepository(db),
        IncidentLog(db),
        restart_with(activities.runtime.start),
        orphan_grace_s=settings.orphan_grace_s,
        hosts=hosts,
    )
    upkeep = None
    if activities.egress is not None:
        upkeep = EgressUpkeep(
            egress_proxy(settings),
            activities.egress,
            EgressRecords(db),
            activities.app_runtime,
            settings.runtime_host,
            Path(settings.egress_proxy_config().decision_log),
        )
        await upkeep.once()  # the proxy runs before any app is started again
    report = await reconciler.run_once()
    if report:
        log.info("reconciliation: %s", "; ".join(report))
    heartbeat = HostHeartbeat(
        hosts,
        settings.runtime_host,
        settings.host_capacity(),
        settings.host_heartbeat_s,
    )
    await heartbeat.register()
    async with AsyncExitStack() as stack:
        stack.push_async_callback(
            _stop_task, asyncio.create_task(heartbeat.run_forever(stop), name="host-heartbeat")
        )
        detector = HostLossDetector(
            hosts,
            AppRepository(db),
            IncidentLog(db),
            lambda app_id, request: ask_to_move(client, app_id, request),
            dead_after_s=settings.host_dead_after_s,
        )
        stack.push_async_callback(
            _stop_task,
            asyncio.create_task(
                detector.run_forever(settings.host_loss_check_s, stop), name="host-loss"
            ),
        )
        for worker in build_workers(client, settings, activities):
            await stack.enter_async_context(worker)
        log.info("workers polling %s", ", ".join(polled_queues(settings)))
        if upkeep is not None:
            # The worker owns its proxy: stopped with it (apps' egress waits for the next
            # worker, which starts it before anything else).
            stack.push_async_callback(upkeep.proxy.stop)
            stack.push_async_callback(
                _stop_task,
                asyncio.create_task(upkeep.run_forever(settings.reconcile_every_s, stop)),
            )
        if activities.qa_admission is not None:
            publisher = publish_positions(
                activities.qa_admission,
                QAQueue(db),
                f"{settings.runtime_host}:{os.getpid()}",
                stop,
            )
            stack.push_async_callback(_stop_task, asyncio.create_task(publisher))
        if ready is not None:
            ready.set()
        await reconciler.run_forever(settings.reconcile_every_s, stop)


async def _stop_task(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

"""The Slurm launcher: every pending cell becomes one task of a Slurm job array, submitted through submitit.

Each task runs :func:`ssl_bench.bench.cells.run_cell` and writes the cell's outcome into its run directory; nothing
comes back through a shared database. Preemption and time limits: submitit asks Slurm for a signal before the end
(``--signal USR2@90``), calls :meth:`SlurmCell.checkpoint` and requeues the task; the requeued task trains on from the
run directory's last epoch checkpoint, so its result equals an uninterrupted run's. A cell with ``nodes`` x
``tasks_per_node`` > 1 is one DDP run: every task is a rank, rendezvous from Slurm's environment (submitit's
``TorchDistributedEnvironment``), the same code path as torchrun.

The submitted job ids are kept beside the run directories (``RUNS/SUITE/slurm/submitted-JOBID.json``), so
``ssl-bench suite status`` can ask the scheduler about each cell.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from ssl_bench.bench.launchers import CellJob, LaunchSettings
from ssl_bench.core.checkpoint import atomic_write_json
from ssl_bench.core.errors import UserError

SUBMITIT_FOLDER = "slurm"
# squeue states of a job that is still the scheduler's business (anything else has ended)
QUEUED_STATES = ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
                 "RESIZING", "SUSPENDED", "PREEMPTED", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD")


class SlurmCell:
    """The callable a Slurm task runs (pickled by submitit); ``checkpoint`` makes preempted tasks requeue."""

    def __call__(self, job: CellJob, device: str) -> str:
        from ssl_bench.bench.cells import run_cell

        export_ddp_environment()
        outcome = run_cell(job.cell, job.evaluations, job.run_settings, job.run_dir, device, progress=False)
        return outcome["status"] if outcome else "rank > 0"

    def checkpoint(self, job: CellJob, device: str) -> Any:
        """Called by submitit on Slurm's pre-termination signal: run the same cell again, which resumes from the run
        directory's last epoch checkpoint."""
        import submitit

        return submitit.helpers.DelayedSubmission(SlurmCell(), job, device)


def export_ddp_environment() -> None:
    """In a Slurm task of a job with several tasks: set RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT
    from Slurm's environment (submitit's helper), so :func:`ssl_bench.core.distributed.process_group` joins exactly as
    under torchrun. Each rank picks its GPU from LOCAL_RANK; a single-task job is left alone."""
    import os

    if int(os.environ.get("SLURM_NTASKS", "1")) > 1:
        import submitit

        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)


def check_slurm_available() -> None:
    if shutil.which("sbatch") is None:
        raise UserError("--launcher slurm needs Slurm's sbatch on PATH; run on a cluster's login node "
                        "(or use --launcher local)")


def submit(jobs: list[CellJob], settings: LaunchSettings, device: str, suite_dir: Path, name: str) -> str:
    """Submit ``jobs`` as one Slurm job array; return its job id (the tasks are JOBID_0, JOBID_1, ...)."""
    import submitit

    check_slurm_available()
    folder = suite_dir / SUBMITIT_FOLDER
    executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=10)
    parameters = {"job_name": f"ssl-bench-{name}", "time": settings.time_min, "nodes": settings.nodes,
                  "ntasks_per_node": settings.ranks_per_node, "array_parallelism": settings.parallel,
                  "gpus_per_node": settings.gpus_per_cell or None, "cpus_per_task": settings.cpus_per_cell,
                  "mem": f"{settings.mem_gb}GB" if settings.mem_gb else None, "partition": settings.partition,
                  "account": settings.account, "qos": settings.qos, "constraint": settings.constraint}
    executor.update_parameters(**{key: value for key, value in parameters.items() if value is not None})
    try:
        with executor.batch():
            submitted = [executor.submit(SlurmCell(), job, device) for job in jobs]
    except (subprocess.CalledProcessError, OSError, RuntimeError) as err:
        raise UserError(f"Slurm refused the job array: {str(err).strip().splitlines()[-1]}; "
                        f"check --partition/--account/--qos and the limits (sinfo, sacctmgr show assoc)") from None
    job_ids = {job.cell.run_id: task.job_id for job, task in zip(jobs, submitted)}
    array_id = submitted[0].job_id.split("_")[0]
    atomic_write_json(folder / f"submitted-{array_id}.json", job_ids)
    return array_id


def submitted_jobs(suite_dir: Path) -> dict[str, str]:
    """run_id -> the Slurm job id of its latest submission."""
    jobs: dict[str, str] = {}
    records = sorted((suite_dir / SUBMITIT_FOLDER).glob("submitted-*.json"),
                     key=lambda path: int(path.stem.split("-")[1]))
    for path in records:
        jobs.update(json.loads(path.read_text()))
    return jobs


def queue_states(job_ids: list[str]) -> dict[str, str]:
    """Slurm state (squeue) of each job still in the queue; jobs that have ended are absent."""
    if not job_ids or shutil.which("squeue") is None:
        return {}
    result = subprocess.run(["squeue", "--noheader", "--array", "--me", "--format=%i %T"],
                            capture_output=True, text=True, check=False)
    states = dict(line.split() for line in result.stdout.splitlines() if len(line.split()) == 2)
    return {job_id: states[job_id] for job_id in job_ids if states.get(job_id) in QUEUED_STATES}


def log_path(suite_dir: Path, job_id: str) -> Path:
    """submitit's stderr log of a task (the error of a task that ended without an outcome is there)."""
    return suite_dir / SUBMITIT_FOLDER / f"{job_id}_0_log.err"

"""`hummuss`: the LightningCLI entry point (fit / validate / test / predict).

    hummuss fit --config experiments/quickstart.yaml
    hummuss fit --config experiments/pretrain/hummuss_causal.yaml --data.init_args.data_root /data
    hummuss fit --config experiments/quickstart.yaml --ckpt_path last        # resume the newest run
    hummuss test --config experiments/finetune/pose3d_3dhp.yaml --ckpt_path checkpoints/.../best.ckpt
    hummuss predict --config experiments/finetune/pose3d_3dhp.yaml --ckpt_path checkpoints/.../best.ckpt

Every run writes to `checkpoints/<experiment>/<version>/`: `last.ckpt`, the best checkpoint by the
experiment's monitored metric, `config-<subcommand>.yaml` (the resolved configuration) and, with the W&B logger,
its offline/online run; `predict` writes `predictions.pt` there (`callbacks.PredictionWriter`).
`--experiment` names the run family (set in each experiment YAML);
`--version` defaults to a new `version_N`. `--ckpt_path last` takes the `last.ckpt` of the newest `version_N`
that has one (or of `--version`): `fit` resumes in that directory, `validate` / `test` / `predict` evaluate it
in a new one; with no such checkpoint the command stops with an error naming the directory searched.
All processes of one launch (Lightning's own DDP ranks, torchrun, `fabric run`, srun) share rank 0's run
directory; under `fabric run` the launcher's flags configure the Trainer (`take_fabric_launch`).

What a run reports is what happened: a `--ckpt_path` checkpoint of another task or backbone is refused
(`check_checkpoint_fits`), checkpoints are read back once written (`callbacks.VerifiedModelCheckpoint`,
which also writes last.ckpt every epoch), SIGTERM stops training with a resumable last.ckpt at the step
in progress and exit status 143 (`callbacks.StopOnSigterm`), and checkpoints carry the global random
state (`callbacks.GlobalRandomState`) and the data position (the data modules' state) for exact resume.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import warnings
from pathlib import Path

import yaml
from jsonargparse import Namespace
from jsonargparse.typing import import_object
from lightning.pytorch import LightningDataModule, Trainer
from lightning.pytorch.callbacks import ProgressBar
from lightning.pytorch.cli import LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_info

from hummuss_pl.callbacks import (
    MetricsFile,
    PlainProgress,
    PredictionWriter,
    RunContext,
)
from hummuss_pl.data.common import DataFormatError, MissingDataError
from hummuss_pl.models import backbone_mismatch, read_checkpoint, resolve_backbone
from hummuss_pl.tasks.base import BackboneTask

CHECKPOINT_ROOT = Path("checkpoints")

# Lightning 2.6's own use of a torch.utils._pytree API that torch 2.13 deprecates: nothing a user
# can act on, printed on every run.
warnings.filterwarnings("ignore", re.escape("`isinstance(treespec, LeafSpec)` is deprecated"))
DEFAULTS = Path(__file__).parent / "configs" / "defaults.yaml"


LAST = "last.ckpt"  # what ModelCheckpoint(save_last=True) writes and `--ckpt_path last` resumes
LIGHTNING_CHECKPOINT = "lightning.pytorch.callbacks.ModelCheckpoint"
VERIFIED_CHECKPOINT = "hummuss_pl.callbacks.VerifiedModelCheckpoint"  # what the CLI runs in its place
RUN_DIR_ENV = "HUMMUSS_RUN_DIR"  # rank 0's run directory, inherited by the ranks Lightning starts itself
# Where launchers announce a process's rank before torch.distributed is up: torchrun (RANK), Lightning's own
# launcher (NODE_RANK for the node, LOCAL_RANK for the processes it starts), srun (SLURM_PROCID), LSF's jsrun.
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


def run_dir(experiment: str, version: str | None, resume_last: bool) -> Path:
    """checkpoints/<experiment>/<version>: `version` when given, else a new version_N; with `resume_last`
    the newest version_N holding a last.ckpt (or `version`, which must hold one)."""
    if not re.fullmatch(r"[A-Za-z0-9_.\-/]+", experiment) or ".." in experiment:
        raise ValueError(f"--experiment {experiment!r}: use letters, digits, '_', '-', '.', '/' only")
    base = CHECKPOINT_ROOT / experiment
    if version:
        if resume_last and not (base / version / LAST).is_file():
            raise FileNotFoundError(f"--ckpt_path last: {base / version}/ has no {LAST} to resume from")
        return base / version
    numbers = sorted(int(m.group(1)) for p in base.glob("version_*") if (m := re.fullmatch(r"version_(\d+)", p.name)))
    if not resume_last:
        return base / f"version_{numbers[-1] + 1 if numbers else 0}"
    resumable = [n for n in numbers if (base / f"version_{n}" / LAST).is_file()]
    if not resumable:
        found = f" (version_{', version_'.join(map(str, numbers))} hold none)" if numbers else ""
        raise FileNotFoundError(f"--ckpt_path last: no earlier run of experiment {experiment!r} under {base}/ has a {LAST}{found}")
    return base / f"version_{resumable[-1]}"


def is_launch_rank_zero() -> bool:
    """Whether this process is global rank 0 (or the only process) as far as its launcher has said."""
    return all(os.environ.get(key, "0") == "0" for key in RANK_VARIABLES)


def shared_run_dir(experiment: str, version: str | None, resume_last: bool) -> Path:
    """The run directory of this launch, one for all its processes.

    Rank 0 chooses it (`run_dir`), creates it and exports it as HUMMUSS_RUN_DIR, which the processes
    Lightning starts for the other ranks inherit. Ranks that torchrun or srun start next to rank 0 make the
    same choice without creating anything: resuming, they find the same version; for a new run they may
    guess one version too high (rank 0 may have created its directory already). That guess is never written
    to: what ranks > 0 write goes where rank 0 says (ModelCheckpoint and PredictionWriter broadcast their
    directory from rank 0), and only rank 0 writes the config and the W&B run.
    """
    inherited = os.environ.get(RUN_DIR_ENV)
    if inherited:
        return Path(inherited)
    chosen = run_dir(experiment, version, resume_last)
    if is_launch_rank_zero():
        make_writable_dir(chosen)
        os.environ[RUN_DIR_ENV] = str(chosen)
    return chosen


class RunDirectoryError(RuntimeError):
    """The run directory cannot be created or written to."""


def make_writable_dir(directory: Path) -> None:
    """Creates `directory` (and its parents) and checks that a file can be written there, so that a run
    that could not save its checkpoints stops before it starts."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as err:
        raise RunDirectoryError(
            f"cannot write to the run directory {directory}/ ({err.strerror or err}): runs write their checkpoints to "
            f"{CHECKPOINT_ROOT}/<experiment>/<version>/ under the working directory; make it writable or run from another directory"
        ) from None


def check_world_size(trainer: Trainer) -> None:
    """Refuses launcher/trainer mismatches that would train silent, unsynchronised copies.

    torchrun and srun start WORLD_SIZE (SLURM_NTASKS) processes; Lightning must then be configured
    with exactly that many devices × nodes and a distributed strategy.
    """
    launched = os.environ.get("WORLD_SIZE") or (os.environ.get("SLURM_NTASKS") if "SLURM_JOB_ID" in os.environ and "SLURM_STEP_ID" in os.environ else None)
    if launched is None:
        return  # Lightning starts the other processes itself
    # Not trainer.world_size: with a DDP strategy that echoes the launcher's own count.
    configured = trainer.num_devices * trainer.num_nodes
    if int(launched) != configured:
        raise RuntimeError(
            f"the launcher started {launched} processes but the Trainer is configured for {configured} "
            f"(devices × num_nodes = {trainer.num_devices} × {trainer.num_nodes}). Each process would train its own "
            "copy. Pass --trainer.devices <processes per node> --trainer.num_nodes <nodes> --trainer.strategy ddp, "
            "or start a single process and let Lightning launch the rest."
        )


# What `fabric run` exports to the processes it starts (besides torchrun's RANK, WORLD_SIZE, ...): its flags.
FABRIC_LAUNCH = {"LT_ACCELERATOR": "accelerator", "LT_STRATEGY": "strategy", "LT_DEVICES": "devices", "LT_NUM_NODES": "num_nodes",
                 "LT_PRECISION": "precision"}  # fmt: skip


def take_fabric_launch(trainer: Namespace) -> None:
    """Under `fabric run` (LT_CLI_USED=1), the launcher's --accelerator, --strategy, --devices, --num-nodes and
    --precision configure the Trainer, so they need not be repeated as --trainer flags; a flag the launcher
    was not given keeps the configuration's value. The launcher's count wins over the configuration's: it
    is the number of processes that run."""
    if os.environ.get("LT_CLI_USED") != "1":
        return
    taken, replaced = [], []
    for variable, key in FABRIC_LAUNCH.items():
        if variable in os.environ:
            value, configured = _launcher_value(os.environ[variable]), trainer.get(key)
            taken.append(f"{key}={value}")
            if configured is not None and str(configured) != str(value):
                replaced.append(f"{key}={configured}")
            trainer[key] = value
    note = f" (the configuration had {', '.join(replaced)})" if replaced else ""
    rank_zero_info(f"fabric run: Trainer {', '.join(taken)} from the launcher{note}")


def _launcher_value(text: str) -> int | str:
    """'2' → 2, '-1' → -1; device lists ('0,1') and names ('auto', 'cuda', 'bf16-mixed') stay strings."""
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def check_checkpoint_fits(model: Namespace, checkpoint: dict, path: Path) -> None:
    """Refuses a `--ckpt_path` checkpoint written by another task or for another backbone than the configured
    ones (LightningCLI would otherwise rebuild the model from the checkpoint's hyper-parameters and train
    or evaluate it in place of the configured one)."""
    hparams = checkpoint.get("hyper_parameters") or {}
    configured_task, saved_task = model.get("class_path"), hparams.get("_class_path")
    if configured_task and saved_task and configured_task != saved_task:
        raise CheckpointMismatchError(f"--ckpt_path {path} was written by {saved_task.rsplit('.', 1)[-1]} but the configuration "
                                      f"runs {configured_task.rsplit('.', 1)[-1]}: give a checkpoint of this task or the config it was trained with")  # fmt: skip
    configured, saved = (model.get("init_args") or {}).get("backbone"), hparams.get("backbone")
    if configured is None or saved is None:
        return
    mismatch = backbone_mismatch(resolve_backbone(_plain(saved)), resolve_backbone(_plain(configured)), owner="the configuration")
    if mismatch:
        raise CheckpointMismatchError(f"--ckpt_path {path} {mismatch}: set --model.init_args.backbone to the checkpoint's, "
                                      "or give a checkpoint of this backbone")  # fmt: skip


class CheckpointMismatchError(ValueError):
    """A `--ckpt_path` checkpoint that does not fit the configured task or backbone."""


def _plain(value):
    """A jsonargparse Namespace (a backbone given as class_path/init_args) as the dict `resolve_backbone` reads."""
    return value.as_dict() if isinstance(value, Namespace) else value


class SaveConfigToRun(SaveConfigCallback):
    """Writes the resolved config to the run directory and logs it to the experiment logger."""

    def save_config(self, trainer: Trainer, pl_module, stage: str) -> None:
        text = self.parser.dump(self.config, skip_none=False)
        directory = getattr(self, "run_dir", None)
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            (directory / f"config-{getattr(stage, 'value', stage)}.yaml").write_text(text)
        for logger in trainer.loggers:
            logger.log_hyperparams({"cli_config": text, "cli": yaml.safe_load(text)})


class HummussCLI(LightningCLI):
    """The `hummuss` command. `main()` ends it with `finish()`: W&B's closing lines, then the summary of
    where the run's files are; code that builds a HummussCLI itself calls `finish()` when done with it."""

    def __init__(self, args: list[str] | None = None, run: bool = True) -> None:
        self.summary: list[str] = []
        self.run_dir: Path | None = None  # settled right after parsing (`_parse_ckpt_path`) or before instantiation
        self._wandb_run_before = _active_wandb_run()  # a run someone else started: not ours to finish
        inherited = RUN_DIR_ENV in os.environ
        try:
            super().__init__(
                model_class=BackboneTask,
                datamodule_class=LightningDataModule,
                subclass_mode_model=True,
                subclass_mode_data=True,
                save_config_callback=SaveConfigToRun,
                save_config_kwargs={"save_to_log_dir": False},
                parser_kwargs={cmd: {"default_env": False, "default_config_files": [str(DEFAULTS)]} for cmd in ("fit", "validate", "test", "predict")},
                args=args,
                run=run,
            )
        finally:
            if not inherited:  # the directory was this launch's; the next command in this process picks its own
                os.environ.pop(RUN_DIR_ENV, None)

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_argument("--experiment", type=str, default="default", help="run family: checkpoints/<experiment>/<version>/")
        parser.add_argument("--version", type=str | None, default=None, help="run name; default: a new version_N (the newest with --ckpt_path last)")

    def _parse_ckpt_path(self) -> None:
        """LightningCLI's step right after parsing, where it replaces the model's configuration with the
        `--ckpt_path` checkpoint's hyper-parameters. First the run directory is settled (`--ckpt_path last`
        becomes a file), then the checkpoint is read (one line for a truncated one) and refused when its task
        or backbone is not the configured one; only then does LightningCLI take its hyper-parameters."""
        subcommand = self.config.get("subcommand")
        if not subcommand:
            return
        config = self.config[subcommand]
        self._settle_run_dir(config, subcommand)
        if config.get("ckpt_path"):
            path = Path(config.ckpt_path)
            if not path.is_file():
                raise FileNotFoundError(f"--ckpt_path {path}: no such file (give a .ckpt written by `hummuss fit`, or `last`)")
            check_checkpoint_fits(config.model, read_checkpoint(path), path)
        super()._parse_ckpt_path()

    def _settle_run_dir(self, config: Namespace, subcommand: str | None) -> None:
        """Chooses this launch's run directory and turns `--ckpt_path last` into the file it means."""
        last = config.get("ckpt_path") == "last"
        latest = run_dir(config.experiment, config.version, resume_last=True) if last else None  # raises when none
        self.run_dir = shared_run_dir(config.experiment, config.version, resume_last=last and subcommand == "fit")
        if latest is not None:
            # A file, not Lightning's "last": that searches only this run's checkpoint directory and, finding
            # nothing there, warns and trains from scratch. fit resumes in place; the others evaluate it.
            config.ckpt_path = str((self.run_dir if subcommand == "fit" else latest) / LAST)

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        if self.run_dir is None:  # without a subcommand (run=False) nothing settled it after parsing
            self._settle_run_dir(config, self.subcommand)
        if not any(self.run_dir.glob("*.ckpt")):
            # The config file and the W&B run land in the run directory before ModelCheckpoint looks at
            # it; with no checkpoint there, its "exists and is not empty" warning would be noise.
            warnings.filterwarnings("ignore", re.escape("Checkpoint directory ") + ".*" + re.escape(f"{self.run_dir} exists and is not empty"))
        trainer = config.trainer
        take_fabric_launch(trainer)
        if trainer.get("default_root_dir") in (None, os.getcwd()):
            trainer.default_root_dir = str(self.run_dir)
        callbacks = trainer.get("callbacks") or []
        if trainer.get("enable_progress_bar") is False:  # the defaults' RichProgressBar would contradict the flag
            callbacks = trainer.callbacks = [c for c in callbacks if not _is_progress_bar(c)]
        elif not sys.stdout.isatty() and any(_is_progress_bar(c, live=True) for c in callbacks):
            # A log file, not a terminal (SLURM, nohup, `make pretrain > log`): a live bar prints nothing
            # readable there, so plain lines per epoch instead.
            plain = Namespace(class_path="hummuss_pl.callbacks.PlainProgress", init_args=Namespace(every_minutes=5.0))
            callbacks = trainer.callbacks = [plain if _is_progress_bar(c, live=True) else c for c in callbacks]
        checkpoints = [c for c in callbacks if str(c.get("class_path", "")).endswith("ModelCheckpoint")]
        for callback in checkpoints:
            if callback.class_path == LIGHTNING_CHECKPOINT:
                callback.class_path = VERIFIED_CHECKPOINT  # the same arguments; every file it writes is read back
            if callback.init_args.get("dirpath") is None:
                callback.init_args.dirpath = str(self.run_dir)
        if self.subcommand == "fit":
            callbacks = trainer.callbacks = [*callbacks, *self._run_record_callbacks()]
        if self.subcommand != "fit" and not checkpoints:
            trainer.enable_checkpointing = False  # validate / test / predict write no checkpoints, so the
            # checkpoint callback's saved state has nothing to go to (Lightning would warn about that)
            warnings.filterwarnings("ignore", re.escape("Be aware that when using `ckpt_path`, callbacks used to create the checkpoint"))
        elif not checkpoints and trainer.get("enable_checkpointing", True) is not False:
            callbacks = trainer.callbacks = [*callbacks, self._checkpoint_config(config)]
        writers = [c for c in callbacks if str(c.get("class_path", "")).endswith("PredictionWriter")]
        if self.subcommand == "predict" and not writers:
            writer = Namespace(class_path="hummuss_pl.callbacks.PredictionWriter", init_args=Namespace(output_dir=str(self.run_dir)))
            trainer.callbacks = [*callbacks, writer]
        logger = trainer.get("logger")
        for entry in logger if isinstance(logger, list) else [logger]:
            if hasattr(entry, "get") and str(entry.get("class_path", "")).endswith("WandbLogger"):
                args = entry.init_args
                if args.get("save_dir") in (None, "", "."):  # "." is WandbLogger's default
                    args.save_dir = str(self.run_dir)
                args.name = args.get("name") or f"{config.experiment}/{self.run_dir.name}"
                args.group = args.get("group") or config.experiment

    def _run_record_callbacks(self) -> list[Namespace]:
        """What every fit gets: a resumable last.ckpt on SIGTERM, the global random state in its checkpoints."""
        return [
            Namespace(class_path="hummuss_pl.callbacks.StopOnSigterm", init_args=Namespace(path=str(self.run_dir / LAST))),
            Namespace(class_path="hummuss_pl.callbacks.GlobalRandomState", init_args=Namespace()),
        ]

    def _checkpoint_config(self, config) -> Namespace:
        """last.ckpt plus the best checkpoint by the task's `monitor` (metric, mode)."""
        task_cls = import_object(config.model.class_path) if config.get("model") else BackboneTask
        metric, mode = getattr(task_cls, "monitor", BackboneTask.monitor)
        short = metric.split("/")[-1]
        return Namespace(
            class_path=VERIFIED_CHECKPOINT,
            init_args=Namespace(
                dirpath=str(self.run_dir),
                filename=f"best-epoch{{epoch:03d}}-{short}{{{metric}:.3f}}",
                auto_insert_metric_name=False,
                monitor=metric,
                mode=mode,
                save_last=True,
                save_top_k=1,
            ),
        )

    def instantiate_classes(self) -> None:
        super().instantiate_classes()
        share_smpl_dir(self.model, self.datamodule)

    def instantiate_trainer(self, **kwargs) -> Trainer:
        trainer = super().instantiate_trainer(**kwargs)
        trainer.callbacks += [RunContext(), MetricsFile(self.run_dir, self.subcommand or "run")]
        check_world_size(trainer)
        for callback in trainer.callbacks:
            if isinstance(callback, SaveConfigToRun):
                callback.run_dir = self.run_dir
        return trainer

    def _summarise(self, what: str) -> None:
        """The lines `finish()` prints: the run directory, checkpoints and W&B run (rank 0 only)."""
        if not self.trainer.is_global_zero:
            return
        lines = [f"{what} finished. Run directory: {self.run_dir}/"]
        ckpt = self.trainer.checkpoint_callback
        if ckpt is not None and ckpt.best_model_path:
            score = f" ({ckpt.monitor} = {float(ckpt.best_model_score):.3f})" if ckpt.best_model_score is not None else ""
            if ckpt.dirpath and Path(ckpt.best_model_path).parent.resolve() != Path(ckpt.dirpath).resolve():
                score += "  (written by the run this one resumed from; none was better here)"  # ModelCheckpoint keeps it
            lines.append(f"  best checkpoint: {ckpt.best_model_path}{score}")
        if ckpt is not None and ckpt.last_model_path:
            lines.append(f"  last checkpoint: {ckpt.last_model_path}  (resume: add --ckpt_path last)")
        mode = os.environ.get("WANDB_MODE", "online")
        for run in self._wandb_runs():
            hint = "  (upload later with `wandb sync <dir>`)" if mode == "offline" else ""
            lines.append(f"  W&B run ({mode}): {Path(run.dir).parent}{hint}")
        files = [p for c in self.trainer.callbacks if isinstance(c, PredictionWriter) for p in c.written]
        if files:
            lines.append("  predictions: " + ", ".join(map(str, files)) + "  (torch.load: a dict of per-sample entries)")
        pictures = [p for c in self.trainer.callbacks if isinstance(c, PredictionWriter) for p in c.rendered]
        if pictures:
            lines.append(f"  rendered clips ({len(pictures)}): {pictures[0].parent}/  (2D input | 3D prediction, ground truth dashed)")
        self.summary = lines

    def _wandb_runs(self) -> list:
        """The W&B runs this command's WandbLoggers started (rank 0; none with WANDB_MODE=disabled)."""
        if os.environ.get("WANDB_MODE") == "disabled" or not self.trainer.is_global_zero:
            return []
        runs = [logger.experiment for logger in self.trainer.loggers if isinstance(logger, WandbLogger)]
        return [run for run in runs if run is not None and run is not self._wandb_run_before and hasattr(run, "dir")]

    def after_fit(self) -> None:
        self._summarise("Training")

    def after_test(self) -> None:
        self._summarise("Test")

    def after_predict(self) -> None:
        self._summarise("Prediction")

    def finish(self) -> None:
        """Ends the command: finishes its W&B runs, so that W&B's closing lines (sync hint, log folder) come
        first, then prints the summary, the last thing the user sees. Only for the end of the process: the
        trainer logs nothing to W&B afterwards (a finished run refuses it)."""
        for run in self._wandb_runs():
            run.finish()
        if self.summary:
            rank_zero_info("\n".join(self.summary))


def share_smpl_dir(model, datamodule) -> None:
    """A task that needs the SMPL files but was given no folder (MeshTask without smpl_dir) gets its data
    module's (MeshDataModule.smpl_dir: DATA_ROOT/mesh unless set), so a recipe names the folder once."""
    folder = getattr(datamodule, "smpl_dir", None)
    if hasattr(model, "attach_smpl") and getattr(model, "smpl", None) is None and folder is not None:
        model.attach_smpl(folder, f"{type(datamodule).__name__}.smpl_dir")
        rank_zero_info(f"{type(model).__name__}: SMPL files from {folder} (the data module's smpl_dir)")


def _active_wandb_run():
    """wandb.run when wandb is loaded and a run is active (checked without importing wandb)."""
    wandb = sys.modules.get("wandb")
    return getattr(wandb, "run", None)


def _is_progress_bar(callback: Namespace, live: bool = False) -> bool:
    """Whether a `trainer.callbacks` entry of the config is a progress bar (Rich, TQDM, ours or a
    subclass); with `live`, one that redraws itself (not `PlainProgress`)."""
    class_path = callback.get("class_path") if hasattr(callback, "get") else None
    if not isinstance(class_path, str):
        return False
    cls = import_object(class_path)
    return issubclass(cls, ProgressBar) and not (live and issubclass(cls, PlainProgress))


PACKAGE_DIR = str(Path(__file__).resolve().parent)


def _chain(err: BaseException):
    """`err` and the errors it was raised from or during, outermost first."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


def _one_line(err: BaseException) -> str:
    """An error's message on one line: the message itself, or for an error re-raised from a DataLoader
    worker (torch puts the worker's traceback into the text) the worker error's own message; then the
    notes (e.g. where in the run it happened)."""
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    if "Original Traceback" in text:  # "...\nhummuss_pl.data.common.DataFormatError: <message>"
        text = text.strip().splitlines()[-1].split(": ", 1)[-1]
    return " ".join([text, *getattr(err, "__notes__", [])])


def user_error(err: BaseException) -> str | None:
    """What to show a user instead of a traceback, or None for a traceback: the message of a data error
    (DataFormatError, MissingDataError) anywhere in the chain, whatever caused it and wherever it was
    re-raised (a DataLoader worker, Lightning's hooks); else of the innermost cause when it was raised
    on purpose by this package (a ValueError, FileNotFoundError, KeyError or RuntimeError whose last
    frame is in hummuss_pl, e.g. a DataModule saying which data_root it needs)."""
    for e in _chain(err):
        if isinstance(e, (DataFormatError, MissingDataError)):
            return _one_line(e)
    while err.__cause__ is not None:
        err = err.__cause__
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    ours = tb is not None and str(Path(tb.tb_frame.f_code.co_filename).resolve()).startswith(PACKAGE_DIR)
    return _one_line(err) if ours and isinstance(err, (ValueError, FileNotFoundError, KeyError, RuntimeError)) else None


def main(args: list[str] | None = None) -> None:
    """The `hummuss` console script. Configuration and data errors raised by this package print their
    message on one line (jsonargparse and Lightning would wrap them in pages of traceback);
    HUMMUSS_TRACEBACK=1 shows it all. `hummuss render` (pictures of saved predictions), `hummuss
    report` (the experiments' report, or a report of finished runs) and `hummuss export` (the causal
    step as an ONNX / TorchScript file) have their own small parsers."""
    argv = sys.argv[1:] if args is None else list(args)
    if argv[:1] == ["render"]:
        from hummuss_pl.render import main as render_main

        sys.exit(render_main(argv[1:]))
    if argv[:1] == ["report"]:
        from hummuss_pl.experiments.report import main as report_main

        sys.exit(report_main(argv[1:]))
    if argv[:1] == ["export"]:
        from hummuss_pl.export import main as export_main

        sys.exit(export_main(argv[1:]))
    try:
        cli = HummussCLI(args=args)
    except Exception as err:
        message = None if os.environ.get("HUMMUSS_TRACEBACK") else user_error(err)
        if message is None:
            raise
        sys.exit(f"hummuss: error: {message}\n(HUMMUSS_TRACEBACK=1 shows the full traceback)")
    cli.finish()


if __name__ == "__main__":
    main(sys.argv[1:])

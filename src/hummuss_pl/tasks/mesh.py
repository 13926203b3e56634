"""Human mesh recovery on 3DPW (SPEC §7, paper §5.2, Table 2), optionally refining HybrIK.

Model: backbone representation (N, T, 17, D_rep) → a head that returns SMPL parameters
(`SMPLParams`: 24 rotations per frame and betas) → the neutral SMPL layer → vertices (N, T, 6890, 3)
and H36M-17 joints (J_regressor_h36m @ vertices), in mm.
    hybrik None  `MeshHead`, MotionBERT's SMPL regressor (per-frame pose in 6D + clip-pooled shape)
    hybrik set   `HybrIKFusionHead`: a 6D residual on HybrIK's per-frame rotations from the
                 representation and a temporal convolution; batches must carry HYBRIK_POSE/SHAPE
The backbone's own lifting head is not used and is frozen (so DDP waits for no gradient of it).

Causality. With a causal backbone the heads are causal as well: the HybrIK convolutions look only
at past frames, and the shape branch of either head averages frames ≤ t instead of the whole clip.
`causal_heads` None follows the backbone (and each head config's own `causal` flag); True makes the
heads causal with any backbone; False with a causal backbone is refused.

Ground truth. The data module yields SMPL parameters; the neutral SMPL runs here, on the device, for
targets and predictions alike (MotionBERT: GT from the neutral model, not the gendered one).

Training loss: MotionBERT's mesh loss (`losses.mesh_loss`, `MeshLossConfig`).

Evaluation (MotionBERT `evaluate_mesh`; reference/datasets.md §2.1), every frame of every 3DPW test
clip, pooled:
    val/mpve      mean error over all 6890 vertices after subtracting each mesh's regressed
                  H36M pelvis (joint 0)
    val/mpjpe     joints made relative to the pelvis, then the 14 joints `skeleton.H36M_EVAL_14`
                  (root, belly and nose dropped)
    val/pa_mpjpe  the same 14 joints after per-frame similarity Procrustes
    (test/... alike). With `flip_test`, the mesh is the mean of the mesh of the input and the
    mirrored-back (`flip_smpl_pose`) mesh of the mirrored input (`skeleton.flip_h36m`; the HybrIK
    initial pose is mirrored too). The best checkpoint is chosen by val/mpjpe (MotionBERT: 3DPW MPJPE).

SMPL files (licensed; never in checkpoints: the SMPL layer keeps its arrays out of state_dict):
`smpl_dir` holds SMPL_NEUTRAL.pkl, J_regressor_h36m_correct.npy and smpl_mean_params.npz
(MotionBERT's data/mesh). The `hummuss` CLI gives a task without one its data module's folder
(`attach_smpl`; DATA_ROOT/mesh by default); the folder used is written into the checkpoint's
hyper-parameters, so `MeshTask.load_from_checkpoint` finds the files again.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import roma
import torch
from torch import Tensor, nn

from hummuss_pl.batch import HYBRIK_POSE, HYBRIK_SHAPE, INPUT, SMPL_POSE, SMPL_SHAPE
from hummuss_pl.losses import MeshLossConfig, mesh_loss
from hummuss_pl.metrics import MPJPE, MPVE, PAMPJPE
from hummuss_pl.models.heads import (
    HybrIKFusionConfig,
    HybrIKFusionHead,
    MeshHead,
    MeshHeadConfig,
    SMPLParams,
    load_mean_params,
)
from hummuss_pl.models.smpl import (
    SMPL,
    SMPLOutput,
    build_smpl,
    flip_smpl_pose,
    smpl_files,
)
from hummuss_pl.skeleton import H36M_EVAL_14, H36M_ROOT, flip_h36m

from .base import BackboneConfig, BackboneTask, OptimConfig, allow_in_checkpoints

allow_in_checkpoints(MeshHeadConfig, HybrIKFusionConfig, MeshLossConfig)

__all__ = ["MeshTask"]

SPLITS = ("val", "test")


class MeshTask(BackboneTask):
    """SMPL mesh recovery from 2D keypoint clips (3DPW + COCO), MotionBERT's mesh fine-tuning.

    Args:
        backbone: a HumMUSSConfig / MotionBERTConfig or a preset name (see `BACKBONE_PRESETS`).
        optim: MotionBERT's mesh recipe (MB_ft_pw3d): head lr 5e-4, backbone lr 5e-5, weight decay
            0.01, lr × 0.98 per epoch.
        head: the SMPL regressor (hidden 1024, dropout 0.1). Its num_joints and dim_rep are taken
            from the backbone. mean_params None: SPIN's mean pose/shape from
            <smpl_dir>/smpl_mean_params.npz when `use_mean_params`, else identity rotations / zero
            betas; a path: that file. Unused when `hybrik` is set.
        hybrik: the HybrIK fusion head (MotionBERT's refiner: hidden 512, dropout 0.5, k = 5);
            None: plain regression. num_joints and dim_rep are taken from the backbone.
        causal_heads: None: heads are causal when the backbone is (or their config says so);
            True: always causal; False: never (an error with a causal backbone).
        loss: the mesh loss weights (MotionBERT's MB_ft_pw3d by default).
        smpl_dir: folder with SMPL_NEUTRAL.pkl and J_regressor_h36m_correct.npy (+ smpl_mean_params.npz);
            None: attached later with `attach_smpl` (the CLI attaches the data module's), before fitting.
        use_mean_params: start the regressor from SPIN's mean parameters (see `head`).
        flip_test: flip test-time augmentation in validation and test.
        pretrained: backbone weights to start from (a .ckpt of ours, or an official MotionBERT .bin).
    """

    monitor = ("val/mpjpe", "min")

    def __init__(
        self,
        backbone: BackboneConfig | str = "hummuss-bidirectional",
        optim: OptimConfig = OptimConfig(lr=5e-4, lr_backbone=5e-5, weight_decay=0.01, lr_decay=0.98),
        head: MeshHeadConfig = MeshHeadConfig(),
        hybrik: HybrIKFusionConfig | None = None,
        causal_heads: bool | None = None,
        loss: MeshLossConfig = MeshLossConfig(),
        smpl_dir: str | None = None,
        use_mean_params: bool = True,
        flip_test: bool = True,
        pretrained: str | None = None,
        compile: bool = False,
    ) -> None:
        super().__init__(backbone, optim, pretrained, compile)
        self.save_hyperparameters()
        bb = self.backbone_cfg
        if causal_heads is False and bb.causal:
            raise ValueError(
                "MeshTask.causal_heads=False with a causal backbone: non-causal heads would let frame t see later "
                "frames (HybrIK convolutions, clip-pooled shape), so the model would not be causal. Leave "
                "causal_heads unset (null) to follow the backbone, or use a bidirectional backbone."
            )
        self.backbone.head.requires_grad_(False)  # the lifting head: unused here
        self.loss_cfg, self.flip_test, self.use_mean_params = loss, flip_test, use_mean_params
        self.smpl_dir = None if smpl_dir is None else Path(smpl_dir).expanduser()
        fit = dict(num_joints=bb.num_joints, dim_rep=bb.dim_rep)
        if hybrik is not None:
            self.head_cfg = replace(hybrik, **fit, causal=self._causal(hybrik.causal, causal_heads))
            self.head = HybrIKFusionHead(self.head_cfg)
            self._mean_params_loaded = True  # the fusion head starts from HybrIK's estimates
        else:
            # Mean parameters from smpl_dir are loaded once the folder is known (here or in setup).
            self.head_cfg = replace(head, **fit, causal=self._causal(head.causal, causal_heads))
            self.head = MeshHead(self.head_cfg)
            self._mean_params_loaded = self.head_cfg.mean_params is not None or not use_mean_params
        self.smpl: SMPL | None = None
        if self.smpl_dir is not None:
            self.attach_smpl(self.smpl_dir)
        self.mpve = nn.ModuleDict({s: MPVE() for s in SPLITS})
        self.mpjpe = nn.ModuleDict({s: MPJPE(joints=H36M_EVAL_14, root=H36M_ROOT) for s in SPLITS})
        self.pa_mpjpe = nn.ModuleDict({s: PAMPJPE(joints=H36M_EVAL_14, root=H36M_ROOT) for s in SPLITS})

    def _causal(self, requested: bool, causal_heads: bool | None) -> bool:
        return (requested or self.backbone_cfg.causal) if causal_heads is None else causal_heads

    @property
    def uses_hybrik(self) -> bool:
        return isinstance(self.head, HybrIKFusionHead)

    # ------------------------------------------------------------------------------------ SMPL
    def attach_smpl(self, folder: str | Path, owner: str = "MeshTask.smpl_dir") -> None:
        """Builds the SMPL layer from the files in `folder` and, for a fresh regressor, loads the mean
        parameters; `owner` names the argument that gave the folder, for errors."""
        folder = Path(folder).expanduser()
        self.smpl = build_smpl(folder, owner)
        self.smpl_dir = folder
        if not self._mean_params_loaded:
            pose, shape = load_mean_params(smpl_files(folder).mean_params)
            self.head.init_pose.copy_(pose)
            self.head.init_shape.copy_(shape)
            self._mean_params_loaded = True

    def setup(self, stage: str) -> None:
        # Before a checkpoint is restored (Lightning restores after setup), so trained buffers win.
        if self.smpl is None:
            raise ValueError(
                "MeshTask needs the SMPL files: set smpl_dir (--model.init_args.smpl_dir /path/to/mesh, the folder with "
                "SMPL_NEUTRAL.pkl and J_regressor_h36m_correct.npy), or call attach_smpl(folder) before fitting (the "
                "hummuss CLI attaches the data module's smpl_dir, DATA_ROOT/mesh by default)"
            )
        self.smpl.to(self.device)
        super().setup(stage)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        if self.smpl_dir is not None:  # so load_from_checkpoint finds the SMPL files again
            checkpoint["hyper_parameters"]["smpl_dir"] = str(self.smpl_dir.resolve())

    def run_smpl(self, pose: Tensor, betas: Tensor) -> SMPLOutput:
        """The neutral SMPL in float32 (also under mixed precision: mm-scale vertices need it).
        pose (..., 24, 3, 3) or (..., 72), betas (..., 10) → vertices (..., 6890, 3), joints (..., 17, 3) mm."""
        if self.smpl is None:
            raise RuntimeError("MeshTask has no SMPL layer yet: give smpl_dir, or let a Trainer set the task up with a "
                               "MeshDataModule (its smpl_dir)")
        with torch.autocast(device_type=pose.device.type, enabled=False):
            return self.smpl(pose.float(), betas.float())

    # ------------------------------------------------------------------------------------ model
    def forward(self, x: Tensor, hybrik_pose: Tensor | None = None, hybrik_shape: Tensor | None = None) -> SMPLParams:
        """x (N, T, 17, 3) → SMPLParams (rotations (N, T, 24, 3, 3), betas (N, T, 10)); with the HybrIK
        head also HybrIK's axis-angle pose (N, T, 72) and betas (N, T, 10)."""
        rep = self.backbone.representation(x)  # (N, T, J, D_rep)
        if not self.uses_hybrik:
            return self.head(rep)
        if hybrik_pose is None or hybrik_shape is None:
            raise ValueError("MeshTask was built with the HybrIK fusion head: pass hybrik_pose (N, T, 72) and hybrik_shape (N, T, 10)")
        return self.head(rep, hybrik_pose, hybrik_shape)

    def _hybrik_inputs(self, batch: dict) -> tuple[Tensor | None, Tensor | None]:
        if not self.uses_hybrik:
            return None, None
        missing = [k for k in (HYBRIK_POSE, HYBRIK_SHAPE) if k not in batch]
        if missing:
            raise KeyError(f"MeshTask uses the HybrIK fusion head (hybrik is set) but the batch lacks {missing}: read the "
                           "+HybrIK mesh files (--data.init_args.hybrik true) or set --model.init_args.hybrik null")
        return batch[HYBRIK_POSE], batch[HYBRIK_SHAPE]

    def predict_mesh(self, batch: dict, flip: bool = False) -> tuple[SMPLParams, SMPLOutput]:
        """The model's SMPL parameters for the batch's input and the mesh, vertices (N, T, 6890, 3) and
        H36M joints (N, T, 17, 3) in mm. With `flip`, the mesh is the mean of the meshes of the input
        and of the mirrored-back prediction for the mirrored input (the parameters are the input's)."""
        x = batch[INPUT]  # (N, T, 17, 3)
        hybrik_pose, hybrik_shape = self._hybrik_inputs(batch)
        if not flip:
            params = self(x, hybrik_pose, hybrik_shape)
            return params, self.run_smpl(params.rotmat, params.betas)
        n = x.shape[0]
        if hybrik_pose is not None:
            hybrik_pose = torch.cat([hybrik_pose, flip_smpl_pose(hybrik_pose)])  # (2N, T, 72)
            hybrik_shape = torch.cat([hybrik_shape, hybrik_shape])
        both = self(torch.cat([x, flip_h36m(x)]), hybrik_pose, hybrik_shape)  # (2N, ...): input, then its mirror
        rotmat = torch.cat([both.rotmat[:n], flip_smpl_pose(both.rotmat[n:])])  # mirror the second half back
        mesh = self.run_smpl(rotmat, both.betas)  # (2N, T, V, 3), (2N, T, 17, 3)
        params = SMPLParams(both.rotmat[:n], both.betas[:n], both.pose_6d[:n])
        return params, SMPLOutput(0.5 * (mesh.vertices[:n] + mesh.vertices[n:]), 0.5 * (mesh.joints[:n] + mesh.joints[n:]))

    @torch.no_grad()
    def target_mesh(self, batch: dict) -> SMPLOutput:
        """Ground truth: the neutral SMPL on the batch's SMPL_POSE (N, T, 72) and SMPL_SHAPE (N, T, 10)."""
        return self.run_smpl(batch[SMPL_POSE], batch[SMPL_SHAPE])

    def predictions(self, batch: dict) -> dict[str, Tensor]:
        """Per clip and frame: smpl_pose (N, T, 72) axis-angle and smpl_shape (N, T, 10), the input's
        SMPL parameters (the mesh files' convention; vertices = `run_smpl(smpl_pose, smpl_shape)`),
        and joints_mm (N, T, 17, 3), the evaluated H36M joints (flip-averaged with flip_test)."""
        params, mesh = self.predict_mesh(batch, flip=self.flip_test)
        pose = roma.rotmat_to_rotvec(params.rotmat).flatten(-2)  # (N, T, 24, 3) → (N, T, 72)
        return {"smpl_pose": pose, "smpl_shape": params.betas, "joints_mm": mesh.joints}

    # ------------------------------------------------------------------------------------ metrics
    def update_metrics(self, pred: SMPLOutput, target: SMPLOutput, split: str) -> None:
        """Adds a batch of meshes (vertices (..., 6890, 3), joints (..., 17, 3), mm) to the split's metrics."""
        root = H36M_ROOT
        self.mpve[split].update(pred.vertices, target.vertices, pred.joints[..., root, :], target.joints[..., root, :])
        self.mpjpe[split].update(pred.joints, target.joints)
        self.pa_mpjpe[split].update(pred.joints, target.joints)

    # ------------------------------------------------------------------------------------ step
    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        n = batch[INPUT].shape[0]
        target = self.target_mesh(batch)
        params, pred = self.predict_mesh(batch)
        vertices = (pred.vertices, target.vertices) if self.loss_cfg.vertex_weight > 0 else (None, None)
        terms = mesh_loss(pred.joints, target.joints, params.rotmat, batch[SMPL_POSE], params.betas,
                          batch[SMPL_SHAPE], self.loss_cfg, *vertices)  # fmt: skip
        for name, value in terms.items():
            if name != "total":
                self.log(f"train/loss_{name}", value, batch_size=n)
        self.log("train/loss", terms["total"], batch_size=n, prog_bar=True)
        return terms["total"]

    def evaluation_step(self, batch: dict, split: str) -> None:
        x = batch[INPUT]
        _, pred = self.predict_mesh(batch, flip=self.flip_test)
        self.update_metrics(pred, self.target_mesh(batch), split)
        for name, metrics in (("mpve", self.mpve), ("mpjpe", self.mpjpe), ("pa_mpjpe", self.pa_mpjpe)):
            self.log(f"{split}/{name}", metrics[split], batch_size=x.shape[0] * x.shape[1], prog_bar=name == "mpjpe")

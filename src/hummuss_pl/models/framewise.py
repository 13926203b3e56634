"""A per-frame MLP lifter: the floor a temporal backbone has to beat.

Each frame's 17 keypoints are lifted on their own (no other frame is seen), so the model has no
notion of time at all: it is causal, needs no frame rate, and any gain a temporal backbone shows
over it is what that backbone learns from motion. Same interface as the other backbones
(`representation`, `forward`, `head`), so every task can train it.

    x (B, F, J, 3) → per frame: flatten (J·3) → Linear → depth × [GELU, Linear] → (J·dim_rep)
      → tanh = representation (B, F, J, dim_rep) → head Linear(dim_rep → 3) = 3D joints
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import Tensor, nn

from .inputs import as_dtype_of, check_keypoints


@dataclass(frozen=True)
class FramewiseConfig:
    """hidden: width of the MLP; depth: hidden layers. `causal` is True: a per-frame model never
    looks at another frame (tasks read the flag to choose causal heads and windows)."""

    num_joints: int = 17
    in_channels: int = 3
    out_channels: int = 3
    hidden: int = 256
    depth: int = 2
    dim_rep: int = 64
    causal: bool = True

    def __post_init__(self) -> None:
        for name in ("num_joints", "in_channels", "out_channels", "hidden", "depth", "dim_rep"):
            if getattr(self, name) < 1:
                raise ValueError(f"FramewiseConfig.{name} must be >= 1; got {getattr(self, name)}")
        if not self.causal:
            raise ValueError("FramewiseConfig.causal must be True: a per-frame model sees no other frame")

    def as_dict(self) -> dict:
        return asdict(self)


class FramewiseMLP(nn.Module):
    """The per-frame lifter (module docstring). `rate` is accepted for the common backbone interface
    and has no effect: one frame has no duration."""

    def __init__(self, cfg: FramewiseConfig = FramewiseConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        j = cfg.num_joints
        layers: list[nn.Module] = [nn.Linear(j * cfg.in_channels, cfg.hidden)]
        for _ in range(cfg.depth - 1):
            layers += [nn.GELU(), nn.Linear(cfg.hidden, cfg.hidden)]
        layers += [nn.GELU(), nn.Linear(cfg.hidden, j * cfg.dim_rep)]
        self.mlp = nn.Sequential(*layers)
        self.head = nn.Linear(cfg.dim_rep, cfg.out_channels)

    def representation(self, x: Tensor, rate: float | Tensor | None = None) -> Tensor:
        cfg = self.cfg
        check_keypoints(x, "FramewiseMLP", cfg.num_joints, cfg.in_channels, per_frame=False)
        b, f, j, _ = x.shape
        rep = self.mlp(as_dtype_of(x, self.head.weight).reshape(b, f, j * cfg.in_channels))  # (B, F, J·dim_rep)
        return rep.reshape(b, f, j, cfg.dim_rep).tanh()  # (B, F, J, dim_rep)

    def forward(self, x: Tensor, rate: float | Tensor | None = None) -> Tensor:
        return self.head(self.representation(x))  # (B, F, J, 3)

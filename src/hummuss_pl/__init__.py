"""hummuss-pl: HumMUSS, an attention-free state-space backbone for human motion, in PyTorch Lightning."""

__version__ = "0.1.0"

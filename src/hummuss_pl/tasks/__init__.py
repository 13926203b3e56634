"""LightningModules: one per task, thin shells around the backbones and heads."""

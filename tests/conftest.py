import os

# Tests never talk to W&B, whatever the caller's environment says.
os.environ["WANDB_MODE"] = "disabled"

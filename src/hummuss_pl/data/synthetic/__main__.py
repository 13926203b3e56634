"""`python -m hummuss_pl.data.synthetic`: clips per second of the synthetic corpus on this machine."""

from .dataset import benchmark

benchmark()

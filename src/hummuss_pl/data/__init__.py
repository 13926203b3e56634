"""Datasets, readers and LightningDataModules."""

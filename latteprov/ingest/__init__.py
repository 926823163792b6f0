"""Ingest what groups already have: file names, HDF5 files, file status."""

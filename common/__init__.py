"""Pieces shared by every command: atomic writes, model files, CLI flags, devices."""

"""Sovereign harness: build, payloads, the emulated M3, measurement."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"

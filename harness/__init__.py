"""Sovereign harness: build, payloads, the emulated M3, measurement."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# SOVEREIGN_BUILD moves the build output (e.g. to keep parallel work apart).
BUILD = Path(os.environ.get("SOVEREIGN_BUILD", ROOT / "build")).resolve()

"""The Python client is its own package (clients/python); tests import it from its source tree."""

import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "clients" / "python" / "src"
if str(SOURCE) not in sys.path:
    sys.path.insert(0, str(SOURCE))

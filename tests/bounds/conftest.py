from __future__ import annotations

import sys
from pathlib import Path

# Let the test modules import the loop-based reference (bounds_reference.py) beside them.
sys.path.insert(0, str(Path(__file__).parent))

from __future__ import annotations

import sys
from pathlib import Path

# Let the test modules import the shared task list and Monte-Carlo helpers (task_zoo.py) beside them.
sys.path.insert(0, str(Path(__file__).parent))

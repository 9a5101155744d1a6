# Puts the Eddy Python SDK on the path for pytest: `.eddy-sdk` names its folder (relative to this
# project or absolute), or EDDY_SDK does.
import os
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
sdk = os.environ.get("EDDY_SDK") or (here / (here / ".eddy-sdk").read_text().strip())
sys.path.insert(0, str(Path(sdk).resolve()))
sys.path.insert(0, str(here))

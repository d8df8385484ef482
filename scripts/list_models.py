"""Write the model names `edgesplit models` lists (src/edgesplit/data/models.json) from the
installed torchvision, so that the command answers without importing torchvision.

    python scripts/list_models.py

`tests/graph/test_zoo.py` checks that the shipped list equals the installed torchvision's.
"""

from __future__ import annotations

import json
from pathlib import Path

from edgesplit.graph.zoo import list_models

PATH = Path(__file__).resolve().parent.parent / "src/edgesplit/data/models.json"


def main() -> None:
    about = (
        "torchvision's classification models (torchvision.models.list_models), written by "
        "scripts/list_models.py; tests check it equals the installed torchvision's list"
    )
    PATH.write_text(json.dumps({"about": about, "models": list_models()}, indent=1) + "\n")
    print(f"wrote {PATH}")


if __name__ == "__main__":
    main()

"""`python -m tools.nbcheck DIR`: fail when a notebook is stored with outputs.

Outputs in git bloat the repo, leak machine paths and make diffs unreadable; `make lint` runs this.
"""

import json
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from jetracer.protocols import PathLike


def dirty_cells(path: PathLike) -> List[int]:
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    return [i for i, cell in enumerate(nb.get("cells", []))
            if cell.get("cell_type") == "code" and (cell.get("outputs") or cell.get("execution_count"))]


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    bad = 0
    for folder in argv or ["notebooks"]:
        for path in sorted(Path(folder).glob("*.ipynb")):
            cells = dirty_cells(path)
            if cells:
                bad += 1
                print("%s: cells %s have outputs; clear them before committing "
                      "(Jupyter: Edit > Clear Outputs of All Cells)" % (path, cells))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

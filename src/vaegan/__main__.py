"""``python -m vaegan``: the ``vaegan`` command, also what ``torchrun -m vaegan train ...`` runs on each rank."""

import sys

from vaegan.cli import main

if __name__ == "__main__":
    sys.exit(main())

"""`python -m vrouter.cli ...`, the same as the `vrouter` command."""

import sys

from . import main

sys.exit(main())

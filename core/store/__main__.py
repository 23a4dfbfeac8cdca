"""`python -m core.store FD PARENT_PID`: the store process (see process.py).

A separate entry module, so that what the store process pickles refers to
`core.store.process`, which the web process can import, and not to `__main__`.
"""

import sys

from core.store.process import main

sys.exit(main(sys.argv[1:]))

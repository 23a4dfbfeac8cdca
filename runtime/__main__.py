"""`python -m runtime FD PARENT_PID`: the store process (see process.py).

A separate entry module, so that what the store process pickles refers to
`runtime.store_process`, which the web process can import, and not to `__main__`.
"""

import sys

from runtime.store_process import main

sys.exit(main(sys.argv[1:]))

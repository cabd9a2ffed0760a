"""Run by tests/test_distributed.py under torchrun: the CLI trains, and rank 1 dies after two
seconds, as a process that is killed or runs out of memory would."""

import os
import sys
import threading

from flowcore.cli import main

if os.environ.get("RANK") == "1":
    threading.Timer(2.0, os._exit, (3,)).start()
sys.exit(main(sys.argv[1:]))

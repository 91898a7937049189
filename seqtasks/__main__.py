"""`python -m seqtasks ...` is `seqtasks ...`; torchrun launches it this way:
    torchrun --nproc-per-node 4 -m seqtasks train ud-pos"""
import sys

from seqtasks.cli import main

sys.exit(main())

"""``python -m rnn_timescales.cli``: the command line."""

import sys

from rnn_timescales.cli.main import main

sys.exit(main())

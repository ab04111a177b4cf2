"""The command line ``rnn-timescales``: :mod:`.main` builds the parser and maps errors to exit
codes; each command parses its options, builds validated settings, calls a study and prints."""

from rnn_timescales.cli.main import build_parser, main

__all__ = ["build_parser", "main"]

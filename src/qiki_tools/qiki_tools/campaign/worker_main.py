"""What a local pool worker runs as its main module (`__mp_main__`) instead of the parent's main script: nothing.

multiprocessing prepares a new worker by running the parent's main again unless `__main__` names a module; the
`qiki` console script has no `if __name__ == "__main__"` guard, so running it would run the command again."""

"""`qiki campaign`: Monte Carlo over dispersed scenarios (spec, dispersions, runner, table; report and figures)."""

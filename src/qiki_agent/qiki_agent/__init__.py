"""QIKI autonomy agent: BIOS self test, YAML state machine, rules, missions, events."""

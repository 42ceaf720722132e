"""Campaigns: many dispersed runs of one scenario (`qiki campaign`), their table and the report a person reads."""

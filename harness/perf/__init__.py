"""Speed, shown and compared, never asserted as a time: the floors, the scaling check, the call profile,
the seed world against a loaded one."""

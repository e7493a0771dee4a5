"""Sampling: sample sizes (and, next, stratified seeded draws and the pilot split; DESIGN.md step 4)."""

"""Experiments and bandits (issue 16): test design, assignment, attribution, statistics,
analysis, canaries, and bandit policies that move traffic by themselves.

Sits below ``serving`` (which asks it for a request's assignments and bandit choices) and
above ``storage`` (experiments, outcomes and impressions are read through store protocols).
"""

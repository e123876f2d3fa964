"""The maturity assessment: checks per stage, the stage of each system from
evidence, the next smallest steps and what to skip."""

"""The maturity assessment: checks per stage, the stage of each system, next steps, generated
documents.
"""

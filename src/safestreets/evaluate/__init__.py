"""Forecast evaluation: hit rate, PAI, PEI, harm captured, stability and deviance."""

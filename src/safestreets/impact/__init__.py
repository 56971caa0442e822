"""Did it work: counterfactuals, difference-in-differences, interrupted time series, synthetic control,
displacement (WDQ) and near repeats (Knox)."""

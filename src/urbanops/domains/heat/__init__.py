"""City heat map and heat-wave response: heat metrics, station QC, kriged maps, advisories."""

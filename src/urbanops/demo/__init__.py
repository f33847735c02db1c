"""The demo city: Seoul's districts and S-DoT sensor positions with a week of readings."""

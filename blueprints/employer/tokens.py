"""Employer admin views: the employer's API tokens, for its HR system to read its staff's hours."""

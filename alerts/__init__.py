"""Negative-spike alerts: detector, NAB evaluation, episodes, e-mail and delivery."""

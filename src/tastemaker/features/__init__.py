"""Real-time state updated per event: user state, item popularity/trending, co-visitation."""

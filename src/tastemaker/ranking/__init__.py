"""Ranking stages after candidate generation: diversity (MMR), calibration, fairness,
candidate features and the learned LambdaMART ranker, plus per-placement list metrics."""

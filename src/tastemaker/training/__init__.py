"""Training: the train job (event log -> a registered model version), the model registry,
and the learned-ranker job. Offline evaluation lives in :mod:`tastemaker.evaluation`, the
event-log snapshot and the interaction matrix in :mod:`tastemaker.datasets`.
"""

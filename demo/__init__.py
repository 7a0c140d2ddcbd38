"""Demo models for Inspectoscope: a credit-scoring MLP and a diagnostic-support MLP.

``python -m demo.train`` trains both deterministically on bundled public data (German Credit,
Wisconsin Diagnostic Breast Cancer) and writes their safetensors weights and JSON metadata
(AI system, model version with feature schema and metrics, sample decisions) for seeding.
"""

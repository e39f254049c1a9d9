"""Run folders -> tables, figures and a report (python -m cnn_study.analysis PATH...)."""

"""A Hydra sweeper on current Optuna's ask-and-tell API, with the official plugin's config keys.

hydra-optuna-sweeper 1.3 pins optuna<3, whose SQLite storage fails beside SQLAlchemy 2.x, so a
search could not be stored and resumed. This sweeper keeps that plugin's keys (sampler,
direction, n_trials, n_jobs, storage, study_name, params with interval/choice/tag(log),
custom_search_space, max_failure_rate) and adds what a long search needs: a rerun of the same
command resumes the stored study and runs only the remaining budget.
"""

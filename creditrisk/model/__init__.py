"""The credit model: how an applicant is scored, decided and explained.

Modules: `credit_model` (train, score, the decision rule), `features` (the one preprocessing),
`pricing` (grade and rate credited to the characteristics behind them), `explain` (reason codes),
`reason_words` (their plain words), `fairness` (the Reg B age rule, group outcomes), `calibration`
(Platt scaling of a model's scores), `pyfunc` (the MLflow pyfunc face of a model).
"""

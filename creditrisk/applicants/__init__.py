"""Who applies: the applicant contract and where applicants come from.

Modules: `schema` (the contract: fields, rules, units), `data` (the CSV loader and its cleaning),
`synth` (synthetic applicants and drift scenarios, from `params/`), `labels` (when outcomes come back).
"""

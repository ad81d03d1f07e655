"""The old path of the pyfunc wrapper, kept so that every version registered before the core moved
into feature packages still loads: its pickle names `creditrisk.pyfunc.CreditRiskPyfunc`.

New versions pickle `creditrisk.model.pyfunc.CreditRiskPyfunc`; nothing else may import this module.
"""
from creditrisk.model.pyfunc import CreditRiskPyfunc

__all__ = ["CreditRiskPyfunc"]

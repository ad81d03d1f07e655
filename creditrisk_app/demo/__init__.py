"""`creditrisk demo`: the whole loop on one machine, driven through its real interfaces."""

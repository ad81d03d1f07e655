"""The production rehearsal: every production part on loopback (`creditrisk rehearse`)."""

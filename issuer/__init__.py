"""The bank: onboarding workflow, identity checks, decisions, card issuance, audit."""

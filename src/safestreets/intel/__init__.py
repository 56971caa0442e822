"""Community intelligence, staff side: team keys, decryption, triage, grading, redaction, retention."""

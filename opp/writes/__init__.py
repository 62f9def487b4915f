"""The write lifecycle (SPEC §7): canonical hashing, impact and State Witness computation."""

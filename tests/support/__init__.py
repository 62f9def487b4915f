"""Helpers shared by the end-to-end and conformance tests (real ``opp serve`` processes)."""

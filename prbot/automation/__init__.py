"""The PR-automation engine: definitions, inputs, rendering and file edits (pure)."""

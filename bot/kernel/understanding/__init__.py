"""The understanding layer: every capability declares its intents (:mod:`spec`); one component reads a
message into ranked (intent, slots, confidence) readings (:mod:`reader`); the conversation acts on them.
See docs/understanding.md."""

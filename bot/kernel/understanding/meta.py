"""The conversation's own intents: help, small talk, cancel, undo, and what is none of anything."""

from __future__ import annotations

from bot.kernel.understanding.spec import IntentSpec

META_INTENTS: tuple[IntentSpec, ...] = (
    IntentSpec(
        "meta.help",
        (
            "what can I do here",
            "help",
            "?",
            "what can you do",
            "how does this work",
            "what can i ask you",
            "commands",
            "how do i use this bot",
            "help me",
            "what do you do",
        ),
    ),
    IntentSpec(
        "meta.greeting",
        (
            "hi",
            "hello",
            "hey",
            "good morning",
            "hi there",
            "hallo",
            "morning!",
            "hey bot",
            "yo",
            "hello team",
        ),
    ),
    IntentSpec(
        "meta.thanks",
        (
            "vielen dank",
            "merci",
            "thanks a lot, that helps",
            "thanks",
            "thank you",
            "thx!",
            "cheers",
            "great, thanks",
            "perfect thank you",
            "ty",
            "much appreciated",
        ),
    ),
    IntentSpec(
        "meta.cancel",
        (
            "cancel",
            "stop",
            "never mind",
            "forget it",
            "abort",
            "scratch that",
            "nevermind",
            "scrap that",
        ),
    ),
    IntentSpec(
        "meta.undo",
        (
            "undo",
            "undo that",
            "revert my last change",
            "oops, undo",
            "take that back",
            "reverse the last update",
        ),
    ),
    IntentSpec(
        "meta.unknown",
        (
            "lol",
            "ok",
            "hmm",
            "what's the weather like",
            "book a meeting room for tomorrow",
            "tell me a joke",
            "asdf",
            "can you order lunch",
            "same as before",
            "do the usual",
            "close it",
            "go ahead",
            "{amount}",
            "the other one",
            "what's the deadline?",
            "sounds good",
            "who won the game last night",
            "remind me to call mom",
            "yes",
            "no",
        ),
    ),
)

"""Benchmarks: partnerbot measured against baselines run in the same process (``python -m bench``).

Every number is reported next to a baseline measured in the same run - a bare slack-bolt app, a bare
Agents SDK bot, a naive fuzzy scan - because a ratio survives a slower or busier machine and an
absolute number does not. Targets are checked here, never in the test suite (DESIGN.md).

- :mod:`bench.synthetic` - the one deterministic data generator (also used by the tests);
- :mod:`bench.ingress` - Slack and Teams requests over loopback;
- :mod:`bench.conflicts` - the registration conflict check at 10k to 1M active registrations;
- :mod:`bench.sweeps` - the nudge sweep over a million deals, each run in a fresh process;
- :mod:`bench.memory` - resident memory of ``partnerbot serve``;
- :mod:`bench.report` - the table, the JSON file and the machine description.
"""

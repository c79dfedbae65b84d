"""The wall-clock bound of tests that check something happens promptly (a client gives up on its own short
timeout, a server answers while under attack).

Never under 5 s: a loaded two-core machine stalls a process for seconds, and a tighter bound then fails on a
product that works. 5 s still tells "promptly" from "waited for the client's default timeout (10 s)" or "hung".
Latency itself is measured in benchmarks/, against a baseline from the same run.
"""

PROMPTLY_S = 5.0
